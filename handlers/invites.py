"""/invite: a coordinator makes an invitation link from her phone in three taps.

Coordinators invite members; an administrator may also invite coordinators and the
secretariat. Every invitation expires (7 days) and has a number of uses; each is audited.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.invites import DEFAULT_LIFETIME, create_invite
from bot.core.messages import Button, ChannelName
from bot.core.models import Role
from bot.core.router import Router
from handlers.common import ROLE_NAMES, choice

FLOW = "inv"
USES = (1, 5, 20)
ANY_COUNTRY = "any"
# What each role may invite: the roles below its own that do field work or analysis.
INVITABLE = {
    Role.COORDINATOR: (Role.MEMBER,),
    Role.ADMIN: (Role.MEMBER, Role.COORDINATOR, Role.SECRETARIAT),
}


def _invitable(ctx: Context) -> tuple[Role, ...]:
    return INVITABLE.get(ctx.role, ()) if ctx.role is not None else ()


def _own_country(ctx: Context) -> str | None:
    """The inviter's country: the one she may give an invitation (or leave it to them)."""
    return ctx.member.country if ctx.member else None


def _capitalised(label: str) -> str:
    """A role's name ("coordinator", used inside sentences) as a button label."""
    return label[:1].upper() + label[1:]


class InviteFlow:
    """Steps: role (administrators only) → how many people → which country → the link."""

    name = FLOW

    async def start(self, ctx: Context) -> None:
        roles = _invitable(ctx)
        if len(roles) == 1:
            ctx.state.go(FLOW, "uses", role=roles[0].value)
        else:
            ctx.state.go(FLOW, "role")
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        step = ctx.state.step
        if step == "role":
            buttons = [
                Button(_capitalised(ctx._(ROLE_NAMES[role])), f"{FLOW}:role:{role.value}")
                for role in _invitable(ctx)
            ]
            ctx.say(ctx._("Invite someone as…"), [*buttons, self._cancel(ctx)])
        elif step == "uses":
            buttons = [
                Button(ctx._.plural("{n} person", "{n} people", n), f"{FLOW}:uses:{n}")
                for n in USES
            ]
            ctx.say(
                ctx._("How many people may join with this link? It works for 7 days."),
                [*buttons, self._cancel(ctx)],
                columns=3,
            )
        else:
            own = _own_country(ctx)
            buttons = [Button(ctx._.country_name(own), f"{FLOW}:country:{own}")] if own else []
            buttons.append(Button(ctx._("They choose"), f"{FLOW}:country:{ANY_COUNTRY}"))
            ctx.say(ctx._("Which country do they work in?"), [*buttons, self._cancel(ctx)])

    def _cancel(self, ctx: Context) -> Button:
        return Button(ctx._("Cancel"), f"{FLOW}:cancel")

    async def on_input(self, ctx: Context) -> None:
        data = ctx.state.data
        if choice(ctx, f"{FLOW}:") == "cancel":
            ctx.state.clear()
            ctx.say(ctx._("Cancelled. No invitation was made."))
            return
        step = ctx.state.step
        picked = choice(ctx, f"{FLOW}:{step}:")  # each step's buttons carry its name
        if step == "role" and picked in {r.value for r in _invitable(ctx)}:
            ctx.state.go(FLOW, "uses", role=picked)
            await self.reprompt(ctx)
            return
        if step == "uses" and picked in {str(n) for n in USES}:
            data["uses"] = int(picked)
            if Role(data["role"]) in (Role.MEMBER, Role.COORDINATOR):
                ctx.state.go(FLOW, "country")
                await self.reprompt(ctx)
            else:  # the secretariat works for the whole alliance
                await self._make(ctx, None)
            return
        if step == "country" and picked is not None and picked in (ANY_COUNTRY, _own_country(ctx)):
            await self._make(ctx, None if picked == ANY_COUNTRY else picked)
            return
        ctx.say(ctx._("Please choose one of the buttons."))
        await self.reprompt(ctx)

    async def _make(self, ctx: Context, country: str | None) -> None:
        assert ctx.member is not None
        data = ctx.state.data
        role, uses = Role(data["role"]), int(data["uses"])
        invite = await create_invite(
            ctx.tx,
            role=role,
            country=country,
            uses=uses,
            expires_at=ctx.now + DEFAULT_LIFETIME,
            actor=f"member:{ctx.member.id}",
            actor_member_id=ctx.member.id,
            now=ctx.now,
        )
        ctx.state.clear()
        assert invite.expires_at is not None
        ctx.say(
            ctx._.plural(
                "Invitation ready: {n} person can join as {role}, until {date}. Forward the next "
                "message to the person you invite, and only to them.",
                "Invitation ready: up to {n} people can join as {role}, until {date}. Forward "
                "the next message to the people you invite, and only to them.",
                uses,
                role=ctx._(ROLE_NAMES[role]),
                date=ctx._.date(invite.expires_at),
            )
        )
        links = ctx.config.invite_links.links(invite.code)
        # The English word works on every channel and in every language; WhatsApp has no slash.
        slash = "" if ctx.inbound.channel is ChannelName.WHATSAPP else "/"
        start = f"{slash}start {invite.code}"
        how = (
            ctx._("Open this link to join: {link}", link="\n".join(links))
            if links
            else ctx._("Send this to the Wasl bot to join: {start}", start=start)
        )
        ctx.say(
            ctx._(
                "You are invited to join Wasl, the alliance's messaging link for peace "
                "practitioners. {how}",
                how=how,
            )
        )


def register(router: Router) -> None:
    flow = InviteFlow()
    router.flow(flow)

    @router.command("invite", N_("Invite someone to join"), role=Role.COORDINATOR)
    async def cmd_invite(ctx: Context, arg: str) -> None:
        await flow.start(ctx)
