"""What GPUs cost (issue 25; CONTRACT.md "Cost"): Baseten's billing, kept and read into reports.

Owns: the one cache of usage, prices and a billing refusal that commands, the digest and idle notices
share (cache), and a `cost` report's reading: the target resolved, its usage now and before, what runs
now (report). The sums are bot.domain.spend's (pure), the rendering bot.render.cost's.
May import: domain, baseten, render, commands (lookups). Not app, slack, polling, delivery or store.
"""
