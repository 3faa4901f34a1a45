"""Report aggregates, on SQLite and on the real PostgreSQL: counts per group, computed in SQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.core.campaigns import CampaignKind
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import MemberStatus
from bot.core.reports import AnswerCount, Breakdown, MemberCount, Period, UpdateCount
from handlers.campaigns import send_to_each
from storage.store import SqlStore
from storage.tables import outbox_t
from tests.support.reports import seed_members, seed_survey, seed_updates


def counts(rows: list[AnswerCount], question: str) -> dict[tuple[str, str], int]:
    return {(r.group, r.option): r.count for r in rows if r.question == question}


async def test_survey_answers_are_counted_per_question_option_and_group(
    store: SqlStore, clock: FixedClock
) -> None:
    survey = await seed_survey(store, clock.now(), {"IQ": 6, "SY": 3})
    async with store.transaction() as tx:
        reports = tx.reports
        everyone = await reports.survey_counts(survey.id, Breakdown.NONE)
        by_country = await reports.survey_counts(survey.id, Breakdown.COUNTRY)
        by_sphere = await reports.survey_counts(survey.id, Breakdown.SPHERE)
        by_language = await reports.survey_counts(survey.id, Breakdown.LANGUAGE)
        by_week = await reports.survey_counts(survey.id, Breakdown.WEEK)
        by_month = await reports.survey_counts(survey.id, Breakdown.MONTH)
        by_gender = await reports.survey_counts(survey.id, Breakdown.GENDER)
        assert await reports.survey_responses(survey.id) == 9
        assert await reports.survey_headcounts(survey.id, Breakdown.COUNTRY) == {"IQ": 6, "SY": 3}
    # Respondent i says "yes" to the threat question when i % 3 == 0: 0, 3 in IQ; 6 in SY.
    assert counts(everyone, "threat") == {("", "yes"): 3, ("", "no"): 6}
    assert counts(by_country, "threat") == {
        ("IQ", "yes"): 2,
        ("IQ", "no"): 4,
        ("SY", "yes"): 1,
        ("SY", "no"): 2,
    }
    # Everyone works on youth; even-numbered respondents on violence against women too.
    assert counts(by_sphere, "threat") == {
        ("youth", "yes"): 3,
        ("youth", "no"): 6,
        ("vaw", "yes"): 2,
        ("vaw", "no"): 3,
    }
    assert {g for g, _ in counts(by_language, "threat")} == {"en", "ar", "fr"}
    # Released once for the whole survey: nothing is counted by time; a members' survey does
    # not count by gender (it does not declare it).
    assert by_week == by_month == by_gender == []
    # Scale answers count as options and carry their number; number answers only as a range
    # (0-31 in ranges of 7: 0-6 is "#0", 7-13 "#1"), never as the number itself.
    safe = {(r.option, r.number) for r in everyone if r.question == "safe"}
    assert safe == {(str(n), float(n)) for n in range(1, 6)}
    assert counts(everyone, "work") == {("", "#0"): 7, ("", "#1"): 2}
    # Free text is only ever counted: the text itself is not part of any aggregate.
    notes = [r for r in everyone if r.question == "note"]
    assert [(r.option, r.number, r.count) for r in notes] == [("", None, 3)]


async def test_closed_surveys_with_answers_are_listed_newest_first(
    store: SqlStore, clock: FixedClock
) -> None:
    first = await seed_survey(store, clock.now(), {"IQ": 2}, slug="first")
    clock.advance(timedelta(days=1))
    second = await seed_survey(store, clock.now(), {"IQ": 2}, slug="second")
    await seed_survey(store, clock.now(), {"IQ": 2}, slug="still-open", close=False)
    await seed_survey(store, clock.now(), {}, slug="unanswered")
    async with store.transaction() as tx:
        assert await tx.reports.closed_surveys() == [(second.id, "second"), (first.id, "first")]


async def test_update_counts_come_from_the_anonymous_tallies(
    store: SqlStore, clock: FixedClock
) -> None:
    [author] = await seed_members(store, clock.now(), {"IQ": 1})
    await seed_updates(store, clock.now(), author, {"IQ": 4, "LB": 2})
    async with store.transaction() as tx:
        by_country = await tx.reports.update_counts(Breakdown.COUNTRY, Period())
        by_sphere = await tx.reports.update_counts(Breakdown.SPHERE, Period())
        everyone = await tx.reports.update_counts(Breakdown.NONE, Period())
        by_week = await tx.reports.update_counts(Breakdown.WEEK, Period())
        later = Period(since=(clock.now() + timedelta(days=14)).date())
        none_later = await tx.reports.update_counts(Breakdown.COUNTRY, later)
    # Counted once per sphere: even-numbered updates are about youth and rights.
    assert set(by_country) == {
        UpdateCount("IQ", False, 4),
        UpdateCount("IQ", True, 2),
        UpdateCount("LB", False, 2),
        UpdateCount("LB", True, 1),
    }
    assert set(by_sphere) == {
        UpdateCount("youth", False, 4),
        UpdateCount("youth", True, 2),
        UpdateCount("rights", False, 2),
        UpdateCount("rights", True, 1),
    }
    assert set(everyone) == {UpdateCount("", False, 6), UpdateCount("", True, 3)}
    assert {c.group for c in by_week} == {
        (clock.now() - timedelta(days=clock.now().weekday())).date().isoformat()
    }
    assert none_later == []


async def test_membership_counts_active_members_by_group_and_sphere(
    store: SqlStore, clock: FixedClock
) -> None:
    await seed_members(store, clock.now(), {"IQ": 3, "SY": 2, "YE": 1})
    async with store.transaction() as tx:
        await tx.set_status(ChannelName.TELEGRAM, "5000005", MemberStatus.PAUSED)  # YE's only
        by_country = await tx.reports.membership_counts(Breakdown.COUNTRY)
        by_sphere = await tx.reports.membership_counts(Breakdown.SPHERE)
        by_language = await tx.reports.membership_counts(Breakdown.LANGUAGE)
    assert set(by_country) == {
        MemberCount("IQ", "youth", 3),
        MemberCount("IQ", "vaw", 1),
        MemberCount("SY", "youth", 2),
        MemberCount("SY", "vaw", 1),
    }
    assert set(by_sphere) == {MemberCount("youth", "youth", 5), MemberCount("vaw", "vaw", 2)}
    assert sum(c.count for c in by_language if c.sphere == "youth") == 5


async def test_delivery_counts_per_campaign_status_and_reason(
    store: SqlStore, clock: FixedClock
) -> None:
    ids = await seed_members(store, clock.now(), {"IQ": 3})
    async with store.transaction() as tx:
        messages = [(i, "telegram", "hello") for i in ids]
        await send_to_each(tx, CampaignKind.SURVEY, "results x", messages, clock.now())
        await tx.conn.execute(
            update(outbox_t)
            .where(outbox_t.c.member_id == ids[0])
            .values(status="unreachable", last_error="telegram 403: blocked")
        )
        await tx.conn.execute(
            update(outbox_t).where(outbox_t.c.member_id == ids[1]).values(status="sent")
        )
        rows = await tx.reports.delivery_counts()
    assert {(r.title, r.status, r.reason, r.count) for r in rows} == {
        ("results x", "unreachable", "telegram 403: blocked", 1),
        ("results x", "sent", "", 1),
        ("results x", "pending", "", 1),
    }


async def test_results_due_recipients_and_marking(store: SqlStore, clock: FixedClock) -> None:
    survey = await seed_survey(store, clock.now(), {"IQ": 2})
    ids = await seed_members(store, clock.now(), {"IQ": 2, "LB": 1})
    async with store.transaction() as tx:
        for member_id in ids:
            await tx.surveys.set_participation(survey.id, member_id, "completed")
        await tx.surveys.set_results_opt_in(survey.id, ids[0])
        await tx.surveys.set_results_opt_in(survey.id, ids[2])
        await tx.set_status(ChannelName.TELEGRAM, "5000002", MemberStatus.UNREACHABLE)
        assert await tx.reports.results_due() == [survey.id]
        recipients = await tx.reports.results_recipients(survey.id)
        assert [(r.member_id, r.country) for r in recipients] == [(ids[0], "IQ")]
        await tx.reports.mark_results_sent(survey.id, clock.now())
        assert await tx.reports.results_due() == []
