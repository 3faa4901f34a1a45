"""/invite: a coordinator makes an invitation link from her phone in three taps.

Coordinators invite members; an administrator may also invite coordinators and the
secretariat. Every invitation expires (7 days) and has a number of uses; each is audited.
"My invitations" lists the ones she made that still work, each with a button to revoke it.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.ids import parse_id
from bot.core.invites import DEFAULT_LIFETIME, create_invite, revoke_invite
from bot.core.messages import Button, ChannelName
from bot.core.models import ROLE_NAMES, Invite, Role
from bot.core.router import Router, refuse
from handlers.common import choice

FLOW = "inv"
USES = (1, 5, 20)
ANY_COUNTRY = "any"
LISTED = 8  # her newest invitations that still work, one revoke button each
CODE_SHOWN = 6  # the start of a code: enough for her to tell them apart
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
        ctx.state.clear()
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
            ctx.say(ctx._("Invite someone as…"), [*buttons, self._mine(ctx), self._cancel(ctx)])
        elif step == "uses":
            buttons = [
                Button(ctx._.plural("{n} person", "{n} people", n), f"{FLOW}:uses:{n}")
                for n in USES
            ]
            ctx.say(
                ctx._("How many people may join with this link? It works for 7 days."),
                [*buttons, self._mine(ctx), self._cancel(ctx)],
                columns=3,
            )
        elif step == "mine":
            await self._list(ctx)
        else:
            own = _own_country(ctx)
            buttons = [Button(ctx._.country_name(own), f"{FLOW}:country:{own}")] if own else []
            buttons.append(Button(ctx._("They choose"), f"{FLOW}:country:{ANY_COUNTRY}"))
            ctx.say(ctx._("Which country do they work in?"), [*buttons, self._cancel(ctx)])

    def _cancel(self, ctx: Context) -> Button:
        return Button(ctx._("Cancel"), f"{FLOW}:cancel")

    def _mine(self, ctx: Context) -> Button:
        return Button(ctx._("My invitations"), f"{FLOW}:mine")

    async def on_input(self, ctx: Context) -> None:
        data = ctx.state.data
        pressed = choice(ctx, f"{FLOW}:")
        if pressed == "cancel":
            ctx.state.clear()
            ctx.say(ctx._("Cancelled. No invitation was made."))
            return
        if pressed == "mine":
            await self.show_mine(ctx)
            return
        if pressed == "new":
            await self.start(ctx)
            return
        if pressed is not None and pressed.startswith("rev:"):
            await self._revoke(ctx, pressed.removeprefix("rev:"))
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
        if role not in _invitable(ctx):  # e.g. an admin made a coordinator since the first step
            ctx.state.clear()
            await refuse(ctx, "flow", FLOW)
            return
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

    # -- her invitations ---------------------------------------------------------------------

    async def show_mine(self, ctx: Context) -> None:
        ctx.state.go(FLOW, "mine")
        await self._list(ctx)

    async def _own_active(self, ctx: Context) -> list[Invite]:
        assert ctx.member is not None
        made = await ctx.tx.invites.list(created_by=f"member:{ctx.member.id}")
        return [i for i in made if i.usable(ctx.now)][:LISTED]

    async def _list(self, ctx: Context) -> None:
        found = await self._own_active(ctx)
        new = Button(ctx._("New invitation"), f"{FLOW}:new")
        if not found:
            ctx.say(ctx._("You have no invitations that still work."), [new, self._cancel(ctx)])
            return
        lines = [ctx._("Your invitations that still work:")]
        buttons = []
        for invite in found:
            shown = f"{invite.code[:CODE_SHOWN]}…"
            lines.append(
                ctx._(
                    "• {code} · {role} · {country} · uses left: {n} · until {date}",
                    code=shown,
                    role=ctx._(ROLE_NAMES[invite.role]),
                    country=(
                        ctx._.country_name(invite.country)
                        if invite.country
                        else ctx._("any country")
                    ),
                    n=ctx._.number(invite.uses_left),
                    date=ctx._.date(invite.expires_at) if invite.expires_at else "—",
                )
            )
            buttons.append(Button(ctx._("Revoke {code}", code=shown), f"{FLOW}:rev:{invite.id}"))
        ctx.say("\n".join(lines), [*buttons, new, self._cancel(ctx)])

    async def _revoke(self, ctx: Context, raw_id: str) -> None:
        assert ctx.member is not None
        invite_id = parse_id(raw_id)
        invite = await ctx.tx.invites.by_id(invite_id) if invite_id is not None else None
        if invite is None or invite.created_by != f"member:{ctx.member.id}":
            ctx.say(ctx._("That button is from an earlier message and no longer works."))
            await self.show_mine(ctx)
            return
        shown = f"{invite.code[:CODE_SHOWN]}…"
        if not invite.usable(ctx.now) or not await revoke_invite(
            ctx.tx,
            invite,
            actor=f"member:{ctx.member.id}",
            actor_member_id=ctx.member.id,
            now=ctx.now,
        ):
            ctx.say(ctx._("Invitation {code} was no longer working.", code=shown))
        else:
            ctx.say(ctx._("Revoked: no one can join with {code} any more.", code=shown))
        await self.show_mine(ctx)


def register(router: Router) -> None:
    flow = InviteFlow()
    router.flow(flow, role=Role.COORDINATOR)

    @router.command("invite", N_("Invite someone to join"), role=Role.COORDINATOR)
    async def cmd_invite(ctx: Context, arg: str) -> None:
        if arg.strip().lower() in ("list", "mine"):
            await flow.show_mine(ctx)
        else:
            await flow.start(ctx)
