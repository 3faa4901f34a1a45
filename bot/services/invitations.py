"""Invitations: making them, listing and revoking them, and accepting one — joining as a new
member, or taking a higher role for someone who is already one.

Every invitation expires and has a number of uses. A coordinator invites members (of her
country, or leaving the country to them); an administrator may also invite coordinators and
the secretariat; the operator at the command line may make any. Each operation is audited
here, once, for the bot and the CLI alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.actors import Actor, NotAllowed, audit, require
from bot.core.invites import DEFAULT_LIFETIME, new_code
from bot.core.models import Invite, InviteStatus, Member, NewMember, Role
from bot.core.ports import Transaction

# What each role may invite: the roles below its own that do field work or analysis.
INVITABLE: dict[Role, tuple[Role, ...]] = {
    Role.COORDINATOR: (Role.MEMBER,),
    Role.ADMIN: (Role.MEMBER, Role.COORDINATOR, Role.SECRETARIAT),
}
# How far a role reaches, to tell an invitation that raises her from one that does not.
RANK = {Role.MEMBER: 0, Role.COORDINATOR: 1, Role.SECRETARIAT: 2, Role.ADMIN: 3}
LISTED = 8  # her newest invitations that still work


def invitable(actor: Actor) -> tuple[Role, ...]:
    """The roles this actor may invite (the operator: all of them)."""
    if actor.member is None:
        return tuple(Role)
    return INVITABLE.get(actor.member.role, ())


def countries_allowed(actor: Actor) -> tuple[str | None, ...]:
    """The countries a member may give an invitation: her own, or leave it to the invited."""
    if actor.member is None:
        return ()  # the operator: any
    own = actor.member.country
    return (own, None) if own else (None,)


async def create(
    tx: Transaction,
    actor: Actor,
    *,
    role: Role,
    country: str | None,
    uses: int,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> Invite:
    """Make an invitation (audited: who invited, which role, how many, which country)."""
    require(actor, Role.COORDINATOR, "invite.create")
    if role not in invitable(actor):
        raise NotAllowed(Role.ADMIN, "invite.create")
    if actor.member is not None and country not in countries_allowed(actor):
        raise NotAllowed(Role.ADMIN, "invite.create")
    invite = await tx.invites.create(
        code=new_code(),
        role=role,
        country=country,
        uses=uses,
        expires_at=now + lifetime,
        created_by=actor.label,
        now=now,
    )
    await audit(
        tx,
        actor,
        "invite.created",
        now,
        invite_id=invite.id,
        role=invite.role.value,
        uses=uses,
        country=country,
    )
    return invite


async def working(
    tx: Transaction, actor: Actor, now: datetime, limit: int = LISTED
) -> list[Invite]:
    """Her newest invitations that still work."""
    require(actor, Role.COORDINATOR, "invite.list")
    made = await tx.invites.list(created_by=actor.label)
    return [i for i in made if i.usable(now)][:limit]


async def every(tx: Transaction, actor: Actor, limit: int = 1000) -> list[Invite]:
    """Every invitation, newest first (the operator's list)."""
    require(actor, Role.ADMIN, "invite.list_all")
    return await tx.invites.list(limit=limit)


class Revoked(StrEnum):
    REVOKED = "revoked"
    NOT_WORKING = "not_working"  # expired, used up or revoked already
    NOT_FOUND = "not_found"  # no such invitation, or (for a member) not one she made


@dataclass(frozen=True, slots=True)
class Revocation:
    outcome: Revoked
    invite: Invite | None = None


async def revoke(
    tx: Transaction,
    actor: Actor,
    now: datetime,
    *,
    invite_id: int | None = None,
    code: str | None = None,
) -> Revocation:
    """Revoke an invitation by id or code: no one can join with it any more, not even
    someone half-way through joining. A member revokes only the ones she made."""
    require(actor, Role.COORDINATOR, "invite.revoke")
    if invite_id is not None:
        invite = await tx.invites.by_id(invite_id)
    else:
        invite = await tx.invites.get(code.strip()) if code else None
    if invite is None or (actor.member is not None and invite.created_by != actor.label):
        return Revocation(Revoked.NOT_FOUND)
    if actor.member is not None and not invite.usable(now):
        return Revocation(Revoked.NOT_WORKING, invite)
    if not await tx.invites.revoke(invite.id, now):
        return Revocation(Revoked.NOT_WORKING, invite)
    await audit(tx, actor, "invite.revoked", now, invite_id=invite.id, role=invite.role.value)
    return Revocation(Revoked.REVOKED, invite)


# -- accepting ---------------------------------------------------------------------------------


class Refused(StrEnum):
    """Why an invitation does not let her in."""

    UNKNOWN = "unknown"
    NOT_USABLE = "not_usable"  # expired, used up or revoked before she started
    USED_UP = "used_up"  # used up while she was joining
    WITHDRAWN = "withdrawn"  # expired or revoked while she was joining


async def find(tx: Transaction, code: str, now: datetime) -> Invite | Refused:
    """The invitation behind a code she sent, if it still works."""
    invite = await tx.invites.get(code)
    if invite is None:
        return Refused.UNKNOWN
    if not invite.usable(now):
        return Refused.NOT_USABLE
    return invite


async def join(
    tx: Transaction, new: NewMember, now: datetime, *, invite_id: int | None
) -> Member | Refused:
    """She joins: the invitation's use is taken in the same transaction (it may have expired,
    been used up or revoked while she was joining), her member row made, the join audited.
    `invite_id` None: open joining, a bootstrap administrator, or the terminal."""
    if invite_id is not None and not await tx.invites.use(invite_id, now):
        invite = await tx.invites.by_id(invite_id)
        if invite is not None and invite.status(now) is InviteStatus.USED_UP:
            return Refused.USED_UP
        return Refused.WITHDRAWN
    member = await tx.members.create(new, now)
    await audit(
        tx,
        Actor.of(member),
        "member.joined",
        now,
        subject=member.id,
        invite_id=invite_id,
        role=member.role.value,
    )
    return member


def raises(invite: Invite, member: Member) -> bool:
    """True when the invitation gives her a higher role than the one she has."""
    return RANK[invite.role] > RANK[member.role]


async def upgrade(tx: Transaction, member: Member, invite_id: int, now: datetime) -> bool:
    """A member accepts an invitation to a higher role: she takes it (and its country, when
    it names one), the invitation's use is taken, and it is audited. False when it gives her
    nothing more or no longer works; then nothing changes."""
    invite = await tx.invites.by_id(invite_id)
    if invite is None or not raises(invite, member) or not await tx.invites.use(invite.id, now):
        return False
    old = member.role
    member.role = invite.role
    if invite.country:
        member.country = invite.country
    await tx.members.save(member, spheres_changed=False)
    await audit(
        tx,
        Actor.of(member),
        "role.granted",
        now,
        subject=member.id,
        invite_id=invite.id,
        **{"from": old.value, "to": invite.role.value},
    )
    return True
