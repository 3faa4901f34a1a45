"""/invite: a coordinator makes an invitation link from her phone in three taps.

Coordinators invite members; an administrator may also invite coordinators and the
secretariat. Every invitation expires (7 days) and has a number of uses; each is audited
(`bot.services.invitations`). "My invitations" lists the ones she made that still work, each
with a button to revoke it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from bot.core.callbacks import Callback
from bot.core.context import Context
from bot.core.conversation import END, Conversation, Kind, Option, Step, Turn
from bot.core.i18n import N_
from bot.core.messages import Button, ChannelName
from bot.core.models import ROLE_NAMES, Role
from bot.core.router import STALE_BUTTON, Router, refuse
from bot.services import invitations
from bot.services.invitations import Revoked

FLOW = "inv"
USES = (1, 5, 20)
ANY_COUNTRY = "any"
MINE = "mine"  # "My invitations", offered beside the first questions
NEW = "new"
CODE_SHOWN = 6  # the start of a code: enough for her to tell them apart


@dataclass(frozen=True, slots=True)
class RevokeInvite(Callback, prefix="invrev", version=1):
    """The button beside one of her invitations that revokes it."""

    invite_id: int


class Listed(BaseModel):
    """One of her invitations as the list shows it."""

    id: int
    code: str  # its first characters only
    role: Role
    country: str | None
    uses_left: int
    expires_at: datetime | None


class Inviting(BaseModel):
    role: Role | None = None
    uses: int = 0
    country: str | None = None
    listed: list[Listed] = []


def _invitable(ctx: Context) -> tuple[Role, ...]:
    return invitations.invitable(ctx.actor) if ctx.member is not None else ()


def _own_country(ctx: Context) -> str | None:
    """The inviter's country: the one she may give an invitation (or leave it to them)."""
    return ctx.member.country if ctx.member else None


def _capitalised(label: str) -> str:
    """A role's name ("coordinator", used inside sentences) as a button label."""
    return label[:1].upper() + label[1:]


def _shown(code: str) -> str:
    return f"{code[:CODE_SHOWN]}…"


async def _load_mine(ctx: Context, state: Inviting) -> None:
    found = await invitations.working(ctx.tx, ctx.actor, ctx.now)
    state.listed = [
        Listed(
            id=i.id,
            code=i.code[:CODE_SHOWN],
            role=i.role,
            country=i.country,
            uses_left=i.uses_left,
            expires_at=i.expires_at,
        )
        for i in found
    ]


def _mine_option(turn: Turn[Inviting]) -> Option:
    return Option(MINE, turn._("My invitations"))


# -- the steps ---------------------------------------------------------------------------------


def _roles(turn: Turn[Inviting]) -> list[Option]:
    roles = [
        Option(role.value, _capitalised(turn._(ROLE_NAMES[role]))) for role in _invitable(turn.ctx)
    ]
    return [*roles, _mine_option(turn)]


async def _chose_role(turn: Turn[Inviting], value: str) -> str | None:
    if value == MINE:
        await _load_mine(turn.ctx, turn.state)
        return MINE
    turn.state.role = Role(value)
    return None


def _uses(turn: Turn[Inviting]) -> list[Option]:
    _ = turn._
    counts = [Option(str(n), _.plural("{n} person", "{n} people", n)) for n in USES]
    return [*counts, _mine_option(turn)]


async def _chose_uses(turn: Turn[Inviting], value: str) -> str | None:
    if value == MINE:
        await _load_mine(turn.ctx, turn.state)
        return MINE
    turn.state.uses = int(value)
    if turn.state.role is Role.SECRETARIAT:  # the secretariat works for the whole alliance
        return END
    return None


def _countries(turn: Turn[Inviting]) -> list[Option]:
    own = _own_country(turn.ctx)
    options = [Option(own, turn._.country_name(own))] if own else []
    return [*options, Option(ANY_COUNTRY, turn._("They choose"))]


def _chose_country(turn: Turn[Inviting], value: str) -> str:
    turn.state.country = None if value == ANY_COUNTRY else value
    return END


def _list_text(turn: Turn[Inviting]) -> str:
    _ = turn._
    if not turn.state.listed:
        return _("You have no invitations that still work.")
    lines = [_("Your invitations that still work:")]
    for invite in turn.state.listed:
        lines.append(
            _(
                "• {code} · {role} · {country} · uses left: {n} · until {date}",
                code=_shown(invite.code),
                role=_(ROLE_NAMES[invite.role]),
                country=_.country_name(invite.country) if invite.country else _("any country"),
                n=_.number(invite.uses_left),
                date=_.date(invite.expires_at) if invite.expires_at else "—",
            )
        )
    return "\n".join(lines)


def _revoke_buttons(turn: Turn[Inviting]) -> list[Button]:
    return [
        Button(turn._("Revoke {code}", code=_shown(i.code)), RevokeInvite(i.id).pack())
        for i in turn.state.listed
    ]


def _chose_new(turn: Turn[Inviting], value: str) -> str:
    listed = turn.state.listed  # Back from the new one shows the same list
    turn.state = _fresh(_invitable(turn.ctx))
    turn.state.listed = listed
    turn.trail.clear()
    return "role"


def _fresh(roles: tuple[Role, ...]) -> Inviting:
    return Inviting(role=roles[0] if len(roles) == 1 else None)


async def _finish(turn: Turn[Inviting]) -> None:
    ctx, state = turn.ctx, turn.state
    role = state.role
    if role is None or role not in _invitable(ctx):
        # e.g. an administrator made a coordinator since the first step
        await refuse(ctx, "flow", FLOW)
        return
    invite = await invitations.create(
        ctx.tx, ctx.actor, role=role, country=state.country, uses=state.uses, now=ctx.now
    )
    assert invite.expires_at is not None
    ctx.say(
        ctx._.plural(
            "Invitation ready (role: {role}): {n} person can join until {date}. Forward the "
            "next message to the person you invite, and only to them.",
            "Invitation ready (role: {role}): up to {n} people can join until {date}. "
            "Forward the next message to the people you invite, and only to them.",
            state.uses,
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


async def _cancelled(turn: Turn[Inviting]) -> None:
    turn.ctx.say(turn._("Cancelled. No invitation was made."))


INVITE: Conversation[Inviting] = Conversation(
    FLOW,
    Inviting,
    [
        Step(
            name="role",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Invite someone as…"),
            options=_roles,
            skip=lambda t: t.state.role is not None,
            answer=_chose_role,
            cancel=True,
        ),
        Step(
            name="uses",
            kind=Kind.CHOICE,
            ask=lambda t: t._("How many people may join with this link? It works for 7 days."),
            options=_uses,
            answer=_chose_uses,
            columns=3,
            cancel=True,
        ),
        Step(
            name="country",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Which country is this invitation for?"),
            options=_countries,
            answer=_chose_country,
            cancel=True,
        ),
        Step(
            name=MINE,
            kind=Kind.CHOICE,
            ask=_list_text,
            options=lambda t: [Option(NEW, t._("New invitation"))],
            more=_revoke_buttons,
            answer=_chose_new,
            back=False,
            cancel=True,
        ),
    ],
    finish=_finish,
    cancelled=_cancelled,
)


async def start(ctx: Context) -> None:
    await INVITE.start(ctx, _fresh(_invitable(ctx)))


async def show_mine(ctx: Context) -> None:
    state = _fresh(_invitable(ctx))
    await _load_mine(ctx, state)
    await INVITE.start(ctx, state, at=MINE)


def register(router: Router) -> None:
    router.flow(INVITE, role=Role.COORDINATOR)

    @router.command("invite", N_("Invite someone to join"), role=Role.COORDINATOR)
    async def cmd_invite(ctx: Context, arg: str) -> None:
        if arg.strip().lower() in ("list", "mine"):
            await show_mine(ctx)
        else:
            await start(ctx)

    @router.button(RevokeInvite, role=Role.COORDINATOR)
    async def revoke(ctx: Context, pressed: RevokeInvite) -> None:
        done = await invitations.revoke(ctx.tx, ctx.actor, ctx.now, invite_id=pressed.invite_id)
        if done.outcome is Revoked.NOT_FOUND or done.invite is None:
            ctx.say(ctx._(STALE_BUTTON))  # not hers, or no such invitation
        elif done.outcome is Revoked.NOT_WORKING:
            ctx.say(
                ctx._("Invitation {code} was no longer working.", code=_shown(done.invite.code))
            )
        else:
            ctx.say(
                ctx._(
                    "Revoked: no one can join with {code} any more.",
                    code=_shown(done.invite.code),
                )
            )
        await show_mine(ctx)
