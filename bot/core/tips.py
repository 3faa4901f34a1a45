"""Good-practice tips as the core sees them: content definitions, what a member is shown, votes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

MAX_TITLE = 120
MAX_BODY = 700
SLUG = re.compile(r"^[a-z0-9-]{1,64}$")
FALLBACK_LOCALE = "en"  # the last resort when neither her language nor the tip's default exists


@dataclass(frozen=True, slots=True)
class TipText:
    """A tip's title and body in one language."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class TipDefinition:
    """A tip as content: what a YAML file holds and what `export` gives back."""

    slug: str
    default_locale: str
    spheres: tuple[str, ...]
    texts: Mapping[str, TipText]
    source: str | None = None
    published: bool = True
    from_update_id: int | None = None

    def normalised(self) -> TipDefinition:
        """The same tip with spheres sorted and deduplicated, for comparison and storage."""
        return TipDefinition(
            slug=self.slug,
            default_locale=self.default_locale,
            spheres=tuple(sorted(set(self.spheres))),
            texts=dict(sorted(self.texts.items())),
            source=self.source or None,
            published=self.published,
            from_update_id=self.from_update_id,
        )


class UpsertOutcome(StrEnum):
    """What loading one tip definition did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class RateOutcome(StrEnum):
    """What a vote did: a first vote, a changed vote, or the same vote again."""

    RECORDED = "recorded"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True, slots=True)
class TipView:
    """One tip as shown to one member: the text in the language it is shown in.

    `fell_back` is True when her language was missing and another one is shown. `position`
    (1-based) and `total` place it in the list she is paging through (0 when not in a list).
    """

    id: int
    slug: str
    title: str
    body: str
    locale: str
    fell_back: bool
    source: str | None
    published: bool
    spheres: tuple[str, ...]
    from_update_id: int | None = None
    position: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class Ratings:
    """Helpful and not-helpful votes on one tip."""

    helpful: int = 0
    not_helpful: int = 0


def pick_locale(
    available: Sequence[str], wanted: str, default: str, second: str | None = None
) -> str | None:
    """The language to show: hers, else her second language, else the content's default,
    else English, else any; None if none."""
    for candidate in (wanted, second, default, FALLBACK_LOCALE):
        if candidate is not None and candidate in available:
            return candidate
    return min(available) if available else None


class Tips(Protocol):
    """Tip reads and writes (storage.tips.TipRepository)."""

    async def published_ids(self, sphere: str | None = None) -> list[int]:
        """Published tips in `sphere` (None: all), in a stable order (oldest first)."""

    async def page(
        self, sphere: str | None, index: int, locale: str, second: str | None = None
    ) -> TipView | None:
        """The published tip at `index` (0-based) in `sphere` (None: all), in `locale` with
        fallback (`pick_locale`: her `second` language first), carrying its position and the
        total; None when the index is out of range."""

    async def view(
        self,
        tip_id: int,
        locale: str,
        *,
        published_only: bool = True,
        second: str | None = None,
    ) -> TipView | None:
        """One tip in `locale` with fallback; None when unknown (or unpublished, if asked)."""

    async def rate(self, tip_id: int, member_id: int, helpful: bool, now: datetime) -> RateOutcome:
        """Her vote on a tip: one per member and tip; voting again replaces it."""

    async def drafts(self, locale: str, limit: int = 50) -> list[TipView]:
        """Unpublished tips, oldest first, in `locale` with fallback (position/total filled)."""

    async def publish(self, tip_id: int, now: datetime) -> bool:
        """Publish a draft; False when there is no such tip or it is already published."""

    async def upsert(self, definition: TipDefinition, now: datetime) -> tuple[int, UpsertOutcome]:
        """Create or update a tip by slug, replacing its spheres and texts; idempotent."""

    async def create_draft(
        self,
        *,
        update_id: int,
        locale: str,
        text: TipText,
        spheres: Sequence[str],
        now: datetime,
    ) -> int:
        """An unpublished tip from a field update (slug `update-<id>`); the same id if one
        already exists for that update."""

    async def export(self) -> list[TipDefinition]:
        """Every tip (published or not), oldest first."""
