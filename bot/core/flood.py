"""A flood limit per person: one phone, or a forged stream, cannot starve everyone else.

Counted in this process's memory, per (channel, sender), in a one-minute window that starts
at her first update. Beyond the limit she is told once to slow down; her further updates in
that window are acknowledged and dropped, unprocessed, and nothing is written for them. The
counts live in memory on purpose: keeping them in the database would add a write to every
update and keep a minute-by-minute trace of when she writes; in memory nothing about her
outlives the minute (or a restart). With several workers each counts what it receives, so the
effective limit is at most the limit times the number of workers.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(minutes=1)
_SWEEP_FROM = 1024  # windows kept before expired ones are swept out


class Verdict(StrEnum):
    HANDLE = "handle"  # within the limit
    WARN = "warn"  # the first one over the limit: tell her to slow down, handle nothing
    DROP = "drop"  # over the limit, already told: silence


class FloodLimit:
    """At most `per_minute` updates a minute per key (0 or less: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[Hashable, tuple[datetime, int]] = {}
        self._sweep_at = _SWEEP_FROM

    def check(self, key: Hashable, now: datetime) -> Verdict:
        if self.per_minute <= 0:
            return Verdict.HANDLE
        started, count = self._windows.get(key, (now, 0))
        if now - started >= WINDOW or now < started:
            started, count = now, 0
        count += 1
        self._windows[key] = (started, count)
        if len(self._windows) >= self._sweep_at:
            self._sweep(now)
        if count <= self.per_minute:
            return Verdict.HANDLE
        return Verdict.WARN if count == self.per_minute + 1 else Verdict.DROP

    def _sweep(self, now: datetime) -> None:
        """Forget every window that has ended; memory follows the people of the last minute."""
        self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW}
        self._sweep_at = max(_SWEEP_FROM, 2 * len(self._windows))

    def __len__(self) -> int:
        return len(self._windows)
