"""Finished questionnaires wait in their authors' conversation states, then are counted k at a
time (the fold): no survey table is written with a participation, and no counter of a group is
added to with fewer than k of that group. On SQLite and the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.reports import Breakdown
from bot.core.surveys import Dimensions, Survey, parse_definition
from bot.services.surveys import Chat, close_due_surveys, flush_survey_pools, hand_in
from storage.engine import downgrade, migrate
from storage.store import SqlStore
from storage.tables import count_t, participation_t, state_t, text_t
from tests.support.surveys import pulse

K = 5


async def survey_and_members(
    store: SqlStore, clock: FixedClock, countries: list[str]
) -> tuple[Survey, list[int]]:
    now = clock.now()
    definition = parse_definition(pulse(), ("en", "ar", "fr"))
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
        members = [
            await tx.members.create(
                NewMember(
                    ChannelName.TELEGRAM, str(800 + i), str(800 + i), "en", country, ["youth"],
                    Role.MEMBER, "v", now,
                ),
                now,
            )
            for i, country in enumerate(countries)
        ]  # fmt: skip
        survey = await tx.surveys.get(survey_id)
    assert survey is not None
    return survey, [m.id for m in members]


async def finish(
    store: SqlStore, clock: FixedClock, survey: Survey, member_id: int, country: str, i: int
) -> None:
    """What the survey conversation does when she answers the last question."""
    dims = Dimensions("en", "telegram", country, ("youth",))
    answers = {"safe": 1 + i % 5, "threat": "no", "work": i, "note": f"remark {i}"}
    async with store.transaction() as tx:
        await hand_in(
            tx,
            survey,
            answers,
            dims,
            Chat("telegram", str(800 + i)),
            member_id=member_id,
            digest=None,
            now=clock.now(),
        )


async def count(store: SqlStore, table: object, *where: object) -> int:
    async with store.transaction() as tx:
        query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        return int((await tx.conn.execute(query)).scalar_one())


async def headcounts(store: SqlStore, survey: Survey, by: Breakdown) -> dict[str, int]:
    async with store.transaction() as tx:
        return await tx.reports.survey_headcounts(survey.id, by)


async def test_answers_wait_in_her_state_for_2k_then_k_are_counted(
    store: SqlStore, clock: FixedClock
) -> None:
    """Promise 1: no survey table holds one person's answers; they wait in her state."""
    survey, members = await survey_and_members(store, clock, ["IQ"] * (2 * K + 1))
    for i, member_id in enumerate(members[: 2 * K - 1]):
        await finish(store, clock, survey, member_id, "IQ", i)
    assert await flush_survey_pools(store, K) == 0, "2k - 1 waiting: nothing yet"
    assert await count(store, count_t) == await count(store, text_t) == 0
    pending = state_t.c.survey_pending.is_not(None)
    assert await count(store, state_t, pending) == 2 * K - 1
    async with store.transaction() as tx:
        assert await tx.surveys.counts(survey.id) == (2 * K - 1, 2 * K - 1), "waiting count"

    await finish(store, clock, survey, members[2 * K - 1], "IQ", 2 * K - 1)
    assert await flush_survey_pools(store, K) == K, "k counted, k kept back at random"
    assert await headcounts(store, survey, Breakdown.NONE) == {"": K}
    assert await headcounts(store, survey, Breakdown.COUNTRY) == {"IQ": K}
    assert await count(store, state_t, pending) == K, "the counted are erased from states"
    assert await count(store, text_t) == K, "free text goes apart, with the overall count"
    async with store.transaction() as tx:
        assert await tx.surveys.counts(survey.id) == (2 * K, 2 * K)

    await finish(store, clock, survey, members[2 * K], "IQ", 2 * K)
    assert await close_due_surveys(store, clock.now() + timedelta(days=8), K) == [survey.id]
    assert await count(store, state_t, pending) == 0
    assert await headcounts(store, survey, Breakdown.COUNTRY) == {"IQ": 2 * K + 1}
    async with store.transaction() as tx:
        safe = {
            c.option: c.count
            for c in await tx.reports.survey_counts(survey.id, Breakdown.NONE)
            if c.question == "safe"
        }
        statuses = set(
            (await tx.conn.execute(select(participation_t.c.status).distinct())).scalars()
        )
    assert sum(safe.values()) == 2 * K + 1 and set(safe) == {"1", "2", "3", "4", "5"}
    assert statuses == {"took_part"}, "after close, nobody's row says whether she finished"


async def test_a_group_smaller_than_k_is_never_counted_apart(
    store: SqlStore, clock: FixedClock
) -> None:
    """Promise 1: a lone Yemeni respondent is counted overall, never as "YE: 1"."""
    countries = ["IQ"] * (2 * K) + ["YE"]
    survey, members = await survey_and_members(store, clock, countries)
    for i, (member_id, country) in enumerate(zip(members, countries, strict=True)):
        await finish(store, clock, survey, member_id, country, i)
    assert await flush_survey_pools(store, K) == K + 1
    assert await close_due_surveys(store, clock.now() + timedelta(days=8), K) == [survey.id]
    assert await headcounts(store, survey, Breakdown.NONE) == {"": 2 * K + 1}
    assert await headcounts(store, survey, Breakdown.COUNTRY) == {"IQ": 2 * K}
    assert await count(store, count_t, count_t.c.value == "YE") == 0
    # The check can fail: counted with all its groups at once, "YE" would be there.
    async with store.transaction() as tx:
        await tx.surveys.add_counts(survey, [({"safe": 3}, "country", "YE")], [])
    assert await count(store, count_t, count_t.c.value == "YE") > 0


async def test_no_transaction_id_ties_a_counter_to_a_participation(
    store: SqlStore, clock: FixedClock
) -> None:
    """Promise 1 (PostgreSQL's xmin): counters and participations never share a transaction;
    on SQLite the survey tables are WITHOUT ROWID (no physical order that follows arrival)."""
    survey, members = await survey_and_members(store, clock, ["IQ"] * (2 * K))
    for i, member_id in enumerate(members):
        await finish(store, clock, survey, member_id, "IQ", i)
    assert await flush_survey_pools(store, K) == K
    if store.engine.dialect.name != "postgresql":
        async with store.engine.connect() as conn:
            for name in ("survey_count", "survey_text"):
                sql = await conn.scalar(
                    text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": name}
                )
                assert "WITHOUT ROWID" in str(sql).upper()
        return
    async with store.transaction() as tx:
        counters = set(
            (await tx.conn.execute(text("SELECT xmin::text FROM survey_count"))).scalars()
        )
        texts = set((await tx.conn.execute(text("SELECT xmin::text FROM survey_text"))).scalars())
        authors = set(
            (await tx.conn.execute(text("SELECT xmin::text FROM survey_participation"))).scalars()
        )
        states = list(
            (await tx.conn.execute(text("SELECT xmin::text FROM conversation_state"))).scalars()
        )
    assert len(counters) == 1 and texts == counters, "one batch, one transaction"
    assert not counters & authors, "no counter shares a transaction with a participation"
    assert not set(states) & counters, "the batch's states were rewritten after the fold"


async def test_the_migration_counts_old_responses_and_drops_small_groups(
    store: SqlStore, clock: FixedClock
) -> None:
    """Old per-respondent rows become counters; groups under k are not carried over."""
    survey, _ = await survey_and_members(store, clock, [])
    await downgrade(store.engine, "0008")
    async with store.engine.begin() as conn:
        for i in range(K + 1):
            response = f"r{i}"
            country = "YE" if i == K else "IQ"
            await conn.execute(
                text(
                    "INSERT INTO survey_response (id, survey_id, complete, country, locale, "
                    "channel, week) VALUES (:id, :survey, true, :country, 'en', 'telegram', "
                    "'2026-11-23')"
                ),
                {"id": response, "survey": survey.id, "country": country},
            )
            await conn.execute(
                text("INSERT INTO survey_response_sphere VALUES (:id, 'youth')"), {"id": response}
            )
            for question, option, number, remark in (
                ("threat", "no", None, None),
                ("work", "", 3.0, None),
                ("note", "", None, f"old remark {i}"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO survey_answer (response_id, question, option, survey_id, "
                        "number, text, locale, channel, week) VALUES (:id, :q, :o, :survey, :n, "
                        ":t, 'en', 'telegram', '2026-11-23')"
                    ),
                    {"id": response, "q": question, "o": option, "survey": survey.id,
                     "n": number, "t": remark},
                )  # fmt: skip
    await migrate(store.engine)
    assert await headcounts(store, survey, Breakdown.NONE) == {"": K + 1}
    assert await headcounts(store, survey, Breakdown.COUNTRY) == {"IQ": K}, "YE: 1 dropped"
    assert await headcounts(store, survey, Breakdown.SPHERE) == {"youth": K + 1}
    async with store.transaction() as tx:
        work = [c for c in await tx.reports.survey_counts(survey.id, Breakdown.NONE)
                if c.question == "work"]  # fmt: skip
        remarks = await tx.reports.survey_texts(survey.id, K)
    assert [(c.option, c.count) for c in work] == [("#0", K + 1)], "the number as its range"
    assert sorted(t for _q, t in remarks) == sorted(f"old remark {i}" for i in range(K + 1))
