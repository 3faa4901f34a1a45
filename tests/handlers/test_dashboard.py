"""/dashboard and the web dashboard it opens: private short-lived links, disclosure-safe pages.

The link comes from the real core (a secretariat member asks the bot); the pages are served by
the real Starlette app, in-process through httpx, on the same SQLite store.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from babel.dates import format_date

from bot.app import App
from bot.config import Settings
from bot.core.context import CoreConfig
from bot.core.models import Role
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.services.reports import token_hash
from bot.web import build_web
from handlers import build_router
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.briefs import FIRST, seed_round
from tests.support.harness import Harness, Person
from tests.support.reports import FREE_TEXT, seed_members, seed_survey, seed_updates, xlsx_text

PUBLIC = "https://bot.example.org"


@pytest.fixture
def h(db: SqlStore) -> Harness:
    return Harness(db, build_router(), config=CoreConfig(public_url=PUBLIC))


@pytest.fixture
async def web(
    h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    app = App(settings=Settings(), store=h.store, catalogs=h.catalogs, core=h.core)
    transport = httpx.ASGITransport(app=build_web(app, None))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        yield client


async def person(h: Harness, user_id: str, role: Role, locale: str = "en") -> Person:
    she = h.person(user_id, locale)
    await join(she, await make_invite(h, f"code-{user_id}", role=role), locale=locale)
    return she


async def link_for(she: Person) -> str:
    [answer] = await she.say("/dashboard")
    match = re.search(rf"{re.escape(PUBLIC)}/dashboard\?t=[^\s\u2069]+", answer.text)
    assert match, answer.text
    return match.group(0)


class Tables(HTMLParser):
    """Collects the text of every table cell, and the links, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        if tag == "a":
            self.links += [v or "" for k, v in attrs if k == "href"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


def parsed(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    return tables


async def audit(h: Harness, action: str) -> list[dict[str, object]]:
    async with h.store.transaction() as tx:
        return [e for e in await tx.audit_log.entries(200) if e["action"] == action]


async def test_the_secretariat_opens_the_dashboard_from_a_private_link(
    h: Harness, web: httpx.AsyncClient
) -> None:
    now = h.clock.now()
    # The overview shows the latest complete month: the members and updates are from it.
    month = CalendarPeriod.recent(PeriodKind.MONTH, now.date())[0]
    assert month.first is not None
    then = datetime.combine(month.first + timedelta(days=8), time(12), UTC)
    ids = await seed_members(h.store, then, {"IQ": 12, "YE": 7, "LB": 2})
    await seed_updates(h.store, then, ids[0], {"IQ": 9, "YE": 6})
    await seed_survey(h.store, now, {"IQ": 40, "YE": 8, "LB": 3})  # every scale point over k
    analyst = await person(h, "700", Role.SECRETARIAT)
    link = await link_for(analyst)
    [entry] = await audit(h, "dashboard.link")
    assert entry["actor_member_id"] is not None
    token = parse_qs(urlsplit(link).query)["t"][0]
    # Found by its keyed hash only (tests/privacy/test_dashboard_links.py reads the table).
    async with h.store.transaction() as tx:
        found = await tx.dashboard_links.member(token_hash(h.config.secret_key, token), now)
        assert found is not None and found.id == entry["actor_member_id"]
        for guess in (token, hashlib.sha256(token.encode()).hexdigest()):
            assert await tx.dashboard_links.member(guess, now) is None, "only a keyed hash is kept"
        elsewhere = token_hash(CoreConfig().secret_key, token)  # another installation's key
        assert await tx.dashboard_links.member(elsewhere, now) is None, (
            "no key, no test of a guess"
        )

    response = await web.get(link)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in response.headers["content-security-policy"]
    overview = parsed(response.text)
    assert "Iraq" in overview.cells and "Yemen" in overview.cells
    assert "<5" in overview.cells, "Lebanon's 2 members are withheld"
    assert FREE_TEXT not in response.text
    [survey_link] = [a for a in overview.links if "/dashboard/survey/pulse-test" in a]
    assert format_date(date(month.first.year, month.first.month, 1), "LLLL y") in response.text
    assert "changed by at most ±2" in response.text, "every output says figures are perturbed"
    [all_time] = [a for a in overview.links if "period=all" in a]
    assert (await web.get(all_time)).status_code == 200
    [earlier] = [a for a in overview.links if "at=" in a][:1]
    assert (await web.get(earlier)).status_code == 200, "an earlier month, by its label"

    response = await web.get(survey_link)
    assert response.status_code == 200
    whole = parsed(response.text)
    assert "All" in whole.cells and "Iraq" not in whole.cells, "it opens on the whole alliance"
    assert "Average: " in response.text, "a scale question's average"
    assert FREE_TEXT not in response.text, "free text is never shown"
    [by_country] = [a for a in whole.links if "by=country" in a]  # one tap away
    response = await web.get(by_country)
    survey = parsed(response.text)
    assert "Iraq" in survey.cells and "<5" in survey.cells
    assert FREE_TEXT not in response.text, "free text is never shown"
    by_language = [a for a in survey.links if "by=language" in a]
    assert by_language
    response = await web.get(by_language[0])
    assert response.status_code == 200 and "Arabic" in parsed(response.text).cells
    [xlsx] = [a for a in survey.links if "format=xlsx" in a and "by=country" in a]
    download = await web.get(xlsx)
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith('attachment; filename="wasl-')
    sheets, cells = xlsx_text(download.content)
    assert "Iraq" in cells and "<5" in cells and FREE_TEXT not in cells
    assert len(sheets) >= 2, "a sheet per question and the notes"
    [csv] = [a for a in survey.links if "format=csv" in a]
    text = (await web.get(csv)).content.decode("utf-8")
    assert "Iraq" in text and FREE_TEXT not in text
    pages = [e["details"]["page"] for e in await audit(h, "dashboard.viewed")]  # type: ignore[index]
    assert sorted(pages) == sorted(
        [
            "export:csv:survey:pulse-test:country",
            "export:xlsx:survey:pulse-test:country",
            "overview:all:all",
            f"overview:month:{month.label}",
            f"overview:month:{parse_qs(urlsplit(earlier).query)['at'][0]}",
            "survey:pulse-test:none",
            "survey:pulse-test:country",
            "survey:pulse-test:language",
        ]
    )

    response = await web.get(f"/dashboard/survey/nope?t={token}")
    assert response.status_code == 404 and "There is no survey called nope" in response.text


async def test_unknown_choices_in_the_address_fall_back_to_the_defaults(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await seed_survey(h.store, h.clock.now(), {"IQ": 20, "YE": 8})
    analyst = await person(h, "700", Role.SECRETARIAT)
    token = parse_qs(urlsplit(await link_for(analyst)).query)["t"][0]
    overview = await web.get(f"/dashboard?t={token}&period=yesterday")
    latest = CalendarPeriod.recent(PeriodKind.MONTH, h.clock.now().date())[0]
    label = format_date(date.fromisoformat(latest.label + "-01"), "LLLL y")
    assert overview.status_code == 200 and f"<h2>{label}</h2>" in overview.text, "the latest month"
    unfinished = await web.get(f"/dashboard?t={token}&period=week&at=2999-W01")
    assert unfinished.status_code == 200 and "Week of" in unfinished.text, "the latest week"
    survey = await web.get(f"/dashboard/survey/pulse-test?t={token}&by=age&format=pdf")
    assert survey.status_code == 200 and survey.headers["content-type"].startswith("text/html")
    assert "All" in parsed(survey.text).cells, "a members' survey has no age bands: overall"
    pages = [e["details"]["page"] for e in await audit(h, "dashboard.viewed")]  # type: ignore[index]
    assert pages[0] == "survey:pulse-test:none"


async def test_in_arabic_the_page_is_right_to_left(h: Harness, web: httpx.AsyncClient) -> None:
    analyst = await person(h, "700", Role.SECRETARIAT, locale="ar")
    response = await web.get(await link_for(analyst))
    assert response.status_code == 200
    assert '<html lang="ar" dir="rtl">' in response.text
    assert "font-src 'self'" in response.headers["content-security-policy"]
    assert 'font-family:"Wasl Arabic"' in response.text


# Letters each right-to-left language (and Bengali) needs beyond what most fonts have.
LETTERS = {
    "arabic.ttf": "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىءؤئ٠١٢٣٤٥٦٧٨٩٪"  # Arabic
    "پچژگیۀ۰۱۲۳۴۵۶۷۸۹"  # Persian / Dari
    "ٹڈڑںےھہۓ"  # Urdu
    "ټډړښږګڼۍې"  # Pashto
    "ڕڵۆێە",  # Sorani
    "bengali.ttf": "অআইঈউএওকখগঘঙচছজঝটঠডঢণতথদধনপফবভমযরলশষসহড়ঢ়য়ৎংঃঁািীুূেৈোৌ্০১২৩৪৫৬৭৮৯৳",
}


async def test_the_dashboard_serves_fonts_with_every_letter(
    h: Harness, web: httpx.AsyncClient
) -> None:
    from fontTools.ttLib import TTFont

    for name, letters in LETTERS.items():
        response = await web.get(f"/dashboard/fonts/{name}")
        assert response.status_code == 200 and response.headers["content-type"] == "font/ttf"
        assert "public" in response.headers["cache-control"]
        cmap = TTFont(io.BytesIO(response.content)).getBestCmap()
        assert not [ch for ch in letters if ord(ch) not in cmap], name
    assert (await web.get("/dashboard/fonts/../../wasl.db")).status_code == 404
    assert (await web.get("/dashboard/fonts/dejavu.ttf")).status_code == 404


SCRIPTS = {  # the served font that draws each script, by Unicode block
    "arabic.ttf": re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "bengali.ttf": re.compile("[\u0964\u0965\u0980-\u09ff]"),  # the danda ends a sentence
}


def unicode_range(html: str, font: str) -> list[tuple[int, int]]:
    """The code points the page's @font-face for `font` is used for (its unicode-range)."""
    face = re.search(rf"@font-face\{{[^}}]*/{re.escape(font)}[^}}]*unicode-range:([^;}}]+)", html)
    assert face, f"no @font-face for {font}"
    spans = [span.strip().removeprefix("U+").split("-") for span in face.group(1).split(",")]
    return [(int(s[0], 16), int(s[-1], 16)) for s in spans]


class _Text(HTMLParser):
    """The text a browser draws: what is outside tags, styles and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


@pytest.mark.parametrize("locale", ["ar", "fa", "ur", "ps", "ckb", "bn"])
async def test_every_letter_of_the_page_is_in_a_font_it_serves(
    h: Harness, web: httpx.AsyncClient, locale: str
) -> None:
    """The dashboard in each right-to-left language (and Bengali): right to left where it
    should be, in her language, and no letter the page draws is missing from the font it
    serves for that script (a missing one would show as an empty box), and each script's
    letters are in the page's own font rules (unicode-range) for that font."""
    from fontTools.ttLib import TTFont

    analyst = await person(h, "710", Role.SECRETARIAT, locale=locale)
    page = await web.get(await link_for(analyst))
    assert page.status_code == 200
    direction = "rtl" if locale != "bn" else "ltr"
    assert f'<html lang="{locale}" dir="{direction}">' in page.text
    reader = _Text()
    reader.feed(page.text)
    text = "".join(reader.parts)
    for font, script in SCRIPTS.items():
        drawn = set(script.findall(text))
        if not drawn:
            continue
        served = await web.get(f"/dashboard/fonts/{font}")
        cmap = TTFont(io.BytesIO(served.content)).getBestCmap()
        assert not sorted(ch for ch in drawn if ord(ch) not in cmap), (locale, font)
        ranges = unicode_range(page.text, font)
        assert not sorted(ch for ch in drawn if not any(a <= ord(ch) <= b for a, b in ranges))
    own = SCRIPTS["bengali.ttf" if locale == "bn" else "arabic.ttf"]
    assert len(own.findall(text)) > 100, "the page speaks her language"


async def test_an_urdu_page_prefers_nastaliq(h: Harness, web: httpx.AsyncClient) -> None:
    from bot.dashboard import font_style

    urdu, farsi = font_style("ur"), font_style("fa")
    assert urdu.index("Nastaliq") < urdu.index('"Wasl Arabic",') and "line-height" in urdu
    assert "Nastaliq" not in farsi and 'font-family:"Wasl Arabic"' in farsi


async def test_bad_expired_and_revoked_links_open_nothing(
    h: Harness, web: httpx.AsyncClient
) -> None:
    analyst = await person(h, "700", Role.SECRETARIAT)
    link = await link_for(analyst)
    for bad in ("/dashboard", "/dashboard?t=", "/dashboard?t=guess", f"{link}x"):
        response = await web.get(bad)
        assert response.status_code == 403 and "expired or is not valid" in response.text
    assert (await web.get(link)).status_code == 200
    h.clock.advance(timedelta(minutes=31))
    assert (await web.get(link)).status_code == 403, "a link lives 30 minutes"

    fresh = await link_for(analyst)
    async with h.store.transaction() as tx:
        me = await tx.members.get(analyst.inbound().channel, "700")
        assert me is not None
        await tx.members.set_role(me.id, Role.MEMBER)
    assert (await web.get(fresh)).status_code == 403, "her role is checked on every page"


async def test_forgetting_her_removes_her_links(h: Harness, web: httpx.AsyncClient) -> None:
    admin = await person(h, "701", Role.ADMIN)
    link = await link_for(admin)
    assert (await web.get(link)).status_code == 200
    await admin.say("/forget")
    await admin.tap("Yes, delete all")
    assert (await web.get(link)).status_code == 403
    token = parse_qs(urlsplit(link).query)["t"][0]
    async with h.store.transaction() as tx:
        gone = await tx.dashboard_links.member(
            token_hash(h.config.secret_key, token), h.clock.now()
        )
    assert gone is None, "her link is gone with her"


async def test_without_a_public_url_the_bot_says_so_and_members_are_refused(
    harness: Harness,
) -> None:
    analyst = await person(harness, "700", Role.SECRETARIAT)
    [answer] = await analyst.say("/dashboard")
    assert "not set up" in answer.text and "/report" in answer.text
    member = await person(harness, "1", Role.MEMBER)
    [refused] = await member.say("/dashboard")
    assert "not available" in refused.text
    assert await audit(harness, "command.refused")
    assert not await audit(harness, "dashboard.link"), "no link was made"
    async with harness.store.transaction() as tx:
        for person_ in (analyst, member):
            found = await tx.members.get(harness.channel.name, person_.user_id)
            assert found is not None
            assert (await tx.members.kept_about(found, harness.clock.now())).dashboard_links == 0


async def test_a_repeated_surveys_page_shows_the_change_between_its_rounds(
    h: Harness, web: httpx.AsyncClient
) -> None:
    """Two monthly rounds of one survey (pulse-YYYY-MM): the latest's page adds the change
    per answer, made of each round's published shares (bot/reports/brief.py)."""
    now = h.clock.now()
    rounds = []
    for shift, days in enumerate((45, 5)):
        closes = now - timedelta(days=days)
        slug = f"pulse-{closes:%Y-%m}"
        rounds.append(await seed_round(h.store, slug, closes, FIRST, shift=shift))
    analyst = await person(h, "700", Role.SECRETARIAT)
    token = parse_qs(urlsplit(await link_for(analyst)).query)["t"][0]
    page = (await web.get(f"/dashboard/survey/{rounds[1].slug}?t={token}")).text
    assert "Change since the last round: Whole alliance" in page
    cells = parsed(page).cells
    assert "Change (points)" in cells
    changes = [c for c in cells if re.fullmatch(r"[+−-]?\d+(\.\d)?|—|0", c)]
    assert changes, "a change per answer"
    assert (
        "Change since the last round"
        not in (await web.get(f"/dashboard/survey/{rounds[1].slug}?t={token}&format=csv")).text
    )
    assert [e["details"] for e in await audit(h, "report.trend")][-1] == {
        "family": "pulse",
        "country": None,
    }
