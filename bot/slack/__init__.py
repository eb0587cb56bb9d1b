"""The edge to Slack: Bolt listeners by kind, the allow-lists, and reading Slack's errors.

Owns: registering the `/baseten` command, interactive actions and channel events (app),
the acting listeners (actions), ADMIN_USER_IDS and OPERATOR_USER_IDS (admins), and what
a failed Web API call said (errors).
May import: domain, baseten, render, commands, actions, store. Not app, polling or delivery.
"""
