"""Handler tests: the real core, router and SQLite storage, a recording channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.context import CoreConfig
from bot.core.models import Role
from handlers import build_router
from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.database import migrated_sqlite_file
from tests.support.harness import Harness, Person


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A migrated SQLite file of its own (a copy of the schema migrated once per session)."""
    path = await asyncio.to_thread(migrated_sqlite_file, tmp_path)
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    yield store
    await store.close()


@pytest.fixture
def harness(db: SqlStore) -> Harness:
    return Harness(db, build_router())


@pytest.fixture
def open_harness(db: SqlStore) -> Harness:
    return Harness(db, build_router(), config=CoreConfig(open_join=True))


async def make_invite(
    h: Harness,
    code: str = "invite-abc",
    *,
    role: Role = Role.MEMBER,
    country: str | None = None,
    uses: int = 1,
    expires_in: timedelta | None = timedelta(days=7),
) -> str:
    async with h.store.transaction() as tx:
        await tx.invites.create(
            code=code,
            role=role,
            country=country,
            uses=uses,
            expires_at=h.clock.now() + expires_in if expires_in else None,
            created_by="test",
            now=h.clock.now(),
        )
    return code


async def join(
    person: Person,
    code: str = "",
    *,
    locale: str = "en",
    country: str = "IQ",
    spheres: tuple[str, ...] = ("youth",),
) -> None:
    """Walk a person through onboarding with buttons."""
    await person.say(f"/start {code}".strip())
    await person.press(f"ob:lang:{locale}")
    await person.press("ob:values:yes")
    if any(p.startswith("ob:country:") for p in (b.payload for b in person.last.buttons)):
        await person.press(f"ob:country:{country}")
    for sphere in spheres:
        await person.press(f"ob:sph:{sphere}")
    await person.press("ob:sph:done")
