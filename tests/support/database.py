"""Migrated SQLite files for tests, without running Alembic for each test."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

from storage.engine import make_engine, migrate

_MIGRATED: dict[str, Path] = {}


def migrated_sqlite_file(folder: Path, name: str = "wasl.db") -> Path:
    """A SQLite file in `folder` holding the migrated schema, copied from one migrated once.

    Alembic runs once per test session (into a template in a temporary folder); each test gets
    its own copy, made with SQLite's backup API so the copy is consistent whatever the journal
    mode. Building the template runs every migration on SQLite; the storage tests still run
    them on PostgreSQL for each test, and test_storage downgrades to base and migrates again.
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
    target = folder / name
    with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    # `with` on a sqlite3 connection only commits; closing is explicit.
    source.close()
    copy.close()
    return target
