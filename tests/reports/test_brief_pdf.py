"""A country brief as a PDF: at most two pages, in every language, and Arabic drawn as it is
read. The pages are turned into images with PDFium (pypdfium2) and their text read back.

How Arabic is checked: a survey's Arabic title is made of letters that all join and carry no
dots, "حلم سلم". Drawn correctly, each word is one unbroken stroke (its columns of ink have no
gap) and its first letter is its rightmost; PDFium also reads the letters back in order. Drawn
without shaping, every letter stands alone (a gap between each) and the line runs left to
right: the control below makes such a PDF and the same checks fail on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from bot.core.i18n import SUPPORTED_LOCALES, Catalogs
from bot.reports.brief import CountryBrief
from bot.reports.brief_render import render_brief_markdown, render_brief_pdf
from bot.services.brief import build_brief
from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.briefs import JOINED_TITLE, LIMITS, QUARTER, TODAY, seed_quarter, seed_round
from tests.support.database import migrated_sqlite_file

CATALOGS = Catalogs()
SCALE = 3  # PDFium renders at 72 dpi × SCALE


async def _briefs(path: Path, locales: tuple[str, ...]) -> dict[str, CountryBrief]:
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        await seed_quarter(store)
        assert QUARTER.first is not None
        for n in range(4):  # more surveys than two pages hold
            closes = TODAY.replace(year=2026, month=11, day=1) - timedelta(days=n)
            await seed_round(store, f"extra-{n}", closes, {"IQ": 12, "SY": 9})
        found = {}
        async with store.transaction() as tx:
            for locale in locales:
                _ = CATALOGS.get(locale)
                found[locale] = await build_brief(tx, "IQ", QUARTER, _, TODAY, LIMITS)
        return found
    finally:
        await store.close()


@pytest.fixture(scope="module")
def briefs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CountryBrief]:
    path = migrated_sqlite_file(tmp_path_factory.mktemp("brief"))
    return asyncio.run(_briefs(path, SUPPORTED_LOCALES))


@pytest.fixture(scope="module")
def arabic_pdf(briefs: dict[str, CountryBrief]) -> bytes:
    return render_brief_pdf(briefs["ar"], CATALOGS.get("ar"))


def pages(data: bytes) -> Iterator[pdfium.PdfPage]:
    document = pdfium.PdfDocument(data)
    try:
        for index in range(len(document)):
            yield document[index]
    finally:
        document.close()


def page_count(data: bytes) -> int:
    document = pdfium.PdfDocument(data)
    try:
        return len(document)
    finally:
        document.close()


def text_of(data: bytes) -> str:
    found = []
    for page in pages(data):
        text = page.get_textpage()
        found.append(text.get_text_range())
        text.close()
    return "\n".join(found)


def arabic_checks(data: bytes, words: str = JOINED_TITLE) -> list[str]:
    """What is wrong with how `words` is drawn in the PDF (nothing: an empty list)."""
    for page in pages(data):
        text = page.get_textpage()
        try:
            # Each character with its index (some indices read back as nothing, so the text
            # of the whole page cannot be indexed directly). In logical order when laid out
            # right to left; backwards when drawn left to right (then its boxes are turned
            # back to the logical order).
            found = [(i, text.get_text_range(i, 1)) for i in range(text.count_chars())]
            found = [(i, char) for i, char in found if char]
            content = "".join(char for _i, char in found)
            start, backwards = content.find(words), False
            if start < 0:
                start, backwards = content.find(words[::-1]), True
            if start < 0:
                continue
            boxes = [text.get_charbox(found[start + i][0]) for i in range(len(words))]
            if backwards:
                boxes.reverse()
        finally:
            text.close()
        problems = []
        letters = [box for box, char in zip(boxes, words, strict=True) if char != " "]
        rights = [box[2] for box in letters]
        if rights != sorted(rights, reverse=True):
            problems.append("the letters do not run from right to left")
        image = np.asarray(page.render(scale=SCALE).to_pil().convert("L"))
        height = image.shape[0]
        left = int(min(b[0] for b in boxes) * SCALE) - 2
        right = int(max(b[2] for b in boxes) * SCALE) + 2
        top = height - int(max(b[3] for b in boxes) * SCALE) - 2
        bottom = height - int(min(b[1] for b in boxes) * SCALE) + 2
        ink = (image[top:bottom, left:right] < 140).any(axis=0)
        runs = int(ink[0]) + int(np.count_nonzero(ink[1:] & ~ink[:-1]))
        if runs != len(words.split()):
            problems.append(f"{runs} separate strokes for {len(words.split())} joined words")
        return problems
    return [f"{words!r} is not in the PDF's text"]


def test_an_arabic_brief_joins_its_letters_and_runs_right_to_left(arabic_pdf: bytes) -> None:
    assert page_count(arabic_pdf) <= 2
    assert arabic_checks(arabic_pdf) == []


def test_the_arabic_check_fails_on_a_pdf_drawn_without_shaping(
    briefs: dict[str, CountryBrief], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fpdf import FPDF

    monkeypatch.setattr(FPDF, "set_text_shaping", lambda self, *a, **k: None)
    unshaped = render_brief_pdf(briefs["ar"], CATALOGS.get("ar"))
    problems = arabic_checks(unshaped)
    assert any("right to left" in p for p in problems), problems
    assert any("separate strokes" in p for p in problems), problems


def test_an_arabic_brief_is_laid_out_from_the_right(arabic_pdf: bytes) -> None:
    """The title starts at the right margin and the page's text is right-aligned."""
    document = pdfium.PdfDocument(arabic_pdf)
    image = np.asarray(document[0].render(scale=1).to_pil().convert("L"))
    document.close()
    rows = np.flatnonzero((image < 140).any(axis=1))
    title = image[rows[0] : rows[0] + 20]
    columns = np.flatnonzero((title < 140).any(axis=0))
    width = image.shape[1]
    assert width - columns.max() < 50, "the title ends at the right margin"
    assert columns.min() > width / 3, "and does not reach across the page"


def test_every_language_fits_two_pages_and_says_how_it_is_protected(
    briefs: dict[str, CountryBrief],
) -> None:
    """Every language with the family's survey and its trend; the longest-worded ones (and
    English, read back) with more surveys than fit, which are then counted, not drawn."""
    for locale, brief in briefs.items():
        _ = CATALOGS.get(locale)
        full = locale in ("en", "fr", "so")
        data = render_brief_pdf(brief if full else replace(brief, surveys=brief.surveys[:1]), _)
        assert data.startswith(b"%PDF-")
        assert page_count(data) <= 2, locale
        markdown = render_brief_markdown(brief, _)
        assert "<5" in markdown and "±2" in markdown, locale
        if locale == "en":
            text = " ".join(text_of(data).split())
            assert "Country brief: Iraq" in text
            assert "Smallest group shown (k): 5" in text
            assert "more surveys closed in this period" in text, "what did not fit is counted"


def test_the_markdown_lists_the_kept_surveys_and_the_trend(
    briefs: dict[str, CountryBrief],
) -> None:
    brief = briefs["en"]
    assert len(brief.surveys) == 3 and brief.more_surveys == 2
    text = render_brief_markdown(brief, CATALOGS.get("en"))
    assert "## Who works on what in Iraq, and field updates" in text
    assert "| Youth deradicalisation |" in text
    assert "Change since the last round: Iraq" in text
    assert "| October 2026 | November 2026 | Change (points) |" in text
    assert "2 more surveys closed in this period: see /report." in text
