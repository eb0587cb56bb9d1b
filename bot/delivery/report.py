"""What one delivery pass did, counted by the notifier and the groups it sends (bot.delivery.groups)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused_channels: int = 0
