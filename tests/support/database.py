"""Migrated databases for tests, without running Alembic for each test.

SQLite: Alembic runs once per test process into a template file; each test gets a copy.
PostgreSQL: Alembic runs once per test process into a template schema while every statement it
sends is recorded; each test gets a fresh schema of its own in which that recording is replayed,
in one transaction. The first replay is checked against the template (tables, columns, defaults,
indexes, constraints, sequences and rows), so a replay that differs from a migration fails loudly.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.engine import make_engine, migrate

_MIGRATED: dict[str, Path] = {}


def migrated_sqlite_file(folder: Path, name: str = "wasl.db") -> Path:
    """A SQLite file in `folder` holding the migrated schema, copied from one migrated once.

    Alembic runs once per test process (into a template in a temporary folder); each test gets
    its own copy, made with SQLite's backup API so the copy is consistent whatever the journal
    mode. Building the template runs every migration on SQLite; the migration tests in
    tests/integration downgrade and migrate again on SQLite and on PostgreSQL.
    """
    template = _MIGRATED.get("sqlite")
    if template is None:
        folder_of_template = tempfile.mkdtemp(prefix="wasl-template-")
        atexit.register(shutil.rmtree, folder_of_template, True)
        template = Path(folder_of_template) / "template.db"

        async def build() -> None:
            engine = make_engine(f"sqlite:///{template}")
            try:
                await migrate(engine)
            finally:
                await engine.dispose()

        asyncio.run(build())
        _MIGRATED["sqlite"] = template
    return copy_sqlite_file(template, folder / name)


def copy_sqlite_file(source_path: Path, target: Path) -> Path:
    """Copy a SQLite database with SQLite's backup API (consistent whatever the journal mode)."""
    with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    # `with` on a sqlite3 connection only commits; closing is explicit.
    source.close()
    copy.close()
    return target


@dataclass(frozen=True)
class _Statement:
    sql: str
    parameters: Any
    many: bool


_RECORDED: dict[str, list[_Statement]] = {}


def new_schema_name() -> str:
    return f"t_{secrets.token_hex(6)}"


async def _record_migration(url: str) -> list[_Statement]:
    """Migrate a template schema to head, recording every statement Alembic sent; checked once."""
    template = new_schema_name()
    admin = make_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{template}"'))
        try:
            engine = make_engine(url, schema=template)
            try:
                async with engine.connect() as warm:  # the dialect's own first queries: not ours
                    await warm.exec_driver_sql("SELECT 1")
                recorded: list[_Statement] = []

                def record(
                    _conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool
                ) -> None:
                    recorded.append(_Statement(sql, parameters, many))

                event.listen(engine.sync_engine, "before_cursor_execute", record)
                await migrate(engine)
                event.remove(engine.sync_engine, "before_cursor_execute", record)
            finally:
                await engine.dispose()
            named = [
                s.sql for s in recorded if template in s.sql or template in repr(s.parameters)
            ]
            if named:
                raise AssertionError(f"a migration names its schema, cannot be replayed: {named}")
            copy = new_schema_name()
            async with admin.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA "{copy}"'))
            try:
                await _replay(url, copy, recorded)
                async with admin.connect() as connection:
                    expected = await _fingerprint(connection, template)
                    got = await _fingerprint(connection, copy)
                if got != expected:
                    differ = sorted(set(got) ^ set(expected))
                    raise AssertionError(f"a replayed migration differs from Alembic's: {differ}")
            finally:
                async with admin.begin() as connection:
                    await connection.execute(text(f'DROP SCHEMA IF EXISTS "{copy}" CASCADE'))
        finally:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{template}" CASCADE'))
    finally:
        await admin.dispose()
    return recorded


async def _replay(url: str, schema: str, statements: list[_Statement]) -> None:
    engine = make_engine(url, schema=schema)
    try:
        await _run(engine, statements)
    finally:
        await engine.dispose()


async def _run(engine: AsyncEngine, statements: list[_Statement]) -> None:
    """Replay `statements` in one transaction; those without parameters in as few round trips
    as possible (asyncpg sends a script of several statements as one simple query)."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql("SELECT 1")  # the transaction has begun
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        script: list[str] = []
        for statement in [*statements, None]:
            if statement is not None and not statement.parameters:
                script.append(statement.sql)
                continue
            if script:
                await driver.execute("\n;\n".join(script))
                script.clear()
            if statement is not None:
                await connection.exec_driver_sql(statement.sql, statement.parameters)


async def _fingerprint(connection: AsyncConnection, schema: str) -> list[str]:
    """What a schema holds, as sorted lines with its own name left out."""
    queries = [
        "SELECT 'column', table_name, column_name, data_type, character_maximum_length::text,"
        " numeric_precision::text, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = :schema",
        "SELECT 'index', tablename, indexname, indexdef"
        " FROM pg_indexes WHERE schemaname = :schema",
        "SELECT 'constraint', c.relname, k.conname, pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema",
        "SELECT 'sequence', sequencename, data_type::text, start_value::text, increment_by::text,"
        " last_value::text FROM pg_sequences WHERE schemaname = :schema",
        "SELECT 'relation', c.relname, c.relkind::text FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema",
    ]
    lines: list[str] = []
    for query in queries:
        for row in await connection.execute(text(query), {"schema": schema}):
            lines.append(repr(tuple(row)).replace(f'"{schema}".', "").replace(f"{schema}.", ""))
    tables = await connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    )
    for (table,) in tables.all():
        everything = f'SELECT * FROM "{schema}"."{table}"'  # noqa: S608 (names from the catalog)
        rows = await connection.execute(text(everything))
        lines.extend(f"row {table} {tuple(row)!r}" for row in rows)
    return sorted(lines)


async def migrate_postgres_schema(engine: AsyncEngine, url: str) -> None:
    """Bring the fresh, empty schema `engine` works in to head, as `migrate` would.

    `url` is the server's own address (the recording made on it is reused by every test).
    """
    recorded = _RECORDED.get(url)
    if recorded is None:
        recorded = _RECORDED[url] = await _record_migration(url)
    await _run(engine, recorded)


def commits_without_disk_wait(engine: AsyncEngine) -> AsyncEngine:
    """Each PostgreSQL connection of `engine` commits without waiting for the write-ahead log
    to reach the disk (`synchronous_commit = off` for the session): about 1 ms less per commit
    on this machine's disk, and PostgreSQL tests commit thousands of times.

    A commit is still visible to every other connection at once and survives the death of any
    client process (the crash tests kill the bot, never the server); only a crash of the
    server itself could lose the last commits, which a test database can afford. The bot's own
    engines keep the server's setting.
    """

    def no_disk_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET synchronous_commit TO off")
        cursor.close()

    if engine.dialect.name == "postgresql":
        event.listen(engine.sync_engine, "connect", no_disk_wait)
    return engine
