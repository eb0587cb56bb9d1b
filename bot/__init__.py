"""Slack chatops for Baseten: on-demand deployment lookups and status-change notices."""

__version__ = "0.1.0"
