"""How long the full survey report takes on a large survey, on SQLite and PostgreSQL, and how
long the survey job's fold takes to count a backlog of finished questionnaires.

Survey answers are stored only as counters (question, answer, breakdown value → count). The
benchmark counts 100,000 respondents' answers (10 questions each) as the fold would, loads the
counters and the weekly tallies of 100,000 field updates, then times the full survey report:
every question, by country, with disclosure control, rendered to the chat text and to CSV
(median of 5 runs). Loading is bulk and not what is measured. Target: under 1 s on SQLite. It
then times one fold of 10,000 questionnaires waiting in conversation states.

Run: `.venv/bin/python bench/reports.py` (PostgreSQL from WASL_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test, in a fresh schema dropped afterwards; `--no-postgres`
to skip it, `--responses N` for a smaller run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import text

from bot.core import keys
from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, CalendarPeriod
from bot.core.surveys import Dimensions, Survey, parse_definition
from bot.core.surveys import tallies as answer_tallies
from bot.reports.render import render_csv, render_text
from bot.services.reports import survey_report, updates_report
from storage.engine import make_engine, migrate
from storage.store import SqlStore
from storage.tables import state_t

QUESTIONS = 10
CHUNK = 10_000
RUNS = 5
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)
SECRET = keys.ephemeral()  # the key survey figures are perturbed under (bot.core.keys)
FIRST_WEEK = date(2026, 6, 1)  # a Monday; 26 weeks of answers and updates
WEEKS = [(FIRST_WEEK + timedelta(weeks=i)).isoformat() for i in range(26)]
# The alliance's countries, unevenly, and one where only three people answered.
COUNTRIES = ["IQ"] * 28 + ["SY"] * 20 + ["LB"] * 14 + ["JO"] * 12 + ["YE"] * 10
COUNTRIES += ["LY"] * 7 + ["NG"] * 5 + ["PK"] * 4
SPHERES = ["youth", "pluralism", "religion", "rights", "vaw", "narratives", "media", "advocacy"]
COUNT_COLUMNS = ("survey_id", "question", "answer", "dimension", "value", "count")
FOLD = 10_000  # questionnaires waiting in states for the fold benchmark


def definition() -> dict[str, Any]:
    """Ten questions, each answered with exactly one row: choices, scales, yes/no, a number,
    and free text (which reports only count)."""
    kinds = ["single", "scale", "yesno", "single", "scale", "yesno", "single", "number"]
    kinds += ["scale", "text"]
    questions: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        prompt: dict[str, Any] = {"prompt": f"Question {i + 1}"}
        question: dict[str, Any] = {"key": f"q{i + 1}", "type": kind, "required": True}
        if kind == "single":
            question["options"] = ["a", "b", "c", "d"]
            prompt["options"] = ["Often", "Sometimes", "Rarely", "Never"]
        elif kind == "scale":
            prompt.update(low="Not at all", high="Completely")
        elif kind == "number":
            question.update(min=0, max=31)
        question["text"] = {"en": prompt}
        questions.append(question)
    return {
        "slug": "bench-pulse",
        "default_locale": "en",
        "text": {"en": {"title": "Benchmark pulse"}},
        "questions": questions,
    }


def respondents(
    responses: int, seed: int = 20261130
) -> Iterator[tuple[dict[str, Any], Dimensions]]:
    """Each respondent's answers and dimensions, the same for every database."""
    rng = random.Random(seed)
    for i in range(responses):
        country = "TD" if i < 3 else rng.choice(COUNTRIES)  # only three people in Chad
        dims = Dimensions(
            locale=rng.choice(("ar", "ar", "fr", "en")),
            channel=rng.choice(("telegram", "whatsapp")),
            country=country,
            spheres=tuple(rng.sample(SPHERES, rng.choice((1, 1, 2)))),
        )
        answers: dict[str, Any] = {}
        for q in range(1, QUESTIONS + 1):
            if q in (1, 4, 7):
                answers[f"q{q}"] = rng.choice("aabbbcd")
            elif q in (2, 5, 9):
                answers[f"q{q}"] = rng.choice((1, 2, 3, 3, 4, 4, 5))
            elif q in (3, 6):
                answers[f"q{q}"] = rng.choice(("yes", "no", "no"))
            elif q == 8:
                answers[f"q{q}"] = rng.randint(0, 31)
            else:
                answers[f"q{q}"] = "a short remark"
        yield answers, dims


def counters(survey: Survey, responses: int) -> tuple[list[tuple[Any, ...]], int]:
    """The counters the fold leaves for these respondents (groups under 5 never written),
    and how many (respondent, sphere) pairs there are, to check the sphere counts against."""
    heads: Counter[tuple[str, str]] = Counter()
    counts: Counter[tuple[str, str, str, str]] = Counter()
    sphere_pairs = 0
    for answers, dims in respondents(responses):
        given = answer_tallies(survey.definition, answers)
        for dimension, values in dims.groups(survey.definition.breakdowns).items():
            for value in values:
                heads[(dimension, value)] += 1
                counts[("", "", dimension, value)] += 1
                for question, answer in given:
                    counts[(question, answer, dimension, value)] += 1
        sphere_pairs += len(dims.spheres)
    rows = [(survey.id, q, a, d, v, n) for (q, a, d, v), n in counts.items() if heads[(d, v)] >= 5]
    return rows, sphere_pairs


def update_tallies(updates: int, seed: int = 7) -> list[tuple[str, str, str, bool, int]]:
    """The weekly tallies 100,000 updates leave behind (counted once per sphere)."""
    rng = random.Random(seed)
    counts: Counter[tuple[str, str, str, bool]] = Counter()
    for _ in range(updates):
        country, week, urgent = rng.choice(COUNTRIES), rng.choice(WEEKS), rng.random() < 0.1
        for sphere in rng.sample(SPHERES, rng.choice((1, 1, 2))):
            counts[(country, sphere, week, urgent)] += 1
    return [(*key, n) for key, n in counts.items()]


async def create_survey(store: SqlStore) -> Survey:
    parsed = parse_definition(definition(), ("en", "ar", "fr"))
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            parsed, NOW - timedelta(days=200), NOW - timedelta(days=1), NOW - timedelta(days=200)
        )
        await tx.surveys.close(survey_id, NOW)
        survey = await tx.surveys.get(survey_id)
    assert survey is not None
    return survey


def load_sqlite(path: Path, rows: list[tuple[Any, ...]], tally: list[Any]) -> None:
    """Bulk insert with the standard library."""
    db = sqlite3.connect(path)
    try:
        db.executemany(
            "INSERT INTO survey_count (survey_id, question, answer, dimension, value, count) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO update_tally (country, sphere, week, urgent, count) "
            "VALUES (?, ?, ?, ?, ?)",
            tally,
        )
        db.commit()
    finally:
        db.close()


async def load_postgres(
    url: str, schema: str, rows: list[tuple[Any, ...]], tally: list[Any]
) -> None:
    """Bulk insert with COPY, then VACUUM ANALYZE as autovacuum would after a big load."""
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        await connection.copy_records_to_table("survey_count", records=rows, columns=COUNT_COLUMNS)
        await connection.copy_records_to_table(
            "update_tally", records=tally, columns=("country", "sphere", "week", "urgent", "count")
        )
        await connection.execute("VACUUM ANALYZE survey_count")
    finally:
        await connection.close()


async def fold_backlog(store: SqlStore) -> float:
    """One fold of FOLD finished questionnaires waiting in their authors' states."""
    parsed = parse_definition({**definition(), "slug": "bench-fold"}, ("en", "ar", "fr"))
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            parsed, NOW - timedelta(days=1), NOW + timedelta(days=7), NOW
        )
        survey = await tx.surveys.get(survey_id)
        assert survey is not None
        states = [
            {"channel": "telegram", "chat_id": f"bench{i}", "flow": None, "step": None,
             "data": {}, "updated_at": NOW,
             "survey_pending": {str(survey_id): {"a": answers,
                                                "g": dims.groups(parsed.breakdowns)}}}
            for i, (answers, dims) in enumerate(respondents(FOLD, seed=7))
        ]  # fmt: skip
        await tx.conn.execute(state_t.insert(), states)
    start = time.perf_counter()
    async with store.transaction() as tx:
        done = await tx.surveys.fold(survey, 5)
    async with store.transaction() as tx:
        await tx.surveys.retouch(done.states)
    elapsed = time.perf_counter() - start
    print(
        f"      fold of {FOLD:,} waiting questionnaires: {done.overall:,} counted overall, "
        f"{len(done.states):,} states changed, in {elapsed:.2f} s (with the retouch)"
    )
    return elapsed


async def full_report(store: SqlStore, survey: Survey, catalogs: Catalogs) -> tuple[str, bytes]:
    """What is measured: every question by country, disclosure control, text and CSV."""
    _ = catalogs.get("en")
    async with store.transaction() as tx:
        report = await survey_report(tx, survey, Breakdown.COUNTRY, 5, _, NOW, secret=SECRET)
    return render_text(report, _), render_csv(report, _)


async def timed(call: Callable[[], Awaitable[Any]], runs: int = RUNS) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


def line(label: str, samples: list[float]) -> str:
    median = statistics.median(samples)
    return (
        f"  {label:<12} median {median:6.3f} s   min {min(samples):6.3f} s   "
        f"max {max(samples):6.3f} s   ({len(samples)} runs)"
    )


async def measure(
    name: str, store: SqlStore, survey: Survey, catalogs: Catalogs, sphere_pairs: int
) -> float:
    samples = await timed(lambda: full_report(store, survey, catalogs))
    print(line(name, samples))
    _ = catalogs.get("en")

    async def query_only() -> None:
        async with store.transaction() as tx:
            await tx.reports.survey_counts(survey.id, Breakdown.COUNTRY)

    async def by(breakdown: Breakdown) -> None:
        async with store.transaction() as tx:
            await survey_report(tx, survey, breakdown, 5, _, NOW, secret=SECRET)

    async def updates() -> None:
        async with store.transaction() as tx:
            period = CalendarPeriod.all_time(NOW.date())
            await updates_report(tx, Breakdown.COUNTRY, period, 5, _, NOW)

    parts = [("the SQL aggregate alone", query_only)]
    parts += [(f"by {b.value}", lambda b=b: by(b)) for b in (Breakdown.LANGUAGE, Breakdown.SPHERE)]
    parts += [("update counts by country", updates)]
    for label, call in parts:
        once = statistics.median(await timed(call, 3))
        print(f"      {label:<26} {once:6.3f} s (median of 3)")
    async with store.transaction() as tx:  # every respondent counted once per sphere
        by_sphere = await tx.reports.survey_headcounts(survey.id, Breakdown.SPHERE)
    found = sum(by_sphere.values())
    print(f"      by-sphere headcounts {found:,} = respondents × their spheres {sphere_pairs:,}")
    if found != sphere_pairs:
        raise SystemExit("the sphere counters disagree with the respondents' spheres")
    await fold_backlog(store)
    return statistics.median(samples)


async def sqlite_run(folder: Path, responses: int, tally: list[Any], catalogs: Catalogs) -> float:
    path = folder / "bench.db"
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        await migrate(store.engine)
        survey = await create_survey(store)
        start = time.perf_counter()
        rows, pairs = counters(survey, responses)
        await asyncio.to_thread(load_sqlite, path, rows, tally)
        size = path.stat().st_size / 1e6
        print(
            f"  counted and loaded SQLite in {time.perf_counter() - start:.1f} s "
            f"({len(rows):,} counter rows, {size:,.1f} MB)"
        )
        return await measure("SQLite", store, survey, catalogs, pairs)
    finally:
        await store.close()


async def postgres_run(url: str, responses: int, tally: list[Any], catalogs: Catalogs) -> None:
    try:
        probe = await asyncpg.connect(url, timeout=3)
        version = await probe.fetchval("SHOW server_version")
        await probe.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        print(f"  PostgreSQL skipped: unreachable at {url} ({error!r})")
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = make_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = SqlStore(make_engine(url, schema=schema))
    try:
        await migrate(store.engine)
        survey = await create_survey(store)
        start = time.perf_counter()
        rows, pairs = counters(survey, responses)
        await load_postgres(url, schema, rows, tally)
        print(f"  counted and loaded PostgreSQL {version} in {time.perf_counter() - start:.1f} s")
        await measure("PostgreSQL", store, survey, catalogs, pairs)
    finally:
        await store.close()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("WASL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    began = time.perf_counter()
    tally = update_tallies(args.updates)
    print(
        f"Survey report benchmark: {args.responses:,} respondents ({QUESTIONS} questions each) "
        f"as counters, and {args.updates:,} updates as {len(tally):,} weekly tallies."
    )
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs. Measured: the full survey report (all {QUESTIONS} questions, "
        "by country, disclosure control, text + CSV); loading is not."
    )
    catalogs = Catalogs()
    with tempfile.TemporaryDirectory() as folder:
        median = await sqlite_run(Path(folder), args.responses, tally, catalogs)
    verdict = "met" if median < 1.0 else "NOT met"
    print(f"  target under 1 s on SQLite: {verdict} ({median:.3f} s)")
    if not args.no_postgres:
        await postgres_run(url, args.responses, tally, catalogs)
    print(f"whole benchmark: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
