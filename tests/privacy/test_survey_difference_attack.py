"""Promise 2 for survey results: no group smaller than k can be recovered by combining every
breakdown of a survey.

Forty members (one Yemeni alone in her country, one member alone in her sphere set, four
stopping half-way) answer a survey through the real conversation; the survey job folds a first
batch, more answer, the survey closes (groups under k dropped, counted only overall). Then every
survey report a secretariat member can get is built by the shared builder (`survey_report`,
every declared breakdown), and a CLI run and a dashboard page are checked to print the same
figures.

The attacker's unknowns are the finest counts she could care about: per question × answer ×
respondent type (country × language × set of spheres, every type among those who took part,
which she may know from the member list), and per stored counter (question × answer ×
dimension × value). The links that truly hold: a counter of the overall results is the sum of
its types exactly; a group's counter is at most the sum of its types (a fold batch where the
group was under k left it out: "other/hidden"); sphere counters run over every type whose set
holds the sphere (several spheres: counted in each, so sphere sums exceed the overall count).
Every published figure adds one constraint on the counters it covers (perturbed: within ±D;
"<k": 0 to k-1+D). scipy.optimize.milp then minimises and maximises every true count in 1..k-1:
none may come out pinned. The same solver against the same tables released by suppression
alone (the old way) pins small groups, which is why survey results are perturbed now.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from subprocess import PIPE
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
from sqlalchemy import select

from bot.app import App
from bot.config import Settings
from bot.core import keys
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.reports import Breakdown
from bot.core.surveys import QuestionType, Survey, parse_definition, tallies
from bot.reports.disclosure import INFINITE, NOISE, CountTable, Disclosed, Hidden, disclose
from bot.reports.model import Report
from bot.services.reports import survey_breakdowns, survey_report
from bot.services.surveys import close_due_surveys, flush_survey_pools
from bot.web import build_web
from handlers import build_router
from storage.store import SqlStore
from storage.tables import count_t
from tests.handlers.conftest import join, make_invite
from tests.privacy.test_difference_attack import Tables, cell_text
from tests.privacy.test_link_attack import COUNTRIES, LONE_SPHERES, PARTIAL, SPHERE_SETS, answer
from tests.support.harness import Harness
from tests.support.surveys import pulse

K = 5
D = NOISE
SECRET = keys.generate()
DIMENSION = {
    Breakdown.NONE: "none",
    Breakdown.COUNTRY: "country",
    Breakdown.SPHERE: "sphere",
    Breakdown.LANGUAGE: "language",
}


@dataclass(frozen=True, slots=True)
class Type:
    """A kind of respondent, as the member list tells her apart."""

    country: str
    locale: str
    spheres: frozenset[str]

    def within(self, dimension: str, value: str) -> bool:
        return {
            "none": lambda: True,
            "country": lambda: self.country == value,
            "language": lambda: self.locale == value,
            "sphere": lambda: value in self.spheres,
        }[dimension]()


Counter = tuple[str, str, str, str]  # question, answer, dimension, value


class Solver:
    """Integer unknowns: finest counts x[question, answer, type] and stored counters s[...]."""

    def __init__(
        self, truth_x: dict[tuple[str, str, Type], int], truth_s: dict[Counter, int]
    ) -> None:
        self.x = list(truth_x)
        self.s = list(truth_s)
        self.n = len(self.x) + len(self.s)
        self.index = {key: i for i, key in enumerate([*self.x, *self.s])}
        self.truth = np.array([*truth_x.values(), *truth_s.values()], dtype=float)
        self.rows: list[np.ndarray] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.published: list[tuple[str, np.ndarray]] = []
        self.pool: list[np.ndarray] = [self.truth]
        for counter in self.s:  # how a counter relates to the types it covers
            question, option, dimension, value = counter
            row = np.zeros(self.n)
            row[self.index[counter]] = 1.0
            for q, a, t in self.x:
                if q == question and a == option and t.within(dimension, value):
                    row[self.index[q, a, t]] = -1.0
            # The fold counts a group whole or not at all (batches of at least k, k kept back
            # for the last; a group under k at the close is dropped): a group's counter is
            # the sum of its types, as the overall one is. A reader knows this from the code.
            self.constrain(row, 0.0, 0.0)
        assert all(low <= row @ self.truth <= high for row, low, high in self._all())

    def _all(self) -> Iterable[tuple[np.ndarray, float, float]]:
        return zip(self.rows, self.low, self.high, strict=True)

    def constrain(self, row: np.ndarray, low: float, high: float) -> None:
        self.rows.append(row)
        self.low.append(low)
        self.high.append(high)

    def covering(self, counters: Iterable[Counter]) -> np.ndarray:
        row = np.zeros(self.n)
        for counter in counters:
            row[self.index[counter]] = 1.0
        return row

    def publish(self, where: str, row: np.ndarray, low: float, high: float) -> None:
        true = float(row @ self.truth)
        assert low <= true <= high, f"{where}: the figure is not true to {true}"
        self.constrain(row, low, high)
        self.published.append((where, row))

    def extremes(self, target: np.ndarray) -> tuple[float, float]:
        values = [float(target @ x) for x in self.pool]
        if max(values) > min(values):
            return min(values), max(values)
        # Imported here: scipy takes a second to import, paid only by the worker that
        # runs this attack, not by every worker collecting the tests.
        from scipy.optimize import Bounds, LinearConstraint, milp

        constraint = LinearConstraint(np.array(self.rows), self.low, self.high)
        found = []
        for sign in (1.0, -1.0):
            result = milp(
                sign * target,
                integrality=np.ones(self.n),
                bounds=Bounds(0, 200),
                constraints=constraint,
            )
            assert result.success, result.message
            self.pool.append(np.round(result.x))
            found.append(float(target @ np.round(result.x)))
        return min(found), max(found)

    def small_targets(self) -> Iterable[tuple[str, np.ndarray]]:
        seen: set[bytes] = set()
        for i, key in enumerate(self.x):
            if 0 < self.truth[i] < K:
                target = np.zeros(self.n)
                target[i] = 1.0
                seen.add(target.tobytes())
                yield repr(key), target
        for where, row in self.published:
            if 0 < row @ self.truth < K and row.tobytes() not in seen:
                seen.add(row.tobytes())
                yield where, row

    def pinned(self) -> tuple[list[str], int]:
        found, checked = [], 0
        for where, target in self.small_targets():
            low, high = self.extremes(target)
            checked += 1
            if low == high:
                found.append(f"{where} = {low:g}")
        return found, checked


def section_counters(
    survey: Survey, stored: dict[Counter, int], report: Report, *, overall: bool = True
) -> dict[str, dict[tuple[str, str], list[Counter]]]:
    """Per section, the counters each figure covers: (row, column), "*" for a total. The
    totals row is the overall results' (`overall`), or as suppression alone released it,
    the sum of the groups' counters."""
    dimension = DIMENSION[report.breakdown]
    questions = {q.key: q for q in survey.definition.questions}
    result: dict[str, dict[tuple[str, str], list[Counter]]] = {}
    for section in report.sections:
        question = questions[section.key]
        table = section.table
        figures: dict[tuple[str, str], list[Counter]] = {}
        text = question.type is QuestionType.TEXT  # one cell: every group, counted overall
        for row in (*table.rows, "*"):
            # A group's figures come from its counters; the totals row (and a free-text
            # count) are the overall results' figures, which count each person once.
            within = "none" if (row == "*" and overall) or text else dimension
            mine = [c for c in stored if c[0] == section.key and c[2] == within]
            for column in (*table.columns, "*"):
                covered = []
                for counter in mine:
                    _q, option, _d, value = counter
                    group = "" if within == "none" else value
                    if row != "*" and group != row:
                        continue
                    if question.type is QuestionType.TEXT:
                        covered.append(counter)
                        continue
                    if question.type is QuestionType.NUMBER:
                        if not option.startswith("#"):
                            continue
                        option = option[1:]
                    if option not in table.columns or column not in ("*", option):
                        continue
                    covered.append(counter)
                figures[row, column] = covered
        result[section.key] = figures
    return result


def old_table(table: Disclosed, truth: dict[tuple[str, str], int]) -> Disclosed:
    """The same table released the old way: suppression alone (primary and secondary)."""
    cells = {(r, c): truth[r, c] for r in table.rows for c in table.columns}
    return disclose(CountTable.from_cells(cells, rows=table.rows, columns=table.columns), K)


def publish_report(
    solver: Solver,
    old: Solver,
    survey: Survey,
    stored: dict[Counter, int],
    report: Report,
    responses: int,
) -> int:
    """Every figure of the report, perturbed (`solver`) and as suppression released it (`old`)."""
    published = 0
    counters = section_counters(survey, stored, report)
    summed = section_counters(survey, stored, report, overall=False)
    for section in report.sections:
        table = section.table
        assert table.noise == D, "survey results are perturbed"
        cover, cover_old = counters[section.key], summed[section.key]
        truth = {key: sum(stored[c] for c in found) for key, found in cover_old.items()}
        before = old_table(table, truth)
        rows, columns = table.rows, table.columns
        figures: list[tuple[str, str, int | None, int | None, Hidden | None]] = []
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                figures.append(
                    (row, column, table.cells[r][c], before.cells[r][c], before.hidden[r][c])
                )
            figures.append((row, "*", table.row_totals[r], before.row_totals[r], None))
        for c, column in enumerate(columns):
            figures.append(("*", column, table.column_totals[c], before.column_totals[c], None))
        figures.append(("*", "*", table.total, before.total, None))
        for row, column, now, then, why in figures:
            where = f"{report.breakdown.value}:{section.key}:{row}/{column}"
            line = solver.covering(cover[row, column])
            if now is None:
                solver.publish(where, line, 0.0, K - 1.0 + D)
            else:
                assert now >= K
                solver.publish(where, line, now - D, now + D)
            published += 1
            line = old.covering(cover_old[row, column])
            if then is not None:
                old.publish(where, line, then, then)
            elif why is Hidden.SMALL:
                old.publish(where, line, 0.0, K - 1.0)
            elif why is Hidden.LINKED:
                old.publish(where, line, float(K), INFINITE)
    heads = solver.covering([c for c in stored if c[0] == "" and c[2] == "none"])
    if report.responses is None:
        solver.publish("responses", heads, 0.0, K - 1.0 + D)
    else:
        solver.publish("responses", heads, report.responses - D, report.responses + D)
    old.publish("responses", heads, responses, responses)
    return published + 1


async def run_survey(store: SqlStore, config: CoreConfig) -> tuple[int, dict[int, Type], Harness]:
    """The survey of the link attack, answered through the real conversation and folded."""
    router = build_router()
    telegram = Harness(store, router, config=config)
    whatsapp = Harness(store, router, channel=ChannelName.WHATSAPP, config=config)
    now = telegram.clock.now()
    data = pulse()
    data["breakdowns"] = ["country", "sphere", "language"]
    data["public_results"] = True  # its public page is attacked with the rest
    types: dict[int, Type] = {}
    async with store.transaction() as tx:
        sid, _ = await tx.surveys.upsert(
            parse_definition(data, ("en", "ar", "fr")), now, now + timedelta(days=7), now
        )
        people = []
        for i, country in enumerate(COUNTRIES):
            h = whatsapp if i % 4 == 0 else telegram
            user = str(9000 + i)
            spheres = LONE_SPHERES if i == 21 else SPHERE_SETS[i % len(SPHERE_SETS)]
            locale = ("ar", "en", "fr")[i % 3]
            await tx.members.create(
                NewMember(h.channel.name, user, user, locale, country, list(spheres),
                          Role.MEMBER, "v1", now),
                now,
            )  # fmt: skip
            types[i] = Type(country, locale, frozenset(spheres))
            people.append(h.person(user, None))
    for i, she in enumerate(people[:20]):
        await answer(she, sid, i, finish=i not in PARTIAL)
    assert await flush_survey_pools(store, K) > 0
    for i, she in enumerate(people[20:], 20):
        await answer(she, sid, i, finish=i not in PARTIAL)
    await flush_survey_pools(store, K)
    for h in (telegram, whatsapp):
        h.clock.advance(timedelta(days=8))
    assert await close_due_surveys(store, telegram.clock.now(), K) == [sid]
    return sid, types, telegram


def finest_truth(
    survey: Survey, types: dict[int, Type], stored: dict[Counter, int]
) -> dict[tuple[str, str, Type], int]:
    """x[question, answer, type] for every answer stored overall and every type that took
    part: the true numbers, from the answers each member gave (as `answer` gives them)."""
    options = sorted({(q, a) for q, a, d, _v in stored if d == "none"})
    truth = {(q, a, t): 0 for q, a in options for t in set(types.values())}
    for i, t in types.items():
        if i in PARTIAL:
            continue
        given: dict[str, object] = {"safe": 1 + i % 5, "threat": i % 3 == 0, "work": i % 32}
        if i % 3 == 0:
            given["who"] = [("armed", "family", "online")[i % 2]]
        if i % 4 == 0:
            given["note"] = f"remark {i}"
        for q, a in [("", ""), *tallies(survey.definition, given)]:
            truth[q, a, t] += 1
    return truth


async def test_no_group_under_k_can_be_recovered_from_every_survey_breakdown(
    store: SqlStore, backend: str, tmp_path: Path
) -> None:
    config = CoreConfig(
        public_url="https://wasl.test",
        countries=("IQ", "SY", "LB", "YE"),
        min_cell=K,
        secret_key=keys.decode(SECRET),
    )
    sid, types, harness = await run_survey(store, config)
    async with store.transaction() as tx:
        survey = await tx.surveys.get(sid)
        assert survey is not None
        stored: dict[Counter, int] = {
            (r.question, r.answer, r.dimension, str(r.value)): int(r.count)
            for r in await tx.conn.execute(select(count_t).where(count_t.c.survey_id == sid))
        }
        responses = await tx.reports.survey_responses(sid)
        _ = Catalogs().get("en")
        reports = {
            by: await survey_report(
                tx, survey, by, K, _, survey.closes_at, secret=config.secret_key
            )
            for by in survey_breakdowns(survey)
        }
    assert set(reports) == set(DIMENSION), "every declared breakdown was asked for"
    assert ("", "", "country", "YE") not in stored, "the lone Yemeni is only in the overall"

    truth = finest_truth(survey, types, stored)
    for (q, a, d, _v), n in stored.items():
        if d == "none":
            assert n == sum(c for (q2, a2, _t), c in truth.items() if (q2, a2) == (q, a)), (q, a)
    solver = Solver(truth, stored)
    old = Solver(truth, stored)
    published = sum(
        publish_report(solver, old, survey, stored, report, responses)
        for report in reports.values()
    )
    before, checked_before = old.pinned()
    after, checked = solver.pinned()
    print(
        f"\nsurvey attack: {len(solver.x)} finest cells, {len(solver.s)} counters, "
        f"{published} figures; suppression alone: {len(before)} of {checked_before} small "
        f"counts pinned {before[:6]}; cell-key: {len(after)} of {checked} pinned"
    )
    assert before, "suppression alone let the breakdowns be combined"
    assert checked > 10
    assert after == [], after

    await same_figures_in_the_cli_and_the_dashboard(harness, backend, tmp_path, survey, reports)
    await same_figures_on_the_public_page(harness, survey, reports)


async def same_figures_in_the_cli_and_the_dashboard(
    harness: Harness,
    backend: str,
    tmp_path: Path,
    survey: Survey,
    reports: dict[Breakdown, Report],
) -> None:
    """A real `wasl report survey` process and the dashboard's survey page (the Starlette
    app through httpx, as a secretariat member opens it) print the builders' figures."""
    store = harness.store
    expected = reports[Breakdown.COUNTRY]
    if backend == "sqlite":
        out = tmp_path / "survey.csv"
        url = store.engine.url.render_as_string(hide_password=False).replace("+aiosqlite", "")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WASL_COUNTRIES": "IQ SY LB YE",
            "WASL_MIN_CELL": str(K),
            "WASL_SECRET_KEY": SECRET,
        }
        command = [sys.executable, "-m", "bot", "report", "survey", survey.slug]
        command += ["--by", "country", "--out", str(out)]
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=PIPE, stderr=PIPE)
        _out, error = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, error.decode()
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        printed = {(r[0], r[2], r[3]): r[4] for r in rows[1:]}
        for section in expected.sections:
            for r, label in enumerate(section.row_labels):
                for c, column in enumerate(section.column_labels):
                    got = printed[section.key, label, column]
                    assert got == cell_text(section.table, r, c), (section.key, label, column)

    she = harness.person("700700", "en")
    await join(she, await make_invite(harness, "survey-sec", role=Role.SECRETARIAT), locale="en")
    [link] = await she.say("/dashboard")
    token = parse_qs(urlsplit(link.text.split()[-1]).query)["t"][0]
    app = App(settings=Settings(), store=store, catalogs=harness.catalogs, core=harness.core)
    transport = httpx.ASGITransport(app=build_web(app, None))
    async with httpx.AsyncClient(transport=transport, base_url="https://wasl.test") as client:
        page = await client.get(
            f"/dashboard/survey/{survey.slug}", params={"t": token, "by": "country"}
        )
    assert page.status_code == 200, page.text[:300]
    tables = Tables()
    tables.feed(page.text)
    compared = 0
    for section in expected.sections:
        if len(section.table.columns) < 2:
            continue
        found = [t for t in tables.tables if t[0][1 : 1 + len(section.column_labels)]
                 == list(section.column_labels)]  # fmt: skip
        for table in found:
            for r, label in enumerate(section.row_labels):
                marks = [cell_text(section.table, r, c) for c in range(len(section.table.columns))]
                shown = [cell.split(" (")[0] for cell in table[1 + r][: 1 + len(marks)]]
                assert shown == [label, *marks], "each figure (its share of those shown after)"
                compared += 1
    assert compared > 0, "the page shows the builders' tables"


def compare_tables(page: str, report: Report) -> int:
    """Every table of `report` is on the page with exactly its figures (each share after)."""
    tables = Tables()
    tables.feed(page)
    compared = 0
    for section in report.sections:
        if len(section.table.columns) < 2:
            continue
        found = [t for t in tables.tables if t[0][1 : 1 + len(section.column_labels)]
                 == list(section.column_labels)]  # fmt: skip
        assert found, section.key
        for table in found:
            for r, label in enumerate(section.row_labels):
                marks = [cell_text(section.table, r, c) for c in range(len(section.table.columns))]
                shown = [cell.split(" (")[0] for cell in table[1 + r][: 1 + len(marks)]]
                assert shown == [label, *marks], "each figure (its share of those shown after)"
                compared += 1
    return compared


async def same_figures_on_the_public_page(
    harness: Harness, survey: Survey, reports: dict[Breakdown, Report]
) -> None:
    """The public page (no login) prints the figures the attack above was given, and no
    others: the whole survey (a members' survey is not split by country in public, even when
    asked), and never a free-text answer or its count."""
    app = App(settings=Settings(), store=harness.store, catalogs=harness.catalogs,
              core=harness.core)  # fmt: skip
    transport = httpx.ASGITransport(app=build_web(app, None))
    compared = 0
    async with httpx.AsyncClient(transport=transport, base_url="https://wasl.test") as client:
        for asked in (Breakdown.NONE, Breakdown.COUNTRY):
            by = Breakdown.NONE
            page = await client.get(f"/results/{survey.slug}", params={"by": asked.value})
            assert page.status_code == 200, page.text[:300]
            assert "remark " not in page.text, "no free-text answer"
            assert "Anything else?" not in page.text, "nor how many there were"
            assert "by=country" not in page.text
            compared += compare_tables(page.text, reports[by])
            # No figure the attack was not given: every number cell is one of the report's.
            allowed = {
                cell_text(s.table, r, c)
                for s in reports[by].sections
                for r in range(len(s.table.rows))
                for c in range(len(s.table.columns))
            }
            allowed |= {
                str(t) if t is not None else "—"
                for s in reports[by].sections
                for t in (*s.table.row_totals, *s.table.column_totals, s.table.total)
            }
            tables = Tables()
            tables.feed(page.text)
            for table in tables.tables:
                for line in table[1:]:
                    for cell in line[1:]:
                        assert cell.split(" (")[0] in allowed, cell
    assert compared > 0
