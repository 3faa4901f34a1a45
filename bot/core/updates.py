"""Field updates as the core sees them: shared from the ground, moderated, digested."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.core.messages import ChannelName, MediaKind

MAX_UPDATE = 1000


class UpdateStatus(StrEnum):
    NEW = "new"
    APPROVED = "approved"  # may be shared, anonymised, with practitioners elsewhere
    INTERNAL = "internal"  # kept for coordinators and reports only
    REJECTED = "rejected"
    TIP = "tip"  # turned into a tip draft


@dataclass(slots=True)
class FieldUpdate:
    """One update from the ground."""

    id: int
    author_id: int | None
    country: str
    locale: str
    urgent: bool
    text: str | None
    media_kind: MediaKind | None
    media_ref: str | None
    keep_if_shared: bool
    status: UpdateStatus
    created_at: datetime
    spheres: list[str] = field(default_factory=list)
    quotable: bool = False  # she agreed it may be quoted, without her name, in country briefs


@dataclass(frozen=True, slots=True)
class Recipient:
    """A member who may receive a digest."""

    member_id: int
    channel: ChannelName
    locale: str
    country: str | None
    spheres: tuple[str, ...]


class Updates(Protocol):
    """Field update reads and writes (storage.updates.UpdateRepository)."""

    async def submit(
        self,
        *,
        author_id: int,
        country: str,
        locale: str,
        urgent: bool,
        text: str | None,
        media_kind: MediaKind | None,
        media_ref: str | None,
        keep_if_shared: bool,
        spheres: Sequence[str],
        now: datetime,
        quotable: bool = False,
    ) -> int:
        """Store an update and count it in the anonymous tallies; returns its id."""

    async def get(self, update_id: int) -> FieldUpdate | None: ...

    async def next_to_moderate(
        self, countries: Sequence[str] | None, after_id: int = 0
    ) -> FieldUpdate | None:
        """The next new update (urgent first, then oldest) in `countries` (None: all)."""

    async def queue_size(self, countries: Sequence[str] | None) -> int: ...

    async def moderate(
        self, update_id: int, status: UpdateStatus, moderator_id: int, now: datetime
    ) -> bool:
        """Set the outcome; False when another coordinator already moderated it."""

    async def to_share(self) -> list[FieldUpdate]:
        """Approved updates not yet put in a digest."""

    async def mark_shared(self, update_ids: Sequence[int], now: datetime) -> None: ...

    async def digest_recipients(self) -> list[Recipient]:
        """Active members with their country and spheres."""

    async def quotes(
        self, country: str, first: datetime | None, end: datetime, limit: int
    ) -> list[FieldUpdate]:
        """Approved updates from `country` created in [first, end) whose authors agreed to be
        quoted and which have words, newest first, at most `limit`."""

    async def expire(self, before: datetime) -> int:
        """Delete updates older than `before`, except approved ones she agreed to keep
        (those lose the link to her). The tallies stay. Returns how many were deleted."""
