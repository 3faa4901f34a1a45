"""Engines and migrations: a SQLite file by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# The newest migration's revision. `migrate` compares the database's with it before loading
# Alembic at all, so a start on an up-to-date schema (every restart) skips Alembic's import and
# its scripts: half a second. A test fails when a migration is added without updating it.
HEAD = "0019"


def async_url(url: str) -> str:
    """Give a plain database URL its async driver: postgresql:// → postgresql+asyncpg://."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """An async engine; on SQLite with WAL and foreign keys, on PostgreSQL in `schema` if given."""
    url = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("postgresql"):
        kwargs["pool_size"] = 10
        if schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def inline_engine(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for statements run on the event loop.

    None on PostgreSQL and for an in-memory database (a second engine would open another one).
    Same pragmas, except that a busy database fails at once instead of blocking the loop: the
    caller then waits in a thread (storage/connection.py).
    """
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if "mode=memory" in str(url):
        return None
    sync = create_engine(url.set(drivername="sqlite+pysqlite"), echo=engine.echo)
    event.listen(sync, "connect", _inline_pragmas)
    return sync


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = 5000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not left in free space in the file: /forget
    # and retention really remove her words (the store checkpoints the WAL after them).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _inline_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=0)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# Several workers may start at once on one database: each migrates, one at a time. The key is
# per schema (tests run many schemas in one database), the same for every worker. A transaction
# lock: PostgreSQL lets go of it at commit or rollback, so no pooled connection keeps it.
_MIGRATION_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('wasl-migrate:' || current_schema()))"
)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the only way tables are created).

    Safe when several processes start together: on PostgreSQL the upgrade waits for an advisory
    lock taken in its own transaction; on a SQLite file for an exclusive `flock` on
    `<database>.migrate`. The one that waited then finds the schema at head and does nothing.
    """
    if revision == "head" and await current_revision(engine) == HEAD:
        return
    async with _file_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(_MIGRATION_LOCK)
        await connection.run_sync(_upgrade, revision)


@contextlib.asynccontextmanager
async def _file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """An exclusive lock on a file beside a SQLite database (the kernel releases it if the
    process dies); nothing on PostgreSQL or for an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    if "mode=memory" in str(engine.url):
        yield
        return
    fd = os.open(f"{database}.migrate", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def head_revision() -> str:
    """The revision the migrations bring a schema to, as Alembic works it out."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None when it was never migrated. Read without
    Alembic: its one-row version table."""
    async with engine.connect() as connection:
        if not await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
            return None
        found = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return found.scalar_one_or_none()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to `revision` ("-1": one step; "base": nothing), under the same
    lock as `migrate`: the rollback of a release."""
    async with _file_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(_MIGRATION_LOCK)
        await connection.run_sync(_downgrade, revision)


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of the migrations' ids."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


async def migrate_to(engine: AsyncEngine, revision: str) -> str:
    """Bring the schema to `revision`, up or down (`wasl migrate --to`); what was done."""
    current = await current_revision(engine)
    if current == revision:
        return "unchanged"
    if current is not None and int(revision) < int(current):
        await downgrade(engine, revision)
        return "downgraded"
    await migrate(engine, revision)
    return "upgraded"


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
