"""How long a country brief takes: the figures (SQLite), then the PDF and the Markdown, in
English, Arabic and Bengali.

The data is the briefs' test quarter (members, field updates, two monthly rounds of a survey)
and four more surveys closing in the quarter, so the PDF has more than fits two pages and is
laid out twice. The median of 3 runs of each step is printed; the PDF's steps are mostly
matplotlib drawing each survey's chart (about a second each on a loaded machine).

Run: `.venv/bin/python bench/brief.py`
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.i18n import Catalogs
from bot.reports.brief import CountryBrief
from bot.reports.brief_render import render_brief_markdown, render_brief_pdf
from bot.services.brief import build_brief
from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.briefs import LIMITS, QUARTER, TODAY, seed_quarter, seed_round
from tests.support.database import migrated_sqlite_file

RUNS = 3
CATALOGS = Catalogs()


def median(step: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _run in range(RUNS):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def seed(store: SqlStore) -> None:
    await seed_quarter(store)
    for n in range(4):
        closes = TODAY.replace(year=2026, month=11, day=1) - timedelta(days=n)
        await seed_round(store, f"extra-{n}", closes, {"IQ": 12, "SY": 9})


async def brief_of(store: SqlStore, locale: str) -> CountryBrief:
    async with store.transaction() as tx:
        return await build_brief(tx, "IQ", QUARTER, CATALOGS.get(locale), TODAY, LIMITS)


def report(loop: asyncio.AbstractEventLoop, store: SqlStore, locale: str) -> None:
    _ = CATALOGS.get(locale)
    built, brief = median(lambda: loop.run_until_complete(brief_of(store, locale)))
    assert isinstance(brief, CountryBrief)
    pdf_time, pdf = median(lambda: render_brief_pdf(brief, _))
    md_time, _md = median(lambda: render_brief_markdown(brief, _))
    size = len(pdf) if isinstance(pdf, bytes) else 0
    print(
        f"brief {locale}: figures {built:.3f} s, PDF {pdf_time:.2f} s "
        f"({size / 1024:.0f} KiB), Markdown {md_time:.4f} s (median of {RUNS})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = migrated_sqlite_file(Path(folder))
        store = SqlStore(make_engine(f"sqlite:///{path}"))
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(seed(store))
            for locale in ("en", "ar", "bn"):
                report(loop, store, locale)
        finally:
            loop.run_until_complete(store.close())
            loop.close()


if __name__ == "__main__":
    main()
