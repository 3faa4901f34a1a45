"""Time comes from an injected clock so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def week_of(moment: datetime) -> str:
    """The Monday of its week, as an ISO date: the finest time anonymous data is kept at."""
    return (moment.date() - timedelta(days=moment.weekday())).isoformat()


class Clock(Protocol):
    """Something that tells the current, timezone-aware time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta
