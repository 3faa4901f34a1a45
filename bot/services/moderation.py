"""Moderation: coordinators decide what happens to new field updates from their country; the
weekly digest shares the approved ones, anonymised, with practitioners of the same spheres in
other countries; the retention job deletes old raw text and keeps the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.actors import Actor, audit, require
from bot.core.campaigns import CampaignKind
from bot.core.i18n import Catalogs
from bot.core.models import Role
from bot.core.ports import Store, Transaction
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.updates import FieldUpdate, UpdateStatus
from bot.services import tips
from bot.services.notices import send_each

DIGEST_ITEMS = 5
DIGEST_EXCERPT = 500


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"  # another coordinator decided first


def countries_of(actor: Actor) -> list[str] | None:
    """The countries whose updates she moderates: all (None) for an admin or the operator,
    else her own."""
    if actor.member is None or actor.role is Role.ADMIN:
        return None
    return [actor.member.country] if actor.member.country else []


@dataclass(frozen=True, slots=True)
class Queued:
    """The next update to moderate and how many are waiting (it included)."""

    item: FieldUpdate
    waiting: int


async def next_update(tx: Transaction, actor: Actor, after_id: int = 0) -> Queued | None:
    """The next new update she may moderate (urgent first, then oldest), after `after_id`."""
    require(actor, Role.COORDINATOR, "update.moderate")
    countries = countries_of(actor)
    item = await tx.updates.next_to_moderate(countries, after_id)
    if item is None:
        return None
    return Queued(item, await tx.updates.queue_size(countries))


async def get_update(tx: Transaction, actor: Actor, update_id: int) -> FieldUpdate | None:
    """The update, if it exists and is from a country she moderates."""
    require(actor, Role.COORDINATOR, "update.moderate")
    item = await tx.updates.get(update_id)
    countries = countries_of(actor)
    if item is None or (countries is not None and item.country not in countries):
        return None
    return item


async def decide(
    tx: Transaction, actor: Actor, item: FieldUpdate, status: UpdateStatus, now: datetime
) -> Outcome:
    """Approve it for sharing, keep it internal, reject it, or make it a tip draft. Only the
    first coordinator's decision counts (audited "update.<status>")."""
    require(actor, Role.COORDINATOR, "update.moderate")
    moderator = actor.member_id
    if status is UpdateStatus.NEW or moderator is None:
        raise ValueError(f"a coordinator's decision is needed, not {status.value}")
    if not await tx.updates.moderate(item.id, status, moderator, now):
        return Outcome.ALREADY
    await audit(tx, actor, f"update.{status.value}", now, update_id=item.id)
    if status is UpdateStatus.TIP:
        await _make_tip_draft(tx, item, now)
    return Outcome.DONE


async def _make_tip_draft(tx: Transaction, item: FieldUpdate, now: datetime) -> None:
    """Hand a tip-candidate update to the tips library as an unpublished draft."""
    await tips.draft_from_update(tx, item.id, item.text or "", item.spheres, item.locale, now)


# -- the weekly digest and retention ----------------------------------------------------------


async def send_digest(store: Store, catalogs: Catalogs, now: datetime) -> tuple[int, int]:
    """Share approved updates with members of the same spheres in other countries.

    Anonymised: country and spheres only, in the original language, framed in hers.
    Returns (updates shared, members reached).
    """
    async with store.transaction() as tx:
        items = await tx.updates.to_share()
        if not items:
            return 0, 0
        messages: list[tuple[int, str, str]] = []
        sources: dict[int, list[int]] = {}  # the updates each text quotes
        for person in await tx.updates.digest_recipients():
            relevant = [
                u
                for u in items
                if u.country != person.country and set(u.spheres) & set(person.spheres)
            ]
            if relevant:
                text = digest_text(catalogs, person.locale, relevant, set(person.spheres))
                messages.append((person.member_id, person.channel.value, text))
                sources[person.member_id] = [u.id for u in relevant[:DIGEST_ITEMS]]
        week = now.strftime("%G-W%V")
        await send_each(tx, CampaignKind.DIGEST, f"digest {week}", messages, now, sources)
        await tx.updates.mark_shared([u.id for u in items], now)
        return len(items), len(messages)


def digest_text(
    catalogs: Catalogs, locale: str, items: list[FieldUpdate], spheres: set[str]
) -> str:
    _ = catalogs.get(locale)
    parts = [_("This week from practitioners in other countries:")]
    for item in items[:DIGEST_ITEMS]:
        names = _(", ").join(
            _(SPHERE_BY_CODE[s].label)
            for s in item.spheres
            if s in spheres and s in SPHERE_BY_CODE
        )
        text = item.text or ""
        excerpt = text if len(text) <= DIGEST_EXCERPT else text[:DIGEST_EXCERPT] + "…"
        parts.append(
            _(
                "A practitioner in {country}, working on {spheres}, writes:\n“{text}”",
                country=_.country_name(item.country),
                spheres=names,
                text=excerpt,
            )
        )
    if len(items) > DIGEST_ITEMS:
        more = len(items) - DIGEST_ITEMS
        parts.append(
            _.plural("…and {n} more update this week.", "…and {n} more updates this week.", more)
        )
    return "\n\n".join(parts)


async def expire_updates(store: Store, now: datetime, days: int) -> int:
    """Delete raw update text older than the retention period (the tallies stay)."""
    async with store.transaction() as tx:
        expired = await tx.updates.expire(now - timedelta(days=days))
    await store.scrub()  # SQLite: the deleted words leave the WAL too
    return expired
