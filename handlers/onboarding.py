"""Joining: invite → language → a second language (optional) → values and data notice →
country → spheres → welcome.

A flow declared as a step table (`bot.core.conversation`); the invitation is checked and
used, and the member made, by `bot.services.invitations`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import END, STAY, Conversation, Kind, Option, Step, Turn
from bot.core.countries import find_countries
from bot.core.i18n import N_
from bot.core.messages import ChannelName
from bot.core.models import ROLE_NAMES, Invite, NewMember, Role
from bot.core.router import Router
from bot.core.spheres import SPHERES
from bot.services import invitations
from bot.services.invitations import Refused
from handlers.common import (
    LANGUAGES_SHOWN,
    MORE_LANGUAGES,
    NO_SECOND,
    command_text,
    language_options,
    main_menu,
    second_language_options,
    second_language_question,
    sphere_labels,
)

FLOW = "ob"
ANOTHER = "other"  # the country button that asks her to type its name

WELCOME = N_("Welcome to Wasl, the alliance's link. Which language do you prefer?")
ALREADY_MEMBER = N_("Welcome back! You are already a member.")
# What /help says at each step while she is joining.
STEP_HELP = {
    "lang": N_("You are joining Wasl. Tap the language you want me to use."),
    "second": N_(
        "You are joining Wasl. Tap another language you read, or Skip: tips and surveys not "
        "yet in your language will be shown in it."
    ),
    "values": N_(
        "You are joining Wasl. Read the values and the notice, then tap “I accept” to go on, "
        "or “No, thank you” to stop: then nothing about you is kept."
    ),
    "country": N_(
        "You are joining Wasl. Tap the country you mainly work in, or “Another country” and "
        "type its name."
    ),
    "spheres": N_(
        "You are joining Wasl. Tap each sphere you work in (tap it again to untick it), then Done."
    ),
}


class Joining(BaseModel):
    """What she has told so far (nothing is kept if she stops before the end)."""

    locale: str  # the router speaks it to her while she is not yet a member
    second: str | None = None  # a language she also reads (tips and surveys), if she said
    role: Role = Role.MEMBER
    country: str | None = None
    country_given: bool = False  # the invitation names her country: not asked
    invite_id: int | None = None
    consented_at: datetime | None = None
    spheres: list[str] = []


# -- the steps ---------------------------------------------------------------------------------


def _languages(turn: Turn[Joining]) -> list[Option]:
    return language_options(turn.ctx, turn.state.country)


def _chose_language(turn: Turn[Joining], code: str) -> None:
    turn.ctx.set_locale(code)
    turn.state.locale = turn.ctx.locale


def _second_options(turn: Turn[Joining]) -> list[Option]:
    return second_language_options(turn.ctx, turn._("Skip"), turn.state.country)


def _chose_second(turn: Turn[Joining], code: str) -> None:
    turn.state.second = None if code in (NO_SECOND, turn.ctx.locale) else code


def _values_options(turn: Turn[Joining]) -> list[Option]:
    _ = turn._
    return [Option("yes", _("I accept")), Option("no", _("No, thank you"))]


def _answered_values(turn: Turn[Joining], yes: bool) -> str | None:
    ctx = turn.ctx
    if not yes:
        ctx.state.clear()  # she declined: nothing about her is kept
        ctx.say(
            ctx._(
                "Understood. Nothing about you has been kept. If you change your mind, "
                "open your invitation link again."
            )
        )
        return None
    turn.state.consented_at = ctx.now
    return None


def _countries(turn: Turn[Joining]) -> list[Option]:
    _ = turn._
    options = [Option(code, _.country_name(code)) for code in turn.ctx.config.countries]
    return [*options, Option(ANOTHER, _("Another country"))]


def _chose_country(turn: Turn[Joining], code: str) -> str | None:
    if code == ANOTHER:
        turn.ctx.say(turn._("Type the name of the country, in any language you like."))
        return STAY
    turn.state.country = code
    return None


async def _search_country(turn: Turn[Joining], query: str) -> bool:
    ctx = turn.ctx
    matches = find_countries(ctx.catalogs, ctx._, query)
    if not matches:
        ctx.say(
            ctx._(
                "I could not find a country called “{query}”. Please check the spelling, "
                "or choose from the list.",
                query=query[:40],
            )
        )
        await ONBOARDING.reprompt(ctx)
        return True
    buttons = [ONBOARDING.button(turn, name, code) for code, name in matches]
    ctx.say(ctx._("Is it one of these?"), buttons)
    return True


def _spheres(turn: Turn[Joining]) -> list[Option]:
    return [Option(s.code, turn._(s.label)) for s in SPHERES]


def _tick(turn: Turn[Joining], code: str) -> None:
    chosen = set(turn.state.spheres) ^ {code}
    turn.state.spheres = [s.code for s in SPHERES if s.code in chosen]


def _chose_spheres(turn: Turn[Joining], chosen: list[str]) -> str:
    if not chosen:
        turn.ctx.say(turn._("Please choose at least one sphere."))
        return STAY
    return END


async def _finish(turn: Turn[Joining]) -> None:
    ctx, state = turn.ctx, turn.state
    inbound = ctx.inbound
    joined = await invitations.join(
        ctx.tx,
        NewMember(
            channel=inbound.channel,
            platform_id=inbound.sender_id,
            chat_id=inbound.chat_id,
            locale=ctx.locale,
            second_locale=state.second if state.second != ctx.locale else None,
            country=state.country,
            spheres=list(state.spheres),
            role=state.role,
            consent_version=ctx.config.consent_version,
            consented_at=state.consented_at or ctx.now,
        ),
        ctx.now,
        invite_id=state.invite_id,
    )
    if joined is Refused.USED_UP:
        ctx.say(
            ctx._(
                "Sorry, this invitation has just been used up. Please ask your "
                "coordinator for a new one."
            )
        )
        return
    if isinstance(joined, Refused):
        ctx.say(
            ctx._(
                "Sorry, this invitation has expired or was withdrawn while you were "
                "joining. Please ask your coordinator for a new one."
            )
        )
        return
    ctx.member = joined
    country = ctx._.country_name(joined.country) if joined.country else ctx._("none")
    ctx.say(
        ctx._(
            "Welcome to the alliance! You are in.\n"
            "Country: {country}\nSpheres: {spheres}\n\n"
            "Send {help} at any time to see what you can do.",
            country=country,
            spheres=sphere_labels(ctx, joined.spheres),
            help=command_text(ctx, "help"),
        ),
        main_menu(ctx),
        columns=2,
    )


ONBOARDING: Conversation[Joining] = Conversation(
    FLOW,
    Joining,
    [
        Step(
            name="lang",
            kind=Kind.CHOICE,
            ask=lambda t: t._(
                "Welcome to Wasl, the alliance's link. Which language do you prefer?"
            ),
            options=_languages,
            answer=_chose_language,
            shown=LANGUAGES_SHOWN,
            rest=MORE_LANGUAGES,
        ),
        Step(
            name="second",
            kind=Kind.CHOICE,
            ask=lambda t: second_language_question(t.ctx),
            options=_second_options,
            answer=_chose_second,
            skip=lambda t: len(t.ctx.catalogs.supported) < 2,
            columns=2,
            shown=LANGUAGES_SHOWN,
            rest=MORE_LANGUAGES,
        ),
        Step(
            name="values",
            kind=Kind.CONFIRM,
            ask=lambda t: values_text(t.ctx),
            options=_values_options,
            answer=_answered_values,
        ),
        Step(
            name="country",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Which country do you mainly work in?"),
            options=_countries,
            accepts=lambda t, code: code in t._.countries(),  # a searched country's button
            typed=_search_country,
            skip=lambda t: t.state.country_given,
            answer=_chose_country,
            columns=2,
        ),
        Step(
            name="spheres",
            kind=Kind.CHECKLIST,
            ask=lambda t: t._("Which spheres do you work in? Tap all that apply, then Done."),
            options=_spheres,
            chosen=lambda t: t.state.spheres,
            tick=_tick,
            answer=_chose_spheres,
        ),
    ],
    finish=_finish,
)


# -- shared with other conversations -----------------------------------------------------------


def values_text(ctx: Context) -> str:
    """The alliance's core values (from its fact sheet) and a plain data notice."""
    values = ctx._(
        "Members of the alliance share its core values:\n"
        "• Nonviolence and active support of positive, inclusive peace\n"
        "• Pluralism, social cohesion, equality and non-discrimination\n"
        "• Social, political and economic justice\n"
        "• Adherence to the Universal Declaration of Human Rights\n"
        "• Transforming gender power relations to realise equality and rights\n"
        "• Amplifying the voice of the community and building a progressive majority\n"
        "• Building on the history and legacy of women's activism and leadership\n"
        "• Mutual empowerment, support and respect for each other's expertise, "
        "avoiding duplication of work"
    )
    notice = ctx._(
        "What Wasl keeps: your account number on this app (only to reply to you), your "
        "languages, country, spheres of work and the date you joined. Coordinators see your "
        "updates, never your phone number. Survey answers are stored without your name and "
        "cannot be traced back to you. See it all with {mydata}; delete it all with {forget}.",
        mydata=command_text(ctx, "mydata"),
        forget=command_text(ctx, "forget"),
    )
    return ctx._(
        "{values}\n\n{notice}\n\nDo you accept the values and this notice?",
        values=values,
        notice=notice,
    )


# -- who may join ------------------------------------------------------------------------------


async def entry(ctx: Context, code: str) -> Joining | str:
    """What this /start lets her join as, or a message explaining why she cannot join."""
    inbound = ctx.inbound
    if (inbound.channel.value, inbound.sender_id) in ctx.config.admin_ids:
        return Joining(locale=ctx.locale, role=Role.ADMIN)
    if code:
        found = await invitations.find(ctx.tx, code, ctx.now)
        if found is Refused.UNKNOWN:
            return ctx._(
                "I don't recognise this invitation. Please check the link, or ask "
                "your coordinator for a new one."
            )
        if isinstance(found, Refused):
            return ctx._(
                "This invitation has expired or been used up. Please ask your "
                "coordinator for a new one."
            )
        return Joining(
            locale=ctx.locale,
            role=found.role,
            country=found.country,
            country_given=found.country is not None,
            invite_id=found.id,
        )
    if ctx.config.open_join or inbound.channel is ChannelName.CONSOLE:
        return Joining(locale=ctx.locale)
    return how_to_join(ctx)


def how_to_join(ctx: Context) -> str:
    return ctx._(
        "Wasl links members of the Women's Alliance for peace, rights and pluralism. "
        "To join, open the invitation link your coordinator sent you, or send {start} "
        "followed by your invitation code.",
        start=command_text(ctx, "start"),
    )


async def accept_as_member(ctx: Context, code: str) -> None:
    """A member opens an invitation: a higher role is taken (used up, audited); anything
    else changes nothing and she is told she is already a member."""
    assert ctx.member is not None
    found = await invitations.find(ctx.tx, code, ctx.now)
    if (
        isinstance(found, Invite)
        and invitations.raises(found, ctx.member)
        and await invitations.upgrade(ctx.tx, ctx.member, found.id, ctx.now)
    ):
        ctx.say(
            ctx._(
                "Welcome back! With this invitation your role is now: {role}. Send {help} to "
                "see what you can do.",
                role=ctx._(ROLE_NAMES[found.role]),
                help=command_text(ctx, "help"),
            ),
            main_menu(ctx),
            columns=2,
        )
        return
    ctx.say(ctx._(ALREADY_MEMBER), main_menu(ctx), columns=2)


def register(router: Router) -> None:
    router.flow(ONBOARDING)

    @router.command("start", "Start or join", role=None, in_menu=False)
    async def cmd_start(ctx: Context, arg: str) -> None:
        if arg.startswith("s_"):
            # A public survey link, not an invite: for members too (its audience is checked).
            from handlers.surveys import start_public

            await start_public(ctx, arg.removeprefix("s_"))
            return
        if ctx.member is not None:
            flow = await router.current_flow(ctx)  # ended if her role no longer allows it
            if flow is not None and not arg:  # back after a while, mid-way: show where she was
                ctx.say(
                    ctx._(
                        "Welcome back! Let's continue where you stopped, or send {cancel} to "
                        "leave it.",
                        cancel=command_text(ctx, "cancel"),
                    )
                )
                await flow.reprompt(ctx)
                return
            if arg:
                await accept_as_member(ctx, arg)
                return
            ctx.say(ctx._(ALREADY_MEMBER), main_menu(ctx), columns=2)
            return
        if not arg and ctx.state.flow == FLOW:
            await ONBOARDING.reprompt(ctx)  # /start again mid-way: carry on where she was
            return
        joining = await entry(ctx, arg)
        if isinstance(joining, str):
            ctx.state.clear()
            ctx.say(joining)
            return
        await ONBOARDING.start(ctx, joining)

    async def not_joined(ctx: Context) -> None:
        if ctx.state.flow == FLOW and ctx.state.step in STEP_HELP:
            # Mid-way through joining (/help, say): help with the step she is on.
            ctx.say(ctx._(STEP_HELP[ctx.state.step]))
            await ONBOARDING.reprompt(ctx)
            return
        ctx.say(how_to_join(ctx))

    router.not_joined = not_joined
