"""Short-lived records expire: update ids, message ids, abandoned conversations (storage:
the tables themselves are counted, on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import ConversationState, NewMember, Role
from storage.housekeeping import purge_expired
from storage.store import SqlStore
from storage.tables import dashboard_link_t, message_t, state_t, update_t


async def counts(store: SqlStore) -> tuple[int, ...]:
    async with store.transaction() as tx:
        found = []
        for table in (update_t, message_t, state_t, dashboard_link_t):
            query = select(func.count()).select_from(table)
            found.append(int((await tx.conn.execute(query)).scalar_one()))
        return tuple(found)


async def test_purge_keeps_recent_and_deletes_expired(store: SqlStore, clock: FixedClock) -> None:
    tg = ChannelName.TELEGRAM
    async with store.transaction() as tx:
        await tx.processed.claim(tg, "1", clock.now())
        await tx.chat_log.record(tg, "9", ["10", "11"], clock.now())
        await tx.conversations.save(
            tg, "9", ConversationState("ob", "lang", {"locale": "ar"}), clock.now()
        )
        analyst = await tx.members.create(
            NewMember(tg, "9", "9", "ar", "IQ", [], Role.SECRETARIAT, "v", clock.now()),
            clock.now(),
        )
        expiry = clock.now() + timedelta(minutes=30)
        await tx.dashboard_links.create(analyst.id, "0" * 64, expiry, clock.now())
    assert await counts(store) == (1, 2, 1, 1)
    assert await purge_expired(store, clock.now()) == {
        "processed_updates": 0,
        "chat_messages": 0,
        "stale_states": 0,
        "dashboard_links": 0,
        "outbox_message_ids": 0,
        "introductions": 0,
    }
    assert await purge_expired(store, clock.now() + timedelta(days=3)) == {
        "processed_updates": 0,
        "chat_messages": 2,
        "stale_states": 0,
        "dashboard_links": 1,
        "outbox_message_ids": 0,
        "introductions": 0,
    }
    later = await purge_expired(store, clock.now() + timedelta(days=31))
    assert later == {
        "processed_updates": 1,
        "chat_messages": 0,
        "stale_states": 1,
        "dashboard_links": 0,
        "outbox_message_ids": 0,
        "introductions": 0,
    }
    assert await counts(store) == (0, 0, 0, 0)
