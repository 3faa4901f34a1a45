"""Shared fixtures: a fixed clock, and a migrated store on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from bot.core.clock import FixedClock
from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.database import (
    commits_without_disk_wait,
    migrate_postgres_schema,
    migrated_sqlite_file,
    new_schema_name,
)

POSTGRES_URL = os.environ.get(
    "WASL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def in_ci() -> bool:
    """True on CI, where PostgreSQL tests must run, never be skipped."""
    return os.environ.get("CI", "").lower() == "true"


async def _probe(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=3)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL once it answered; skip (locally) or fail (CI) when it does not.

    Session-scoped, so the probe runs once and its outcome is reused by every postgres test.
    """
    try:
        asyncio.run(_probe(POSTGRES_URL))
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        reason = f"PostgreSQL unreachable at {POSTGRES_URL}: {error!r}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must not be skipped)")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The database a test runs on; every storage test runs on both."""
    if request.param == "postgres":
        # Probed here, in a plain fixture, because the async `store` runs inside an event loop.
        request.getfixturevalue("postgres_url")
    return str(request.param)


@pytest.fixture
async def store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[SqlStore]:
    """A migrated store: a SQLite file, or a fresh PostgreSQL schema dropped after.

    Alembic runs once per test process on each; tests get a copy (tests/support/database.py).
    """
    if backend == "sqlite":
        async with _sqlite_store(tmp_path) as sqlite:
            yield sqlite
        return
    url: str = request.getfixturevalue("postgres_url")  # already probed by `backend`
    schema = new_schema_name()
    admin = make_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        pg = SqlStore(commits_without_disk_wait(make_engine(url, schema=schema)))
        try:
            await migrate_postgres_schema(pg.engine, url)
            yield pg
        finally:
            await pg.close()
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A migrated SQLite store only, for fast tests that need no PostgreSQL coverage."""
    async with _sqlite_store(tmp_path) as sqlite:
        yield sqlite


@asynccontextmanager
async def _sqlite_store(folder: Path) -> AsyncIterator[SqlStore]:
    """A store on a migrated SQLite file in `folder`, closed on exit."""
    path = await asyncio.to_thread(migrated_sqlite_file, folder)
    sqlite = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        yield sqlite
    finally:
        await sqlite.close()


# The longest tests, started first when the suite runs on several workers (pytest-xdist, with
# `--dist worksteal`: the others take the rest of the queue), so that the run does not end with
# one worker still busy with one of them. Only the order changes.
HEAVY_FIRST = (
    "tests/handlers/test_survey_scale.py",
    "tests/privacy/test_log_attack.py",
    "tests/privacy/test_difference_attack.py",
    "tests/e2e/test_inbox_e2e.py",
    "tests/e2e/test_whatsapp_e2e.py",
    "tests/privacy/test_survey_difference_attack.py",
    "tests/privacy/test_public_survey_key.py",
    "tests/e2e/",
    "tests/contract/test_inbox_web.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not a pytest-xdist worker: the usual order
        return

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, p in enumerate(HEAVY_FIRST) if path.startswith(p)), len(HEAVY_FIRST))

    items.sort(key=rank)  # stable: the order within each rank is kept
