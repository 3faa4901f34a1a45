"""Country briefs and survey trends, built on SQLite and PostgreSQL from seeded data: what
they count, that every figure is one the other reports publish, and what they refuse."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.actors import CLI
from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, CalendarPeriod, PeriodKind
from bot.reports.brief import family_of, round_of, shares_of_total
from bot.reports.brief_render import render_brief_markdown
from bot.services.brief import (
    BriefError,
    brief_period,
    build_brief,
    make_brief,
    survey_trend,
)
from bot.services.reports import membership_report, survey_report, updates_report
from storage.store import SqlStore
from tests.support.briefs import LIMITS, QUARTER, SECOND, TODAY, seed_quarter

CATALOGS = Catalogs()
NOISE = 2


def test_a_family_is_the_slug_without_its_month() -> None:
    assert family_of("pulse-safety-2026-11") == "pulse-safety"
    assert round_of("pulse-safety-2026-11") == "2026-11"
    assert family_of("pulse-safety") is None, "no month: a survey of its own"
    assert family_of("pulse-2026-13") is None, "no month 13"
    assert family_of("census-2026") is None


def test_a_brief_covers_a_complete_quarter_or_month() -> None:
    today = date(2027, 1, 6)
    assert brief_period(None, today).label == "2026-Q4"
    assert brief_period("2026-q3", today).label == "2026-Q3"
    assert brief_period("2026-11", today).kind is PeriodKind.MONTH
    with pytest.raises(ValueError, match="not over yet"):
        brief_period("2027-Q1", today)
    for bad in ("2026", "Q4", "2026-11-01", "2026-W47", "all"):
        with pytest.raises(ValueError, match="not a quarter or a month"):
            brief_period(bad, today)


async def test_a_brief_counts_members_updates_and_the_latest_round(store: SqlStore) -> None:
    rounds = await seed_quarter(store)
    _ = CATALOGS.get("en")
    async with store.transaction() as tx:
        brief = await build_brief(tx, "IQ", QUARTER, _, TODAY, LIMITS)

    assert brief.country_label == "Iraq" and brief.period == "Quarter 4 of 2026"
    assert brief.k == 5 and brief.noise == NOISE
    # 23 Iraqi members, all in "youth", every second one (from the second) in "vaw" too: 11.
    members = dict(zip(brief.members.rows, (line[0] for line in brief.members.cells), strict=True))
    assert members["youth"] is not None and abs(members["youth"] - 23) <= NOISE
    assert members["vaw"] is not None and abs(members["vaw"] - 11) <= NOISE
    assert members["media"] is None, "nobody: shown as <5, like any figure under k"
    assert brief.members.total is not None and abs(brief.members.total - 23) <= NOISE
    # 17 Iraqi updates, 4 of them urgent (every fifth), all about youth.
    routine, urgent = brief.updates.column_totals
    assert routine is not None and abs(routine - 13) <= NOISE
    assert urgent is None or abs(urgent - 4) <= NOISE

    # The family's two rounds closed in the quarter: the latest is shown, the first in its trend.
    assert [s.slug for s in brief.surveys] == [rounds[1].slug]
    shown = brief.surveys[0]
    assert shown.country_shown and shown.report.sections[0].row_labels == (
        "Iraq",
        "Whole alliance",
    )
    assert shown.trend is not None and shown.trend.slugs == tuple(r.slug for r in rounds)
    assert shown.trend.rounds == ("October 2026", "November 2026")
    assert "No quotes" in brief.notes[-1], "the brief says why it quotes nobody"


async def test_every_figure_of_a_brief_is_one_the_reports_publish(store: SqlStore) -> None:
    """The brief releases nothing new where a report exists: the country's survey row is the
    by-country report's row, its alliance row the overall report's, and its totals the
    membership and updates reports' figures for the same people (the same cell keys)."""
    rounds = await seed_quarter(store)
    _ = CATALOGS.get("en")
    async with store.transaction() as tx:
        brief = await build_brief(tx, "IQ", QUARTER, _, TODAY, LIMITS)
        by_country = await survey_report(
            tx, rounds[1], Breakdown.COUNTRY, 5, _, TODAY, secret=LIMITS.secret
        )
        overall = await survey_report(
            tx, rounds[1], Breakdown.NONE, 5, _, TODAY, secret=LIMITS.secret
        )
        updates = await updates_report(tx, Breakdown.COUNTRY, QUARTER, 5, _, TODAY)
        up_to = CalendarPeriod(PeriodKind.ALL, "all", None, QUARTER.end)
        membership = await membership_report(tx, Breakdown.COUNTRY, up_to, 5, _, TODAY)
    for mine, theirs, whole in zip(
        brief.surveys[0].report.sections,
        [s for s in by_country.sections if s.kind.value != "text"],
        overall.sections,
        strict=False,
    ):
        row = theirs.table.rows.index("IQ")
        assert mine.table.cells[0] == theirs.table.cells[row]
        assert mine.table.row_totals[0] == theirs.table.row_totals[row]
        assert mine.table.cells[1] == whole.table.cells[0]
    iraq = updates.sections[0].table.rows.index("IQ")
    assert brief.updates.column_totals == updates.sections[0].table.cells[iraq]
    iraq = membership.sections[0].table.rows.index("IQ")
    assert brief.members.total == membership.sections[0].table.row_totals[iraq]


async def test_a_trend_is_made_of_each_rounds_published_shares(store: SqlStore) -> None:
    rounds = await seed_quarter(store)
    _ = CATALOGS.get("en")
    async with store.transaction() as tx:
        trend = await survey_trend(tx, CLI, "pulse", _, TODAY, LIMITS, country="IQ")
        alliance = await survey_trend(tx, CLI, "pulse", _, TODAY, LIMITS)
        published = [
            await survey_report(tx, r, Breakdown.COUNTRY, 5, _, TODAY, secret=LIMITS.secret)
            for r in rounds
        ]
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "report.trend"]
    assert trend is not None and alliance is not None
    assert alliance.group_label == "Whole alliance" and trend.group_label == "Iraq"
    assert [q.key for q in trend.questions] == ["safe", "threat", "who", "work"], "no free text"
    changes = 0
    for question in trend.questions:
        for r, report in enumerate(published):
            section = next(s for s in report.sections if s.key == question.key)
            row = section.table.rows.index("IQ")
            expected = shares_of_total(section.table, row)
            assert tuple(line[r] for line in question.shares) == expected
        for a in range(len(question.answers)):
            change = question.change(a)
            before, after = question.shares[a][-2], question.shares[a][-1]
            if before is None or after is None:
                assert change is None, "a change needs the answer shown in both rounds"
            else:
                assert change == pytest.approx(after - before)
                changes += 1
    assert changes >= 4, "most of Iraq's answers are shown in both rounds"
    assert entries and entries[-1]["details"] == {"family": "pulse", "country": "IQ"}


async def test_a_family_with_one_round_has_no_trend(sqlite_store: SqlStore) -> None:
    await seed_quarter(sqlite_store)
    _ = CATALOGS.get("en")
    async with sqlite_store.transaction() as tx:
        assert await survey_trend(tx, CLI, "pulse-test", _, TODAY, LIMITS) is None
        assert await survey_trend(tx, CLI, "nothing", _, TODAY, LIMITS) is None


async def test_a_country_with_too_few_answers_shows_the_alliance_only(
    sqlite_store: SqlStore,
) -> None:
    await seed_quarter(sqlite_store)
    _ = CATALOGS.get("en")
    async with sqlite_store.transaction() as tx:
        brief = await build_brief(tx, "YE", QUARTER, _, TODAY, LIMITS)
    shown = brief.surveys[0]
    assert not shown.country_shown, f"Yemen has {SECOND['YE']} respondent"
    assert all(line is None for s in shown.report.sections for line in s.table.cells[0])
    assert shown.trend is not None and shown.trend.group == "", "the alliance's trend"
    assert all(n is None for line in brief.members.cells for n in line), "two Yemeni members"
    text = render_brief_markdown(brief, _)
    assert "Yemen: too few answers to show." in text


async def test_a_brief_is_for_the_alliances_countries_and_audited(
    sqlite_store: SqlStore,
) -> None:
    await seed_quarter(sqlite_store)
    _ = CATALOGS.get("en")
    async with sqlite_store.transaction() as tx:
        with pytest.raises(BriefError, match="one of the alliance's countries"):
            await build_brief(tx, "FR", QUARTER, _, TODAY, LIMITS)
        with pytest.raises(BriefError, match="one of the alliance's countries"):
            await survey_trend(tx, CLI, "pulse", _, TODAY, LIMITS, country="FR")
        made = await make_brief(tx, CLI, "IQ", QUARTER, _, TODAY, LIMITS, fmt="md")
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "brief.sent"]
    assert made.country == "IQ"
    assert entries[-1]["details"] == {"country": "IQ", "at": "2026-Q4", "format": "md"}
