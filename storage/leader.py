"""Who delivers and schedules: one leader per role and database (docs/architecture.md,
"Roles of processes").

Several workers may take webhooks for the same database, but only one may deliver each
channel's messages and only one may run the scheduler: two would each pace at the platform's
limit (and collect 429s), and a starting worker puts the rows left in flight back to pending,
which is only safe when the worker that held them is gone. So each role ("telegram",
"whatsapp", "console", "scheduler") has its own lock, and only a process that has a channel
ever asks for that channel's.

- PostgreSQL: a session-level advisory lock, held by one dedicated connection. If the process
  dies or its connection drops, PostgreSQL releases the lock and another worker takes over.
- SQLite: an exclusive `flock` on a file beside the database (`wasl.db.leader`); the kernel
  releases it when the process ends. An in-memory database has one process by nature.

`someone_leads` asks, without taking it, whether any process holds a role: `wasl campaign show
--follow` says when nobody is delivering a channel, and the terminal bot leaves the scheduler
to a real bot sharing its database.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.store import SqlStore

log = logging.getLogger(__name__)

# The lock is per role, database and schema (tests run many schemas in one database).
_KEY = "hashtext('wasl-leader:' || :role || ':' || current_schema())"
_TRY_LOCK = text(f"SELECT pg_try_advisory_lock({_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY})")


def _lock_path(store: SqlStore, role: str) -> Path | None:
    """SQLite's lock file for `role`; None where there is no file (PostgreSQL, in memory)."""
    database = store.engine.url.database
    if store.engine.dialect.name == "postgresql" or database in (None, "", ":memory:"):
        return None
    return Path(f"{database}.leader-{role}")


class Leader:
    """Try to become, check, and stop being the leader of one role. Not shared between tasks."""

    def __init__(self, store: SqlStore, role: str) -> None:
        self.store = store
        self.role = role
        self._postgres = store.engine.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None
        self._fd: int | None = None
        self._lock_path = _lock_path(store, role)
        self.leading = False

    async def acquire(self) -> bool:
        """Become the leader if nobody is; True when this process leads (now or already)."""
        if self.leading:
            return True
        if self._postgres:
            self.leading = await self._acquire_postgres()
        elif self._lock_path is not None:
            self.leading = self._acquire_file(self._lock_path)
        else:
            self.leading = True
        return self.leading

    async def holding(self) -> bool:
        """Still the leader? On PostgreSQL the lock lives as long as its connection."""
        if not self.leading:
            return False
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                await self._connection.commit()
            except Exception as error:  # the server or the network dropped the session
                log.warning("event=leader_lost reason=%s", type(error).__name__)
                await self._drop_connection()
                self.leading = False
        return self.leading

    async def release(self) -> None:
        """Stop leading (at shutdown), so another worker takes over at once."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(_UNLOCK, {"role": self.role})
                await self._connection.commit()
            await self._drop_connection()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self.leading = False

    async def _acquire_postgres(self) -> bool:
        connection = await self.store.engine.connect()
        try:
            got = bool(await connection.scalar(_TRY_LOCK, {"role": self.role}))
            await connection.commit()  # the lock is the session's: no transaction left open
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    def _acquire_file(self, path: Path) -> bool:
        fd = _try_flock(path)
        if fd is None:
            return False
        self._fd = fd
        return True

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


def _try_flock(path: Path) -> int | None:
    """The open, exclusively locked file; None when another holds the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


async def someone_leads(store: SqlStore, role: str) -> bool:
    """Does a process (this one included) hold `role` now? Takes the lock for an instant
    when nobody does, then gives it back."""
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as connection:
            got = bool(await connection.scalar(_TRY_LOCK, {"role": role}))
            if got:
                await connection.execute(_UNLOCK, {"role": role})
            await connection.commit()
        return not got
    path = _lock_path(store, role)
    if path is None:  # in memory: only this process can reach it
        return False
    fd = _try_flock(path)
    if fd is None:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return False
