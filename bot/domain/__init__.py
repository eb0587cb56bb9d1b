"""The vocabulary every layer shares: deployment statuses and their families, plain ids.

May import: the standard library only.
"""
