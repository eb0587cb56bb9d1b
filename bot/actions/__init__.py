"""Acting on deployments: the verb table (pure), its buttons and cards (pure), the operations.

Owns: what each verb means and its one Baseten request (verbs), how its answer reads (answers),
the buttons, confirmation cards and outcomes (buttons), and the card-then-click flow with
its permission check, record and announcement (operations).
May import: domain, baseten, render, store, commands (lookups). Not app, slack, polling
or delivery.
"""
