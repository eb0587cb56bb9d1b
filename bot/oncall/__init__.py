"""On call (issue 26; CONTRACT.md "Never silent, and on call"): failure notices acknowledged from Slack,
and reminded while they last unacknowledged.

Pure: plan (which alarms ended, which reminders are due, what a reminder says). With I/O: job (the
lease holder's periodic pass: ends alarms, queues reminders through the outbox, edits acknowledged
notices that recovered) and acks (a click on Acknowledge). May import the domain, render, store and
polling's pure audience; nothing imports it but bot.app and bot.slack.
"""
