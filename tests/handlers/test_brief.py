"""/brief for the secretariat, through the real core on SQLite: the country asked by buttons or
given at once, the PDF sent as a document, every kind of wrong input answered, and nobody
else let in."""

from __future__ import annotations

from bot.core.models import Role
from bot.core.reports import CalendarPeriod, PeriodKind
from tests.handlers.test_reports import member, secretariat
from tests.reports.test_brief_pdf import arabic_checks, page_count
from tests.support.briefs import seed_quarter
from tests.support.harness import Harness


def latest(h: Harness) -> CalendarPeriod:
    return CalendarPeriod.recent(PeriodKind.QUARTER, h.clock.now().date())[0]


async def test_she_chooses_a_country_and_gets_a_two_page_pdf(harness: Harness) -> None:
    period = latest(harness)
    await seed_quarter(harness.store, period)
    she = await secretariat(harness)
    await she.say("/brief")
    assert she.last.text == "A brief for which country?"
    assert {"Iraq", "Syria", "Yemen"} <= set(she.labels())
    said, document = await she.tap("Iraq")
    assert said.text == f"Country brief: Iraq: Quarter 4 of {period.label[:4]}. The PDF follows."
    assert document.file is not None and document.file.mime_type == "application/pdf"
    assert document.file.filename.startswith(f"wasl-brief-IQ-{period.label}-")
    assert page_count(document.file.content) <= 2
    async with harness.store.transaction() as tx:
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "brief.sent"]
    assert entries[-1]["details"] == {"country": "IQ", "at": period.label, "format": "pdf"}


async def test_a_country_and_a_period_given_at_once_in_arabic(harness: Harness) -> None:
    period = latest(harness)
    await seed_quarter(harness.store, period)
    she = await secretariat(harness, locale="ar")
    said, document = await she.say(f"/brief العراق {period.label}")
    assert "العراق" in (said.text or "")
    assert document.file is not None
    assert arabic_checks(document.file.content) == [], "Arabic joined, right to left"
    assert she.labels() == [], "nothing left to choose"


async def test_wrong_input_is_answered(harness: Harness) -> None:
    period = latest(harness)
    await seed_quarter(harness.store, period)
    she = await secretariat(harness)

    [refused, asked] = await she.say("/brief Narnia")
    assert refused.text == "A brief is made for one of the alliance's countries."
    assert asked.text == "A brief for which country?", "then she is asked to choose"
    wrong, again = await she.say("somewhere else")
    assert wrong.text == "Please choose one of the buttons."
    assert again.text == "A brief for which country?"
    [cancelled] = await she.tap("Cancel")
    assert cancelled.text == "Cancelled."

    [bad] = await she.say("/brief IQ 2999-Q1")
    assert bad.text == (
        f"Give a complete quarter or month, like {period.label}, or nothing for the latest "
        "quarter."
    )
    [bad] = await she.say("/brief IQ 2026-Q9")
    assert bad.text and "complete quarter or month" in bad.text
    # Words without a digit are a country's name, of one word or several.
    [refused, asked] = await she.say("/brief IQ last year")
    assert refused.text == "A brief is made for one of the alliance's countries."
    assert asked.text == "A brief for which country?"


async def test_a_member_or_coordinator_is_refused(harness: Harness) -> None:
    for user_id, role in (("801", Role.MEMBER), ("802", Role.COORDINATOR)):
        person = await member(harness, user_id, role)
        [refused] = await person.say("/brief IQ")
        assert refused.text == "This command is not available to you."
