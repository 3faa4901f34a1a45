"""Promise 3: /forget and retention reach every copy.

The attack: her words were copied out of her field update into the urgent notice to
coordinators (three languages, her member id in its audience's `exclude`), the notice's outbox
rows, the weekly digest's outbox rows and a tip draft; delivered rows kept their text forever,
and the SQLite file and its WAL kept what had been deleted. Here a unique string goes into
everything she can write through the real handlers, the worker delivers through real PTB to the
fake Bot API, and then every table (reflected from the database, every cell cast to text) and,
on SQLite, the raw bytes of wasl.db and wasl.db-wal are searched for it and for her Telegram id.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, select

from bot.channels.telegram import TelegramChannel
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign
from bot.core.messages import ChannelName
from bot.core.models import Role
from bot.core.outbox import OutboxStatus
from bot.core.schedule import ONCE
from bot.core.surveys import parse_definition
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from bot.services.moderation import expire_updates, send_digest
from handlers import build_router
from storage.engine import _sqlite_pragmas as sqlite_pragmas
from storage.housekeeping import purge_expired
from storage.outbox import OutboxStore
from storage.store import SqlStore
from storage.tables import outbox_t, update_row_t
from tests.fakes.telegram_api import FakeBotApi, running_api
from tests.handlers.conftest import join, make_invite
from tests.support.erasure import rows_naming
from tests.support.harness import Harness, Person
from tests.support.surveys import pulse

TG = ChannelName.TELEGRAM


def telegram_id() -> str:
    """A random ten-digit Telegram id: long enough never to appear in a file by chance."""
    return str(secrets.randbelow(9 * 10**9) + 10**9)


async def person(
    h: Harness,
    user_id: str,
    *,
    role: Role = Role.MEMBER,
    country: str = "IQ",
    locale: str = "en",
) -> Person:
    code = await make_invite(h, f"code-{secrets.token_hex(6)}", role=role)
    someone = h.person(user_id, locale)
    await join(someone, code, locale=locale, country=country, spheres=("youth",))
    return someone


async def member_id(h: Harness, user_id: str) -> int:
    async with h.store.transaction() as tx:
        found = await tx.members.get(TG, user_id)
    assert found is not None
    return found.id


async def share(she: Person, text: str, *, urgent: bool) -> None:
    await she.say("/update")
    await she.say(text)
    await she.tap("Done")
    await she.tap("Urgent" if urgent else "Routine")
    await she.tap("No")
    await she.tap("No")  # not quoted in briefs
    assert "Received" in (await she.tap("Send"))[0].text


async def deliver_everything(h: Harness, api: FakeBotApi) -> int:
    """The real worker, through real PTB, against the fake Bot API, until nothing is due."""
    handled = 0
    async with api.bot() as bot:
        worker = DeliveryWorker(
            OutboxStore(h.store), {TG: TelegramChannel(bot)}, {TG: RateLimiter(30)}, h.clock
        )
        while batch := await worker.drain_once():
            handled += batch
    return handled


@dataclass
class Planted:
    h: Harness
    she: Person
    zebra: str
    member_id: int
    delivered: int


async def plant(store: SqlStore, api: FakeBotApi) -> Planted:
    """Her unique string in everything she can write, passed on everywhere it can go."""
    h = Harness(store, build_router())
    zebra = f"ZEBRA-{secrets.token_hex(6)}"
    coordinator = await person(h, telegram_id(), role=Role.COORDINATOR)
    await person(h, telegram_id(), country="LB", locale="fr")  # reads the digest
    she = await person(h, telegram_id())
    await share(she, f"{zebra} recruiters waited at the school gate today", urgent=True)
    await share(she, f"{zebra} the youth centre reopened and mothers asked for it", urgent=False)
    await share(
        she, f"{zebra} a mothers' circle calmed the quarrel between families", urgent=False
    )
    async with store.transaction() as tx:
        _urgent, routine, tip = (
            await tx.conn.execute(select(update_row_t.c.id).order_by(update_row_t.c.id))
        ).scalars()
    [card] = await coordinator.say("/moderate")
    assert card.text.startswith(f"Update #{_urgent} "), "urgent first: left waiting"
    await coordinator.tap("Skip")
    assert coordinator.last.text.startswith(f"Update #{routine} ")
    assert "Approved" in (await coordinator.tap("Approve for sharing"))[0].text
    assert coordinator.last.text.startswith(f"Update #{tip} ")
    assert "tip draft" in (await coordinator.tap("Tip candidate"))[0].text
    assert await send_digest(store, h.catalogs, h.clock.now()) == (1, 1)
    delivered = await deliver_everything(h, api)
    # One more alert, still waiting in the outbox when the erasure comes.
    await share(she, f"{zebra} the checkpoint closed the road to the clinic", urgent=True)
    # Last, as a new /update would set it aside: a survey with her free-text answer in
    # progress (in her conversation, not pooled, not stored).
    data = pulse()
    *first, note = data["questions"]
    data["questions"] = [note, *first]  # her words first, then she stops half-way
    definition = parse_definition(data, ("en", "ar", "fr"))
    async with store.transaction() as tx:
        now = h.clock.now()
        await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
    await she.say("/survey pulse-test")
    safe = await she.say(f"{zebra} my neighbour is afraid to go out")
    assert "3" in [b.label for b in safe[-1].buttons], "her words taken, the next question"
    planted = Planted(h, she, zebra, await member_id(h, she.user_id), delivered)
    where = {table for table, _ in await cells_containing(store, (zebra,))}
    assert where >= {
        "field_update",
        "campaign",
        "outbox",
        "tip_text",
        "conversation_state",
    }, "the string went everywhere the attack found it"
    return planted


def _reflect(connection: Connection) -> list[Table]:
    reflected = MetaData()
    reflected.reflect(connection)
    return list(reflected.sorted_tables)


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def cells_containing(store: SqlStore, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(table, column) of every cell, in every table the database has, holding a needle."""
    found: list[tuple[str, str]] = []
    async with store.engine.connect() as connection:
        for table in await connection.run_sync(_reflect):
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is not None and any(n in _as_text(value) for n in needles):
                        found.append((table.name, column))
    return found


def raw_files(store: SqlStore) -> dict[str, bytes]:
    """The SQLite database file and its WAL (and shared-memory index), byte for byte."""
    database = Path(str(store.engine.url.database))
    files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    return {f.name: f.read_bytes() for f in files if f.exists()}


def assert_not_in_files(store: SqlStore, *needles: str) -> None:
    if store.engine.dialect.name != "sqlite":
        return
    for name, data in raw_files(store).items():
        for needle in needles:
            assert needle.encode() not in data, f"{needle!r} is still in {name}"


async def test_forget_reaches_every_copy_and_the_files(store: SqlStore) -> None:
    with running_api() as api:
        planted = await plant(store, api)
    assert planted.delivered >= 2, "the notice and the digest were delivered"
    she = planted.she
    await she.say("/forget")
    goodbye = await she.tap("Yes, delete all")
    assert "deleted" in goodbye[-1].text
    needles = (planted.zebra, she.user_id)
    assert await cells_containing(store, needles) == []
    assert await rows_naming(store, member_id=planted.member_id, identifiers=(she.user_id,)) == []
    assert_not_in_files(store, *needles)
    async with store.transaction() as tx:
        statuses = list((await tx.conn.execute(select(outbox_t.c.status))).scalars())
        notices = await tx.campaigns.find()
    assert statuses and set(statuses) <= OutboxStatus.DONE, "her pending alert was deleted"
    assert all(planted.member_id not in c.audience.exclude for c in notices)


async def test_retention_reaches_every_copy_of_expired_updates(store: SqlStore) -> None:
    with running_api() as api:
        planted = await plant(store, api)
    h = planted.h
    h.clock.advance(timedelta(days=h.config.update_retention_days + 1))
    now = h.clock.now()
    await purge_expired(store, now)
    assert await expire_updates(store, now, h.config.update_retention_days) == 4
    assert await cells_containing(store, (planted.zebra,)) == []
    assert_not_in_files(store, planted.zebra)
    async with store.transaction() as tx:
        assert await tx.members.by_id(planted.member_id) is not None, "she did not forget"
        notices = [c for c in await tx.campaigns.find() if c.kind is CampaignKind.NOTICE]
    assert len(notices) == 2
    assert all(planted.member_id not in c.audience.exclude for c in notices), (
        "an old notice no longer says who wrote the update"
    )


async def test_a_new_member_never_gets_an_erased_members_id(store: SqlStore) -> None:
    h = Harness(store, build_router())
    await person(h, telegram_id())
    she = await person(h, telegram_id())
    hers = await member_id(h, she.user_id)  # the highest id so far: SQLite would give it again
    async with store.transaction() as tx:
        waiting = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.CAMPAIGN,
                status=CampaignStatus.SCHEDULED,
                title="Workshop",
                texts={"en": "Workshop on Saturday"},
                default_locale="en",
                audience=Audience(exclude=(hers,)),
                schedule="now",
            ),
            h.clock.now(),
        )
    await she.say("/forget")
    await she.tap("Yes, delete all")
    newcomer = await person(h, telegram_id())
    theirs = await member_id(h, newcomer.user_id)
    assert theirs > hers
    async with store.transaction() as tx:
        campaign = await tx.campaigns.get(waiting.id)
        assert campaign is not None and campaign.audience.exclude == ()
        fired = await tx.campaigns.fire(campaign, ONCE, h.clock.now())
        recipients = set(
            (
                await tx.conn.execute(
                    select(outbox_t.c.member_id).where(outbox_t.c.campaign_id == waiting.id)
                )
            ).scalars()
        )
    assert fired is not None and theirs in recipients


def test_sqlite_connections_overwrite_what_they_delete(tmp_path: Path) -> None:
    """Many SQLite builds leave deleted rows in free space (Debian's happens to zero them): the
    store turns `secure_delete` on for every connection, whatever the build's default."""
    connection = sqlite3.connect(tmp_path / "wasl.db")
    try:
        connection.execute("PRAGMA secure_delete=OFF")
        assert connection.execute("PRAGMA secure_delete").fetchone() == (0,)
        sqlite_pragmas(connection, None)
        assert connection.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        connection.close()
