"""A quote leaves the brief with its author: she agrees, through the real /update flow, that
her words may be quoted; a coordinator approves them through /moderate; the country has enough
members for the brief to quote them. After /forget, neither the brief's Markdown nor its PDF,
nor any cell of any table, holds her words."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.core.i18n import Catalogs
from bot.core.models import Role
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.reports.brief_render import render_brief_markdown, render_brief_pdf
from bot.services.brief import build_brief
from handlers import build_router
from storage.store import SqlStore
from tests.privacy.test_erase_attack import cells_containing, person, telegram_id
from tests.reports.test_brief_pdf import text_of
from tests.support.briefs import LIMITS
from tests.support.harness import Harness
from tests.support.reports import seed_members

CATALOGS = Catalogs()


async def brief_texts(h: Harness) -> tuple[str, str]:
    """The Iraq brief of all time up to next week, as Markdown and as the PDF's text."""
    _ = CATALOGS.get("en")
    until = h.clock.now().date() + timedelta(days=7)
    period = CalendarPeriod(PeriodKind.ALL, PeriodKind.ALL.value, None, until)
    async with h.store.transaction() as tx:
        brief = await build_brief(tx, "IQ", period, _, h.clock.now(), LIMITS)
    return render_brief_markdown(brief, _), text_of(render_brief_pdf(brief, _))


async def test_forget_takes_her_quote_out_of_the_brief(store: SqlStore) -> None:
    h = Harness(store, build_router())
    coordinator = await person(h, telegram_id(), role=Role.COORDINATOR)
    she = await person(h, telegram_id())
    await seed_members(store, h.clock.now() - timedelta(days=1), {"IQ": 8})
    words = f"Zebra{secrets.token_hex(4)} mothers met the school board in Mosul."
    await she.say("/update")
    await she.say(words)
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("No")
    await she.tap("Yes")  # may be quoted in briefs
    assert "Received" in (await she.tap("Send"))[0].text
    await coordinator.say("/moderate")
    await coordinator.tap("Approve for sharing")

    markdown, pdf = await brief_texts(h)
    assert words in markdown and words in pdf, "quoted while she is a member"

    await she.say("/forget")
    assert "deleted" in (await she.tap("Yes, delete all"))[-1].text
    markdown, pdf = await brief_texts(h)
    for text in (markdown, pdf):
        assert words not in text and words[:9] not in text
        assert "No quotes: none agreed to be quoted in this period." in text
    assert await cells_containing(store, (words[:9],)) == [], "no copy in any table"
