"""What repositories execute statements on: an async connection, or SQLite run inline.

On SQLite every statement of a transaction runs on the event loop through a synchronous
SQLAlchemy connection (pysqlite). A statement on a local WAL file takes microseconds; handing it
to aiosqlite's thread costs several thread round trips per statement (docs/architecture.md,
"Performance notes"). The store serialises these transactions with one asyncio lock
(storage/store.py), so an inline statement never waits for a lock held by this process; a lock
held by another process (a CLI command writing to the same file) is waited for in a thread,
never on the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, overload

from sqlalchemy import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.cursor import CursorFetchStrategy, FullyBufferedCursorFetchStrategy
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.typing import TupleAny, TypeVarTuple, Unpack

_Ts = TypeVarTuple("_Ts")
_P = ParamSpec("_P")
_T = TypeVar("_T")

# How long a statement waits (in a thread) for a lock another process holds, as before.
BUSY_WAIT_MS = 5000


class SqlConnection(Protocol):
    """The part of SQLAlchemy's AsyncConnection the repositories use."""

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[Unpack[_Ts]],
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Unpack[_Ts]]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Unpack[TupleAny]]: ...

    async def run_sync(
        self,
        fn: Callable[Concatenate[Connection, _P], _T],
        *arg: _P.args,
        **kw: _P.kwargs,
    ) -> _T: ...


class InlineConnection:
    """A synchronous connection behind the async API: each call runs at once, on the loop.

    Results are fully buffered, as AsyncConnection's are: a result read after the next
    statement, or after the transaction ended, behaves the same on both backends.
    """

    __slots__ = ("sync_connection",)

    def __init__(self, sync_connection: Connection) -> None:
        self.sync_connection = sync_connection

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[Unpack[_Ts]],
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Unpack[_Ts]]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Unpack[TupleAny]]: ...

    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Unpack[TupleAny]]:
        try:
            result = self.sync_connection.execute(
                statement, parameters, execution_options=execution_options
            )
        except OperationalError as error:
            if not is_busy(error):
                raise
            # Another process holds the write lock: wait for it off the loop.
            return await self._waiting(
                partial(self._execute, statement, parameters, execution_options)
            )
        return _buffered(result)

    def _execute(
        self, statement: Executable, parameters: Any, execution_options: Any
    ) -> CursorResult[Unpack[TupleAny]]:
        result = self.sync_connection.execute(
            statement, parameters, execution_options=execution_options
        )
        return _buffered(result)

    async def run_sync(
        self,
        fn: Callable[Concatenate[Connection, _P], _T],
        *arg: _P.args,
        **kw: _P.kwargs,
    ) -> _T:
        """Run `fn(connection, ...)` in a thread, as AsyncConnection does (it may take a while
        and it may wait for another process's lock)."""
        return await self._waiting(partial(fn, self.sync_connection, *arg, **kw))

    async def _waiting(self, call: Callable[[], _T]) -> _T:
        """`call()` in a thread, where it may wait for a lock as long as it used to."""
        raw = self.sync_connection.connection.dbapi_connection
        assert raw is not None

        def waiting() -> _T:
            raw.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
            try:
                return call()
            finally:
                raw.execute("PRAGMA busy_timeout=0")

        task = asyncio.ensure_future(asyncio.to_thread(waiting))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The thread still uses the connection: let it finish before the transaction
            # rolls back on it.
            await asyncio.wait([task])
            task.exception()  # retrieved: the cancellation is what the caller sees
            raise


def is_busy(error: OperationalError) -> bool:
    """True when SQLite answered SQLITE_BUSY ("database is locked")."""
    orig = error.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return (int(code) & 0xFF) == sqlite3.SQLITE_BUSY
    return "database is locked" in str(orig)


def _buffered(result: CursorResult[Unpack[_Ts]]) -> CursorResult[Unpack[_Ts]]:
    """Read every row now (pysqlite steps lazily; aiosqlite fetched everything at once)."""
    if type(result.cursor_strategy) is CursorFetchStrategy:
        result.cursor_strategy = FullyBufferedCursorFetchStrategy(result.cursor)
    return result
