"""`wasl migrate` as a deployment runs it: several workers starting together on a fresh
database, and `wasl migrate --check` for a deploy pipeline."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from storage.engine import current_revision, downgrade, head_revision, make_engine, migrate
from tests.e2e.conftest import bot_env

pytestmark = pytest.mark.e2e


def _start(tmp_path: Path, database_url: str, *command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *command],
        cwd=tmp_path,
        env=bot_env(tmp_path, DATABASE_URL=database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wasl(tmp_path: Path, database_url: str, *command: str) -> tuple[int, str]:
    process = _start(tmp_path, database_url, *command)
    out, _ = process.communicate(timeout=120)
    return process.returncode, out


def _together(tmp_path: Path, database_url: str, workers: int = 3) -> list[tuple[int, str]]:
    """`wasl migrate` in `workers` processes started at the same moment."""
    started = [_start(tmp_path, database_url, "migrate") for _ in range(workers)]
    done = []
    for process in started:
        out, _ = process.communicate(timeout=180)
        done.append((process.returncode, out))
    return done


async def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """A database of its own on the real PostgreSQL server, dropped after: what a first
    deployment meets (types and tables are per database, not per schema)."""
    name = f"wasl_migrate_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_three_workers_migrating_a_fresh_postgres_together_all_succeed(
    tmp_path: Path, fresh_postgres: str
) -> None:
    """Measured before the lock: two of three failed with a UniqueViolationError on
    pg_type_typname_nsp_index (each created the same tables at once)."""
    for code, out in _together(tmp_path, fresh_postgres):
        assert code == 0, out
        assert "Traceback" not in out
    assert asyncio.run(_revision(fresh_postgres)) == head_revision()
    assert _wasl(tmp_path, fresh_postgres, "migrate", "--check")[0] == 0


def test_three_workers_migrating_a_fresh_sqlite_file_together_all_succeed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for code, out in _together(tmp_path, url):
        assert code == 0, out
    assert asyncio.run(_revision(url)) == head_revision()


@pytest.mark.postgres
def test_concurrent_upgrades_in_one_process_wait_for_each_other(fresh_postgres: str) -> None:
    """Three engines (three connections) upgrading at once, in one event loop."""

    async def three() -> None:
        engines = [make_engine(fresh_postgres) for _ in range(3)]
        try:
            # Bounded: without the lock they collide (or wait on each other's types forever).
            await asyncio.wait_for(asyncio.gather(*(migrate(e) for e in engines)), timeout=120)
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(three())
    assert asyncio.run(_revision(fresh_postgres)) == head_revision()


def test_migrate_check_says_where_the_schema_is_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'check.db'}"
    head = head_revision()
    code, out = _wasl(tmp_path, url, "migrate", "--check")
    assert code == 1, out
    assert out.strip().count("\n") == 0, "one line"
    assert "none" in out and head in out and "wasl migrate" in out
    assert asyncio.run(_revision(url)) is None, "--check migrated nothing"

    assert _wasl(tmp_path, url, "migrate")[0] == 0
    code, out = _wasl(tmp_path, url, "migrate", "--check")
    assert code == 0, out
    assert head in out

    async def one_back() -> None:
        engine = make_engine(url)
        try:
            await downgrade(engine, "-1")
        finally:
            await engine.dispose()

    asyncio.run(one_back())
    behind = asyncio.run(_revision(url))
    assert behind is not None and behind != head
    code, out = _wasl(tmp_path, url, "migrate", "--check")
    assert code == 1, out
    assert behind in out and head in out


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrate_to_rolls_the_schema_back_one_release_and_forward_again(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A rollback: `wasl migrate --to <the release before>` (workers stopped), the release
    before's code runs; `wasl migrate` later takes it up again."""
    url = (
        f"sqlite:///{tmp_path / 'roll.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres")
    )
    head = head_revision()
    before = f"{int(head) - 1:04d}"
    assert _wasl(tmp_path, url, "migrate")[0] == 0
    code, out = _wasl(tmp_path, url, "migrate", "--to", before)
    assert code == 0, out
    assert f"downgraded: revision {head} → {before}" in out
    assert asyncio.run(_revision(url)) == before
    code, out = _wasl(tmp_path, url, "migrate", "--to", before)
    assert code == 0 and "unchanged" in out, out
    code, out = _wasl(tmp_path, url, "migrate", "--to", head)
    assert code == 0 and f"upgraded: revision {before} → {head}" in out, out
    assert asyncio.run(_revision(url)) == head
    code, out = _wasl(tmp_path, url, "migrate", "--to", "9999")
    assert code == 2 and "no migration '9999'" in out and head in out, out
    assert asyncio.run(_revision(url)) == head
