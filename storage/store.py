"""The unit of work: one short transaction per update, SQLAlchemy Core statements on hot paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit import AuditLogRepository, DashboardLinkRepository
from storage.campaigns import CampaignRepository
from storage.chats import ChatLogRepository, ConversationRepository, ProcessedUpdateRepository
from storage.connection import InlineConnection, SqlConnection
from storage.engine import inline_engine
from storage.invites import InviteRepository
from storage.members import ERASED, MemberRepository
from storage.peers import PeerRepository
from storage.replies import ReplyRepository
from storage.reports import ReportRepository
from storage.surveys import SurveyRepository
from storage.tips import TipRepository
from storage.updates import UpdateRepository

__all__ = ["ERASED", "NestedTransactionError", "SqlStore", "SqlTransaction"]


class NestedTransactionError(RuntimeError):
    """`store.transaction()` was opened inside another transaction of the same store."""


class _Open:
    """Marks a transaction open in the current task (and in tasks it starts meanwhile)."""

    __slots__ = ("active", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.active = True


_open: ContextVar[_Open | None] = ContextVar("wasl_open_transaction", default=None)


class SqlStore:
    """Opens transactions on an engine (SQLite or PostgreSQL).

    On SQLite a transaction runs its statements inline on the event loop (storage/connection.py)
    and holds `_lock` from start to end, so there is only ever one writer in this process: a
    transaction that awaits something real (a thread, the network) makes the others wait on the
    lock, never on SQLite's busy wait. `engine` stays the async engine, for migrations and for
    reads elsewhere (/healthz, tests), which WAL lets run beside the writer.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._inline = inline_engine(engine)
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None  # one, as there is one transaction at a time
        # True when this process runs one transaction at a time (SQLite): the others queue.
        self.serialised = self._inline is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Commit when the block ends, roll back if it raises (like `engine.begin()`)."""
        outer = _open.get()
        if outer is not None and outer.active and outer.store is self:
            raise NestedTransactionError(
                "store.transaction() opened inside another transaction of the same store; "
                "use the outer transaction (nesting would deadlock on SQLite)"
            )
        marker = _Open(self)
        token = _open.set(marker)
        try:
            if self._inline is None:
                async with self.engine.begin() as connection:
                    yield SqlTransaction(connection, self._insert)
            else:
                async with self._lock:
                    if self._connection is None:
                        self._connection = self._inline.connect()
                    with self._connection.begin():
                        yield SqlTransaction(InlineConnection(self._connection), self._insert)
        finally:
            marker.active = False
            _open.reset(token)

    async def scrub(self) -> None:
        """After an erasure: on SQLite, copy the WAL into the file and truncate it, so what was
        deleted (overwritten with zeros by `secure_delete`) leaves the WAL too. PostgreSQL
        needs no call here: VACUUM reclaims dead rows (the privacy notes say when)."""
        if self.engine.dialect.name != "sqlite":
            return
        if self._inline is None:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql(_CHECKPOINT)
            return
        async with self._lock:
            if self._connection is None:
                self._connection = self._inline.connect()
            with self._connection.begin():
                self._connection.exec_driver_sql(_CHECKPOINT)

    async def close(self) -> None:
        if self._inline is not None:
            async with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                self._inline.dispose()
        await self.engine.dispose()


_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"


class SqlTransaction:
    """Everything done here commits together when the `transaction()` block ends cleanly:
    one small repository per concern (the ports in bot/core), each made when first used (an
    update's transaction uses four or five of the thirteen)."""

    def __init__(self, connection: SqlConnection, insert_for_dialect: Any) -> None:
        self.conn = connection
        self._upsert = insert_for_dialect

    @cached_property
    def members(self) -> MemberRepository:
        sqlite_dialect = self._upsert is sqlite.insert
        return MemberRepository(self.conn, self._upsert, sqlite=sqlite_dialect)

    @cached_property
    def invites(self) -> InviteRepository:
        return InviteRepository(self.conn)

    @cached_property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self.conn, self._upsert)

    @cached_property
    def processed(self) -> ProcessedUpdateRepository:
        return ProcessedUpdateRepository(self.conn, self._upsert)

    @cached_property
    def chat_log(self) -> ChatLogRepository:
        return ChatLogRepository(self.conn)

    @cached_property
    def replies(self) -> ReplyRepository:
        return ReplyRepository(self.conn, self.chat_log)

    @cached_property
    def audit_log(self) -> AuditLogRepository:
        return AuditLogRepository(self.conn)

    @cached_property
    def dashboard_links(self) -> DashboardLinkRepository:
        return DashboardLinkRepository(self.conn, self.members)

    @cached_property
    def campaigns(self) -> CampaignRepository:
        return CampaignRepository(self.conn, self._upsert)

    @cached_property
    def tips(self) -> TipRepository:
        return TipRepository(self.conn, self._upsert)

    @cached_property
    def updates(self) -> UpdateRepository:
        return UpdateRepository(self.conn, self._upsert)

    @cached_property
    def surveys(self) -> SurveyRepository:
        return SurveyRepository(self.conn, self._upsert)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self.conn, self._upsert)

    @cached_property
    def peers(self) -> PeerRepository:
        return PeerRepository(self.conn, self._upsert)
