"""The good-practice tips library: browse by sphere, page, rate; drafts and publishing.

Every tip button is stateless (`router.action("tip")`), so an old message still pages and
rates correctly and nothing about browsing is kept in her conversation state. Payloads:

    tip:s                  the sphere choice
    tip:p:<sphere>:<index> the tip at <index> (0-based) in <sphere> ("all": every sphere)
    tip:r:<tip id>:<1|0>   helpful / not helpful
    tip:d:<index>          a draft, for coordinators and admins
    tip:pub:<tip id>       publish a draft (admins)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.messages import Button
from bot.core.models import Role
from bot.core.ports import Transaction
from bot.core.router import Router
from bot.core.spheres import SPHERE_BY_CODE, SPHERES
from bot.core.tips import RateOutcome, TipText, TipView
from handlers.common import command_text, sphere_labels

PREFIX = "tip"
ALL = "all"
DRAFTS_WORD = "drafts"
DRAFT_TITLE = 60  # a draft's title is the start of the update's first line, cut at a word


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

    @router.action(PREFIX)
    async def on_tip_button(ctx: Context) -> None:
        if ctx.member is None:  # not joined (the router normally answers this itself)
            ctx.say(ctx._("This command is not available to you."))
            return
        kind, _, rest = (ctx.inbound.payload or "").removeprefix(f"{PREFIX}:").partition(":")
        parts = rest.split(":") if rest else []
        numbers = [_number(part) for part in parts]
        if kind == "s" and not parts:
            show_spheres(ctx, replace=True)
        elif kind == "p" and len(parts) == 2 and (index := numbers[1]) is not None:
            await show_tip(ctx, parts[0], index, replace=True)
        elif kind == "r" and len(parts) == 2 and (tip_id := numbers[0]) is not None:
            if parts[1] in ("0", "1"):
                await rate(ctx, tip_id, helpful=parts[1] == "1")
            else:
                _earlier(ctx)
        elif kind == "d" and len(parts) == 1 and (index := numbers[0]) is not None:
            await show_draft(ctx, index, replace=True)
        elif kind == "pub" and len(parts) == 1 and (tip_id := numbers[0]) is not None:
            await publish(ctx, tip_id)
        else:
            _earlier(ctx)


def _number(text: str) -> int | None:
    """A payload's number: ASCII digits only, small enough for any database integer."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _earlier(ctx: Context) -> None:
    ctx.say(ctx._("That button is from an earlier message and no longer works."))


# -- browsing ---------------------------------------------------------------------------------


def sphere_buttons(ctx: Context) -> list[Button]:
    """The eight spheres and "All", each opening the first tip there."""
    buttons = [Button(ctx._(s.label), f"{PREFIX}:p:{s.code}:0") for s in SPHERES]
    buttons.append(Button(ctx._("All spheres"), f"{PREFIX}:p:{ALL}:0"))
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
    view = await ctx.tx.tips.page(None if sphere == ALL else sphere, index, ctx.locale)
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
        lines.append(
            ctx._(
                "Not yet translated into your language; here it is in {language}.",
                language=ctx._.language_name(view.locale),
            )
        )
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
            # Translators: paging buttons, shown left (previous) and right (next) in every
            # language; keep the arrows pointing outwards.
            Button(ctx._("◀ Previous"), f"{PREFIX}:p:{sphere}:{previous}"),
            Button(ctx._("Next ▶"), f"{PREFIX}:p:{sphere}:{following}"),
        ]
    buttons += [
        Button(ctx._("👍 Helpful"), f"{PREFIX}:r:{view.id}:1"),
        Button(ctx._("👎 Not helpful"), f"{PREFIX}:r:{view.id}:0"),
        # Translators: a button back to the list of spheres of work.
        Button(ctx._("Spheres"), f"{PREFIX}:s"),
    ]
    return buttons


async def rate(ctx: Context, tip_id: int, *, helpful: bool) -> None:
    """Her vote; the tip message stays as it is, a short thanks comes below it."""
    assert ctx.member is not None
    if await ctx.tx.tips.view(tip_id, ctx.locale) is None:
        ctx.say(ctx._("That tip is no longer available."))
        return
    outcome = await ctx.tx.tips.rate(tip_id, ctx.member.id, helpful, ctx.now)
    if outcome is RateOutcome.SAME:
        ctx.say(ctx._("Your vote on this tip was already counted. Thank you."))
    elif outcome is RateOutcome.CHANGED:
        ctx.say(ctx._("Thank you. Your vote on this tip is changed."))
    elif helpful:
        ctx.say(ctx._("Thank you. Glad it helps."))
    else:
        ctx.say(ctx._("Thank you. This helps us choose better tips."))


# -- drafts and publishing --------------------------------------------------------------------


def _may_review(ctx: Context) -> bool:
    return ctx.member is not None and ctx.member.role.allows(Role.COORDINATOR)


async def show_draft(ctx: Context, index: int, *, replace: bool) -> None:
    """Coordinators and admins read drafts one at a time; admins get a Publish button."""
    if not _may_review(ctx):
        ctx.say(ctx._("This command is not available to you."))
        return
    drafts = await ctx.tx.tips.drafts(ctx.locale)
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
            Button(ctx._("◀ Previous"), f"{PREFIX}:d:{(index - 1) % view.total}"),
            Button(ctx._("Next ▶"), f"{PREFIX}:d:{(index + 1) % view.total}"),
        ]
    if ctx.member is not None and ctx.member.role is Role.ADMIN:
        # Translators: a button: make this tip draft visible to every member.
        buttons.append(Button(ctx._("Publish"), f"{PREFIX}:pub:{view.id}"))
    return buttons


async def publish(ctx: Context, tip_id: int) -> None:
    """An admin publishes a draft; audited."""
    member = ctx.member
    if member is None or member.role is not Role.ADMIN:
        ctx.say(ctx._("Only an administrator can publish tips."))
        return
    view = await ctx.tx.tips.view(tip_id, ctx.locale, published_only=False)
    if view is None:
        ctx.say(ctx._("That tip is no longer available."))
        return
    if not await ctx.tx.tips.publish(tip_id, ctx.now):
        ctx.say(ctx._("This tip is already published."))
        return
    await ctx.tx.audit_log.append(
        actor=f"member:{member.id}",
        actor_member_id=member.id,
        action="tip.published",
        now=ctx.now,
        details={"tip_id": tip_id, "slug": view.slug},
    )
    ctx.say(
        ctx._(
            "Published: “{title}”. Members can read it with {tips} now.",
            title=view.title,
            tips=command_text(ctx, "tips"),
        ),
        replace=True,
    )


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
    and an empty body, for an admin to write. The caller audits the moderation decision.
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
