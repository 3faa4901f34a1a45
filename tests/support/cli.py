"""A seeded SQLite file for command-line tests: seeded once per module, copied per test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.database import copy_sqlite_file, migrated_sqlite_file

Seed = Callable[[SqlStore], Awaitable[object]]


def seeded_file(tmp_path_factory: pytest.TempPathFactory, seed: Seed) -> Path:
    """A migrated SQLite file with what `seed` writes (for a module-scoped fixture)."""
    path = migrated_sqlite_file(tmp_path_factory.mktemp("seeded"))

    async def seeding() -> None:
        store = SqlStore(make_engine(f"sqlite:///{path}"))
        try:
            await seed(store)
        finally:
            await store.close()

    asyncio.run(seeding())
    return path


def database_for_cli(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `seeded` that `bot.cli.main` opens (DATABASE_URL), with k = 5."""
    path = copy_sqlite_file(seeded, tmp_path / "wasl.db")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("WASL_MIN_CELL", "5")
    return path
