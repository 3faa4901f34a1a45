"""The invitations service on SQLite and PostgreSQL: who may make which invitation, revoking
only one's own, joining with a use taken in the same transaction, and a role raised by one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import InviteStatus, Member, NewMember, Role
from bot.services import invitations
from bot.services.invitations import Refused, Revoked
from storage.store import SqlStore


def newcomer(uid: str, role: Role = Role.MEMBER, country: str | None = "IQ") -> NewMember:
    return NewMember(
        channel=ChannelName.TELEGRAM,
        platform_id=uid,
        chat_id=uid,
        locale="en",
        country=country,
        spheres=["youth"],
        role=role,
        consent_version="1",
        consented_at=FixedClock().now(),
    )


async def member(store: SqlStore, uid: str, role: Role, country: str | None = "IQ") -> Member:
    now = FixedClock().now()
    async with store.transaction() as tx:
        joined = await invitations.join(tx, newcomer(uid, role, country), now, invite_id=None)
    assert not isinstance(joined, Refused)
    return joined


async def test_who_may_invite_whom(store: SqlStore) -> None:
    now = FixedClock().now()
    coordinator = Actor.of(await member(store, "1", Role.COORDINATOR, "YE"))
    admin = Actor.of(await member(store, "2", Role.ADMIN))
    plain = Actor.of(await member(store, "3", Role.MEMBER))
    async with store.transaction() as tx:
        made = await invitations.create(
            tx, coordinator, role=Role.MEMBER, country="YE", uses=5, now=now
        )
        assert (made.role, made.country, made.uses_left) == (Role.MEMBER, "YE", 5)
        assert made.expires_at == now + timedelta(days=7)
        assert made.created_by == coordinator.label
        for actor, role, country in (
            (coordinator, Role.COORDINATOR, None),  # only members
            (coordinator, Role.MEMBER, "SY"),  # not her country
            (plain, Role.MEMBER, None),  # members do not invite
            (admin, Role.ADMIN, None),  # no one makes an administrator from the bot
        ):
            with pytest.raises(NotAllowed):
                await invitations.create(tx, actor, role=role, country=country, uses=1, now=now)
        secretariat = await invitations.create(
            tx, admin, role=Role.SECRETARIAT, country=None, uses=1, now=now
        )
        by_cli = await invitations.create(tx, CLI, role=Role.ADMIN, country="NG", uses=1, now=now)
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "invite.created"]
    assert secretariat.role is Role.SECRETARIAT and by_cli.created_by == "cli"
    assert len(entries) == 3, "each made invitation audited once, refusals none"
    assert {e["actor"] for e in entries} == {coordinator.label, admin.label, "cli"}


async def test_a_member_revokes_only_her_own(store: SqlStore) -> None:
    clock = FixedClock()
    now = clock.now()
    one = Actor.of(await member(store, "1", Role.COORDINATOR))
    two = Actor.of(await member(store, "2", Role.COORDINATOR))
    async with store.transaction() as tx:
        hers = await invitations.create(tx, one, role=Role.MEMBER, country=None, uses=1, now=now)
        theirs = await invitations.create(tx, two, role=Role.MEMBER, country=None, uses=1, now=now)
        assert [i.id for i in await invitations.working(tx, one, now)] == [hers.id]
        refused = await invitations.revoke(tx, one, now, invite_id=theirs.id)
        assert refused.outcome is Revoked.NOT_FOUND
        done = await invitations.revoke(tx, one, now, invite_id=hers.id)
        again = await invitations.revoke(tx, one, now, invite_id=hers.id)
        assert (done.outcome, again.outcome) == (Revoked.REVOKED, Revoked.NOT_WORKING)
        assert await invitations.working(tx, one, now) == []
        by_code = await invitations.revoke(tx, CLI, now, code=theirs.code)
        unknown = await invitations.revoke(tx, CLI, now, code="no-such-code")
        with pytest.raises(NotAllowed):
            await invitations.every(tx, one)
        statuses = {i.id: i.status(now) for i in await invitations.every(tx, CLI)}
        revoked = [e for e in await tx.audit_log.entries() if e["action"] == "invite.revoked"]
    assert by_code.outcome is Revoked.REVOKED and unknown.outcome is Revoked.NOT_FOUND
    assert statuses == {hers.id: InviteStatus.REVOKED, theirs.id: InviteStatus.REVOKED}
    assert len(revoked) == 2


async def test_joining_takes_a_use_and_a_higher_role_is_taken_once(store: SqlStore) -> None:
    now = FixedClock().now()
    async with store.transaction() as tx:
        invite = await invitations.create(
            tx, CLI, role=Role.COORDINATOR, country="LB", uses=2, now=now
        )
        assert await invitations.find(tx, invite.code, now) == invite
        assert await invitations.find(tx, "nope", now) is Refused.UNKNOWN
        joined = await invitations.join(tx, newcomer("1"), now, invite_id=invite.id)
        assert not isinstance(joined, Refused)
    async with store.transaction() as tx:
        plain = await invitations.join(tx, newcomer("2"), now, invite_id=None)
        assert not isinstance(plain, Refused)
        assert invitations.raises(invite, plain)
        assert await invitations.upgrade(tx, plain, invite.id, now)
        assert not await invitations.upgrade(tx, plain, invite.id, now), "nothing more to give"
        again = await tx.members.by_id(plain.id)
        used = await tx.invites.get(invite.code)
        granted = [e for e in await tx.audit_log.entries() if e["action"] == "role.granted"]
    assert again is not None and (again.role, again.country) == (Role.COORDINATOR, "LB")
    assert used is not None and used.status(now) is InviteStatus.USED_UP
    assert [e["details"] for e in granted] == [
        {"invite_id": invite.id, "from": "member", "to": "coordinator"}
    ]
    async with store.transaction() as tx:
        late = await invitations.join(tx, newcomer("3"), now, invite_id=invite.id)
        assert late is Refused.USED_UP
        assert await invitations.find(tx, invite.code, now) is Refused.NOT_USABLE
        assert await tx.members.get(ChannelName.TELEGRAM, "3") is None
