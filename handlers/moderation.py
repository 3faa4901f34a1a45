"""/moderate: coordinators go through new updates from their country, one at a time.

The weekly digest then shares approved updates, anonymised, with practitioners in the same
spheres in other countries; the retention job deletes old raw text and keeps the counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.campaigns import CampaignKind
from bot.core.context import Context
from bot.core.i18n import N_, Catalogs
from bot.core.ids import parse_id
from bot.core.messages import Button, MediaRef
from bot.core.models import Role
from bot.core.ports import Store, Transaction
from bot.core.router import STALE_BUTTON, Router
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.updates import FieldUpdate, UpdateStatus
from bot.services.notices import send_each
from handlers.common import choice, sphere_labels

PREFIX = "mod"
OUTCOMES = {
    "a": (UpdateStatus.APPROVED, N_("Approved for sharing.")),
    "i": (UpdateStatus.INTERNAL, N_("Kept internal.")),
    "r": (UpdateStatus.REJECTED, N_("Rejected.")),
    "t": (UpdateStatus.TIP, N_("Marked as a tip candidate: a tip draft was made.")),
}
DIGEST_ITEMS = 5
DIGEST_EXCERPT = 500


def moderated_countries(ctx: Context) -> list[str] | None:
    """The countries whose updates she moderates: all for an admin, else her own."""
    assert ctx.member is not None
    if ctx.member.role is Role.ADMIN:
        return None
    return [ctx.member.country] if ctx.member.country else []


async def show_next(ctx: Context, after_id: int = 0, *, replace: bool = False) -> None:
    countries = moderated_countries(ctx)
    item = await ctx.tx.updates.next_to_moderate(countries, after_id)
    if item is None:
        ctx.say(ctx._("No new updates to moderate. Thank you!"), replace=replace)
        return
    waiting = await ctx.tx.updates.queue_size(countries)
    ctx.say(
        update_card(ctx, item, waiting), moderation_buttons(ctx, item), columns=2, replace=replace
    )


def update_card(ctx: Context, item: FieldUpdate, waiting: int) -> str:
    head = ctx._(
        "Update #{id} · {country} · {urgency} · {date}",
        id=item.id,
        country=ctx._.country_name(item.country),
        urgency=ctx._("Urgent") if item.urgent else ctx._("Routine"),
        date=ctx._.date(item.created_at),
    )
    lines = [head, ctx._("Spheres: {spheres}", spheres=sphere_labels(ctx, item.spheres)), ""]
    lines.append(item.text or ctx._("(no text)"))
    if item.media_kind is not None:
        lines.append(ctx._("Attachment: not downloaded until you open it."))
    lines.append("")
    lines.append(ctx._.plural("{n} update waiting.", "{n} updates waiting.", waiting))
    return "\n".join(lines)


def moderation_buttons(ctx: Context, item: FieldUpdate) -> list[Button]:
    buttons = [
        Button(ctx._("Approve for sharing"), f"{PREFIX}:a:{item.id}"),
        Button(ctx._("Keep internal"), f"{PREFIX}:i:{item.id}"),
        Button(ctx._("Reject"), f"{PREFIX}:r:{item.id}"),
        Button(ctx._("Tip candidate"), f"{PREFIX}:t:{item.id}"),
    ]
    if item.media_kind is not None and item.media_ref:
        buttons.append(Button(ctx._("Open attachment"), f"{PREFIX}:o:{item.id}"))
    buttons.append(Button(ctx._("Skip"), f"{PREFIX}:n:{item.id}"))
    return buttons


async def on_button(ctx: Context) -> None:
    """A moderation button, pressed now or on an old message (the router checked her role)."""
    assert ctx.member is not None
    value = choice(ctx, f"{PREFIX}:") or ""
    action, _, raw_id = value.partition(":")
    update_id = parse_id(raw_id)
    if update_id is None:
        ctx.say(ctx._(STALE_BUTTON))
        return
    item = await ctx.tx.updates.get(update_id)
    countries = moderated_countries(ctx)
    if item is None or (countries is not None and item.country not in countries):
        ctx.say(ctx._("That update is no longer available."))
        return
    if action == "n":
        await show_next(ctx, item.id, replace=True)
        return
    if action == "o":
        if item.media_kind and item.media_ref:
            ctx.say(
                ctx._("Attachment of update #{id}", id=item.id),
                attachment=MediaRef(item.media_kind, item.media_ref),
            )
        return
    outcome = OUTCOMES.get(action)
    if outcome is None:
        ctx.say(ctx._(STALE_BUTTON))
        return
    status, said = outcome
    if not await ctx.tx.updates.moderate(item.id, status, ctx.member.id, ctx.now):
        ctx.say(ctx._("Already done by another coordinator."))
        await show_next(ctx, item.id)
        return
    await ctx.tx.audit_log.append(
        actor=f"member:{ctx.member.id}",
        actor_member_id=ctx.member.id,
        action=f"update.{status.value}",
        now=ctx.now,
        details={"update_id": item.id},
    )
    if status is UpdateStatus.TIP:
        await make_tip_draft(ctx.tx, item, ctx.now)
    ctx.say(ctx._(said), replace=True)
    await show_next(ctx, item.id)


async def make_tip_draft(tx: Transaction, item: FieldUpdate, now: datetime) -> None:
    """Hand a tip-candidate update to the tips library as an unpublished draft."""
    from handlers import tips

    await tips.draft_from_update(tx, item.id, item.text or "", item.spheres, item.locale, now)


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


def register(router: Router) -> None:
    router.action(PREFIX, role=Role.COORDINATOR)(on_button)

    @router.command("moderate", N_("Review new updates from your country"), role=Role.COORDINATOR)
    async def cmd_moderate(ctx: Context, arg: str) -> None:
        ctx.state.clear()
        await show_next(ctx)
