"""Invitations checked again at the end of joining; her own invitations listed and revoked."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.core.actors import CLI
from bot.core.messages import MediaKind, Outbound
from bot.core.models import InviteStatus, Role
from bot.services import invitations
from bot.services.invitations import Revoked
from handlers import build_router
from handlers.invites import RevokeInvite
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person

WITHDRAWN = "expired or was withdrawn while you were joining"


async def members(h: Harness, *people: Person) -> int:
    """How many of these people are members."""
    async with h.store.transaction() as tx:
        found = [await tx.members.get(h.channel.name, p.user_id) for p in people]
    return sum(m is not None for m in found)


async def audit(h: Harness, action: str) -> list[dict[str, Any]]:
    async with h.store.transaction() as tx:
        return [e for e in await tx.audit_log.entries(limit=500) if e["action"] == action]


async def half_way(she: Person, code: str) -> None:
    """Open the invitation, choose a language, accept: the country question is next."""
    await she.say(f"/start {code}")
    await she.tap("English")
    await she.tap("Skip")
    await she.tap("I accept")


async def finish(she: Person) -> None:
    await she.tap("Iraq")
    await she.tap("Youth deradicalisation")
    await she.tap("Done")


async def test_an_invitation_that_expires_while_she_joins_admits_no_one(store: SqlStore) -> None:
    h = Harness(store, build_router())
    code = await make_invite(h, uses=3, expires_in=timedelta(hours=1))
    she = h.person("1")
    await half_way(she, code)
    h.clock.advance(timedelta(hours=1))
    await finish(she)
    assert WITHDRAWN in she.last.text
    assert await members(h, she) == 0
    [again] = await she.say(f"/start {code}")
    assert "expired or been used up" in again.text
    async with store.transaction() as tx:
        invite = await tx.invites.get(code)
    assert invite is not None and invite.uses_left == 3, "no use was taken"


async def test_an_invitation_revoked_while_she_joins_admits_no_one(store: SqlStore) -> None:
    h = Harness(store, build_router())
    code = await make_invite(h, uses=3)
    she, before = h.person("1"), h.person("2")
    await join(before, code)  # joined before the revocation: stays a member
    await half_way(she, code)
    async with store.transaction() as tx:
        invite = await tx.invites.get(code)
        assert invite is not None
        first = await invitations.revoke(tx, CLI, h.clock.now(), code=code)
        again = await invitations.revoke(tx, CLI, h.clock.now(), code=code)
        assert (first.outcome, again.outcome) == (Revoked.REVOKED, Revoked.NOT_WORKING)
    await finish(she)
    assert WITHDRAWN in she.last.text
    assert await members(h, she, before) == 1
    [entry] = await audit(h, "invite.revoked")
    assert entry["actor"] == "cli" and entry["details"]["invite_id"] == invite.id


async def test_invitations_are_listed_and_revoked_in_storage(store: SqlStore) -> None:
    h = Harness(store, build_router())
    now = h.clock.now()
    async with store.transaction() as tx:
        for code, by in (("a-1", "member:1"), ("b-2", "member:2"), ("c-3", "member:1")):
            await tx.invites.create(
                code=code,
                role=Role.MEMBER,
                country=None,
                uses=1,
                expires_at=now + timedelta(days=1),
                created_by=by,
                now=now,
            )
        mine = await tx.invites.list(created_by="member:1")
        assert [i.code for i in mine] == ["c-3", "a-1"], "newest first, hers only"
        assert len(await tx.invites.list()) == 3
        assert await tx.invites.revoke(mine[0].id, now)
        assert not await tx.invites.revoke(mine[0].id, now)
        assert not await tx.invites.revoke(2**31 - 1, now)
        assert not await tx.invites.use(mine[0].id, now), "a revoked invitation is not used"
        assert not await tx.invites.use(mine[1].id, now + timedelta(days=1)), "expired"
        assert await tx.invites.use(mine[1].id, now)
        statuses = {i.code: i.status(now) for i in await tx.invites.list()}
    assert statuses == {
        "a-1": InviteStatus.USED_UP,
        "b-2": InviteStatus.ACTIVE,
        "c-3": InviteStatus.REVOKED,
    }


def invite_id(listed: Outbound) -> int:
    """The invitation behind the one Revoke button on her list."""
    [pressed] = [RevokeInvite.unpack(b.payload) for b in listed.buttons if "Revoke" in b.label]
    assert pressed is not None
    return pressed.invite_id


async def coordinator(h: Harness, user_id: str) -> Person:
    code = await make_invite(h, f"coord-{user_id}", role=Role.COORDINATOR)
    she = h.person(user_id)
    await join(she, code)
    return she


async def make_one(she: Person) -> str:
    await she.say("/invite")
    await she.tap("5 people")
    _ready, forward = await she.tap("They choose")
    found = re.search(r"start ([A-Za-z0-9_-]{16})", forward.text)
    assert found is not None
    return found.group(1)


async def test_a_coordinator_lists_and_revokes_her_invitations_in_the_bot(
    store: SqlStore,
) -> None:
    h = Harness(store, build_router())
    she, other = await coordinator(h, "1"), await coordinator(h, "2")
    [none] = await she.say("/invite list")
    assert "no invitations that still work" in none.text
    code = await make_one(she)
    others = await make_one(other)
    await she.say("/invite")
    [listed] = await she.tap("My invitations")
    assert (
        f"{code[:6]}…" in listed.text and "member" in listed.text and "any country" in listed.text
    )
    assert "uses left: 5" in listed.text
    assert others[:6] not in listed.text, "only her own"
    revoke = f"Revoke {code[:6]}…"
    assert revoke in she.labels() and she.labels()[-1] == "✖ Cancel"
    revoke_message = she.last_sent().message_id

    [asked, again] = await she.send_media(MediaKind.STICKER)  # the wrong kind of input
    assert "can't use a photo" in asked.text and revoke in [b.label for b in again.buttons]

    async with store.transaction() as tx:
        other_invite = await tx.invites.get(others)
    assert other_invite is not None
    forged = await she.press(RevokeInvite(other_invite.id).pack())
    assert "earlier message" in forged[0].text, "not hers: nothing revoked"

    done, after = await she.tap(revoke)
    assert done.text == f"Revoked: no one can join with {code[:6]}… any more."
    assert "no invitations that still work" in after.text
    [entry] = await audit(h, "invite.revoked")
    assert entry["actor_member_id"] is not None and "code" not in entry["details"]
    again_done, _ = await she.press(RevokeInvite(invite_id(listed)).pack(), revoke_message)
    assert "no longer working" in again_done.text
    assert len(await audit(h, "invite.revoked")) == 1

    async with store.transaction() as tx:
        invite, untouched = await tx.invites.get(code), await tx.invites.get(others)
    assert invite is not None and invite.status(h.clock.now()) is InviteStatus.REVOKED
    assert untouched is not None and untouched.status(h.clock.now()) is InviteStatus.ACTIVE
    newcomer = h.person("9")
    [refused] = await newcomer.say(f"/start {code}")
    assert "expired or been used up" in refused.text
    [fresh] = await she.tap("New invitation")
    assert "1 person" in [b.label for b in fresh.buttons]
    [back] = await she.tap("◀ Back")
    assert "no invitations that still work" in back.text, "Back returns to her list"
