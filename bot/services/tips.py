"""The good-practice tips library: reading and rating (members), drafts (coordinators),
publishing and loading content (administrators, the operator), drafts from field updates.

Publishing and loading are written to the audit log; reading and voting are not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.core.actors import Actor, audit, require
from bot.core.models import Role
from bot.core.ports import Transaction
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.tips import RateOutcome, TipDefinition, TipText, TipView, UpsertOutcome

ALL = "all"  # every sphere
DRAFT_TITLE = 60  # a draft's title is the start of the update's first line, cut at a word


async def page(
    tx: Transaction,
    actor: Actor,
    sphere: str,
    index: int,
    locale: str,
    second: str | None = None,
) -> TipView | None:
    """The published tip at `index` in `sphere` (ALL: every sphere), in `locale`, else in her
    `second` language, else the tip's default; None when there is none there (an unknown
    sphere has none)."""
    require(actor, Role.MEMBER, "tip.read")
    if sphere != ALL and sphere not in SPHERE_BY_CODE:
        return None
    return await tx.tips.page(None if sphere == ALL else sphere, index, locale, second)


async def rate(
    tx: Transaction, actor: Actor, tip_id: int, helpful: bool, now: datetime
) -> RateOutcome | None:
    """Her vote on a published tip; None when the tip is not (or no longer) published."""
    require(actor, Role.MEMBER, "tip.rate")
    if actor.member_id is None or await tx.tips.view(tip_id, "en") is None:
        return None
    return await tx.tips.rate(tip_id, actor.member_id, helpful, now)


async def drafts(tx: Transaction, actor: Actor, locale: str) -> list[TipView]:
    """Unpublished tips, oldest first, for coordinators and administrators."""
    require(actor, Role.COORDINATOR, "tip.drafts")
    return await tx.tips.drafts(locale)


class Published(StrEnum):
    """What publishing a draft did."""

    DONE = "done"
    ALREADY = "already"  # it was published before
    GONE = "gone"  # no such tip


@dataclass(frozen=True, slots=True)
class PublishResult:
    outcome: Published
    view: TipView | None = None


async def publish(
    tx: Transaction, actor: Actor, tip_id: int, locale: str, now: datetime
) -> PublishResult:
    """An administrator publishes a draft: every member can read it from now on. Audited."""
    require(actor, Role.ADMIN, "tip.publish")
    view = await tx.tips.view(tip_id, locale, published_only=False)
    if view is None:
        return PublishResult(Published.GONE)
    if not await tx.tips.publish(tip_id, now):
        return PublishResult(Published.ALREADY, view)
    await audit(tx, actor, "tip.published", now, tip_id=tip_id, slug=view.slug)
    return PublishResult(Published.DONE, view)


async def load(
    tx: Transaction, actor: Actor, definitions: Sequence[TipDefinition], now: datetime
) -> Counter[str]:
    """Create or update tips from content (`wasl content load`); how many were created,
    updated and left unchanged. Audited when anything changed."""
    require(actor, Role.ADMIN, "tip.load")
    counts: Counter[str] = Counter({outcome.value: 0 for outcome in UpsertOutcome})
    for definition in definitions:
        _, outcome = await tx.tips.upsert(definition, now)
        counts[outcome.value] += 1
    if counts[UpsertOutcome.CREATED.value] or counts[UpsertOutcome.UPDATED.value]:
        await audit(tx, actor, "tip.loaded", now, **dict(counts))
    return counts


async def export(tx: Transaction, actor: Actor) -> list[TipDefinition]:
    """Every tip, published or not, oldest first (`wasl content export`)."""
    require(actor, Role.ADMIN, "tip.export")
    return await tx.tips.export()


async def draft_from_update(
    tx: Transaction,
    update_id: int,
    text: str,
    spheres: Sequence[str],
    locale: str,
    now: datetime,
) -> int:
    """Turn a tip-candidate field update into an unpublished tip; returns the tip's id.

    The update's text becomes the body in its own language (the tip's default language), its
    first line (cut to a few words) the title. Calling it again for the same update returns the
    same draft. An update with no text (a photo alone) gives a draft with a placeholder title
    and an empty body, for an admin to write. The caller (moderation) checks the role and
    audits the decision.
    """
    body = text.strip()
    title = draft_title(body) if body else f"Field update #{update_id}"
    known = [s for s in spheres if s in SPHERE_BY_CODE]
    return await tx.tips.create_draft(
        update_id=update_id,
        locale=locale,
        text=TipText(title=title, body=body),
        spheres=known,
        now=now,
    )


def draft_title(text: str) -> str:
    """The first line of `text`, cut at a word to at most DRAFT_TITLE characters."""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(first) <= DRAFT_TITLE:
        return first
    cut = first[: DRAFT_TITLE - 1].rsplit(" ", 1)[0] or first[: DRAFT_TITLE - 1]
    return cut.rstrip(" ,;:.-—") + "…"
