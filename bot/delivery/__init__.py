"""The outbox's way out to Slack: notices, threads, promotions' live messages, and digests.

Owns: claiming, sending and marking each pending delivery in order per channel (notifier)
and a promotion's live message, edited in place, with its steps in the thread (promotions);
each channel's digest when it is due, once per period (digests).
May import: domain, render, actions (the buttons on notices), store, slack (its errors).
Not app, polling or commands.
"""
