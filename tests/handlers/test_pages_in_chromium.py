"""The dashboard and the public results page as a browser draws them: headless Chromium at a
phone's width (390 px) and a desktop's (1280 px), in English and Arabic.

The real Starlette app is served by uvicorn on a local port (its headers, the strict
Content-Security-Policy included, are what Chromium enforces); Chromium is driven over the
DevTools protocol (tests/support/browser.py). Each page is checked for what a reader would
notice: nothing wider than the screen (no sideways scrolling, no chart label cut off at an
edge), charts present, the served fonts loaded for Arabic, the data before the choices on a
phone and beside them on a desktop, mirrored charts right to left. Screenshots are kept as
artefacts: in $WASL_SCREENSHOTS when set, else in a temporary directory; the path is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import uvicorn

from bot.app import App
from bot.config import Settings
from bot.core.models import Role
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.web import build_web
from tests.handlers.test_dashboard import PUBLIC, h, link_for, person
from tests.support import browser
from tests.support.harness import Harness
from tests.support.reports import seed_members, seed_survey, seed_updates

__all__ = ["h"]  # fixtures
pytestmark = pytest.mark.skipif(
    not browser.available(),
    reason=f"{browser.CHROMIUM} is not installed (apt-get install -y chromium): the pages "
    "are not checked in a browser here (.ci/run installs it)",
)
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
# What the browser is asked about a page (the page itself runs no script).
LAYOUT = """(() => {
  const width = document.documentElement.clientWidth;
  const box = (e) => e ? e.getBoundingClientRect() : null;
  const charts = [...document.querySelectorAll('svg.chart')];
  const cut = [...document.querySelectorAll('svg.chart text, h1, h2, h3, p, dd, nav a')]
    .filter((e) => { const r = box(e); return r.width && (r.left < -1 || r.right > width + 1); })
    .map((e) => e.textContent.slice(0, 40));
  const label = charts.length ? charts[0].querySelector('text') : null;
  const main = box(document.querySelector('main'));
  const aside = box(document.querySelector('aside'));
  return {
    width, scrollWidth: document.documentElement.scrollWidth,
    charts: charts.length,
    chartWidths: charts.map((c) => Math.round(box(c).width)),
    cut,
    labelEdges: label ? [box(label).left - box(charts[0]).left,
                         box(charts[0]).right - box(label).right] : null,
    arabicFont: document.fonts.check('14px "Wasl Arabic"', 'ع'),
    fontsLoaded: [...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family),
    main: main && [main.top, main.left, main.right],
    aside: aside && [aside.top, aside.left, aside.right],
  };
})()"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(h: Harness) -> AsyncIterator[str]:
    """The real web app under uvicorn on a local port, in this test's event loop."""
    app = App(settings=Settings(), store=h.store, catalogs=h.catalogs, core=h.core)
    port = free_port()
    config = uvicorn.Config(
        build_web(app, None), host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # it says nothing when started: asked until it is
        if server.started:
            break
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def artefacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WASL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_pages_fit_a_phone_and_a_desktop_in_english_and_arabic(
    h: Harness, served: str, tmp_path: Path
) -> None:
    now = h.clock.now()
    month = CalendarPeriod.recent(PeriodKind.MONTH, now.date())[0]
    assert month.first is not None
    then = datetime.combine(month.first + timedelta(days=8), time(12), UTC)
    ids = await seed_members(h.store, then, {"IQ": 200, "YE": 150, "LB": 51, "SY": 3})
    await seed_updates(h.store, then, ids[0], {"IQ": 100, "YE": 51, "LB": 2})
    people = {"IQ": 60, "YE": 30, "LB": 12, "SY": 3}
    await seed_survey(h.store, now, people, mode="public", public_results=True)
    pages: dict[str, str] = {}
    for locale in ("en", "ar"):
        she = await person(h, f"90{len(pages)}", Role.SECRETARIAT, locale=locale)
        link = (await link_for(she)).replace(PUBLIC, served)
        token = link.split("t=", 1)[1]
        pages[f"overview-{locale}"] = link
        pages[f"survey-{locale}"] = f"{served}/dashboard/survey/pulse-test?t={token}"
        pages[f"survey-country-{locale}"] = (
            f"{served}/dashboard/survey/pulse-test?t={token}&by=country"
        )
        pages[f"public-{locale}"] = f"{served}/results/pulse-test?lang={locale}"
        pages[f"public-country-{locale}"] = f"{served}/results/pulse-test?lang={locale}&by=country"
    folder = artefacts(tmp_path)
    print(f"\nscreenshots: {folder}")
    problems: list[str] = []
    async with browser.chromium() as tab:
        for name, url in pages.items():
            rtl = name.endswith("-ar")
            for size, (width, height) in WIDTHS.items():
                await tab.open(url, width, height)
                await tab.screenshot(folder / f"{name}-{size}.png")
                seen = await tab.evaluate(LAYOUT)
                where = f"{name} at {width} px: "
                if seen["scrollWidth"] > seen["width"]:
                    problems.append(
                        where + f"{seen['scrollWidth']} px wide, wider than the screen"
                    )
                if seen["cut"]:
                    problems.append(where + f"cut at an edge: {seen['cut'][:5]}")
                if seen["charts"] < (2 if name.startswith("overview") else 3):
                    problems.append(where + f"only {seen['charts']} charts")
                if any(w > seen["width"] or w < 200 for w in seen["chartWidths"]):
                    problems.append(where + f"chart widths {seen['chartWidths']}")
                if rtl and not seen["arabicFont"]:
                    problems.append(where + f"Wasl Arabic not loaded ({seen['fontsLoaded']})")
                start, end = seen["labelEdges"] or (0, 0)
                if (end if rtl else start) > 2:
                    problems.append(where + f"first label not at the reading start {start, end}")
                if seen["aside"] and seen["main"]:
                    main, aside = seen["main"], seen["aside"]
                    if size == "phone" and not aside[0] > main[0]:
                        problems.append(where + "the choices come before the data")
                    if size == "desktop" and not aside[0] < main[0] + 200:
                        problems.append(where + "the choices are not beside the data")
    print(json.dumps(sorted(p.name for p in folder.glob("*.png"))))
    assert problems == [], "\n".join(problems)
    assert len(list(folder.glob("*.png"))) == len(pages) * len(WIDTHS)
    assert re.search(r"public-ar-phone\.png", " ".join(p.name for p in folder.iterdir()))
