"""Finished questionnaires are pooled, then stored k at a time in random order, so that no
trace of the write (on PostgreSQL the transaction id, xmin) ties an answer to its author."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from bot.core.clock import FixedClock, week_of
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.reports import Breakdown, Period
from bot.core.surveys import Dimensions, Survey, parse_definition
from handlers.common import SPHERES
from handlers.surveys import close_due_surveys, flush_survey_pools
from storage.engine import downgrade, migrate
from storage.store import SqlStore
from storage.tables import SPHERE_BITS, answer_t, pool_t, response_t
from tests.support.surveys import pulse

K = 5


async def survey_and_members(
    store: SqlStore, clock: FixedClock, n: int
) -> tuple[Survey, list[int]]:
    now = clock.now()
    definition = parse_definition(pulse(), ("en", "ar", "fr"))
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
        members = [
            await tx.create_member(
                NewMember(
                    ChannelName.TELEGRAM, str(800 + i), str(800 + i), "en", "IQ", ["youth"],
                    Role.MEMBER, "v", now,
                ),
                now,
            )
            for i in range(n)
        ]  # fmt: skip
        survey = await tx.surveys.get(survey_id)
    assert survey is not None
    return survey, [m.id for m in members]


async def finish(
    store: SqlStore, clock: FixedClock, survey: Survey, member_id: int, i: int
) -> None:
    """What the survey conversation does when she answers the last question."""
    dims = Dimensions("en", "telegram", week_of(clock.now()), "IQ", ("youth",))
    async with store.transaction() as tx:
        await tx.surveys.pool_response(survey, {"safe": 1 + i % 5, "threat": "no"}, dims)
        await tx.surveys.set_participation(survey.id, member_id, "completed")


async def count(store: SqlStore, table: object) -> int:
    async with store.transaction() as tx:
        return int(
            (await tx.conn.execute(select(func.count()).select_from(table))).scalar_one()  # type: ignore[arg-type]
        )


async def test_answers_wait_for_k_then_go_together(store: SqlStore, clock: FixedClock) -> None:
    survey, members = await survey_and_members(store, clock, K + 1)
    for i, member_id in enumerate(members[: K - 1]):
        await finish(store, clock, survey, member_id, i)
    async with store.transaction() as tx:
        assert await tx.surveys.pooled(K) == []
        assert await tx.surveys.flush_pool(survey, at_least=K) == 0
        assert await tx.surveys.counts(survey.id) == (K - 1, K - 1), "pooled answers count"
    assert (await count(store, response_t), await count(store, pool_t)) == (0, K - 1)

    await finish(store, clock, survey, members[K - 1], K - 1)
    async with store.transaction() as tx:
        assert await tx.surveys.pooled(K) == [survey.id]
        assert await tx.surveys.flush_pool(survey, at_least=K) == K
    assert (await count(store, response_t), await count(store, pool_t)) == (K, 0)
    assert await count(store, answer_t) == 2 * K
    async with store.transaction() as tx:
        assert await tx.surveys.counts(survey.id) == (K, K)
        safe = await tx.conn.execute(
            select(answer_t.c.option, func.count())
            .where(answer_t.c.question == "safe")
            .group_by(answer_t.c.option)
        )
        assert dict(safe.all()) == {str(n): 1 for n in range(1, 6)}, "nothing lost in the move"

    await finish(store, clock, survey, members[K], K)  # one more, alone: it waits
    assert await count(store, pool_t) == 1


async def test_no_transaction_id_ties_an_answer_to_its_author(
    store: SqlStore, clock: FixedClock
) -> None:
    survey, members = await survey_and_members(store, clock, K + 1)
    for i, member_id in enumerate(members[:K]):
        await finish(store, clock, survey, member_id, i)
    async with store.transaction() as tx:
        assert await tx.surveys.flush_pool(survey, at_least=K) == K
    if store.engine.dialect.name != "postgresql":
        # SQLite has no transaction ids on rows; the tables are WITHOUT ROWID, ordered by
        # their random ids, so not even the physical order follows the order of answering.
        async with store.engine.connect() as conn:
            sql = await conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE name IN ('survey_response')")
            )
        assert "WITHOUT ROWID" in str(sql).upper()
        return
    async with store.transaction() as tx:
        responses = set(
            (await tx.conn.execute(text("SELECT xmin::text FROM survey_response"))).scalars()
        )
        answers = set(
            (await tx.conn.execute(text("SELECT xmin::text FROM survey_answer"))).scalars()
        )
        authors = set(
            (await tx.conn.execute(text("SELECT xmin::text FROM survey_participation"))).scalars()
        )
    assert len(responses) == 1 and answers == responses, "one batch, one transaction"
    assert not responses & authors, "no answer shares a transaction with a participation"

    # The check can fail: an answer stored with its participation, as before the pool, does.
    dims = Dimensions("en", "telegram", week_of(clock.now()), "IQ", ("youth",))
    async with store.transaction() as tx:
        await tx.surveys.save_response(survey, {"safe": 3, "threat": "no"}, dims)
        await tx.surveys.set_participation(survey.id, members[K], "completed")
    async with store.transaction() as tx:
        linked = (
            await tx.conn.execute(
                text(
                    "SELECT count(*) FROM survey_response r JOIN survey_participation p "
                    "ON r.xmin = p.xmin"
                )
            )
        ).scalar_one()
    assert linked == 1


async def test_the_job_keeps_k_back_so_the_last_batch_has_k_too(
    store: SqlStore, clock: FixedClock
) -> None:
    survey, members = await survey_and_members(store, clock, 2 * K + 2)
    for i, member_id in enumerate(members[: 2 * K - 1]):
        await finish(store, clock, survey, member_id, i)
    assert await flush_survey_pools(store, K) == 0, "2k - 1 waiting: nothing yet"
    await finish(store, clock, survey, members[2 * K - 1], 2 * K - 1)
    assert await flush_survey_pools(store, K) == K
    assert (await count(store, response_t), await count(store, pool_t)) == (K, K)
    await finish(store, clock, survey, members[2 * K], 2 * K)  # one more, late
    assert await close_due_surveys(store, clock.now() + timedelta(days=8)) == [survey.id]
    assert (await count(store, response_t), await count(store, pool_t)) == (2 * K + 1, 0)
    async with store.transaction() as tx:
        assert await tx.surveys.counts(survey.id) == (2 * K + 1, 2 * K + 1)
    # One that finished as the survey was closing is not left behind by the next run of the job.
    await finish(store, clock, survey, members[2 * K + 1], 2 * K + 1)
    assert await flush_survey_pools(store, K) == 1
    assert (await count(store, response_t), await count(store, pool_t)) == (2 * K + 2, 0)


def test_every_sphere_has_its_own_bit() -> None:
    codes = [s.code for s in SPHERES]
    assert sorted(SPHERE_BITS) == sorted(codes), "a new sphere needs a bit in SPHERE_BITS"
    bits = list(SPHERE_BITS.values())
    assert len(set(bits)) == len(bits) and all(b > 0 and b & (b - 1) == 0 for b in bits)


async def test_the_migration_fills_the_spheres_of_answers_already_stored(
    store: SqlStore, clock: FixedClock
) -> None:
    survey, _ = await survey_and_members(store, clock, 0)
    await downgrade(store.engine, "0007")
    async with store.engine.begin() as conn:
        for response, spheres in (("r1", ["youth", "vaw"]), ("r2", []), ("r3", ["media"])):
            await conn.execute(
                text(
                    "INSERT INTO survey_response (id, survey_id, complete, locale, channel, week) "
                    "VALUES (:id, :survey, true, 'en', 'telegram', '2026-11-23')"
                ),
                {"id": response, "survey": survey.id},
            )
            for sphere in spheres:
                await conn.execute(
                    text("INSERT INTO survey_response_sphere VALUES (:id, :sphere)"),
                    {"id": response, "sphere": sphere},
                )
            await conn.execute(
                text(
                    "INSERT INTO survey_answer (response_id, question, option, survey_id, locale, "
                    "channel, week) VALUES (:id, 'threat', 'no', :survey, 'en', 'telegram', "
                    "'2026-11-23')"
                ),
                {"id": response, "survey": survey.id},
            )
    await migrate(store.engine)
    async with store.transaction() as tx:
        masks = dict(
            (await tx.conn.execute(select(answer_t.c.response_id, answer_t.c.spheres))).all()
        )
        by_sphere = await tx.reports.survey_counts(survey.id, Breakdown.SPHERE, Period())
    assert masks == {"r1": 1 + 16, "r2": 0, "r3": 64}
    assert {(c.group, c.count) for c in by_sphere} == {("youth", 1), ("vaw", 1), ("media", 1)}
