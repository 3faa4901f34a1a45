"""/moderate: coordinators go through new updates from their country, one at a time.

The buttons under an update are stateless (`Moderate`): pressed now or on an old message, the
router checks her role and the service checks the update is hers to decide. The decisions,
the weekly digest and retention are `bot.services.moderation`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.callbacks import Callback
from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.ids import MAX_ID
from bot.core.messages import Button, MediaRef
from bot.core.models import Role
from bot.core.router import STALE_BUTTON, Router
from bot.core.updates import FieldUpdate, UpdateStatus
from bot.services import moderation
from handlers.common import sphere_labels


class Action(StrEnum):
    APPROVE = "a"
    INTERNAL = "i"
    REJECT = "r"
    TIP = "t"
    OPEN = "o"  # the attachment
    SKIP = "n"


@dataclass(frozen=True, slots=True)
class Moderate(Callback, prefix="mod", version=1):
    """A button under an update's card: "mod:1:a:12" approves update 12."""

    action: Action
    update_id: int


DECISIONS = {
    Action.APPROVE: (UpdateStatus.APPROVED, N_("Approved for sharing.")),
    Action.INTERNAL: (UpdateStatus.INTERNAL, N_("Kept internal.")),
    Action.REJECT: (UpdateStatus.REJECTED, N_("Rejected.")),
    Action.TIP: (UpdateStatus.TIP, N_("Marked as a tip candidate: a tip draft was made.")),
}


async def show_next(ctx: Context, after_id: int = 0, *, replace: bool = False) -> None:
    queued = await moderation.next_update(ctx.tx, ctx.actor, after_id)
    if queued is None:
        ctx.say(ctx._("No new updates to moderate. Thank you!"), replace=replace)
        return
    item = queued.item
    ctx.say(
        update_card(ctx, item, queued.waiting),
        moderation_buttons(ctx, item),
        columns=2,
        replace=replace,
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
    def button(label: str, action: Action) -> Button:
        return Button(label, Moderate(action, item.id).pack())

    buttons = [
        button(ctx._("Approve for sharing"), Action.APPROVE),
        button(ctx._("Keep internal"), Action.INTERNAL),
        button(ctx._("Reject"), Action.REJECT),
        button(ctx._("Tip candidate"), Action.TIP),
    ]
    if item.media_kind is not None and item.media_ref:
        buttons.append(button(ctx._("Open attachment"), Action.OPEN))
    buttons.append(button(ctx._("Skip"), Action.SKIP))
    return buttons


async def on_button(ctx: Context, pressed: Moderate) -> None:
    """A moderation button, pressed now or on an old message (the router checked her role)."""
    if not 1 <= pressed.update_id <= MAX_ID:
        ctx.say(ctx._(STALE_BUTTON))
        return
    item = await moderation.get_update(ctx.tx, ctx.actor, pressed.update_id)
    if item is None:
        ctx.say(ctx._("That update is no longer available."))
        return
    if pressed.action is Action.SKIP:
        await show_next(ctx, item.id, replace=True)
        return
    if pressed.action is Action.OPEN:
        if item.media_kind and item.media_ref:
            ctx.say(
                ctx._("Attachment of update #{id}", id=item.id),
                attachment=MediaRef(item.media_kind, item.media_ref),
            )
        else:  # never offered for this update (or its attachment is gone): answered all the same
            ctx.say(ctx._(STALE_BUTTON))
        return
    status, said = DECISIONS[pressed.action]
    outcome = await moderation.decide(ctx.tx, ctx.actor, item, status, ctx.now)
    if outcome is moderation.Outcome.ALREADY:
        ctx.say(ctx._("Already done by another coordinator."))
        await show_next(ctx, item.id)
        return
    ctx.say(ctx._(said), replace=True)
    await show_next(ctx, item.id)


def register(router: Router) -> None:
    router.button(Moderate, role=Role.COORDINATOR)(on_button)

    @router.command("moderate", N_("Review new updates from your country"), role=Role.COORDINATOR)
    async def cmd_moderate(ctx: Context, arg: str) -> None:
        ctx.state.clear()
        await show_next(ctx)
