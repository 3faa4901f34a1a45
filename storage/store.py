"""The unit of work: one short transaction per update, SQLAlchemy Core statements on hot paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
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
    one small repository per concern (the ports in bot/core)."""

    def __init__(self, connection: SqlConnection, insert_for_dialect: Any) -> None:
        self.conn = connection
        sqlite_dialect = insert_for_dialect is sqlite.insert
        self.members = MemberRepository(connection, insert_for_dialect, sqlite=sqlite_dialect)
        self.invites = InviteRepository(connection)
        self.conversations = ConversationRepository(connection, insert_for_dialect)
        self.processed = ProcessedUpdateRepository(connection, insert_for_dialect)
        self.chat_log = ChatLogRepository(connection)
        self.replies = ReplyRepository(connection, self.chat_log)
        self.audit_log = AuditLogRepository(connection)
        self.dashboard_links = DashboardLinkRepository(connection, self.members)
        self.campaigns = CampaignRepository(connection, insert_for_dialect)
        self.tips = TipRepository(connection, insert_for_dialect)
        self.updates = UpdateRepository(connection, insert_for_dialect)
        self.surveys = SurveyRepository(connection, insert_for_dialect)
        self.reports = ReportRepository(connection, insert_for_dialect)
        self.peers = PeerRepository(connection, insert_for_dialect)
