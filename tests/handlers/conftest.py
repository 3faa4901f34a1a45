"""Handler tests: the real core, router and SQLite storage, a recording channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs, native_language_name
from bot.core.models import Role
from bot.core.spheres import SPHERE_BY_CODE
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
def three_languages(db: SqlStore) -> Harness:
    """A bot speaking only English, Arabic and French: for flows whose menus list every
    language (a second language, a campaign's languages), in a size a test can spell out.
    The menus among all thirteen are tested in test_languages.py."""
    return Harness(db, build_router(), catalogs=Catalogs(supported=("en", "ar", "fr")))


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
    second: str | None = None,
) -> None:
    """Walk a person through onboarding, tapping buttons by what they say in her language
    (a `second` language she reads, or Skip)."""
    _ = person.h.catalogs.get(locale)
    await person.say(f"/start {code}".strip())
    await person.tap(native_language_name(locale))
    await person.tap(native_language_name(second) if second else _("Skip"))
    await person.tap(_("I accept"))
    if _("Another country") in person.labels():
        name = _.country_name(country)
        if name not in person.labels():  # not on the alliance's list: search for it by name
            await person.tap(_("Another country"))
            await person.say(name)
        await person.tap(name)
    for sphere in spheres:
        await person.tap(_(SPHERE_BY_CODE[sphere].label))
    await person.tap(_("Done"))
