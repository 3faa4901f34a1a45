"""Data for country-brief tests: a quarter with members, field updates and two monthly rounds
of a survey family, written through the real repositories."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot.core import keys
from bot.core.context import CoreConfig
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.core.surveys import Survey, parse_definition
from bot.services.reports import Limits
from storage.store import SqlStore
from tests.support.reports import LOCALES, add_respondents, answers, seed_members, seed_updates
from tests.support.surveys import pulse

TODAY = datetime(2027, 1, 6, 9, tzinfo=UTC)  # 2026-Q4 is complete
QUARTER = CalendarPeriod.parse(PeriodKind.QUARTER, "2026-Q4", TODAY.date())
SECRET = keys.ephemeral()
LIMITS = Limits(5, SECRET, CoreConfig().countries)
# An Arabic title whose letters all join and carry no dots: each word is drawn as one
# unbroken stroke, and PDF text extraction gives its letters back one for one.
JOINED_TITLE = "حلم سلم"
# Respondents per country in the first and the second round.
FIRST = {"IQ": 30, "SY": 20, "YE": 2}
SECOND = {"IQ": 24, "SY": 16, "YE": 1}


def round_definition(slug: str) -> dict[str, Any]:
    data = pulse(slug)
    data["text"]["ar"]["title"] = JOINED_TITLE
    return data


async def seed_round(
    store: SqlStore,
    slug: str,
    closes: datetime,
    per_country: Mapping[str, int],
    *,
    shift: int = 0,
    answer: Callable[[int], dict[str, Any]] = answers,
) -> Survey:
    """A closed round of the pulse survey, open the fortnight before `closes`; `shift` moves
    every respondent's answers, so that rounds differ. Counted as the fold would count them
    (every group, whatever its size: the reports hide what must be hidden)."""
    definition = parse_definition(round_definition(slug), LOCALES)
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            definition, closes - timedelta(days=14), closes, closes - timedelta(days=14)
        )
        survey = await tx.surveys.get(survey_id)
        assert survey is not None
        await add_respondents(tx, survey, per_country, answer=answer, shift=shift, free_text=False)
        await tx.surveys.close(survey_id, closes)
    async with store.transaction() as tx:
        found = await tx.surveys.get(survey_id)
    assert found is not None
    return found


def _at(day: date) -> datetime:
    return datetime.combine(day, time(9), UTC)


async def seed_quarter(
    store: SqlStore,
    period: CalendarPeriod = QUARTER,
    *,
    first: Mapping[str, int] = FIRST,
    second: Mapping[str, int] = SECOND,
) -> list[Survey]:
    """In `period` (a quarter): members in Iraq, Syria and Yemen, field updates, and two
    monthly rounds of `pulse` (pulse-YYYY-MM, in its first and second month)."""
    assert period.first is not None
    joined = _at(period.first + timedelta(days=9))
    ids = await seed_members(store, joined, {"IQ": 23, "SY": 12, "YE": 2})
    await seed_updates(store, joined, ids[0], {"IQ": 17, "SY": 9, "YE": 1})
    rounds = []
    for shift, (days, per_country) in enumerate(((16, first), (46, second))):
        closes = _at(period.first + timedelta(days=days))
        slug = f"pulse-{closes:%Y-%m}"
        rounds.append(await seed_round(store, slug, closes, per_country, shift=shift))
    return rounds
