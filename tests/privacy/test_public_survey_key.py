"""Promise 5: a database copy alone reverses nothing.

Public-survey respondents are remembered by a keyed hash of their platform id until the close.
The attack that worked before: take the key from the database and hash every candidate id in a
range (14 of 14 respondents recovered). Here the attacker holds every row of every table and
all candidate ids, tries every value in the copy as the key, and matches no one; only the key
kept outside the database (WASL_SECRET_KEY) would match them, and after the close not even that.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.core import keys
from bot.core.context import CoreConfig
from bot.core.surveys import parse_definition
from bot.services.surveys import close_due_surveys
from handlers import build_router
from storage.store import SqlStore
from storage.tables import metadata, public_seen_t, survey_t
from tests.support.harness import Harness
from tests.support.surveys import pulse

CANDIDATES = range(5_000, 5_400)  # the attacker knows respondents' ids lie in this range


async def database_copy(store: SqlStore) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as someone holding a copy of the database reads it."""
    async with store.transaction() as tx:
        return {
            t.name: [dict(r._mapping) for r in await tx.conn.execute(select(t))]
            for t in metadata.sorted_tables
        }


def values(copy: dict[str, list[dict[str, Any]]]) -> Iterator[bytes]:
    """Every text or bytes value in the copy, as raw bytes and, when it is hex, decoded."""
    for rows in copy.values():
        for row in rows:
            for value in row.values():
                if isinstance(value, bytes):
                    yield value
                elif isinstance(value, str) and value:
                    yield value.encode()
                    with contextlib.suppress(ValueError):
                        yield bytes.fromhex(value)


def matched(digests: set[str], key: bytes, salt: str | None = None) -> set[int]:
    """Candidate ids whose hash under `key` (or under the survey key derived from `key` and
    `salt`) is among the stored digests."""
    if salt is not None:
        key = keys.derive(key, "public-survey-respondent", salt)
    return {i for i in CANDIDATES if keys.keyed_hash(key, f"telegram:{i}") in digests}


async def answer(h: Harness, sid: int, user_id: int) -> None:
    she = h.person(str(user_id), "en")
    await she.say("/start s_voices-iq")
    for label in ("English", "Yes, start", "Iraq", "25–30", "Woman"):
        await she.tap(label)
    await she.tap("4")
    await she.tap("No")
    await she.say("2")
    await she.tap("Skip")


async def test_a_database_copy_and_every_candidate_id_match_no_respondent(
    store: SqlStore,
) -> None:
    master = keys.decode(keys.generate())  # WASL_SECRET_KEY: never written to the database
    h = Harness(store, build_router(), config=CoreConfig(secret_key=master))
    async with store.transaction() as tx:
        now = h.clock.now()
        definition = parse_definition(pulse("voices-iq", mode="public"), ("en", "ar", "fr"))
        sid, _ = await tx.surveys.upsert(definition, now, now + timedelta(days=3), now)
    respondents = set(random.Random(14).sample(CANDIDATES, 14))  # noqa: S311 (ids, not keys)
    for user_id in respondents:
        await answer(h, sid, user_id)

    copy = await database_copy(store)
    digests = {r["digest"] for r in copy[public_seen_t.name]}
    assert len(digests) == 14, "each respondent is remembered, to stop a second answer"
    [survey] = copy[survey_t.name]
    salt = survey["respondent_salt"]
    assert salt, "the survey's salt is stored with it while it is open"
    assert "app_secret" not in copy, "no key table any more"

    tried = 0
    for candidate_key in values(copy):
        tried += 1
        assert matched(digests, candidate_key) == set()
        assert matched(digests, candidate_key, salt) == set()
    assert tried > 100, "the attacker tried every value in the copy"
    another_installation = keys.decode(keys.generate())
    assert matched(digests, another_installation, salt) == set()
    # The key kept outside the database is what it would take (the attack itself is sound).
    assert matched(digests, master, salt) == respondents

    h.clock.advance(timedelta(days=4))
    assert await close_due_surveys(store, h.clock.now()) == [sid]
    after = await database_copy(store)
    assert after[public_seen_t.name] == [], "the hashes are gone"
    assert after[survey_t.name][0]["respondent_salt"] is None, "and the salt they were made with"
    async with store.transaction() as tx:
        assert await tx.surveys.respondent_salt(sid) is None, "and is never made again"
    assert salt not in {v for v in values(after)}
