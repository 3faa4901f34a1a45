"""The members and moderation services on SQLite and PostgreSQL: who may do what (require),
one audit entry per operation, and what the operator's member list leaves out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import Member, MemberStatus, NewMember, Role
from bot.core.updates import UpdateStatus
from bot.services import members, moderation
from storage.store import SqlStore, SqlTransaction


async def _member(
    tx: SqlTransaction,
    clock: FixedClock,
    platform_id: str,
    *,
    role: Role = Role.MEMBER,
    country: str | None = "IQ",
    locale: str = "ar",
) -> Member:
    return await tx.members.create(
        NewMember(
            channel=ChannelName.TELEGRAM,
            platform_id=platform_id,
            chat_id=platform_id,
            locale=locale,
            country=country,
            spheres=["youth"],
            role=role,
            consent_version="2026-11",
            consented_at=clock.now(),
        ),
        clock.now(),
    )


async def _actions(store: SqlStore, prefix: str) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        entries = await tx.audit_log.entries(limit=500)
    return [e for e in reversed(entries) if str(e["action"]).startswith(prefix)]


async def test_roles_are_granted_and_revoked_by_admins_only(
    store: SqlStore, clock: FixedClock
) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        admin = await _member(tx, clock, "1", role=Role.ADMIN)
        coordinator = await _member(tx, clock, "2", role=Role.COORDINATOR)
        she = await _member(tx, clock, "3")
    async with store.transaction() as tx:
        for actor in (Actor.of(coordinator), Actor.of(she)):
            with pytest.raises(NotAllowed):
                await members.grant_role(tx, actor, she, Role.ADMIN, now)
            with pytest.raises(NotAllowed):
                await members.revoke_role(tx, actor, coordinator, now)
            with pytest.raises(NotAllowed):
                await members.list_members(tx, actor)
    async with store.transaction() as tx:
        change = await members.grant_role(tx, Actor.of(admin), she, Role.COORDINATOR, now)
        assert (change.before, change.after) == (Role.MEMBER, Role.COORDINATOR)
        back = await members.revoke_role(tx, CLI, coordinator, now)
        assert (back.before, back.after) == (Role.COORDINATOR, Role.MEMBER)
    async with store.transaction() as tx:
        found = await members.find_member(tx, member_id=she.id)
        assert found.role is Role.COORDINATOR
        found = await members.find_member(tx, telegram_id=" 2 ")
        assert found.role is Role.MEMBER
        with pytest.raises(members.NoSuchMember):
            await members.find_member(tx, member_id=999)
    entries = await _actions(store, "role.")
    assert [(e["action"], e["actor"], e["subject_member_id"], e["details"]) for e in entries] == [
        ("role.granted", f"member:{admin.id}", she.id, {"from": "member", "to": "coordinator"}),
        ("role.revoked", "cli", coordinator.id, {"from": "coordinator", "to": "member"}),
    ]


async def test_the_member_list_has_no_platform_ids(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        first = await _member(tx, clock, "96477000001", country="IQ", locale="ar")
        second = await _member(tx, clock, "96477000002", role=Role.COORDINATOR, country="LB")
        third = await _member(tx, clock, "96477000003", country=None, locale="fr")
        await tx.members.set_status(ChannelName.TELEGRAM, "96477000003", MemberStatus.PAUSED)
    async with store.transaction() as tx:
        listed = await members.list_members(tx, CLI)
        assert [(m.id, m.role, m.country, m.locale, m.status) for m in listed] == [
            (first.id, Role.MEMBER, "IQ", "ar", MemberStatus.ACTIVE),
            (second.id, Role.COORDINATOR, "LB", "ar", MemberStatus.ACTIVE),
            (third.id, Role.MEMBER, None, "fr", MemberStatus.PAUSED),
        ]
        assert not any(hasattr(m, "platform_id") or hasattr(m, "chat_id") for m in listed)
        coordinators = await members.list_members(tx, CLI, role=Role.COORDINATOR)
        assert [m.id for m in coordinators] == [second.id]
        assert [m.id for m in await members.list_members(tx, CLI, country="IQ")] == [first.id]
        assert len(await members.list_members(tx, CLI, limit=2)) == 2


async def test_her_own_account(store: SqlStore, clock: FixedClock) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        she = await _member(tx, clock, "5")
        await tx.chat_log.record(ChannelName.TELEGRAM, "5", ["m1", "m2"], now)
    me = Actor.of(she)
    with pytest.raises(members.UnsupportedLanguage):
        members.set_language(me, "de", ("en", "ar", "fr"))
    assert members.set_language(me, "fr", ("en", "ar", "fr")).locale == "fr"
    assert members.set_paused(me, True).status is MemberStatus.PAUSED
    with pytest.raises(members.NoSuchMember):
        members.set_paused(CLI, True)  # the operator has no account of her own to pause
    async with store.transaction() as tx:
        mine = await members.my_data(tx, me, now, now - timedelta(hours=47))
        assert mine.recent_messages == 2 and mine.kept.updates == []
        assert await members.forget(tx, me, now, now - timedelta(hours=47)) == ["m1", "m2"]
    async with store.transaction() as tx:
        assert await tx.members.by_id(she.id) is None
    [erased] = await _actions(store, "member.erased")
    assert erased["actor"] == "system" and erased["subject_member_id"] is None, "names no one"


async def test_moderation_needs_a_coordinator_of_the_country(
    store: SqlStore, clock: FixedClock
) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        author = await _member(tx, clock, "10")
        iraq = await _member(tx, clock, "11", role=Role.COORDINATOR, country="IQ")
        lebanon = await _member(tx, clock, "12", role=Role.COORDINATOR, country="LB")
        admin = await _member(tx, clock, "13", role=Role.ADMIN, country="LB")
        update_id = await tx.updates.submit(
            author_id=author.id,
            country="IQ",
            locale="ar",
            urgent=False,
            text="A note",
            media_kind=None,
            media_ref=None,
            keep_if_shared=True,
            spheres=["youth"],
            now=now,
        )
    async with store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await moderation.next_update(tx, Actor.of(author))
        assert await moderation.next_update(tx, Actor.of(lebanon)) is None
        assert await moderation.get_update(tx, Actor.of(lebanon), update_id) is None
        queued = await moderation.next_update(tx, Actor.of(admin))
        assert queued is not None and queued.item.id == update_id and queued.waiting == 1
        item = await moderation.get_update(tx, Actor.of(iraq), update_id)
        assert item is not None
        with pytest.raises(NotAllowed):
            await moderation.decide(tx, Actor.of(author), item, UpdateStatus.APPROVED, now)
        first = await moderation.decide(tx, Actor.of(iraq), item, UpdateStatus.APPROVED, now)
        again = await moderation.decide(tx, Actor.of(admin), item, UpdateStatus.REJECTED, now)
        assert (first, again) == (moderation.Outcome.DONE, moderation.Outcome.ALREADY)
        assert (await tx.updates.get(update_id)).status is UpdateStatus.APPROVED  # type: ignore[union-attr]
    [entry] = await _actions(store, "update.")
    assert entry["action"] == "update.approved" and entry["actor"] == f"member:{iraq.id}"
    assert entry["details"] == {"update_id": update_id}
