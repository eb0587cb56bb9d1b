"""What a user typed: the parser, lookups, and the subscription commands with their wording.

Owns: the typed commands and target words (typed), command text to a typed command or a
usage error (parse; `digest` in parse_digest), names and links to
Baseten objects (lookup), the answers of subscribe, unsubscribe, list, mute, unmute and
resume (subscriptions) and their wording (wording), and of `digest` (digests).
May import: domain, baseten, render, store, and the pure parts of polling (a new
subscription's baseline). Not app, slack, actions or delivery.
"""
