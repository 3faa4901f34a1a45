"""The unit of work: one short transaction per update, SQLAlchemy Core statements on hot paths."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any, TypeVar

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

# Shared (group-commit) transactions running at once on PostgreSQL: with one, every batched
# write waited for the whole batch before it, round trip by round trip (p99 at 100 updates/s
# 137 ms; 65 ms with three, in one pair of runs of bench/inbound.py).
LANES = 3

T = TypeVar("T")
Work = Callable[["SqlTransaction"], Awaitable[Any]]


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
        # Group commit (`batched`): work waiting for the next shared transaction.
        self._queued: list[tuple[Work, asyncio.Future[Any]]] = []
        self._committers: set[asyncio.Task[None]] = set()
        # Shared transactions at once: one on SQLite (there is one writer anyway); a few on
        # PostgreSQL, so that a batch's round trips do not hold up the next one.
        self.lanes = 1 if self.serialised else LANES

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

    async def batched(self, work: Callable[[SqlTransaction], Awaitable[T]]) -> T:
        """Run `work` in a transaction shared with the other batched work queued meanwhile
        (group commit), and return its result once that transaction has committed.

        For short writes many tasks make at once (an inbox row per webhook, a reply's outcome
        per update, the inbox worker's claim): one BEGIN and COMMIT for all of them costs a
        fraction of one each, and nothing waits longer than the transaction in progress. When
        the shared transaction fails, each work runs again in a transaction of its own, so one
        bad work fails alone. `work` may therefore run twice (the first time rolled back): it
        must only use the transaction. Not inside `transaction()` (it would wait for itself).
        """
        outer = _open.get()
        if outer is not None and outer.active and outer.store is self:
            raise NestedTransactionError("store.batched() inside a transaction of the same store")
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.append((work, done))
        # A committer that has just found the queue empty is done, though its done-callback
        # has not run yet: counting it would leave this work with nobody to commit it.
        if sum(not committer.done() for committer in self._committers) < self.lanes:
            # A context of its own: the caller's open-transaction marker must not follow it.
            committer = asyncio.create_task(
                self._commit_queued(), name="group-commit", context=contextvars.Context()
            )
            self._committers.add(committer)
            committer.add_done_callback(self._committers.discard)
        return await asyncio.shield(done)  # a caller that gives up does not undo the others

    async def _commit_queued(self) -> None:
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    async with self.transaction() as tx:
                        results = [await work(tx) for work, _ in batch]
                except Exception as error:
                    if len(batch) == 1:
                        _settle(batch[0][1], error=error)
                    else:  # find the bad one: each alone
                        for work, done in batch:
                            await _alone(self, work, done)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    _settle(done, result)
        except BaseException as error:  # cancelled (shutdown): nobody is left waiting forever
            for _, done in [*batch, *self._queued]:
                _settle(done, error=error)
            self._queued = []
            raise

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
        """Let the shared transactions in progress commit (the outcome of the last replies
        sent: left unwritten, their rows would be sent again), then close the connections."""
        if self._committers:
            await asyncio.wait(set(self._committers), timeout=10.0)
        if self._inline is not None:
            async with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                self._inline.dispose()
        await self.engine.dispose()


_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"


async def _alone(store: SqlStore, work: Work, done: asyncio.Future[Any]) -> None:
    """`work` in a transaction of its own; its result or error goes to `done`."""
    try:
        async with store.transaction() as tx:
            result = await work(tx)
    except Exception as error:
        _settle(done, error=error)
        return
    _settle(done, result)


def _settle(
    done: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if done.done():  # settled before a cancellation reached the rest of its batch
        return
    if error is None:
        done.set_result(result)
    elif isinstance(error, asyncio.CancelledError):
        done.cancel()
    else:
        done.set_exception(error)


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
