"""Pure Block Kit: every card, notice, list and promotion message the bot shows.

Owns: deployment cards, model overviews, answers and Slack's limits (cards), notices and
thread parents (notices), the failure excerpt (excerpt), environment cards and promotion
messages (promotions), the one sanitizer every string from Baseten goes through on its way to
Slack, one rule per context (text), and the one localised date (dates).
May import: domain and Baseten's domain types (bot.baseten.models) only: no I/O at all.
"""
