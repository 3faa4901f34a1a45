"""Promise 1 (docs/privacy.md), seen in the schema and the rows: answers given through the
real survey conversation are stored with no path to the member who gave them, and are counted
only in batches of at least k. (Moved here from the handler tests: it reads the tables.)"""

from __future__ import annotations

from sqlalchemy import inspect, select

from handlers import build_router
from storage.store import SqlStore
from storage.tables import count_t, metadata, participation_t, state_t, text_t
from tests.handlers.test_surveys import CATALOGS, LOCALES, counted, load, member, mix
from tests.support.harness import Harness


async def table(h: Harness, t: object) -> list[dict[str, object]]:
    async with h.store.transaction() as tx:
        query = select(t)  # type: ignore[call-overload]
        return [dict(r._mapping) for r in await tx.conn.execute(query)]


async def waiting(h: Harness) -> list[object]:
    """The finished questionnaires waiting in their authors' states."""
    return [r["survey_pending"] for r in await table(h, state_t) if r["survey_pending"]]


async def test_answers_cannot_be_linked_to_a_member(store: SqlStore) -> None:
    """The schema has no path from an answer to a person, and the rows carry nothing that
    names her: no member id, chat id, platform id or exact time."""
    harness = Harness(store, build_router())
    sid = await load(harness)
    people = [await member(harness, f"7000{i}", LOCALES[i % 3]) for i in range(1, 7)]
    for i, she in enumerate(people):
        _ = CATALOGS.get(she.language or "en")
        await she.say("/survey pulse-test")
        await she.tap(str(1 + i % 5))
        await she.tap(_("No"))
        await she.say(str(i))
        await she.tap(_("Skip"))
    assert await mix(harness, k=5) == 0, "six waiting: fewer than 2k"
    assert await mix(harness, k=3) == 3, "a batch of k goes, k chosen at random wait"
    overall = [w for w in await waiting(harness) if "none" in w[str(sid)]["g"]]  # type: ignore[index]
    assert len(overall) == 3, "three wait for the overall count"
    languages = [w[str(sid)]["g"].get("language") for w in await waiting(harness)]  # type: ignore[index]
    assert len(languages) == 6 and all(languages), "two per language: no language group yet"
    assert await mix(harness) == 3
    async with harness.store.engine.connect() as conn:

        def foreign_keys(sync_conn):  # type: ignore[no-untyped-def]
            inspector = inspect(sync_conn)
            return {
                name: [
                    (fk["referred_table"], fk["constrained_columns"])
                    for fk in inspector.get_foreign_keys(name)
                ]
                for name in ("survey_count", "survey_text")
            }

        fks = await conn.run_sync(foreign_keys)
    referred = {t for keys in fks.values() for t, _ in keys}
    assert referred == {"survey"}, "answers point only at the survey"
    for name in ("survey_count", "survey_text"):
        columns = set(metadata.tables[name].columns.keys())
        assert not columns & {"member_id", "chat_id", "platform_id", "created_at", "at", "week"}
        assert not any("time" in c or c.endswith("_at") for c in columns)
    identifiers = {p.user_id for p in people}
    for row in await table(harness, count_t) + await table(harness, text_t):
        assert not {str(v) for v in row.values()} & identifiers
    assert ("", "", "", 6) in await counted(harness, sid), "six people, counted together"
    participation = await table(harness, participation_t)
    assert set(participation[0]) == {
        "survey_id",
        "member_id",
        "status",
        "reminders_sent",
        "results_opt_in",
    }, "participation says who, never what"
