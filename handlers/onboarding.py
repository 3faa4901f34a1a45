"""Joining: invite → language → values and data notice → country → spheres → welcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.context import Context
from bot.core.countries import find_countries
from bot.core.i18n import SUPPORTED_LOCALES, native_language_name
from bot.core.messages import Button, ChannelName
from bot.core.models import InviteStatus, NewMember, Role
from bot.core.router import Router
from bot.core.spheres import SPHERE_BY_CODE
from handlers.common import (
    checklist,
    choice,
    command_text,
    main_menu,
    sphere_labels,
    sphere_options,
    toggle,
)

FLOW = "ob"


@dataclass(frozen=True, slots=True)
class Entry:
    """What lets someone join: an invite, open joining, or being a bootstrap admin."""

    role: Role
    country: str | None
    invite_id: int | None


class Onboarding:
    """The joining conversation. State data: locale, role, country, invite_id, spheres."""

    name = FLOW

    async def start(self, ctx: Context, entry: Entry) -> None:
        ctx.state.clear()
        ctx.state.go(
            FLOW,
            "lang",
            role=entry.role.value,
            country=entry.country,
            invite_id=entry.invite_id,
            locale=ctx.locale,
            spheres=[],
        )
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        step = ctx.state.step
        if step == "lang":
            ctx.say(
                ctx._("Welcome to Wasl, the alliance's link. Which language do you prefer?"),
                language_buttons(ctx.locale, f"{FLOW}:lang:"),
            )
        elif step == "values":
            ctx.say(
                values_text(ctx),
                [
                    Button(ctx._("I accept"), f"{FLOW}:values:yes"),
                    Button(ctx._("No, thank you"), f"{FLOW}:values:no"),
                ],
            )
        elif step == "country":
            self._ask_country(ctx)
        elif step == "spheres":
            self._ask_spheres(ctx, replace=False)

    async def on_input(self, ctx: Context) -> None:
        step = ctx.state.step
        payload = ctx.inbound.payload
        if step == "country" and payload is None and ctx.inbound.text and not ctx.inbound.media:
            self._search_country(ctx, ctx.inbound.text)
            return
        if payload is None:
            ctx.say(ctx._("Please choose one of the buttons."))
            await self.reprompt(ctx)
            return
        value = choice(ctx, f"{FLOW}:{_PAYLOAD_STEP.get(step or '', '')}:")
        if value is None:
            ctx.say(ctx._("That button is from an earlier message and no longer works."))
            await self.reprompt(ctx)
            return
        if step == "lang":
            await self._chose_language(ctx, value)
        elif step == "values":
            await self._answered_values(ctx, value)
        elif step == "country":
            await self._chose_country(ctx, value)
        elif step == "spheres":
            await self._toggled_sphere(ctx, value)

    async def _chose_language(self, ctx: Context, code: str) -> None:
        if code not in ctx.catalogs.supported:
            await self.reprompt(ctx)
            return
        ctx.set_locale(code)
        ctx.state.go(FLOW, "values", locale=code)
        await self.reprompt(ctx)

    async def _answered_values(self, ctx: Context, answer: str) -> None:
        if answer != "yes":
            ctx.state.clear()  # she declined: nothing about her is kept
            ctx.say(
                ctx._(
                    "Understood. Nothing about you has been kept. If you change your mind, "
                    "open your invitation link again."
                )
            )
            return
        ctx.state.go(FLOW, "country", consented_at=ctx.now.isoformat())
        if ctx.state.data.get("country"):
            self._go_spheres(ctx)
        else:
            await self.reprompt(ctx)

    def _ask_country(self, ctx: Context) -> None:
        buttons = [
            Button(ctx._.country_name(code), f"{FLOW}:country:{code}")
            for code in ctx.config.countries
        ]
        buttons.append(Button(ctx._("Another country"), f"{FLOW}:country:other"))
        ctx.say(ctx._("Which country do you mainly work in?"), buttons, columns=2)

    async def _chose_country(self, ctx: Context, code: str) -> None:
        if code == "other":
            ctx.say(ctx._("Type the name of the country, in any language you like."))
            return
        if code not in ctx._.countries():
            await self.reprompt(ctx)
            return
        ctx.state.data["country"] = code
        self._go_spheres(ctx)

    def _search_country(self, ctx: Context, query: str) -> None:
        matches = find_countries(ctx.catalogs, ctx._, query)
        if not matches:
            ctx.say(
                ctx._(
                    "I could not find a country called “{query}”. Please check the spelling, "
                    "or choose from the list.",
                    query=query[:40],
                )
            )
            self._ask_country(ctx)
            return
        buttons = [Button(name, f"{FLOW}:country:{code}") for code, name in matches]
        ctx.say(ctx._("Is it one of these?"), buttons)

    def _go_spheres(self, ctx: Context) -> None:
        ctx.state.go(FLOW, "spheres")
        self._ask_spheres(ctx, replace=False)

    def _ask_spheres(self, ctx: Context, *, replace: bool) -> None:
        chosen = ctx.state.data.get("spheres", [])
        ctx.say(
            ctx._("Which spheres do you work in? Tap all that apply, then Done."),
            checklist(ctx, f"{FLOW}:sph:", sphere_options(ctx), chosen),
            replace=replace,
        )

    async def _toggled_sphere(self, ctx: Context, code: str) -> None:
        pressed = toggle(ctx, "spheres", code, SPHERE_BY_CODE)
        if pressed == "done" and not ctx.state.data.get("spheres"):
            ctx.say(ctx._("Please choose at least one sphere."))
        elif pressed == "done":
            await self._finish(ctx)
        elif pressed == "invalid":
            await self.reprompt(ctx)
        else:
            self._ask_spheres(ctx, replace=True)

    async def _finish(self, ctx: Context) -> None:
        data = ctx.state.data
        invite_id = data.get("invite_id")
        # Checked again now, in the transaction that takes the use: it may have expired, been
        # used up or revoked while she was joining.
        if invite_id is not None and not await ctx.tx.invites.use(int(invite_id), ctx.now):
            ctx.state.clear()
            invite = await ctx.tx.invites.by_id(int(invite_id))
            if invite is not None and invite.status(ctx.now) is InviteStatus.USED_UP:
                ctx.say(
                    ctx._(
                        "Sorry, this invitation has just been used up. Please ask your "
                        "coordinator for a new one."
                    )
                )
            else:
                ctx.say(
                    ctx._(
                        "Sorry, this invitation has expired or was withdrawn while you were "
                        "joining. Please ask your coordinator for a new one."
                    )
                )
            return
        inbound = ctx.inbound
        member = await ctx.tx.members.create(
            NewMember(
                channel=inbound.channel,
                platform_id=inbound.sender_id,
                chat_id=inbound.chat_id,
                locale=ctx.locale,
                country=data.get("country"),
                spheres=list(data.get("spheres", [])),
                role=Role(data.get("role", Role.MEMBER.value)),
                consent_version=ctx.config.consent_version,
                consented_at=datetime.fromisoformat(data["consented_at"]),
            ),
            ctx.now,
        )
        await ctx.tx.audit_log.append(
            actor=f"member:{member.id}",
            actor_member_id=member.id,
            subject_member_id=member.id,
            action="member.joined",
            now=ctx.now,
            details={"invite_id": invite_id, "role": member.role.value},
        )
        ctx.member = member
        ctx.state.clear()
        country = ctx._.country_name(member.country) if member.country else ctx._("none")
        ctx.say(
            ctx._(
                "Welcome to the alliance! You are in.\n"
                "Country: {country}\nSpheres: {spheres}\n\n"
                "Send {help} at any time to see what you can do.",
                country=country,
                spheres=sphere_labels(ctx, member.spheres),
                help=command_text(ctx, "help"),
            ),
            main_menu(ctx),
            columns=2,
        )


_PAYLOAD_STEP = {"lang": "lang", "values": "values", "country": "country", "spheres": "sph"}


def language_buttons(current: str, prefix: str) -> list[Button]:
    """One button per supported language, named in itself, her current one first."""
    ordered = sorted(SUPPORTED_LOCALES, key=lambda code: code != current)
    return [Button(native_language_name(code), f"{prefix}{code}") for code in ordered]


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
        "language, country, spheres of work and the date you joined. Coordinators see your "
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


async def resolve_entry(ctx: Context, code: str) -> Entry | str:
    """The Entry this /start grants, or a message explaining why she cannot join."""
    inbound = ctx.inbound
    if (inbound.channel.value, inbound.sender_id) in ctx.config.admin_ids:
        return Entry(Role.ADMIN, None, None)
    if code:
        invite = await ctx.tx.invites.get(code)
        if invite is None:
            return ctx._(
                "I don't recognise this invitation. Please check the link, or ask "
                "your coordinator for a new one."
            )
        if not invite.usable(ctx.now):
            return ctx._(
                "This invitation has expired or been used up. Please ask your "
                "coordinator for a new one."
            )
        return Entry(invite.role, invite.country, invite.id)
    if ctx.config.open_join or inbound.channel is ChannelName.CONSOLE:
        return Entry(Role.MEMBER, None, None)
    return how_to_join(ctx)


def how_to_join(ctx: Context) -> str:
    return ctx._(
        "Wasl links members of the Women's Alliance for peace, rights and pluralism. "
        "To join, open the invitation link your coordinator sent you, or send {start} "
        "followed by your invitation code.",
        start=command_text(ctx, "start"),
    )


def register(router: Router) -> None:
    onboarding = Onboarding()
    router.flow(onboarding)

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
            ctx.say(ctx._("Welcome back! You are already a member."), main_menu(ctx), columns=2)
            return
        if not arg and ctx.state.flow == FLOW:
            await onboarding.reprompt(ctx)  # /start again mid-way: carry on where she was
            return
        entry = await resolve_entry(ctx, arg)
        if isinstance(entry, str):
            ctx.state.clear()
            ctx.say(entry)
            return
        await onboarding.start(ctx, entry)

    async def not_joined(ctx: Context) -> None:
        ctx.say(how_to_join(ctx))

    router.not_joined = not_joined
