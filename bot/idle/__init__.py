"""Idle warm replicas (issue 25; CONTRACT.md "Cost"): a watched deployment with replicas up and
(almost) no requests for IDLE_AFTER_MINUTES is announced once per idle spell, with what it costs a
day and Scale to zero for operators.

`plan` is pure (which deployments to read, what counts as idle); `job` reads Baseten's metrics and
prices on the lease holder and announces through the outbox. May import the domain, Baseten's
client, render, store, polling's pure audience and the actions' buttons; nothing imports it but
bot.app.
"""
