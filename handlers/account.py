"""Her own account: help, language, pause/resume, what we keep (/mydata), /forget and /wipe.

/language and /forget are flows on the engine; the operations are `bot.services.members`'.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import END, Conversation, Kind, Option, Step, Turn
from bot.core.i18n import N_, native_language_name
from bot.core.messages import ChannelName
from bot.core.models import ROLE_NAMES, MemberStatus, Role
from bot.core.router import Router
from bot.services import members
from handlers.common import (
    LANGUAGES_SHOWN,
    MORE_LANGUAGES,
    NO_SECOND,
    QUOTABLE,
    among_the_first,
    command_text,
    language_options,
    main_menu,
    second_language_options,
    second_language_question,
    sphere_labels,
)

CANCELLED = N_("Cancelled. Nothing was sent or saved.")
CHANNEL_NAMES = {
    ChannelName.TELEGRAM: N_("Telegram"),
    ChannelName.WHATSAPP: N_("WhatsApp"),
    ChannelName.CONSOLE: N_("terminal"),
}


class Choosing(BaseModel):
    """/language keeps nothing but the step: one question, one tap."""


SECOND = "second"  # the /language button that goes to her second language


def _language_options(turn: Turn[Choosing]) -> list[Option]:
    """Every supported language, named in itself, the likeliest for her first; among the
    first shown, her second language, to change it."""
    ctx = turn.ctx
    second = ctx.second_locale
    label = (
        ctx._("Second language: {language}", language=native_language_name(second))
        if second
        else ctx._("Add a second language")
    )
    country = ctx.member.country if ctx.member else None
    return among_the_first(language_options(ctx, country), Option(SECOND, label))


def _language_chosen(turn: Turn[Choosing], code: str) -> str:
    ctx = turn.ctx
    if code == SECOND:
        return "second"
    members.set_language(ctx.actor, code, ctx.catalogs.supported)
    ctx.set_locale(code)  # the answer is already in it
    ctx.say(
        ctx._(
            "Done. I will write to you in {language} from now on.",
            language=native_language_name(code),
        )
    )
    return END


def _second_options(turn: Turn[Choosing]) -> list[Option]:
    ctx = turn.ctx
    country = ctx.member.country if ctx.member else None
    return second_language_options(ctx, turn._("No second language"), country)


def _second_chosen(turn: Turn[Choosing], code: str) -> str:
    ctx = turn.ctx
    second = None if code == NO_SECOND else code
    members.set_second_language(ctx.actor, second, ctx.catalogs.supported)
    if second is None:
        ctx.say(ctx._("Done. You have no second language."))
    else:
        ctx.say(
            ctx._(
                "Done. Tips and surveys not yet in {language} will be shown in {second}.",
                language=ctx._.language_name(ctx.locale),
                second=ctx._.language_name(second),
            )
        )
    return END


async def _nothing(turn: Turn[Any]) -> None:
    """The answer said everything."""


LANGUAGE: Conversation[Choosing] = Conversation(
    "lang",
    Choosing,
    [
        Step(
            name="choose",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Which language do you prefer?"),
            options=_language_options,
            answer=_language_chosen,
            shown=LANGUAGES_SHOWN,
            rest=MORE_LANGUAGES,
        ),
        Step(
            name="second",
            kind=Kind.CHOICE,
            ask=lambda t: second_language_question(t.ctx),
            options=_second_options,
            answer=_second_chosen,
            columns=2,
            shown=LANGUAGES_SHOWN,
            rest=MORE_LANGUAGES,
        ),
    ],
    finish=_nothing,
)


class Forgetting(BaseModel):
    """/forget: whether she confirmed."""

    confirmed: bool = False


def _forget_question(turn: Turn[Forgetting]) -> str:
    return turn._(
        "This deletes your membership and everything Wasl keeps about you, and clears "
        "this chat of recent messages. Your past survey answers stay in the totals: "
        "they were never linked to you. Delete everything?"
    )


def _forget_confirmed(turn: Turn[Forgetting], yes: bool) -> str:
    turn.state.confirmed = yes
    return END


async def _forget(turn: Turn[Forgetting]) -> None:
    """Erase her and everything linked to her, or say nothing was deleted."""
    ctx = turn.ctx
    if not turn.state.confirmed or ctx.member is None:
        ctx.say(ctx._("Nothing was deleted."), main_menu(ctx), columns=2)
        return
    recent = await members.forget(ctx.tx, ctx.actor, ctx.now, _since(ctx))
    ctx.member, ctx.erased = None, True
    ctx.reply.delete_message_ids.extend(recent)
    ctx.say(
        ctx._(
            "Done. Everything Wasl kept about you has been deleted. Thank you for your work. "
            "You can join again at any time with a new invitation."
        )
    )


FORGET: Conversation[Forgetting] = Conversation(
    "forget",
    Forgetting,
    [
        Step(
            name="confirm",
            kind=Kind.CONFIRM,
            ask=_forget_question,
            options=lambda t: (
                Option("yes", t._("Yes, delete all")),
                Option("no", t._("No, keep it")),
            ),
            answer=_forget_confirmed,
        )
    ],
    finish=_forget,
)


UPDATE_STATUS = {
    "new": N_("waiting for a coordinator"),
    "approved": N_("approved for sharing, without your name"),
    "internal": N_("kept internal"),
    "rejected": N_("not shared"),
    "tip": N_("turned into a tip draft"),
}
SURVEY_STATUS = {
    "invited": N_("invited"),
    "started": N_("started, not finished"),
    "completed": N_("answered"),
    "declined": N_("declined"),
}
LISTED = 10  # dated lines of updates at most; the count says how many there are


def _what_she_did(ctx: Context, mine: members.MyData) -> str:
    """/mydata's second part: what is kept of what she did (dates, statuses, counts)."""
    kept = mine.kept
    lines = [ctx._("What Wasl keeps of what you did:")]
    lines.append(
        ctx._.plural(
            "• {n} field update you sent (the words are not repeated here):",
            "• {n} field updates you sent (the words are not repeated here):",
            len(kept.updates),
        )
        if kept.updates
        else ctx._("• Field updates you sent: none")
    )
    for at, status, quotable in kept.updates[:LISTED]:
        status_text = ctx._(UPDATE_STATUS.get(status, status))
        line = ctx._("{date}: {status}", date=ctx._.date(at), status=status_text)
        if quotable:
            line += " · " + ctx._(QUOTABLE)
        lines.append("   " + line)
    if len(kept.updates) > LISTED:
        more = len(kept.updates) - LISTED
        lines.append("   " + ctx._.plural("…and {n} older one", "…and {n} older ones", more))
    surveys = [
        ctx._(
            "{survey} ({status})",
            survey=survey.definition.title(
                survey.definition.locale_for(ctx.locale, ctx.second_locale)
            ),
            status=ctx._(SURVEY_STATUS.get(status, status)),
        )
        for survey, status in mine.surveys
    ]
    lines.append(
        ctx._(
            "• Surveys you were asked or took part in: {surveys}",
            surveys=ctx._(", ").join(surveys) if surveys else ctx._("none"),
        )
    )
    lines.append(ctx._("• Tips you rated: {n}", n=ctx._.number(kept.tips_rated)))
    lines.append(ctx._("• Invitations you created: {n}", n=ctx._.number(kept.invites_created)))
    lines.append(ctx._("• Dashboard links still valid: {n}", n=ctx._.number(kept.dashboard_links)))
    lines.append(
        ctx._("• Messages waiting to be sent to you: {n}", n=ctx._.number(kept.pending_messages))
    )
    lines.append(
        ctx._(
            "• Your lines for peers: {n}; introductions: {m}",
            n=ctx._.number(kept.peer_lines),
            m=ctx._.number(kept.introductions),
        )
    )
    return "\n".join(lines)


def _since(ctx: Context) -> datetime:
    """The oldest message the platform still lets us delete."""
    return ctx.now - timedelta(hours=ctx.config.wipe_window_hours)


def register(router: Router) -> None:
    router.flow(LANGUAGE, role=Role.MEMBER)
    router.flow(FORGET, role=Role.MEMBER)

    @router.command("help", N_("What I can do"), role=None)
    async def cmd_help(ctx: Context, arg: str) -> None:
        if ctx.member is None:
            await _not_member(ctx)
            return
        lines = [ctx._("Here is what you can do:")]
        lines += [
            f"{command_text(ctx, c.name)} — {ctx._(c.description)}"
            for c in router.menu(ctx.member.role)
        ]
        ctx.say("\n".join(lines), main_menu(ctx), columns=2)

    async def _not_member(ctx: Context) -> None:
        if router.not_joined is not None:
            await router.not_joined(ctx)

    @router.command("language", N_("Change your language"))
    async def cmd_language(ctx: Context, arg: str) -> None:
        await LANGUAGE.start(ctx, Choosing())

    @router.command("pause", N_("Stop alerts and campaigns for now"))
    async def cmd_pause(ctx: Context, arg: str) -> None:
        members.set_paused(ctx.actor, True)
        ctx.state.clear()
        ctx.say(
            ctx._(
                "Paused. You will not get alerts or campaigns until you send {resume}. "
                "You can still use everything else.",
                resume=command_text(ctx, "resume"),
            )
        )

    @router.command("stop", N_("Stop alerts and campaigns"), in_menu=False)
    async def cmd_stop(ctx: Context, arg: str) -> None:
        """The opt-out word WhatsApp users expect ("STOP", "توقف", "arrêt"): the same as /pause."""
        await cmd_pause(ctx, arg)

    @router.command("resume", N_("Receive alerts and campaigns again"))
    async def cmd_resume(ctx: Context, arg: str) -> None:
        members.set_paused(ctx.actor, False)
        ctx.state.clear()
        ctx.say(ctx._("Welcome back. You will receive alerts and campaigns again."))

    @router.command("mydata", N_("See everything Wasl keeps about you"))
    async def cmd_mydata(ctx: Context, arg: str) -> None:
        mine = await members.my_data(ctx.tx, ctx.actor, ctx.now, _since(ctx))
        m = mine.member
        status = (
            ctx._("paused (no alerts or campaigns)")
            if m.status is MemberStatus.PAUSED
            else ctx._("receiving alerts and campaigns")
        )
        ctx.state.clear()
        profile = ctx._(
            "What Wasl keeps about you:\n"
            "• Account: your {channel} number, only to reply to you\n"
            "• Language: {language}\n"
            "• Country: {country}\n"
            "• Spheres: {spheres}\n"
            "• Role: {role}\n"
            "• Messages: {status}\n"
            "• Joined: {joined}\n"
            "• Accepted the values and data notice (version {version}) on {consented}\n"
            "• Recent messages in this chat that {wipe} can delete: {recent}\n\n"
            "Your survey answers are stored without your name, so they cannot be shown here. "
            "Send {forget} to delete everything.",
            channel=ctx._(CHANNEL_NAMES[m.channel]),
            language=(
                ctx._(
                    # Translators: /mydata's language line when she chose a second language,
                    # e.g. "اردو (second language: English)".
                    "{language} (second language: {second})",
                    language=native_language_name(m.locale),
                    second=native_language_name(m.second_locale),
                )
                if m.second_locale
                else native_language_name(m.locale)
            ),
            country=ctx._.country_name(m.country) if m.country else ctx._("none"),
            spheres=sphere_labels(ctx, m.spheres),
            role=ctx._(ROLE_NAMES[m.role]),
            status=status,
            joined=ctx._.date(m.joined_at),
            version=m.consent_version,
            consented=ctx._.date(m.consented_at),
            wipe=command_text(ctx, "wipe"),
            recent=ctx._.number(mine.recent_messages),
            forget=command_text(ctx, "forget"),
        )
        ctx.say(profile + "\n\n" + _what_she_did(ctx, mine))

    @router.command("cancel", N_("Stop what you are doing"), role=None, in_menu=False)
    async def cmd_cancel(ctx: Context, arg: str) -> None:
        """Leave the flow she is in; a flow that says how it was cancelled says it here too
        (as its Cancel button would)."""
        flow = router.flows.get(ctx.state.flow) if ctx.state.flow else None
        if isinstance(flow, Conversation):
            await flow.cancel(ctx, otherwise=CANCELLED)
            return
        had_flow = ctx.state.flow is not None
        ctx.state.clear()
        if had_flow:
            ctx.say(ctx._(CANCELLED))
        else:
            ctx.say(ctx._("There is nothing to cancel."))

    @router.command("forget", N_("Delete your membership and data"))
    async def cmd_forget(ctx: Context, arg: str) -> None:
        await FORGET.start(ctx, Forgetting())

    @router.command("wipe", N_("Delete recent messages in this chat"))
    async def cmd_wipe(ctx: Context, arg: str) -> None:
        assert ctx.member is not None
        if not members.can_wipe(ctx.member.channel):
            ctx.say(
                ctx._(
                    "WhatsApp does not let Wasl delete messages. To clear this chat, open it and "
                    "choose ⋮ → More → Clear chat."
                )
            )
            return
        recent = await members.wipe(ctx.tx, ctx.actor, _since(ctx))
        ctx.state.clear()
        ctx.reply.delete_message_ids.extend(recent)
        ctx.say(ctx._.plural("Cleared {n} message.", "Cleared {n} messages.", len(recent)))

    async def fallback(ctx: Context) -> None:
        if ctx.inbound.media is not None:
            ctx.say(ctx._("I can't use this kind of message here."), main_menu(ctx), columns=2)
        else:
            ctx.say(
                ctx._("Sorry, I didn't understand. Choose from the menu:"),
                main_menu(ctx),
                columns=2,
            )

    router.fallback = fallback
