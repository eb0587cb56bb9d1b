"""The promotion guard (issue 24; CONTRACT.md "The promotion guard"): a running promotion's candidate
compared with the current deployment on errors and latency, and a new current with the one it replaced.

Pure: plan (who guards which environment, what is compared, over which windows). With I/O: job (the
lease holder's periodic pass: reads metrics, shows verdicts on live messages, announces a failing one,
pauses with `auto-pause`). The spec and verdict are bot.domain.guard's; the rendering bot.render.guard's.
May import: domain, baseten, render, store, delivery, polling, actions. Not app, slack or commands.
"""
