"""Promise 2: no group smaller than k can be recovered.

The attack of issue 10, and its strongest form. Realistic data (members in four countries over
a quarter, one of them alone in her country and in her quarter; field updates over the weeks,
one of them alone in its week; two campaigns' deliveries) is written through the real
repositories, on SQLite and on PostgreSQL. Then every report a secretariat member can ask for
is built by the same builders the bot, the CLI and the dashboard call: every report kind ×
every period kind × every period label × every breakdown (a CLI run and a dashboard page are
checked to print exactly the builders' figures).

The attacker writes the unknown true counts at the finest cross-classification (week ×
country × language × channel × set of spheres for members; week × country × set of spheres ×
urgency for updates; campaign × status for deliveries), one constraint per published figure
(perturbed: within ±D of the figure; "<k": 0 to k-1+D, since a figure is hidden when it
comes out under k after its change), and with an exact integer
solver (scipy.optimize.milp) minimises and maximises every true count under k: none may come
out pinned to one value. She is given more than a real reader knows (which values of each
dimension occur, and that nobody joined outside the weeks seeded), so protection against her
covers the real one.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from itertools import product
from pathlib import Path
from subprocess import PIPE
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
from sqlalchemy import update

from bot.app import App
from bot.config import Settings
from bot.core.campaigns import CampaignKind
from bot.core.clock import week_of
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.reports import (
    MEMBERSHIP_BREAKDOWNS,
    UPDATE_BREAKDOWNS,
    Breakdown,
    CalendarPeriod,
    PeriodKind,
)
from bot.reports.disclosure import NOISE, Disclosed
from bot.reports.model import Report
from bot.services.notices import send_each
from bot.services.reports import OTHER, delivery_report, membership_report, updates_report
from bot.web import build_web
from handlers import build_router
from storage.store import SqlStore
from storage.tables import outbox_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness

K = 5
D = NOISE
COUNTRIES = ("IQ", "SY", "LB", "YE")
TODAY = date(2026, 10, 14)  # a Wednesday: the third quarter is over
NOW = datetime.combine(TODAY, time(9), UTC)
LONE_WEEK = date(2026, 6, 15)  # the Yemeni member's week: alone in her country and quarter
WEEKS = [date(2026, 8, 10) + timedelta(weeks=i) for i in range(8)]  # 2026-08-10 … 09-28
YOUTH, BOTH = frozenset({"youth"}), frozenset({"youth", "vaw"})
ABOUT_YOUTH, ABOUT_BOTH = frozenset({"youth"}), frozenset({"youth", "rights"})


# -- the data -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Joined:
    week: str
    country: str
    locale: str
    channel: str
    spheres: frozenset[str]


@dataclass(frozen=True, slots=True)
class Sent:
    week: str
    country: str
    spheres: frozenset[str]
    urgent: bool


def members_to_seed() -> list[tuple[date, Joined]]:
    """Iraq 30, Syria 14, Lebanon 6 over eight weeks (the last week: one Syrian alone), and
    one Yemeni member in June, alone in her country and in the second quarter."""
    people: list[tuple[date, Joined]] = []
    plan = {"IQ": 30, "SY": 14, "LB": 6}
    i = 0
    for country, n in plan.items():
        for j in range(n):
            week = WEEKS[(i * 3 + j) % 7]  # weeks 0..6; week 7 gets the lone one below
            joined = Joined(
                week.isoformat(),
                country,
                "ar" if i % 3 else "en",
                "whatsapp" if i % 4 == 0 else "telegram",
                BOTH if i % 2 else YOUTH,
            )
            people.append((week, joined))
            i += 1
    people.append((WEEKS[7], Joined(WEEKS[7].isoformat(), "SY", "en", "telegram", YOUTH)))
    people.append((LONE_WEEK, Joined(LONE_WEEK.isoformat(), "YE", "ar", "telegram", BOTH)))
    return people


def updates_to_seed() -> list[Sent]:
    """Iraq 24, Syria 12, Lebanon 6 over weeks 0..6; in week 7 one Lebanese update alone."""
    sent: list[Sent] = []
    i = 0
    for country, n in {"IQ": 24, "SY": 12, "LB": 6}.items():
        for _j in range(n):
            week = WEEKS[i % 7]
            sent.append(
                Sent(week.isoformat(), country, ABOUT_BOTH if i % 3 else ABOUT_YOUTH, i % 4 == 0)
            )
            i += 1
    sent.append(Sent(WEEKS[7].isoformat(), "LB", ABOUT_YOUTH, True))
    return sent


# Two campaigns: (week, recipients, how many failed with "timeout", unreachable "blocked").
CAMPAIGNS = ((WEEKS[1], 15, 2, 1), (WEEKS[5], 8, 0, 1))
DELIVERY_CELLS = (("sent", ""), ("failed", "timeout"), ("unreachable", "blocked"))


async def seed(
    store: SqlStore,
) -> tuple[list[Joined], list[Sent], list[tuple[int, str, str, int]]]:
    joined: list[Joined] = []
    ids: list[int] = []
    async with store.transaction() as tx:
        for n, (week, who) in enumerate(members_to_seed()):
            at = datetime.combine(week + timedelta(days=n % 7), time(10), UTC)
            member = await tx.members.create(
                NewMember(
                    channel=ChannelName(who.channel),
                    platform_id=str(9_000_000 + n),
                    chat_id=str(9_000_000 + n),
                    locale=who.locale,
                    country=who.country,
                    spheres=sorted(who.spheres),
                    role=Role.MEMBER,
                    consent_version="test",
                    consented_at=at,
                ),
                at,
            )
            assert week_of(at) == who.week
            joined.append(who)
            ids.append(member.id)
        sent = updates_to_seed()
        for n, one in enumerate(sent):
            await tx.updates.submit(
                author_id=ids[0],
                country=one.country,
                locale="en",
                urgent=one.urgent,
                text=f"update {n}",
                media_kind=None,
                media_ref=None,
                keep_if_shared=False,
                spheres=sorted(one.spheres),
                now=datetime.combine(date.fromisoformat(one.week), time(12), UTC),
            )
    deliveries: list[tuple[int, str, str, int]] = []
    for week, recipients, failed, unreachable in CAMPAIGNS:
        async with store.transaction() as tx:
            chosen = ids[:recipients]
            at = datetime.combine(week + timedelta(days=2), time(8), UTC)
            await send_each(
                tx,
                CampaignKind.SURVEY,
                f"results {week}",
                [(i, "telegram", "hi") for i in chosen],
                at,
            )
            statuses = (
                [("failed", "timeout")] * failed
                + [("unreachable", "blocked")] * unreachable
                + [("sent", None)] * (recipients - failed - unreachable)
            )
            for member_id, (status, reason) in zip(chosen, statuses, strict=True):
                await tx.conn.execute(
                    update(outbox_t)
                    .where(outbox_t.c.member_id == member_id, outbox_t.c.created_at == at)
                    .values(status=status, last_error=reason)
                )
            campaign_id = max(
                c.campaign_id
                for c in await tx.reports.delivery_counts(
                    CalendarPeriod.all_time(TODAY + timedelta(weeks=1))
                )
            )
            for status, reason in DELIVERY_CELLS:
                n = sum(1 for s, r in statuses if s == status and (r or "") == reason)
                deliveries.append((campaign_id, status, reason, n))
    return joined, sent, [(c, s, r, n) for c, s, r, n in deliveries]


# -- every report a secretariat member can ask for ---------------------------------------------


def every_period() -> list[CalendarPeriod]:
    """Every complete week, month and quarter from April to September, and all time."""
    periods: list[CalendarPeriod] = [CalendarPeriod.all_time(TODAY)]
    for kind in (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER):
        labels = {
            CalendarPeriod.label_of(kind, date(2026, 4, 6) + timedelta(weeks=i)) for i in range(26)
        }
        periods += [CalendarPeriod.parse(kind, label, TODAY) for label in sorted(labels)]
    return periods


@dataclass(frozen=True, slots=True)
class Figure:
    """One published figure: what it covers (a test on a finest cell) and what it says."""

    covers: Callable[[object], bool]
    published: int | None  # None: shown "<k"
    where: str


def figures(
    report: Report, covers: Callable[[str, str, str], Callable[[object], bool]]
) -> list[Figure]:
    """Every cell and total of every table of the report: `covers(section, row, column)`
    gives the test for a cell ("" for a total's other side: "*")."""
    found = []
    for section in report.sections:
        table: Disclosed = section.table
        assert table.noise == D
        for r, row in enumerate(table.rows):
            for c, column in enumerate(table.columns):
                found.append(
                    Figure(covers(section.key, row, column), table.cells[r][c], f"{row}/{column}")
                )
            found.append(Figure(covers(section.key, row, "*"), table.row_totals[r], f"{row}/*"))
        for c, column in enumerate(table.columns):
            found.append(
                Figure(covers(section.key, "*", column), table.column_totals[c], f"*/{column}")
            )
        found.append(Figure(covers(section.key, "*", "*"), table.total, "*/*"))
    return found


def in_period(period: CalendarPeriod) -> Callable[[str], bool]:
    """Whether a week (an ISO Monday) falls in `period`; its bounds worked out once, as the
    attack asks this millions of times."""
    first, end = period.first_week, period.end.isoformat()
    return lambda week: (first is None or week >= first) and week < end


def member_covers(
    period: CalendarPeriod, by: Breakdown
) -> Callable[[str, str, str], Callable[[object], bool]]:
    inside = in_period(period)

    def covers(_section: str, row: str, column: str) -> Callable[[object], bool]:
        def test(cell: object) -> bool:
            assert isinstance(cell, Joined)
            if not inside(cell.week):
                return False
            value = {
                Breakdown.COUNTRY: cell.country if cell.country in COUNTRIES else OTHER,
                Breakdown.LANGUAGE: cell.locale,
                Breakdown.CHANNEL: cell.channel,
                Breakdown.NONE: "",
            }
            if row != "*":
                if by is Breakdown.SPHERE:
                    if not (row in cell.spheres or (row == "" and not cell.spheres)):
                        return False
                elif value[by] != row:
                    return False
            if column not in ("*", "members"):
                return column in cell.spheres or (column == "" and not cell.spheres)
            return True

        return test

    return covers


def update_covers(
    period: CalendarPeriod, by: Breakdown
) -> Callable[[str, str, str], Callable[[object], bool]]:
    inside = in_period(period)

    def covers(_section: str, row: str, column: str) -> Callable[[object], bool]:
        def test(cell: object) -> bool:
            assert isinstance(cell, Sent)
            if not inside(cell.week):
                return False
            if column != "*" and column != ("urgent" if cell.urgent else "routine"):
                return False
            if row == "*" or by is Breakdown.NONE:
                return True
            if by is Breakdown.SPHERE:
                return row in cell.spheres
            if by is Breakdown.COUNTRY:
                return row == (cell.country if cell.country in COUNTRIES else OTHER)
            if by is Breakdown.WEEK:
                return row == cell.week
            return row == cell.week[:7]

        return test

    return covers


@dataclass(frozen=True, slots=True)
class Delivered:
    week: str
    campaign: str
    status: str
    reason: str


def delivery_covers(period: CalendarPeriod) -> Callable[[str, str, str], Callable[[object], bool]]:
    inside = in_period(period)

    def covers(section: str, row: str, column: str) -> Callable[[object], bool]:
        def test(cell: object) -> bool:
            assert isinstance(cell, Delivered)
            if not inside(cell.week):
                return False
            if section == "campaigns":
                return (row in ("*", cell.campaign)) and (column in ("*", cell.status))
            if cell.status == "sent" or not cell.reason:
                return False
            return row in ("*", cell.reason)

        return test

    return covers


# -- the solver ---------------------------------------------------------------------------------


class Attack:
    """Integer unknowns for the finest cells, one interval per published figure."""

    def __init__(
        self, cells: Sequence[object], truth: Sequence[int], *, unprotected: bool = False
    ) -> None:
        self.unprotected = unprotected  # the old releases: exact figures, zeros, "<k" ≥ 1
        self.cells = list(cells)
        self.truth = np.array(truth, dtype=float)
        self.rows: list[np.ndarray] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.figures: list[tuple[np.ndarray, Figure]] = []
        self.pool: list[np.ndarray] = [self.truth]

    def publish(self, figure: Figure) -> None:
        row = np.array([1.0 if figure.covers(c) else 0.0 for c in self.cells])
        true = float(row @ self.truth)
        if self.unprotected:
            low, high = (1.0, K - 1.0) if 0 < true < K else (true, true)
        elif figure.published is None:
            # "<k": the figure came out under k, so the group has at most k-1+D people.
            assert true < K + D, f"{figure.where}: a count of {true} shown as <{K}"
            low, high = 0.0, K - 1.0 + D
        else:
            assert abs(figure.published - true) <= D, figure.where
            assert figure.published >= K, "no figure under k is ever published"
            assert true >= K - D, "a count under k-D is never published"
            low, high = float(figure.published - D), float(figure.published + D)
        self.rows.append(row)
        self.low.append(low)
        self.high.append(high)
        self.figures.append((row, figure))

    def extremes(self, target: np.ndarray) -> tuple[float, float]:
        values = [float(target @ x) for x in self.pool]
        if max(values) > min(values):
            return min(values), max(values)  # two possible worlds already differ here
        # Imported here: scipy takes a second to import, paid only by the worker that
        # runs this attack, not by every worker collecting the tests.
        from scipy.optimize import Bounds, LinearConstraint, milp

        constraint = LinearConstraint(np.array(self.rows), self.low, self.high)
        bounds = Bounds(0, 200)
        integrality = np.ones(len(self.cells))
        found = []
        for sign in (1.0, -1.0):
            result = milp(
                sign * target, integrality=integrality, bounds=bounds, constraints=constraint
            )
            assert result.success, result.message
            self.pool.append(np.round(result.x))
            found.append(float(target @ np.round(result.x)))
        return min(found), max(found)

    def small_targets(self) -> Iterable[tuple[str, np.ndarray]]:
        """Every finest cell and every published figure whose true count is 1..k-1."""
        seen: set[bytes] = set()
        for i, cell in enumerate(self.cells):
            if 0 < self.truth[i] < K:
                target = np.zeros(len(self.cells))
                target[i] = 1.0
                seen.add(target.tobytes())
                yield repr(cell), target
        for row, figure in self.figures:
            if 0 < row @ self.truth < K and row.tobytes() not in seen:
                seen.add(row.tobytes())
                yield figure.where, row

    def assert_nothing_small_is_pinned(self) -> int:
        checked = 0
        for name, target in self.small_targets():
            low, high = self.extremes(target)
            assert low < high, f"{name}: pinned to {low} by {len(self.rows)} published figures"
            checked += 1
        return checked


def grid(
    truth: dict[object, int], *dimensions: Sequence[object], make: Callable[..., object]
) -> tuple[list[object], list[int]]:
    cells = [make(*values) for values in product(*dimensions)]
    assert set(truth) <= set(cells), "every seeded cell is an unknown"
    return cells, [truth.get(c, 0) for c in cells]


# -- the test -----------------------------------------------------------------------------------


async def test_no_group_under_k_can_be_recovered_from_every_report_there_is(
    store: SqlStore, backend: str, tmp_path: Path
) -> None:
    joined, sent, deliveries = await seed(store)
    _ = Catalogs().get("en")
    periods = every_period()
    reports: dict[tuple[str, str, str, str], Report] = {}
    async with store.transaction() as tx:
        for period in periods:
            for by in MEMBERSHIP_BREAKDOWNS:
                reports["membership", period.kind, period.label, by] = await membership_report(
                    tx, by, period, K, _, NOW, COUNTRIES
                )
            for by in UPDATE_BREAKDOWNS:
                reports["updates", period.kind, period.label, by] = await updates_report(
                    tx, by, period, K, _, NOW, COUNTRIES
                )
            reports["delivery", period.kind, period.label, ""] = await delivery_report(
                tx, period, K, _, NOW
            )

    # Members: week × country × language × channel × spheres.
    member_truth: dict[object, int] = {}
    for who in joined:
        member_truth[who] = member_truth.get(who, 0) + 1
    member_weeks = sorted({w.week for w in joined})
    cells, truth = grid(
        member_truth,
        member_weeks,
        COUNTRIES,
        ("en", "ar"),
        ("telegram", "whatsapp"),
        (YOUTH, BOTH),
        make=Joined,
    )
    members = Attack(cells, truth)
    old_members = Attack(cells, truth, unprotected=True)
    # Updates: week × country × spheres × urgency.
    update_truth: dict[object, int] = {}
    for one in sent:
        update_truth[one] = update_truth.get(one, 0) + 1
    cells, truth = grid(
        update_truth,
        sorted({s.week for s in sent}),
        ("IQ", "SY", "LB"),
        (ABOUT_YOUTH, ABOUT_BOTH),
        (False, True),
        make=Sent,
    )
    updates = Attack(cells, truth)
    # Deliveries: campaign × status (each status with its one reason).
    week_of_campaign = {}
    for (campaign_id, *_rest), (week, *_more) in zip(deliveries[::3], CAMPAIGNS, strict=True):
        week_of_campaign[str(campaign_id)] = week.isoformat()
    delivered = [
        Delivered(week_of_campaign[str(c)], str(c), status, reason)
        for c, status, reason, _n in deliveries
    ]
    deliveries_attack = Attack(delivered, [n for *_x, n in deliveries])

    for (subject, _kind, label, by), report in reports.items():
        period = next(p for p in periods if p.label == label)
        if subject == "membership":
            for figure in figures(report, member_covers(period, Breakdown(by))):
                members.publish(figure)
                if period.kind is not PeriodKind.WEEK:
                    old_members.publish(figure)
        elif subject == "updates":
            for figure in figures(report, update_covers(period, Breakdown(by))):
                updates.publish(figure)
        else:
            for figure in figures(report, delivery_covers(period)):
                deliveries_attack.publish(figure)

    assert len(members.cells) + len(updates.cells) < 600, "the solver's problem stays small"
    # The same solver against the same tables published the old way (exact figures, zeros
    # shown, small counts "<k"; weeks left out) pins small groups, the Yemeni member first.
    lone = Joined(LONE_WEEK.isoformat(), "YE", "ar", "telegram", BOTH)
    target = np.array([1.0 if cell == lone else 0.0 for cell in old_members.cells])
    assert old_members.extremes(target) == (1.0, 1.0), "the old releases gave her away"
    assert members.assert_nothing_small_is_pinned() > 20
    assert updates.assert_nothing_small_is_pinned() > 10
    assert deliveries_attack.assert_nothing_small_is_pinned() >= 2

    # The naive attack of the issue: all time minus a period (here the third quarter, in which
    # every member but the Yemeni joined). It used to give exactly 1.
    def headcount(report: Report) -> int | None:
        return report.sections[0].table.total

    everyone = headcount(reports["membership", PeriodKind.ALL, "all", Breakdown.NONE])
    third = headcount(reports["membership", PeriodKind.QUARTER, "2026-Q3", Breakdown.NONE])
    assert everyone is not None and third is not None
    difference = everyone - third
    possible = [n for n in range(K) if abs(difference - n) <= 2 * D]
    assert len(possible) >= 2, f"all time minus Q3 = {difference} leaves {possible}"
    by_country = reports["membership", PeriodKind.ALL, "all", Breakdown.COUNTRY].sections[0].table
    assert by_country.mark(by_country.rows.index("YE"), len(by_country.columns) - 1) == f"<{K}"
    assert by_country.row_totals[by_country.rows.index("YE")] is None

    await same_figures_in_the_cli_and_the_dashboard(store, backend, tmp_path, reports)


async def same_figures_in_the_cli_and_the_dashboard(
    store: SqlStore, backend: str, tmp_path: Path, reports: dict[tuple[str, str, str, str], Report]
) -> None:
    """The CLI (a real `wasl report` process) and a dashboard page (the Starlette app through
    httpx) print exactly the figures of the builders the attack read."""
    expected = reports["membership", PeriodKind.QUARTER, "2026-Q3", Breakdown.COUNTRY].sections[0]
    if backend == "sqlite":  # the CLI reaches a database by DATABASE_URL: the SQLite file
        out = tmp_path / "members.csv"
        url = store.engine.url.render_as_string(hide_password=False).replace("+aiosqlite", "")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WASL_COUNTRIES": " ".join(COUNTRIES),
            "WASL_MIN_CELL": str(K),
        }
        command = [sys.executable, "-m", "bot", "report", "membership", "--period", "quarter"]
        command += ["--at", "2026-Q3", "--by", "country", "--out", str(out)]
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=PIPE, stderr=PIPE)
        _out, error = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, error.decode()
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        printed = {(r[2], r[3]): r[4] for r in rows[1:] if r[0] == "membership"}
        table = expected.table
        for r, label in enumerate(expected.row_labels):
            for c, column in enumerate(expected.column_labels):
                assert printed[label, column] == cell_text(table, r, c)

    # The dashboard, as a secretariat member sees it, for September.
    config = CoreConfig(public_url="https://wasl.test", countries=COUNTRIES, min_cell=K)
    harness = Harness(store, build_router(), config=config)
    harness.clock.advance(NOW - harness.clock.now())  # she joins after every period shown
    she = harness.person("700700", "en")
    await join(she, await make_invite(harness, "attack-sec", role=Role.SECRETARIAT), locale="en")
    [answer] = await she.say("/dashboard")
    token = parse_qs(urlsplit(answer.text.split()[-1]).query)["t"][0]
    app = App(settings=Settings(), store=store, catalogs=harness.catalogs, core=harness.core)
    transport = httpx.ASGITransport(app=build_web(app, None))
    async with httpx.AsyncClient(transport=transport, base_url="https://wasl.test") as client:
        params = {"t": token, "period": "month", "at": "2026-09"}
        page = await client.get("/dashboard", params=params)
    assert page.status_code == 200
    tables = Tables()
    tables.feed(page.text)
    for subject in ("membership", "updates"):
        report = reports[subject, PeriodKind.MONTH, "2026-09", Breakdown.COUNTRY]
        section = report.sections[0]
        found = [t for t in tables.tables if t[0][1:] == [*section.column_labels, "Total"]]
        if section.shown:
            [shown] = found
            for r, label in enumerate(section.row_labels):
                marks = [cell_text(section.table, r, c) for c in range(len(section.table.columns))]
                assert shown[1 + r][: 1 + len(marks)] == [label, *marks]
        else:  # every figure came out under k: the page says so instead of a table
            assert not found and "The groups are too small" in page.text


def cell_text(table: Disclosed, row: int, column: int) -> str:
    value = table.cells[row][column]
    return table.mark(row, column) if value is None else str(value)


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
