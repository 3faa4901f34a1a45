"""Public results (/results/<slug>): a closed survey that says `public_results: true` has a
page anyone can open, in its languages, with charts and a short image for link previews;
every other survey has none. Served by the real Starlette app, in-process through httpx, on
the same store as the bot."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.core.surveys import SurveyError, parse_definition
from tests.handlers.test_dashboard import PUBLIC, h, parsed, web
from tests.support.harness import Harness
from tests.support.reports import FREE_TEXT, LOCALES, seed_survey
from tests.support.surveys import pulse

__all__ = ["h", "web"]  # fixtures


def meta(page: str, name: str) -> str:
    found = re.search(rf'<meta property="{re.escape(name)}" content="([^"]*)">', page)
    assert found, name
    return found.group(1).replace("&amp;", "&")


async def test_a_public_survey_has_a_public_page_with_charts(
    h: Harness, web: httpx.AsyncClient
) -> None:
    now = h.clock.now()
    people = {"IQ": 40, "YE": 12, "LB": 3}
    await seed_survey(h.store, now, people, mode="public", public_results=True)
    response = await web.get("/results/pulse-test")
    assert response.status_code == 200
    headers = response.headers
    assert headers["cache-control"].startswith("public, max-age=")
    assert "set-cookie" not in headers
    assert "script-src" not in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    page = response.text
    assert '<html lang="en" dir="ltr">' in page and "<h1>Pulse: safety</h1>" in page
    assert page.count("<svg ") >= 4, "a chart per question"
    assert "Average: " in page, "the scale question's average"
    assert "Anything else?" not in page and FREE_TEXT not in page, "no free text, not even a count"
    assert "noindex" not in page, "meant to be found and shared"
    tables = parsed(page)
    assert "All" in tables.cells and "Iraq" not in tables.cells, "the whole survey first"

    # One tap to the split by country: Lebanon's three are a hidden group.
    [by_country] = [a for a in tables.links if "by=country" in a]
    split = await web.get(by_country.replace("&amp;", "&"))
    assert split.status_code == 200
    cells = parsed(split.text).cells
    assert "Iraq" in cells and "Lebanon" in cells and "<5" in cells

    # A members' survey shows the whole alliance only: where members work is not published.
    await seed_survey(h.store, now, people, slug="members-one", public_results=True)
    members = await web.get("/results/members-one")
    assert members.status_code == 200 and "by=country" not in members.text
    asked = await web.get("/results/members-one?by=country")
    assert "Iraq" not in asked.text and "All" in parsed(asked.text).cells

    # Its languages, each by a link; Arabic right to left, in Arabic.
    [arabic] = [a for a in tables.links if "lang=ar" in a]
    assert "lang=fa" not in page, "only the survey's own languages"
    response = await web.get(arabic.replace("&amp;", "&"))
    assert '<html lang="ar" dir="rtl">' in response.text
    assert "نبض: الأمان" in response.text and 'direction="rtl"' in response.text
    unknown = await web.get("/results/pulse-test?lang=fa&by=gender")
    assert unknown.status_code == 200 and '<html lang="en"' in unknown.text, "its default"

    # Shared by link: a short image for messaging apps' previews, at an absolute address.
    image = meta(page, "og:image")
    assert image.startswith(f"{PUBLIC}/results/pulse-test.png?")
    assert meta(page, "og:title") == "Pulse: safety"
    assert "responses" in meta(page, "og:description")
    png = await web.get(urlsplit(image).path + "?" + urlsplit(image).query)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"].startswith("public")
    width = int.from_bytes(png.content[16:20], "big")
    height = int.from_bytes(png.content[20:24], "big")
    assert width == 800 and height < 700, f"a short image ({width}×{height})"
    from PIL import Image

    assert Image.open(io.BytesIO(png.content)).size == (width, height)
    arabic_png = await web.get("/results/pulse-test.png?lang=ar")
    assert arabic_png.status_code == 200 and arabic_png.content != png.content
    assert parse_qs(urlsplit(image).query)["lang"] == ["en"]


async def test_no_page_unless_public_closed_and_answered(
    h: Harness, web: httpx.AsyncClient
) -> None:
    now = h.clock.now()
    await seed_survey(h.store, now, {"IQ": 40}, slug="private-one")
    still_open = await seed_survey(
        h.store, now, {"IQ": 40}, slug="open-one", close=False, public_results=True
    )
    await seed_survey(h.store, now, {}, slug="empty-one", public_results=True)
    nowhere = await web.get("/results/nothing-here")
    assert nowhere.status_code == 404 and "There is no survey called" in nowhere.text
    for slug in ("private-one", "open-one", "empty-one"):
        for suffix in ("", ".png"):
            response = await web.get(f"/results/{slug}{suffix}")
            assert response.status_code == 404, slug
            # Not public, not closed, not answered: from outside, the same as no survey.
            assert response.text == nowhere.text.replace("nothing-here", slug)
    too_long = await web.get("/results/" + "x" * 500)
    assert too_long.status_code == 404
    h.clock.advance(timedelta(days=8))
    async with h.store.transaction() as tx:  # the open one closes: now it is published
        await tx.surveys.close(still_open.id, h.clock.now())
    assert (await web.get("/results/open-one")).status_code == 200


def test_public_results_is_off_unless_said_and_must_be_true_or_false() -> None:
    assert not parse_definition(pulse(), LOCALES).public_results
    data = pulse()
    data["public_results"] = True
    assert parse_definition(data, LOCALES).public_results
    for wrong in ("yes", 1, None, "true"):
        data["public_results"] = wrong
        with pytest.raises(SurveyError, match="public_results must be true or false"):
            parse_definition(data, LOCALES)
