"""Report aggregates, on SQLite and on the real PostgreSQL: counts per group, computed in SQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text, update

from bot.core.campaigns import CampaignKind
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import MemberStatus
from bot.core.reports import (
    ALL_SPHERES,
    KEY_SPACE,
    AnswerCount,
    Breakdown,
    CalendarPeriod,
    MemberCount,
    PeriodKind,
)
from bot.services.notices import send_each
from storage.engine import downgrade, migrate
from storage.store import SqlStore
from storage.tables import member_t, outbox_t
from tests.support.reports import LOCALES, seed_members, seed_survey, seed_updates


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


def week_of_now(clock: FixedClock, weeks: int = 0) -> CalendarPeriod:
    """The calendar week of the clock's day (moved by `weeks`), built directly: storage
    filters whatever period it is given, complete or not."""
    monday = clock.now().date() - timedelta(days=clock.now().weekday()) + timedelta(weeks=weeks)
    label = CalendarPeriod.label_of(PeriodKind.WEEK, monday)
    return CalendarPeriod(PeriodKind.WEEK, label, monday, monday + timedelta(weeks=1))


async def test_update_counts_come_from_the_anonymous_tallies(
    store: SqlStore, clock: FixedClock
) -> None:
    [author] = await seed_members(store, clock.now(), {"IQ": 1})
    await seed_updates(store, clock.now(), author, {"IQ": 4, "LB": 2})
    async with store.transaction() as tx:
        tallies = await tx.reports.update_counts(week_of_now(clock))
        none_later = await tx.reports.update_counts(week_of_now(clock, weeks=2))
        none_before = await tx.reports.update_counts(week_of_now(clock, weeks=-1))
    week = week_of_now(clock).first_week
    assert {t.week for t in tallies} == {week}
    found = {(t.country, t.sphere, t.urgent): t for t in tallies}
    # "*" counts each update once; the spheres once per sphere (even ones are also rights).
    assert {key: t.count for key, t in found.items()} == {
        ("IQ", ALL_SPHERES, False): 3,
        ("IQ", ALL_SPHERES, True): 1,
        ("LB", ALL_SPHERES, False): 1,
        ("LB", ALL_SPHERES, True): 1,
        ("IQ", "youth", False): 3,
        ("IQ", "youth", True): 1,
        ("LB", "youth", False): 1,
        ("LB", "youth", True): 1,
        ("IQ", "rights", False): 1,
        ("IQ", "rights", True): 1,
        ("LB", "rights", False): 1,
    }
    # Every update is about youth: the same updates, so the same key sum.
    for (country, sphere, urgent), t in found.items():
        if sphere == "youth":
            assert t.key == found[(country, ALL_SPHERES, urgent)].key
    assert none_later == [] and none_before == []


async def test_membership_counts_active_members_who_joined_in_the_period(
    store: SqlStore, clock: FixedClock
) -> None:
    await seed_members(store, clock.now(), {"IQ": 3, "SY": 2, "YE": 1})
    async with store.transaction() as tx:
        await tx.members.set_status(
            ChannelName.TELEGRAM, "5000005", MemberStatus.PAUSED
        )  # YE's only
        groups = await tx.reports.membership_counts(week_of_now(clock))
        before = await tx.reports.membership_counts(week_of_now(clock, weeks=-1))
        keys = dict(
            (await tx.conn.execute(select(member_t.c.platform_id, member_t.c.record_key))).all()
        )
    # seed_members: member i speaks LOCALES[i % 3] and works on youth, and vaw when i is odd.
    countries = {5000000: "IQ", 5000001: "IQ", 5000002: "IQ", 5000003: "SY", 5000004: "SY"}
    expected = [
        MemberCount(
            country,
            LOCALES[i % 3],
            "telegram",
            frozenset({"youth", "vaw"} if i % 2 else {"youth"}),
            1,
            keys[str(i)],
        )
        for i, country in countries.items()
    ]
    order = lambda g: (g.country, g.locale)  # noqa: E731
    assert sorted(groups, key=order) == sorted(expected, key=order), "one group each: all differ"
    assert len(set(keys.values())) == len(keys), "every member has her own random key"
    assert before == []


async def test_delivery_counts_per_campaign_status_and_reason(
    store: SqlStore, clock: FixedClock
) -> None:
    ids = await seed_members(store, clock.now(), {"IQ": 3})
    async with store.transaction() as tx:
        messages = [(i, "telegram", "hello") for i in ids]
        await send_each(tx, CampaignKind.SURVEY, "results x", messages, clock.now())
        await tx.conn.execute(
            update(outbox_t)
            .where(outbox_t.c.member_id == ids[0])
            .values(status="unreachable", last_error="telegram 403: blocked")
        )
        await tx.conn.execute(
            update(outbox_t).where(outbox_t.c.member_id == ids[1]).values(status="sent")
        )
        rows = await tx.reports.delivery_counts(week_of_now(clock))
        earlier = await tx.reports.delivery_counts(week_of_now(clock, weeks=-1))
        keys = dict((await tx.conn.execute(select(member_t.c.id, member_t.c.record_key))).all())
    assert {(r.title, r.status, r.reason, r.count, r.key) for r in rows} == {
        ("results x", "unreachable", "telegram 403: blocked", 1, keys[ids[0]]),
        ("results x", "sent", "", 1, keys[ids[1]]),
        ("results x", "pending", "", 1, keys[ids[2]]),
    }
    assert earlier == [], "the campaign was created this week"


async def test_results_due_recipients_and_marking(store: SqlStore, clock: FixedClock) -> None:
    survey = await seed_survey(store, clock.now(), {"IQ": 2})
    ids = await seed_members(store, clock.now(), {"IQ": 2, "LB": 1})
    async with store.transaction() as tx:
        for member_id in ids:
            await tx.surveys.set_participation(survey.id, member_id, "completed")
        await tx.surveys.set_results_opt_in(survey.id, ids[0])
        await tx.surveys.set_results_opt_in(survey.id, ids[2])
        await tx.members.set_status(ChannelName.TELEGRAM, "5000002", MemberStatus.UNREACHABLE)
        assert await tx.reports.results_due() == [survey.id]
        recipients = await tx.reports.results_recipients(survey.id)
        assert [(r.member_id, r.country) for r in recipients] == [(ids[0], "IQ")]
        await tx.reports.mark_results_sent(survey.id, clock.now())
        assert await tx.reports.results_due() == []


async def test_the_migration_gives_existing_members_and_tallies_their_keys(
    store: SqlStore, clock: FixedClock
) -> None:
    await seed_members(store, clock.now(), {"IQ": 1})
    await downgrade(store.engine, "0008")
    async with store.engine.begin() as conn:
        for n in range(3):
            await conn.execute(
                text(
                    "INSERT INTO member (channel, platform_id, chat_id, locale, country, role, "
                    "status, consent_version, consented_at, joined_at, last_seen_at) VALUES "
                    "('telegram', :pid, :pid, 'en', 'SY', 'member', 'active', 'v', :at, :at, :at)"
                ),
                {"pid": f"old-{n}", "at": clock.now()},
            )
        for sphere, count in (("youth", 4), ("rights", 2)):
            await conn.execute(
                text(
                    "INSERT INTO update_tally (country, sphere, week, urgent, count) VALUES "
                    "('IQ', :sphere, '2026-11-02', false, :count)"
                ),
                {"sphere": sphere, "count": count},
            )
    await migrate(store.engine)
    async with store.transaction() as tx:
        keys = (await tx.conn.execute(select(member_t.c.record_key))).scalars().all()
        period = CalendarPeriod(PeriodKind.WEEK, "2026-W45", date(2026, 11, 2), date(2026, 11, 9))
        tallies = {t.sphere: t for t in await tx.reports.update_counts(period)}
    assert len(keys) == 4 and len(set(keys)) == 4, "every member her own random key"
    assert tallies[ALL_SPHERES].count == 4, "at least as many updates as the largest sphere"
    assert {t.count for t in tallies.values()} == {4, 2}
    assert all(0 <= t.key < KEY_SPACE for t in tallies.values())
    await downgrade(store.engine, "0008")
    await migrate(store.engine)
