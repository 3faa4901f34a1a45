"""Quotes in a country brief: only the words of approved updates whose authors agreed to be
quoted, from the country and period, never where the country's member count is hidden (under
k), shortened on a word boundary and dated by month only; in the Markdown and the PDF."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.core.i18n import Catalogs
from bot.core.updates import UpdateStatus
from bot.reports.brief_render import render_brief_markdown, render_brief_pdf
from bot.services.brief import MAX_QUOTES, QUOTE_CHARS, build_brief, shorten
from storage.store import SqlStore
from tests.reports.test_brief_pdf import text_of
from tests.support.briefs import LIMITS, QUARTER, TODAY, seed_quarter

CATALOGS = Catalogs()


async def plant(
    store: SqlStore,
    text: str,
    when: datetime,
    *,
    country: str = "IQ",
    quotable: bool = True,
    status: UpdateStatus = UpdateStatus.APPROVED,
) -> int:
    """An update written through the real repository, moderated as `status`."""
    async with store.transaction() as tx:
        update_id = await tx.updates.submit(
            author_id=1,
            country=country,
            locale="en",
            urgent=False,
            text=text,
            media_kind=None,
            media_ref=None,
            keep_if_shared=False,
            spheres=["youth"],
            now=when,
            quotable=quotable,
        )
        if status is not UpdateStatus.NEW:
            assert await tx.updates.moderate(update_id, status, 1, when + timedelta(hours=1))
    return update_id


def day(offset: int) -> datetime:
    assert QUARTER.first is not None
    return datetime.combine(QUARTER.first + timedelta(days=offset), time(10, 17), UTC)


def test_a_quote_is_cut_on_a_word_boundary() -> None:
    assert shorten("  Forty   mothers\ncame. ") == "Forty mothers came."
    long = "word " * 100
    cut = shorten(long)
    assert len(cut) <= QUOTE_CHARS and cut.endswith("word…"), "whole words, then …"
    assert shorten("x" * 300).endswith("…") and len(shorten("x" * 300)) == QUOTE_CHARS


async def test_only_approved_quotable_words_of_the_country_and_period(store: SqlStore) -> None:
    await seed_quarter(store)  # 23 members in Iraq, 2 in Yemen; k = 5
    await plant(store, "Quotable approved words from Mosul.", day(40))
    await plant(store, "Approved but not to be quoted.", day(41), quotable=False)
    await plant(store, "Quotable but waiting for moderation.", day(42), status=UpdateStatus.NEW)
    await plant(store, "Quotable but kept internal.", day(43), status=UpdateStatus.INTERNAL)
    await plant(store, "Quotable words from Syria.", day(44), country="SY")
    await plant(store, "Quotable words of the next quarter.", day(100))
    await plant(store, "Quotable words from Yemen.", day(45), country="YE")
    _ = CATALOGS.get("en")
    async with store.transaction() as tx:
        iraq = await build_brief(tx, "IQ", QUARTER, _, TODAY, LIMITS)
        yemen = await build_brief(tx, "YE", QUARTER, _, TODAY, LIMITS)

    assert [(q.text, q.month) for q in iraq.quotes] == [
        ("Quotable approved words from Mosul.", "November 2026")
    ], "approved AND quotable AND the country AND the period; dated by month only"
    assert "Quotes come from approved updates" in iraq.notes[-1]
    markdown = render_brief_markdown(iraq, _)
    pdf = text_of(render_brief_pdf(iraq, _))
    for text in (markdown, pdf):
        assert "In members' words" in text
        assert "“Quotable approved words from Mosul.” (November 2026)" in text
        for absent in ("not to be quoted", "waiting", "internal", "Syria.", "next quarter"):
            assert absent not in text
    assert "17" not in iraq.quotes[0].month, "never the day"

    assert yemen.members.total is None, "Yemen's 2 members are under k"
    assert yemen.quotes == (), "no quote from a country whose member count is hidden"
    markdown = render_brief_markdown(yemen, _)
    assert "from Yemen" not in markdown and "In members' words" not in markdown
    assert "No quotes: none agreed to be quoted in this period." in markdown
    assert "from Yemen" not in text_of(render_brief_pdf(yemen, _))


async def test_at_most_a_few_quotes_the_newest_first_and_shortened(store: SqlStore) -> None:
    await seed_quarter(store)
    for i in range(MAX_QUOTES + 2):
        await plant(store, f"Quote number {i} " + "and more words " * 30, day(20 + i))
    _ = CATALOGS.get("fr")
    async with store.transaction() as tx:
        brief = await build_brief(tx, "IQ", QUARTER, _, TODAY, LIMITS)
    assert len(brief.quotes) == MAX_QUOTES
    numbers = [q.text.split()[2] for q in brief.quotes]
    assert numbers == [str(MAX_QUOTES + 1 - i) for i in range(MAX_QUOTES)], "newest first"
    assert all(len(q.text) <= QUOTE_CHARS and q.text.endswith("…") for q in brief.quotes)
    assert {q.month for q in brief.quotes} == {"octobre 2026"}, "the reader's language"
    assert render_brief_pdf(brief, _).startswith(b"%PDF")
