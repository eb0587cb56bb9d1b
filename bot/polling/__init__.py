"""Hearing changes: the poll loop, its schedule, and read -> decide -> write for each model.

Pure (no I/O; tested with plain values): decide, transitions (diffs), audience (filters, who hears),
noise (stuck, flapping), promotions (promotion tracking), schedule (when each model is due,
and the fleet detector), watching (who watches what, and when to read it again). With I/O:
poller (one poll's read and write), loop (the lease holder's task: takes, polls and lands
models), leadership (following the lease; a loss handled in one place), rounds (what the
cycle metrics count), notes (the loop's log lines, throttled), known (what the loop keeps
between polls), why (reading failure logs).
May import: domain, baseten, render, store, delivery. Not app, slack, commands or actions.
"""
