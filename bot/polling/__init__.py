"""Hearing changes: the poll loop, its schedule, and read -> decide -> write for each model.

Pure (no I/O; tested with plain values): decide, transitions (diffs, filters, who hears),
noise (stuck, flapping), promotions (promotion tracking), schedule (when each model is due,
and the fleet detector). With I/O: poller (one poll's read and write), loop (the lease
holder's task), known (what the loop keeps between polls), why (reading failure logs).
May import: domain, baseten, render, store, delivery. Not app, slack, commands or actions.
"""
