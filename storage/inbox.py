"""The inbox: webhook updates kept from the moment they are accepted until they are processed.

A webhook writes its updates here and commits before it answers 200. Workers (one in every
`wasl serve` / `wasl run` process) claim the oldest row of each chat with a lease, so one
chat's updates are processed one at a time and in order while chats run in parallel; a row
whose worker died is claimed again once its lease has expired. A processed row is deleted:
the payload is not kept, and processed_update remembers the id for redeliveries.

- PostgreSQL: the claim selects with FOR UPDATE SKIP LOCKED, so workers never wait on each
  other and never take the same row.
- SQLite: the claim is one UPDATE … RETURNING, atomic under the database's write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Integer, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.store import SqlStore, SqlTransaction
from storage.tables import inbox_t

PENDING = "pending"
CLAIMED = "claimed"


class NewItem(Protocol):
    """One update to keep: `platform_id` is unique per channel, `chat_key` orders it."""

    @property
    def platform_id(self) -> str: ...

    @property
    def chat_key(self) -> str: ...

    @property
    def payload(self) -> str: ...


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    channel: str
    platform_id: str
    chat_key: str
    payload: str
    attempts: int


def _claim_statement(postgres: bool) -> Any:
    """The claim, built once (building it cost more than running it): the oldest row of each
    chat whose lease is free, at most `b_limit`, marked claimed until `b_until`."""
    head = inbox_t.alias("head")
    first_of_chat = (
        select(func.min(head.c.id))
        .where(head.c.channel == inbox_t.c.channel, head.c.chat_key == inbox_t.c.chat_key)
        .scalar_subquery()
    )
    now = bindparam("b_now", type_=inbox_t.c.received_at.type)
    free = (
        select(inbox_t.c.id)
        .where(
            inbox_t.c.id == first_of_chat,
            or_(inbox_t.c.claimed_until.is_(None), inbox_t.c.claimed_until < now),
        )
        .order_by(inbox_t.c.id)
        .limit(bindparam("b_limit", type_=Integer))
    )
    if postgres:
        free = free.with_for_update(skip_locked=True)
    return (
        update(inbox_t)
        .where(inbox_t.c.id.in_(free.scalar_subquery()))
        .values(
            status=CLAIMED,
            claimed_until=bindparam("b_until", type_=inbox_t.c.claimed_until.type),
            attempts=inbox_t.c.attempts + 1,
        )
        .returning(
            inbox_t.c.id,
            inbox_t.c.channel,
            inbox_t.c.platform_id,
            inbox_t.c.chat_key,
            inbox_t.c.payload,
            inbox_t.c.attempts,
        )
    )


_CLAIM = {postgres: _claim_statement(postgres) for postgres in (False, True)}
_DONE = delete(inbox_t).where(inbox_t.c.id.in_(bindparam("b_ids", expanding=True)))


class InboxStore:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._postgres = store.engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        self._claim = _CLAIM[self._postgres]

    async def add(self, channel: str, items: Sequence[NewItem], now: datetime) -> int:
        """Keep `items` (committed when this returns); a platform id already here is skipped.

        Returns how many rows were new. Raises when the database does not take them.
        """
        if not items:
            return 0
        rows = [
            {
                "channel": channel,
                "platform_id": item.platform_id,
                "chat_key": item.chat_key,
                "payload": item.payload,
                "received_at": now,
                "status": PENDING,
                "claimed_until": None,
                "attempts": 0,
            }
            for item in items
        ]
        statement = self._insert(inbox_t).on_conflict_do_nothing(
            index_elements=["channel", "platform_id"]
        )

        async def add(tx: SqlTransaction) -> int:
            added = 0
            for row in rows:  # one by one: rowcount tells which were new
                result = await tx.conn.execute(statement, row)
                added += max(result.rowcount, 0)
            return added

        # Committed with the other webhooks' rows arriving meanwhile (one commit for all).
        return await self.store.batched(add)

    async def claim(
        self, now: datetime, lease: timedelta, limit: int, done: Sequence[int] = ()
    ) -> list[InboxItem]:
        """Take up to `limit` rows, each the oldest of its chat, none of a chat in progress.

        `done`: rows processed since the last claim, deleted first in the same transaction
        (one commit for both), so their chats' next rows can be taken at once.
        """
        params = {"b_now": now, "b_until": now + lease, "b_limit": limit}

        async def claim(tx: SqlTransaction) -> list[Any]:
            if done:
                await tx.conn.execute(_DONE, {"b_ids": list(done)})
            return list(await tx.conn.execute(self._claim, params))

        # With the replies' outcomes and new webhook rows of the moment: one commit for all.
        rows = await self.store.batched(claim)
        items = [
            InboxItem(r.id, r.channel, r.platform_id, r.chat_key, r.payload, r.attempts)
            for r in rows
        ]
        return sorted(items, key=lambda item: item.id)

    async def done(self, *item_ids: int) -> None:
        """Processed: the rows and their payloads go."""
        async with self.store.transaction() as tx:
            await tx.conn.execute(_DONE, {"b_ids": list(item_ids)})

    async def release(self, item_id: int, after: datetime) -> None:
        """Not processed: claimable again from `after` (the chat's later rows wait for it)."""
        async with self.store.transaction() as tx:
            await tx.conn.execute(
                update(inbox_t)
                .where(inbox_t.c.id == item_id)
                .values(status=PENDING, claimed_until=after)
            )

    async def oldest(self) -> datetime | None:
        """When the oldest row still here was received (None: the inbox is empty)."""
        async with self.store.engine.connect() as conn:
            value: datetime | None = (
                await conn.execute(select(func.min(inbox_t.c.received_at)))
            ).scalar()
        return value

    async def count(self) -> int:
        async with self.store.transaction() as tx:
            return int(
                (await tx.conn.execute(select(func.count()).select_from(inbox_t))).scalar() or 0
            )
