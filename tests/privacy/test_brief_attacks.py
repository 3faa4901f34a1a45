"""Promise 2 for country briefs and survey trends: the attacks the other outputs face.

- **Difference attack, counts over time.** A brief publishes tables no report has: a
  country's field updates by sphere and urgency over a quarter or a month, and its members per
  sphere up to the period's end. The data and the exact-solver attack of
  tests/privacy/test_difference_attack.py are taken whole; every report a secretariat member
  can ask for is published to the attacker, and every brief too (every country × every
  complete month and quarter): no true count under k may come out pinned.
- **Difference attack, between survey rounds.** A change between rounds computed from the
  counters would give a cell hidden in one round away: shown in the other round, minus the
  change. The control does exactly that against rounds released by suppression alone and
  recovers the hidden count; the brief's trend shows no change where either round hides the
  answer, and every share it shows is one round's published figure over its published total.
- **Small cells.** A country of two members, one update and one or two respondents shows
  "<k" everywhere; no figure under k is ever printed.
- **Link attack.** Nothing in a brief (Markdown or PDF text) or in its audit entry names a
  person or carries an update's or an answer's words.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.actors import CLI
from bot.core.i18n import Catalogs
from bot.core.reports import (
    MEMBERSHIP_BREAKDOWNS,
    UPDATE_BREAKDOWNS,
    Breakdown,
    CalendarPeriod,
    PeriodKind,
)
from bot.reports.brief import shares_of_total
from bot.reports.brief_render import render_brief_markdown, render_brief_pdf
from bot.reports.disclosure import CountTable, disclose
from bot.services.brief import build_brief, survey_trend, updates_by_sphere, who_works_where
from bot.services.reports import Limits, membership_report, survey_report, updates_report
from storage.store import SqlStore
from tests.privacy import test_difference_attack as reports_attack
from tests.privacy.test_difference_attack import (
    COUNTRIES,
    NOW,
    TODAY,
    Attack,
    D,
    Figure,
    Joined,
    K,
    Sent,
    every_period,
    figures,
    grid,
    in_period,
    member_covers,
    update_covers,
)
from tests.reports.test_brief_pdf import text_of
from tests.support.briefs import LIMITS, QUARTER, seed_quarter
from tests.support.briefs import TODAY as BRIEF_DAY
from tests.support.reports import FREE_TEXT, seed_survey

CATALOGS = Catalogs()
QUARTER_DAY = BRIEF_DAY - timedelta(days=60)  # a survey closing within 2026-Q4


def brief_periods() -> list[CalendarPeriod]:
    """Every complete month and quarter a brief can cover in the attack's data."""
    return [p for p in every_period() if p.kind in (PeriodKind.MONTH, PeriodKind.QUARTER)]


def brief_update_figures(country: str, period: CalendarPeriod, table: object) -> list[Figure]:
    inside = in_period(period)

    def covers(row: str, column: str) -> object:
        def test(cell: object) -> bool:
            assert isinstance(cell, Sent)
            if not inside(cell.week) or cell.country != country:
                return False
            if column != "*" and column != ("urgent" if cell.urgent else "routine"):
                return False
            return row == "*" or row in cell.spheres

        return test

    return _figures(table, covers, f"brief {country} {period.label} updates")


def brief_member_figures(country: str, period: CalendarPeriod, table: object) -> list[Figure]:
    end = period.end.isoformat()

    def covers(row: str, _column: str) -> object:
        def test(cell: object) -> bool:
            assert isinstance(cell, Joined)
            if cell.week >= end or cell.country != country:
                return False
            return row == "*" or row in cell.spheres or (row == "" and not cell.spheres)

        return test

    return _figures(table, covers, f"brief {country} {period.label} members")


def _figures(table: object, covers: object, where: str) -> list[Figure]:
    from bot.reports.disclosure import Disclosed

    assert isinstance(table, Disclosed) and table.noise == D
    make = covers  # (row, column) → test
    found = []
    for r, row in enumerate(table.rows):
        for c, column in enumerate(table.columns):
            found.append(Figure(make(row, column), table.cells[r][c], f"{where} {row}/{column}"))  # type: ignore[operator]
        found.append(Figure(make(row, "*"), table.row_totals[r], f"{where} {row}/*"))  # type: ignore[operator]
    for c, column in enumerate(table.columns):
        found.append(Figure(make("*", column), table.column_totals[c], f"{where} */{column}"))  # type: ignore[operator]
    found.append(Figure(make("*", "*"), table.total, f"{where} */*"))  # type: ignore[operator]
    return found


async def test_no_group_under_k_can_be_recovered_from_every_report_and_every_brief(
    sqlite_store: SqlStore,
) -> None:
    joined, sent, _deliveries = await reports_attack.seed(sqlite_store)
    _ = CATALOGS.get("en")
    periods = every_period()
    member_truth: dict[object, int] = {}
    for who in joined:
        member_truth[who] = member_truth.get(who, 0) + 1
    cells, truth = grid(
        member_truth,
        sorted({w.week for w in joined}),
        COUNTRIES,
        ("en", "ar"),
        ("telegram", "whatsapp"),
        (reports_attack.YOUTH, reports_attack.BOTH),
        make=Joined,
    )
    members = Attack(cells, truth)
    update_truth: dict[object, int] = {}
    for one in sent:
        update_truth[one] = update_truth.get(one, 0) + 1
    cells, truth = grid(
        update_truth,
        sorted({s.week for s in sent}),
        ("IQ", "SY", "LB"),
        (reports_attack.ABOUT_YOUTH, reports_attack.ABOUT_BOTH),
        (False, True),
        make=Sent,
    )
    updates = Attack(cells, truth)
    brief_figures = 0
    async with sqlite_store.transaction() as tx:
        for period in periods:
            for by in MEMBERSHIP_BREAKDOWNS:
                report = await membership_report(tx, by, period, K, _, NOW, COUNTRIES)
                for figure in figures(report, member_covers(period, by)):
                    members.publish(figure)
            for by in UPDATE_BREAKDOWNS:
                report = await updates_report(tx, by, period, K, _, NOW, COUNTRIES)
                for figure in figures(report, update_covers(period, by)):
                    updates.publish(figure)
        for period in brief_periods():
            for country in COUNTRIES:
                table = await updates_by_sphere(tx, country, period, K)
                for figure in brief_update_figures(country, period, table):
                    updates.publish(figure)
                    brief_figures += 1
                table = await who_works_where(tx, country, period, K)
                for figure in brief_member_figures(country, period, table):
                    members.publish(figure)
                    brief_figures += 1
    assert brief_figures > 1000, "every brief's every figure is published to the attacker"
    assert members.assert_nothing_small_is_pinned() > 20
    assert updates.assert_nothing_small_is_pinned() > 10


def test_the_brief_periods_are_those_a_reader_can_ask_for() -> None:
    labels = {p.label for p in brief_periods()}
    assert {"2026-Q2", "2026-Q3", "2026-07", "2026-09"} <= labels
    assert all(p.complete(TODAY) for p in brief_periods())


# -- between survey rounds --------------------------------------------------------------------


async def test_a_cell_hidden_in_one_round_cannot_be_recovered_from_the_change(
    sqlite_store: SqlStore,
) -> None:
    rounds = await seed_quarter(sqlite_store)
    _ = CATALOGS.get("en")
    truth: list[dict[tuple[str, str], int]] = []
    async with sqlite_store.transaction() as tx:
        trend = await survey_trend(tx, CLI, "pulse", _, BRIEF_DAY, LIMITS, country="IQ")
        published = [
            await survey_report(tx, r, Breakdown.COUNTRY, K, _, BRIEF_DAY, secret=LIMITS.secret)
            for r in rounds
        ]
        for r in rounds:
            counts: dict[tuple[str, str], int] = {}
            for c in await tx.reports.survey_counts(r.id, Breakdown.COUNTRY):
                if c.group == "IQ":
                    key = (c.question, c.option.lstrip("#"))
                    counts[key] = counts.get(key, 0) + c.count
            truth.append(counts)
    assert trend is not None

    hidden_once = recovered = 0
    for question in trend.questions:
        sections = [next(s for s in p.sections if s.key == question.key) for p in published]
        for a, answer in enumerate(sections[-1].table.columns):
            tables = [s.table for s in sections]
            rows = [t.rows.index("IQ") for t in tables]
            marks = [t.cells[row][a] for t, row in zip(tables, rows, strict=True)]
            if (marks[0] is None) == (marks[1] is None):
                continue
            hidden_once += 1
            # The brief: no change, and the hidden round's share is not shown either.
            assert question.change(a) is None, f"{question.key}/{answer}"
            assert question.shares[a][marks.index(None)] is None
            # The control: a change from the counters, against rounds released by suppression
            # alone (exact figures of k and more), gives the hidden count back exactly.
            true = [t.get((question.key, answer), 0) for t in truth]
            exact = [disclose(CountTable(("IQ",), ("n",), ((n,),)), K).cells[0][0] for n in true]
            if None in exact and any(e is not None for e in exact):
                naive_change = true[1] - true[0]
                known = 1 if exact[0] is None else 0
                guess = exact[known] - naive_change if known else exact[known] + naive_change
                assert guess == true[1 - known], "the naive change gives the hidden count"
                recovered += 1
        # Every share the trend shows is a published figure over a published total.
        for r, section in enumerate(sections):
            row = section.table.rows.index("IQ")
            assert tuple(line[r] for line in question.shares) == shares_of_total(
                section.table, row
            )
    assert hidden_once >= 2, "the seeded rounds hide some of Iraq's answers in one round only"
    assert recovered >= 1, "the naive change gives a hidden count away (the attack is real)"


# -- small cells and links ---------------------------------------------------------------------


async def test_a_country_of_a_few_people_shows_nothing_under_k(sqlite_store: SqlStore) -> None:
    await seed_quarter(sqlite_store)
    await seed_survey(sqlite_store, QUARTER_DAY, {"IQ": 20, "YE": 3}, slug="pulse-text")
    _ = CATALOGS.get("en")
    async with sqlite_store.transaction() as tx:
        yemen = await build_brief(tx, "YE", QUARTER, _, BRIEF_DAY, LIMITS)
        iraq = await build_brief(tx, "IQ", QUARTER, _, BRIEF_DAY, LIMITS)
    for table in (yemen.members, yemen.updates):
        assert all(n is None for line in table.cells for n in line)
        assert table.total is None
    for brief in (yemen, iraq):
        for table in [brief.members, brief.updates] + [
            s.table for result in brief.surveys for s in result.report.sections
        ]:
            shown = [n for line in table.cells for n in line if n is not None]
            assert all(n >= K for n in shown), "no figure under k is published"
        text = render_brief_markdown(brief, _)
        # The figures of every table's rows (a header row, which starts with an empty cell,
        # holds answer labels such as a scale's "2").
        rows = [line for line in text.splitlines() if line.startswith("| ") and "|  |" not in line]
        numbers = {int(n) for line in rows for n in re.findall(r"(?<=\| )(\d+)(?= \|)", line)}
        assert not numbers & set(range(1, K)), f"a figure under {K} in a table: {numbers}"


async def test_a_brief_names_nobody_and_quotes_no_one(sqlite_store: SqlStore) -> None:
    """Members' platform ids, update texts ("update n") and free-text answers are in the
    database; none of them is in the brief or its audit entry."""
    await seed_quarter(sqlite_store)
    await seed_survey(sqlite_store, QUARTER_DAY, {"IQ": 20, "SY": 12}, slug="pulse-text")
    _ = CATALOGS.get("en")
    limits = Limits(K, LIMITS.secret, LIMITS.countries)
    async with sqlite_store.transaction() as tx:
        brief = await build_brief(tx, "IQ", QUARTER, _, BRIEF_DAY, limits)
    assert any(r.slug == "pulse-text" for r in brief.surveys), "the survey with free text"
    markdown = render_brief_markdown(brief, _)
    pdf_text = text_of(render_brief_pdf(brief, _))
    for text in (markdown, pdf_text):
        assert FREE_TEXT not in text, "free-text answers never leave the database"
        assert not re.search(r"update \d", text), "no update's words"
        assert not re.search(r"5000\d{3}", text), "no platform or chat id"
    assert "No quotes" in markdown
