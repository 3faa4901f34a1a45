"""The good-practice tips library: browse by sphere, page, rate; drafts and publishing.

Every tip button is a stateless typed button (`router.button`), so an old message still pages
and rates correctly and nothing about browsing is kept in her conversation state:

    TipSpheres             the sphere choice
    TipPage(sphere, index) the tip at `index` (0-based) in `sphere` ("all": every sphere)
    TipRate(tip, helpful)  helpful / not helpful
    TipDraft(index)        a draft, for coordinators and admins
    TipPublish(tip)        publish a draft (admins)

The operations are in `bot.services.tips`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.actors import NotAllowed
from bot.core.callbacks import Callback
from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.messages import Button
from bot.core.models import Role
from bot.core.router import Router
from bot.core.spheres import SPHERE_BY_CODE, SPHERES
from bot.core.tips import RateOutcome, TipView
from bot.services import tips
from bot.services.tips import ALL, Published
from handlers.common import command_text, not_in_her_language, sphere_labels

DRAFTS_WORD = "drafts"
LARGEST = 10**9  # a button's number beyond any stored row's (and any database integer)


def _small(*numbers: int) -> None:
    """A button's numbers are ids and positions: never negative, never huge (forged)."""
    if any(not 0 <= n < LARGEST for n in numbers):
        raise ValueError(numbers)


@dataclass(frozen=True, slots=True)
class TipSpheres(Callback, prefix="tips", version=1):
    """Back to the list of spheres."""


@dataclass(frozen=True, slots=True)
class TipPage(Callback, prefix="tip", version=2):
    """The tip at `index` in `sphere` (ALL: every sphere)."""

    sphere: str
    index: int

    def __post_init__(self) -> None:
        _small(self.index)


@dataclass(frozen=True, slots=True)
class TipRate(Callback, prefix="tipr", version=1):
    tip: int
    helpful: bool

    def __post_init__(self) -> None:
        _small(self.tip)


@dataclass(frozen=True, slots=True)
class TipDraft(Callback, prefix="tipd", version=1):
    index: int

    def __post_init__(self) -> None:
        _small(self.index)


@dataclass(frozen=True, slots=True)
class TipPublish(Callback, prefix="tipp", version=1):
    tip: int

    def __post_init__(self) -> None:
        _small(self.tip)


def register(router: Router) -> None:
    @router.command("tips", N_("Good practices from the alliance"))
    async def cmd_tips(ctx: Context, arg: str) -> None:
        word = arg.strip().lower()  # browsing keeps no state: a flow she is in stays as it is
        if not word:
            show_spheres(ctx, replace=False)
        elif word == DRAFTS_WORD:
            await show_draft(ctx, 0, replace=False)
        elif word == ALL or word in SPHERE_BY_CODE:
            await show_tip(ctx, word, 0, replace=False)
        else:
            intro = ctx._("I don't know that sphere. Please choose one of these:")
            show_spheres(ctx, replace=False, intro=intro)

    # Only a line of /help for coordinators and admins: "/tips drafts" reaches /tips above
    # (the router reads the word after a command as its argument), never this entry.
    @router.command(
        f"tips {DRAFTS_WORD}", N_("Tip drafts waiting to be published"), role=Role.COORDINATOR
    )
    async def cmd_tip_drafts(ctx: Context, arg: str) -> None:
        await show_draft(ctx, 0, replace=False)

    @router.button(TipSpheres)
    async def on_spheres(ctx: Context, value: TipSpheres) -> None:
        show_spheres(ctx, replace=True)

    @router.button(TipPage)
    async def on_page(ctx: Context, value: TipPage) -> None:
        await show_tip(ctx, value.sphere, value.index, replace=True)

    @router.button(TipRate)
    async def on_rate(ctx: Context, value: TipRate) -> None:
        await rate(ctx, value.tip, helpful=value.helpful)

    @router.button(TipDraft, role=Role.COORDINATOR)
    async def on_draft(ctx: Context, value: TipDraft) -> None:
        await show_draft(ctx, value.index, replace=True)

    @router.button(TipPublish)
    async def on_publish(ctx: Context, value: TipPublish) -> None:
        await publish(ctx, value.tip)


# -- browsing ---------------------------------------------------------------------------------


def sphere_buttons(ctx: Context) -> list[Button]:
    """The eight spheres and "All", each opening the first tip there."""
    buttons = [Button(ctx._(s.label), TipPage(s.code, 0).pack()) for s in SPHERES]
    buttons.append(Button(ctx._("All spheres"), TipPage(ALL, 0).pack()))
    return buttons


def show_spheres(ctx: Context, *, replace: bool, intro: str | None = None) -> None:
    text = intro or ctx._(
        "Good practices from practitioners across the alliance. Choose a sphere:"
    )
    ctx.say(text, sphere_buttons(ctx), columns=2, replace=replace)


def _sphere_name(ctx: Context, sphere: str) -> str:
    return ctx._("All spheres") if sphere == ALL else ctx._(SPHERE_BY_CODE[sphere].label)


async def show_tip(ctx: Context, sphere: str, index: int, *, replace: bool) -> None:
    """The tip at `index` in `sphere`, with paging and rating buttons."""
    if sphere != ALL and sphere not in SPHERE_BY_CODE:
        show_spheres(ctx, replace=replace, intro=_stale_list(ctx))
        return
    view = await tips.page(ctx.tx, ctx.actor, sphere, index, ctx.locale, ctx.second_locale)
    if view is None:
        if index == 0:
            text = (
                ctx._("There are no tips yet. Please come back later.")
                if sphere == ALL
                else ctx._(
                    "There are no tips for {sphere} yet. Please choose another sphere:",
                    sphere=_sphere_name(ctx, sphere),
                )
            )
        else:
            text = _stale_list(ctx)
        show_spheres(ctx, replace=replace, intro=text)
        return
    ctx.say(
        tip_text(ctx, view, sphere), tip_buttons(ctx, view, sphere), columns=2, replace=replace
    )


def _stale_list(ctx: Context) -> str:
    return ctx._("This list has changed since that message. Please choose a sphere again:")


def tip_text(ctx: Context, view: TipView, sphere: str | None) -> str:
    """One tip: title, body, then its source, a note if shown in another language, its place."""
    lines = [f"{view.title}\n\n{view.body}", ""]
    if view.source:
        lines.append(ctx._("Source: {source}", source=view.source))
    if view.fell_back:
        lines.append(not_in_her_language(ctx, view.locale))
    if sphere is not None and view.total:
        lines.append(
            # Translators: where this tip is in the list, e.g. "3 / 7 · Women in media".
            ctx._(
                "{position} / {total} · {sphere}",
                position=ctx._.number(view.position),
                total=ctx._.number(view.total),
                sphere=_sphere_name(ctx, sphere),
            )
        )
    return "\n".join(lines).rstrip()


def tip_buttons(ctx: Context, view: TipView, sphere: str) -> list[Button]:
    """◀ ▶ (wrapping around, so the layout never shifts), 👍 👎, and back to the spheres."""
    buttons: list[Button] = []
    if view.total > 1:
        index = view.position - 1
        previous, following = (index - 1) % view.total, (index + 1) % view.total
        buttons += [
            # Translators: paging buttons. The arrow points the way she reads: in a
            # right-to-left language "next" points left (◀) and "previous" right (▶).
            Button(ctx._("◀ Previous"), TipPage(sphere, previous).pack()),
            Button(ctx._("Next ▶"), TipPage(sphere, following).pack()),
        ]
    buttons += [
        Button(ctx._("👍 Helpful"), TipRate(view.id, True).pack()),
        Button(ctx._("👎 Not helpful"), TipRate(view.id, False).pack()),
        # Translators: a button back to the list of spheres of work.
        Button(ctx._("Spheres"), TipSpheres().pack()),
    ]
    return buttons


async def rate(ctx: Context, tip_id: int, *, helpful: bool) -> None:
    """Her vote; the tip message stays as it is, a short thanks comes below it."""
    outcome = await tips.rate(ctx.tx, ctx.actor, tip_id, helpful, ctx.now)
    if outcome is None:
        ctx.say(ctx._("That tip is no longer available."))
    elif outcome is RateOutcome.SAME:
        ctx.say(ctx._("Your vote on this tip was already counted. Thank you."))
    elif outcome is RateOutcome.CHANGED:
        ctx.say(ctx._("Thank you. Your vote on this tip has been changed."))
    elif helpful:
        ctx.say(ctx._("Thank you. Glad it helps."))
    else:
        ctx.say(ctx._("Thank you. This helps us choose better tips."))


# -- drafts and publishing --------------------------------------------------------------------


async def show_draft(ctx: Context, index: int, *, replace: bool) -> None:
    """Coordinators and admins read drafts one at a time; admins get a Publish button."""
    try:
        drafts = await tips.drafts(ctx.tx, ctx.actor, ctx.locale)
    except NotAllowed:
        ctx.say(ctx._("This command is not available to you."))
        return
    if not drafts:
        ctx.say(ctx._("There are no tip drafts."), replace=replace)
        return
    if not 0 <= index < len(drafts):
        index = 0  # a draft was published since that message: start again
    ctx.say(draft_text(ctx, drafts[index]), draft_buttons(ctx, drafts[index]), replace=replace)


def draft_text(ctx: Context, view: TipView) -> str:
    origin = (
        ctx._("from a field update") if view.from_update_id is not None else ctx._("from content")
    )
    header = ctx._(
        "Draft {position} / {total} · {origin}\nLanguage: {language} · Spheres: {spheres}",
        position=ctx._.number(view.position),
        total=ctx._.number(view.total),
        origin=origin,
        language=ctx._.language_name(view.locale),
        spheres=sphere_labels(ctx, list(view.spheres)),
    )
    return f"{header}\n\n{tip_text(ctx, view, None)}"


def draft_buttons(ctx: Context, view: TipView) -> list[Button]:
    buttons: list[Button] = []
    if view.total > 1:
        index = view.position - 1
        buttons += [
            Button(ctx._("◀ Previous"), TipDraft((index - 1) % view.total).pack()),
            Button(ctx._("Next ▶"), TipDraft((index + 1) % view.total).pack()),
        ]
    if ctx.member is not None and ctx.member.role is Role.ADMIN:
        # Translators: a button: make this tip draft visible to every member.
        buttons.append(Button(ctx._("Publish"), TipPublish(view.id).pack()))
    return buttons


async def publish(ctx: Context, tip_id: int) -> None:
    """An admin publishes a draft (the service audits it)."""
    try:
        result = await tips.publish(ctx.tx, ctx.actor, tip_id, ctx.locale, ctx.now)
    except NotAllowed:
        ctx.say(ctx._("Only an administrator can publish tips."))
        return
    if result.outcome is Published.GONE or result.view is None:
        ctx.say(ctx._("That tip is no longer available."))
    elif result.outcome is Published.ALREADY:
        ctx.say(ctx._("This tip is already published."))
    else:
        ctx.say(
            ctx._(
                "Published: “{title}”. Members can read it with {tips} now.",
                title=result.view.title,
                tips=command_text(ctx, "tips"),
            ),
            replace=True,
        )
