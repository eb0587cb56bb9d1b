"""Acting on deployments: the verb table, its answers, cards and click rules (pure), then the I/O.

Owns: what each verb means and its one Baseten request (verbs), how its answer reads (answers),
the buttons, confirmation cards and outcomes (buttons), what a card showed and whether a click
on it may act (checks: spent, expired, stale), the cards drawn from Baseten now (operations) and
the confirming click: claim, re-check, one request, record (clicks); APPROVAL_REQUIRED's pairs
(rules), whose checked click becomes a request in the channel that another operator approves, rejects
or lets expire (approvals, its messages pure in approval_messages).
May import: domain, baseten, render, store, commands (lookups). Not app, slack, polling
or delivery.
"""
