"""The storage layer, every test on both SQLite and the real PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, Table, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from bot.core.campaigns import (
    PRIORITY,
    Audience,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
)
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import ConversationState, Member, MemberStatus, NewMember, Role
from storage.engine import HEAD, current_revision, downgrade, head_revision, migrate
from storage.store import SqlStore, SqlTransaction
from storage.tables import (
    member_t,
    message_t,
    metadata,
    outbox_t,
    sphere_t,
    state_t,
    tip_rating_t,
    tip_t,
)
from tests.support.database import migrated_sqlite_file

ROOT = Path(__file__).resolve().parents[2]
TG = ChannelName.TELEGRAM
BAGHDAD = ZoneInfo("Asia/Baghdad")
T = TypeVar("T")


def new_member(
    platform_id: str = "90000001",
    *,
    spheres: tuple[str, ...] = ("youth", "media"),
    role: Role = Role.MEMBER,
    country: str | None = "IQ",
    locale: str = "ar",
    consented_at: datetime | None = None,
    second_locale: str | None = None,
) -> NewMember:
    return NewMember(
        channel=TG,
        platform_id=platform_id,
        chat_id=platform_id,  # a private Telegram chat has the user's id
        locale=locale,
        country=country,
        spheres=list(spheres),
        role=role,
        consent_version="1",
        consented_at=consented_at or datetime(2026, 1, 5, 12, 30, 15, 123456, tzinfo=BAGHDAD),
        second_locale=second_locale,
    )


async def create(store: SqlStore, clock: FixedClock, new: NewMember | None = None) -> Member:
    async with store.transaction() as tx:
        return await tx.members.create(new or new_member(), clock.now())


async def count(store: SqlStore, table: Table) -> int:
    async with store.transaction() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


async def concurrently(
    store: SqlStore, work: Callable[[SqlTransaction], Awaitable[T]], n: int = 2
) -> list[T]:
    """Run `work` in `n` transactions on separate connections, all open at the same moment.

    On SQLite the store runs one transaction at a time (storage/store.py): they queue instead.
    """
    barrier = None if store.serialised else asyncio.Barrier(n)

    async def one() -> T:
        async with store.transaction() as tx:
            # Every transaction has its connection before anyone writes. (No barrier after the
            # write: the loser waits on the winner's lock until the winner commits.)
            await tx.conn.execute(select(1))
            if barrier is not None:
                await barrier.wait()
            return await work(tx)

    return list(await asyncio.gather(*(one() for _ in range(n))))


# -- migrations --------------------------------------------------------------------------------


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def table_names(store: SqlStore) -> set[str]:
    async with store.engine.connect() as connection:
        return await connection.run_sync(_table_names)


async def test_migrations_create_every_table(store: SqlStore) -> None:
    assert set(metadata.tables) <= await table_names(store)


def _schema_drift(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_match_the_table_definitions(store: SqlStore) -> None:
    async with store.engine.connect() as connection:
        drift = await connection.run_sync(_schema_drift)
    assert drift == [], "storage/tables.py and the migrations differ: write a migration"


async def test_downgrade_to_base_then_migrate_again(store: SqlStore, clock: FixedClock) -> None:
    await create(store, clock)
    await downgrade(store.engine, "base")
    assert await table_names(store) <= {"alembic_version"}
    await migrate(store.engine)
    assert set(metadata.tables) <= await table_names(store)
    assert await count(store, member_t) == 0
    await create(store, clock)


async def test_head_is_alembics_and_read_without_alembic(store: SqlStore) -> None:
    """`migrate` skips Alembic when the schema is at HEAD: HEAD must be the newest migration,
    and the revision read without Alembic must be the one Alembic wrote."""
    assert head_revision() == HEAD, "a migration was added: set storage.engine.HEAD to it"
    assert await current_revision(store.engine) == HEAD
    await downgrade(store.engine, "0014")
    assert await current_revision(store.engine) == "0014"
    await migrate(store.engine)  # not at HEAD: Alembic runs
    assert await current_revision(store.engine) == HEAD


def test_a_start_on_an_up_to_date_schema_does_not_load_alembic(tmp_path: Path) -> None:
    path = migrated_sqlite_file(tmp_path)
    script = (
        "import asyncio, sys\n"
        "from storage.engine import make_engine, migrate\n"
        f"asyncio.run(migrate(make_engine('sqlite:///{path}')))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def _calls_create_all(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_all"
        for node in ast.walk(tree)
    )


def test_schema_is_only_created_by_migrations() -> None:
    folders = ("bot", "handlers", "storage", "tests", "bench")
    sources = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(sources) > 10
    assert [str(p.relative_to(ROOT)) for p in sources if _calls_create_all(p)] == []


# -- redelivery --------------------------------------------------------------------------------


async def test_claim_update_is_idempotent(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        assert await tx.processed.claim(TG, "1001", clock.now())
    async with store.transaction() as tx:
        assert not await tx.processed.claim(TG, "1001", clock.now())
        assert await tx.processed.claim(ChannelName.WHATSAPP, "1001", clock.now())
        assert await tx.processed.claim(TG, "1002", clock.now())


async def test_concurrent_claims_of_one_update_let_exactly_one_through(
    store: SqlStore, clock: FixedClock
) -> None:
    claims = await concurrently(store, lambda tx: tx.processed.claim(TG, "2001", clock.now()))
    assert sorted(claims) == [False, True]


async def test_old_update_ids_are_forgotten(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        await tx.processed.claim(TG, "old", clock.now() - timedelta(days=3))
        await tx.processed.claim(TG, "new", clock.now())
    async with store.transaction() as tx:
        assert await tx.processed.forget_before(clock.now() - timedelta(days=1)) == 1
        assert await tx.processed.claim(TG, "old", clock.now())
        assert not await tx.processed.claim(TG, "new", clock.now())


# -- members -----------------------------------------------------------------------------------


async def test_member_round_trip(store: SqlStore, clock: FixedClock) -> None:
    new = new_member(spheres=("youth", "media", "youth"))
    created = await create(store, clock, new)
    assert created.id > 0
    assert created.spheres == ["media", "youth"]
    assert (created.role, created.status) == (Role.MEMBER, MemberStatus.ACTIVE)

    async with store.transaction() as tx:
        loaded = await tx.members.get(TG, "90000001")
    assert loaded == created
    assert loaded.consented_at == new.consented_at
    for moment in (loaded.consented_at, loaded.joined_at, loaded.last_seen_at):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
    assert loaded.joined_at == clock.now()

    loaded.locale, loaded.country, loaded.timezone = "fr", "LB", "Asia/Beirut"
    loaded.spheres = ["advocacy"]
    loaded.role, loaded.status = Role.COORDINATOR, MemberStatus.PAUSED
    loaded.last_seen_at = datetime(2026, 2, 1, 8, 0, tzinfo=BAGHDAD)
    async with store.transaction() as tx:
        await tx.members.save(loaded)
    async with store.transaction() as tx:
        again = await tx.members.by_id(created.id)
    assert again == loaded


async def test_a_second_language_is_kept_changed_and_cleared(
    store: SqlStore, clock: FixedClock
) -> None:
    created = await create(store, clock, new_member(second_locale="fr"))
    assert created.second_locale == "fr"
    async with store.transaction() as tx:
        [bulk] = await tx.members.create_many(
            [new_member("many", second_locale="en")], clock.now()
        )
        assert (await tx.members.by_id(bulk)).second_locale == "en"  # type: ignore[union-attr]
    created.second_locale = "en"
    async with store.transaction() as tx:
        await tx.members.save(created, spheres_changed=False)
    async with store.transaction() as tx:
        again = await tx.members.get(TG, created.platform_id)
    assert again is not None and again.second_locale == "en"
    again.second_locale = None
    async with store.transaction() as tx:
        await tx.members.save(again)
        assert (await tx.members.by_id(created.id)).second_locale is None  # type: ignore[union-attr]
        summary = (await tx.members.summaries())[0]
    assert not hasattr(summary, "second_locale"), "no list of members shows it"


async def test_save_member_can_leave_spheres_alone(store: SqlStore, clock: FixedClock) -> None:
    member = await create(store, clock)
    member.spheres = []
    member.locale = "en"
    async with store.transaction() as tx:
        await tx.members.save(member, spheres_changed=False)
        again = await tx.members.by_id(member.id)
    assert again is not None and again.locale == "en"
    assert again.spheres == ["media", "youth"]


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    naive = new_member(consented_at=datetime(2026, 1, 5, 12, 0))  # on purpose
    with pytest.raises(Exception, match="naive"):
        async with store.transaction() as tx:
            await tx.members.create(naive, datetime(2026, 1, 5, tzinfo=UTC))


async def test_one_member_per_channel_and_platform_id(store: SqlStore, clock: FixedClock) -> None:
    await create(store, clock)
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.members.create(new_member(), clock.now())
    other_channel = new_member()
    other_channel.channel = ChannelName.WHATSAPP
    await create(store, clock, other_channel)
    assert await count(store, member_t) == 2


async def test_unknown_member_is_none(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.members.get(TG, "nobody") is None
        assert await tx.members.by_id(424242) is None


async def test_set_status_and_role(store: SqlStore, clock: FixedClock) -> None:
    member = await create(store, clock)
    async with store.transaction() as tx:
        await tx.members.set_status(TG, "90000001", MemberStatus.UNREACHABLE)
        await tx.members.set_role(member.id, Role.SECRETARIAT)
    async with store.transaction() as tx:
        again = await tx.members.get(TG, "90000001")
    assert again is not None
    assert (again.status, again.role) == (MemberStatus.UNREACHABLE, Role.SECRETARIAT)


# -- invites -----------------------------------------------------------------------------------


async def make_invite(store: SqlStore, clock: FixedClock, code: str, uses: int) -> int:
    async with store.transaction() as tx:
        invite = await tx.invites.create(
            code=code,
            role=Role.COORDINATOR,
            country="YE",
            uses=uses,
            expires_at=clock.now() + timedelta(days=7),
            created_by="cli",
            now=clock.now(),
        )
    return invite.id


async def test_invite_create_get_use(store: SqlStore, clock: FixedClock) -> None:
    invite_id = await make_invite(store, clock, "abc-DEF_123", uses=2)
    async with store.transaction() as tx:
        invite = await tx.invites.get("abc-DEF_123")
        assert await tx.invites.get("unknown") is None
    assert invite is not None and invite.id == invite_id
    assert (invite.role, invite.country, invite.uses_left) == (Role.COORDINATOR, "YE", 2)
    assert invite.expires_at == clock.now() + timedelta(days=7)
    assert invite.created_at == clock.now() and invite.created_by == "cli"
    assert invite.usable(clock.now())
    assert not invite.usable(clock.now() + timedelta(days=8))

    async with store.transaction() as tx:
        assert await tx.invites.use(invite_id)
        assert await tx.invites.use(invite_id)
        assert not await tx.invites.use(invite_id)
        spent = await tx.invites.get("abc-DEF_123")
    assert spent is not None and spent.uses_left == 0 and not spent.usable(clock.now())


async def test_invite_codes_are_unique(store: SqlStore, clock: FixedClock) -> None:
    await make_invite(store, clock, "same", uses=1)
    with pytest.raises(IntegrityError):
        await make_invite(store, clock, "same", uses=1)


async def test_two_people_racing_for_the_last_use(store: SqlStore, clock: FixedClock) -> None:
    invite_id = await make_invite(store, clock, "once", uses=1)
    results = await concurrently(store, lambda tx: tx.invites.use(invite_id))
    assert sorted(results) == [False, True]
    async with store.transaction() as tx:
        invite = await tx.invites.get("once")
    assert invite is not None and invite.uses_left == 0


# -- conversation state ------------------------------------------------------------------------


async def test_state_save_load_upsert_clear(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        assert await tx.conversations.load(TG, "90000001") == ConversationState()

    data = {"name": "نور الهدى", "note": "«سلام» — ça va", "spheres": ["youth"], "n": 3}
    async with store.transaction() as tx:
        await tx.conversations.save(
            TG, "90000001", ConversationState("onboarding", "lang", data), clock.now()
        )
    async with store.transaction() as tx:
        loaded = await tx.conversations.load(TG, "90000001")
    assert loaded == ConversationState("onboarding", "lang", data)

    loaded.go("onboarding", "country", country="IQ")
    async with store.transaction() as tx:
        await tx.conversations.save(TG, "90000001", loaded, clock.now())
        assert await tx.conversations.load(TG, "90000001") == loaded
    assert await count(store, state_t) == 1

    async with store.transaction() as tx:
        await tx.conversations.save(
            TG, "90000002", ConversationState("update", "text"), clock.now()
        )
        loaded.clear()
        await tx.conversations.save(TG, "90000001", loaded, clock.now())
    async with store.transaction() as tx:
        assert await tx.conversations.load(TG, "90000001") == ConversationState()
        assert (await tx.conversations.load(TG, "90000002")).flow == "update"
    assert await count(store, state_t) == 1  # clearing deleted her row, not the other one


async def test_stale_states_are_forgotten(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        await tx.conversations.save(
            TG, "1", ConversationState("a", "b"), clock.now() - timedelta(days=2)
        )
        await tx.conversations.save(TG, "2", ConversationState("a", "b"), clock.now())
        assert await tx.conversations.forget_stale(clock.now() - timedelta(days=1)) == 1
        assert (await tx.conversations.load(TG, "2")).flow == "a"


# -- audit -------------------------------------------------------------------------------------


async def test_audit_entries_newest_first(store: SqlStore, clock: FixedClock) -> None:
    member = await create(store, clock)
    async with store.transaction() as tx:
        await tx.audit_log.append(
            actor="cli", action="invite.created", now=clock.now(), details={"uses": 1}
        )
        await tx.audit_log.append(
            actor=f"member:{member.id}",
            action="role.granted",
            now=clock.now() + timedelta(seconds=1),
            actor_member_id=member.id,
            subject_member_id=member.id,
            details={"to": "coordinator", "note": "منسقة"},
        )
    async with store.transaction() as tx:
        entries = await tx.audit_log.entries()
        assert len(await tx.audit_log.entries(limit=1)) == 1
    assert [e["action"] for e in entries] == ["role.granted", "invite.created"]
    newest = entries[0]
    assert newest["actor"] == f"member:{member.id}"
    assert newest["actor_member_id"] == newest["subject_member_id"] == member.id
    assert newest["details"] == {"to": "coordinator", "note": "منسقة"}
    assert newest["at"] == clock.now() + timedelta(seconds=1)
    assert entries[1]["details"] == {"uses": 1} and entries[1]["actor_member_id"] is None


# -- chat messages (for /wipe) -----------------------------------------------------------------


async def test_record_recent_forget_messages(store: SqlStore, clock: FixedClock) -> None:
    earlier = clock.now() - timedelta(hours=50)
    async with store.transaction() as tx:
        await tx.chat_log.record(TG, "90000001", ["1", "2"], earlier)
        await tx.chat_log.record(TG, "90000001", ["3", "4"], clock.now())
        await tx.chat_log.record(TG, "90000001", [], clock.now())
        await tx.chat_log.record(TG, "90000002", ["5"], clock.now())
    since = clock.now() - timedelta(hours=48)
    async with store.transaction() as tx:
        assert await tx.chat_log.recent(TG, "90000001", since) == ["3", "4"]
        assert await tx.chat_log.recent(TG, "90000001", earlier) == ["1", "2", "3", "4"]
        assert await tx.chat_log.recent(ChannelName.WHATSAPP, "90000001", earlier) == []
        assert await tx.chat_log.forget(TG, "90000001") == 4
        assert await tx.chat_log.recent(TG, "90000001", earlier) == []
        assert await tx.chat_log.recent(TG, "90000002", since) == ["5"]
        assert await tx.chat_log.forget_before(clock.now() + timedelta(seconds=1)) == 1


# -- erasure -----------------------------------------------------------------------------------


def _names_member(column: Column[Any]) -> bool:
    """A column that holds a member id: by name, or by its foreign key to member.id."""
    table = column.table.name
    return (
        column.name == "member_id"
        or column.name.endswith("_member_id")
        or (table == "member" and column.name == "id")
        or any(fk.target_fullname == "member.id" for fk in column.foreign_keys)
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def rows_naming(store: SqlStore, member: Member) -> list[tuple[str, str, Any]]:
    """(table, column, value) for every cell of every table that names her.

    Member-id columns are checked for her id; text and JSON columns for her platform id, her
    chat id and "member:<id>" (as whole tokens, so member 1 is not found in "member:12").
    Every table in the metadata is scanned, so tables added later are covered without a change.
    """
    needles = re.compile(
        "|".join(
            rf"(?<![\w-]){re.escape(n)}(?![\w-])"
            for n in {member.platform_id, member.chat_id, f"member:{member.id}"}
        )
    )
    found: list[tuple[str, str, Any]] = []
    async with store.transaction() as tx:
        for table in metadata.sorted_tables:
            for row in (await tx.conn.execute(select(table))).mappings():
                for column in table.columns:
                    value = row[column.name]
                    if value is None:
                        continue
                    # Text and JSON cells are read whatever their column type (AutoString…).
                    names_her = (_names_member(column) and value == member.id) or (
                        isinstance(value, str | dict | list)
                        and needles.search(_as_text(value)) is not None
                    )
                    if names_her:
                        found.append((table.name, column.name, value))
    return found


async def leave_traces(store: SqlStore, clock: FixedClock, member: Member) -> None:
    """Give her a row in every kind of table that can name a person."""
    now = clock.now()
    chat = member.chat_id
    async with store.transaction() as tx:
        await tx.conversations.save(
            TG, chat, ConversationState("update", "text", {"d": "نص"}), now
        )
        await tx.chat_log.record(TG, chat, ["m1", "m2"], now)
        await tx.processed.claim(TG, f"u-{chat}", now)
        await tx.invites.create(
            code=f"inv-{chat}",
            role=Role.MEMBER,
            country="IQ",
            uses=5,
            expires_at=None,
            created_by=f"member:{member.id}",  # /invite in the bot
            now=now,
        )
        await tx.dashboard_links.create(member.id, f"h-{chat}", now + timedelta(minutes=30), now)
        await tx.audit_log.append(
            actor=f"member:{member.id}",
            action="campaign.created",
            now=now,
            actor_member_id=member.id,
            subject_member_id=member.id,
        )
        campaign = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.ALERT,
                status=CampaignStatus.SCHEDULED,
                title="تنبيه",
                texts={"ar": "نص التنبيه"},
                default_locale="ar",
                audience=Audience(countries=("IQ",)),
                schedule="now",
                created_by=member.id,
            ),
            now,
        )
        await tx.campaigns.set_status(
            campaign.id, CampaignStatus.SCHEDULED, now, approved_by=member.id
        )
        fired = await tx.campaigns.fire(
            campaign, f"k-{chat}", now, progress_channel=TG.value, progress_chat=chat
        )
        assert fired is not None and fired[1] >= 1  # she is in the audience: an outbox row
        update_id = await tx.updates.submit(
            author_id=member.id,
            country="IQ",
            locale="ar",
            urgent=False,
            text="تحديث من الميدان",
            media_kind=None,
            media_ref=None,
            keep_if_shared=False,
            spheres=["youth"],
            now=now,
        )
        tip_id = (
            await tx.conn.execute(
                insert(tip_t)
                .values(slug=f"tip-{chat}", default_locale="en", created_at=now, updated_at=now)
                .returning(tip_t.c.id)
            )
        ).scalar_one()
        await tx.conn.execute(
            insert(tip_rating_t).values(tip_id=tip_id, member_id=member.id, helpful=True, at=now)
        )
    assert update_id > 0


async def test_erase_member_leaves_no_row_that_names_her(
    store: SqlStore, clock: FixedClock
) -> None:
    her = await create(store, clock, new_member("90000001"))
    other = await create(store, clock, new_member("90000002", spheres=("youth",)))
    await leave_traces(store, clock, her)
    await leave_traces(store, clock, other)
    assert {t for t, _, _ in await rows_naming(store, her)} >= {
        "member",
        "member_sphere",
        "conversation_state",
        "chat_message",
        "audit_log",
        "campaign",
        "campaign_occurrence",
        "outbox",
        "field_update",
        "tip_rating",
        "invite",
        "dashboard_link",
    }, "the scan must see her traces before erasure, or it proves nothing"
    before_other = await rows_naming(store, other)

    async with store.transaction() as tx:
        report = await tx.members.erase(her)
    assert report.counts["member"] == 1
    assert report.counts["member_sphere"] == 2
    assert report.counts["conversation_state"] == 1
    assert report.counts["chat_message"] == 2

    assert await rows_naming(store, her) == []
    async with store.transaction() as tx:
        assert await tx.members.by_id(her.id) is None
        assert await tx.members.get(TG, her.platform_id) is None
        assert await tx.conversations.load(TG, her.chat_id) == ConversationState()
        assert await tx.chat_log.recent(TG, her.chat_id, clock.now() - timedelta(days=1)) == []
        survivor = await tx.members.by_id(other.id)
        assert len(await tx.audit_log.entries()) == 2  # the entries stay, without her
    assert survivor == other
    assert await rows_naming(store, other) == before_other
    async with store.transaction() as tx:
        outbox = (
            (
                await tx.conn.execute(
                    select(outbox_t.c.member_id).where(outbox_t.c.campaign_id.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        spheres = (await tx.conn.execute(select(sphere_t.c.member_id))).scalars().all()
    assert set(outbox) == {other.id} and set(spheres) == {other.id}
    assert await count(store, message_t) == 2


async def test_the_erasure_scan_sees_every_table(store: SqlStore, clock: FixedClock) -> None:
    """Guard the guard: a member-id column or text cell naming her is found in any table."""
    her = await create(store, clock)
    assert await rows_naming(store, her) != []
    assert await table_names(store) - {"alembic_version"} <= set(metadata.tables)
    member_columns = {
        (c.table.name, c.name)
        for t in metadata.sorted_tables
        for c in t.columns
        if _names_member(c)
    }
    assert {("member", "id"), ("member_sphere", "member_id"), ("outbox", "member_id")} <= (
        member_columns
    )
    assert ("campaign", "created_by") in member_columns  # found by its foreign key


async def test_a_fire_of_thousands_writes_each_recipient_once_in_her_language(
    store: SqlStore,
) -> None:
    """The set-based fire: the rows the per-member code wrote, and a re-fire adds none."""
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    locales = ("ar", "fr", "en", "ku", "es")  # fr has an empty text; ku and es have none
    countries = ("IQ", "SY", "YE", "LY", None)
    roles = (Role.MEMBER, Role.MEMBER, Role.COORDINATOR, Role.ADMIN)
    statuses = (MemberStatus.ACTIVE,) * 5 + (MemberStatus.PAUSED, MemberStatus.UNREACHABLE)
    rows = [
        {
            "channel": (TG if i % 3 else ChannelName.WHATSAPP).value,
            "platform_id": f"fire-{i}",
            "chat_id": f"fire-{i}",
            "locale": locales[i % 5],
            "country": countries[i % 4 if i % 11 else 4],
            "role": roles[i % 4].value,
            "status": statuses[i % 7].value,
            "consent_version": "v1",
            "consented_at": now,
            "joined_at": now,
            "last_seen_at": now,
        }
        for i in range(3000)
    ]
    async with store.transaction() as tx:
        await tx.conn.execute(insert(member_t), rows)
        ids = {
            pid: member_id
            for member_id, pid in await tx.conn.execute(
                select(member_t.c.id, member_t.c.platform_id)
            )
        }
        spheres = [
            {"member_id": ids[f"fire-{i}"], "sphere": sphere}
            for i in range(3000)
            for sphere in (("youth",) if i % 2 else ("media", "youth") if i % 5 else ("media",))
        ]
        await tx.conn.execute(insert(sphere_t), spheres)
        excluded = (ids["fire-7"], ids["fire-14"], ids["fire-28"])
        campaign = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.ALERT,
                status=CampaignStatus.SCHEDULED,
                title="many",
                texts={"ar": "نص", "fr": "", "en": "text"},
                default_locale="ar",
                audience=Audience(
                    countries=("IQ", "SY", "YE"),
                    roles=(Role.MEMBER.value, Role.COORDINATOR.value),
                    spheres=("youth",),
                    exclude=excluded,
                ),
                schedule="cron",
                cron="0 9 * * *",
                created_by=None,
                buttons=[
                    CampaignButton({"ar": "نعم", "fr": "Oui"}, "yes"),
                    CampaignButton({"en": "No"}, "no"),
                ],
            ),
            now,
        )
        fired = await tx.campaigns.fire(campaign, "2026-12-03T09:00:00+00:00", now)
    expected = {}
    for i, row in enumerate(rows):
        member_id = ids[row["platform_id"]]
        if (
            row["status"] == "active"
            and row["country"] in ("IQ", "SY", "YE")
            and row["role"] in ("member", "coordinator")
            and i % 2 + (i % 5 != 0) > 0  # youth among her spheres
            and member_id not in excluded
        ):
            expected[member_id] = (
                f"{campaign.id}:2026-12-03T09:00:00+00:00:{member_id}",
                row["channel"],
                campaign.text_for(str(row["locale"])),
                [{"label": lb, "payload": p} for lb, p in campaign.labels_for(str(row["locale"]))],
            )
    assert 1000 < len(expected) < 3000
    assert fired is not None and fired[1] == len(expected)
    columns = (
        outbox_t.c.id,
        outbox_t.c.member_id,
        outbox_t.c.idempotency_key,
        outbox_t.c.channel,
        outbox_t.c.text,
        outbox_t.c.buttons,
        outbox_t.c.campaign_id,
        outbox_t.c.occurrence_id,
        outbox_t.c.priority,
        outbox_t.c.status,
        outbox_t.c.attempts,
        outbox_t.c.next_attempt_at,
        outbox_t.c.created_at,
        outbox_t.c.chat_id,
    )
    async with store.transaction() as tx:
        written = (await tx.conn.execute(select(*columns).order_by(outbox_t.c.id))).all()
        progress = await tx.campaigns.progress(campaign.id, fired[0])
    assert [r.member_id for r in written] == sorted(expected)  # in member order, once each
    assert {
        r.member_id: (r.idempotency_key, r.channel, r.text, r.buttons) for r in written
    } == expected
    assert {"نص", "text"} == {r.text for r in written}  # fr's empty text fell back to ar
    assert {
        (r.campaign_id, r.occurrence_id, r.priority, r.status, r.attempts, r.chat_id)
        for r in written
    } == {(campaign.id, fired[0], PRIORITY[CampaignKind.ALERT], "pending", 0, None)}
    assert {(r.next_attempt_at, r.created_at) for r in written} == {(now, now)}
    assert progress.total == len(expected)
    async with store.transaction() as tx:
        again = await tx.campaigns.fire(campaign, "2026-12-03T09:00:00+00:00", now)
        count = (await tx.conn.execute(select(func.count()).select_from(outbox_t))).scalar()
    assert again is None and count == len(expected)


async def test_members_created_together_are_as_if_created_one_by_one(store: SqlStore) -> None:
    """The demo seed's bulk path: the same rows as `create`, ids never given again."""
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    async with store.transaction() as tx:
        single = await tx.members.create(new_member("one", spheres=("media", "youth")), now)
        many = [
            new_member(f"many-{i}", spheres=("youth", "media", "youth")[: i % 3 + 1])
            for i in range(2500)
        ]
        ids = await tx.members.create_many(many, now)
        taken = await tx.members.taken(TG, ["one", "many-7", "many-2499", "nobody"])
    assert taken == {"one", "many-7", "many-2499"}
    assert len(set(ids)) == 2500 and min(ids) > single.id
    async with store.transaction() as tx:
        for member_id, new in zip(ids[:5] + ids[-5:], many[:5] + many[-5:], strict=True):
            got = await tx.members.by_id(member_id)
            assert got is not None and got.platform_id == new.platform_id
            assert sorted(got.spheres) == sorted(set(new.spheres))
            assert (got.locale, got.country, got.role, got.status) == (
                single.locale,
                single.country,
                single.role,
                MemberStatus.ACTIVE,
            )
            assert (got.joined_at, got.last_seen_at, got.consent_version) == (
                single.joined_at,
                single.last_seen_at,
                single.consent_version,
            )
        last = await tx.members.by_id(ids[-1])
        assert last is not None
        await tx.members.erase(last)
    async with store.transaction() as tx:
        after = await tx.members.create(new_member("after"), now)
    assert after.id > ids[-1]  # the erased highest id is not given again
