"""Data for country-brief tests: a quarter with members, field updates and two monthly rounds
of a survey family, written through the real repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core import keys
from bot.core.context import CoreConfig
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.core.surveys import Dimensions, Survey, parse_definition
from bot.services.reports import Limits
from storage.store import SqlStore
from tests.support.reports import LOCALES, answers, seed_members, seed_updates
from tests.support.surveys import pulse

TODAY = datetime(2027, 1, 6, 9, tzinfo=UTC)  # 2026-Q4 is complete
QUARTER = CalendarPeriod.parse(PeriodKind.QUARTER, "2026-Q4", TODAY.date())
SECRET = keys.ephemeral()
LIMITS = Limits(5, SECRET, CoreConfig().countries)
# Round one: Iraq 30, Syria 20, Yemen 2; round two: Iraq 24, Syria 16, Yemen 1.
ROUNDS = {
    "pulse-2026-10": (datetime(2026, 10, 10, tzinfo=UTC), {"IQ": 30, "SY": 20, "YE": 2}),
    "pulse-2026-11": (datetime(2026, 11, 10, tzinfo=UTC), {"IQ": 24, "SY": 16, "YE": 1}),
}


async def seed_round(
    store: SqlStore,
    slug: str,
    when: datetime,
    per_country: dict[str, int],
    shift: int = 0,
    answer: Any = answers,
) -> Survey:
    """A closed round of the pulse survey: open the week before `when`, closing the week
    after; `shift` moves every respondent's answers (so rounds differ)."""
    from datetime import timedelta

    definition = parse_definition(pulse(slug), LOCALES)
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            definition, when - timedelta(days=7), when + timedelta(days=7), when
        )
        survey = await tx.surveys.get(survey_id)
        assert survey is not None
        i = 0
        for country, n in per_country.items():
            for _n in range(n):
                dims = Dimensions(
                    locale=LOCALES[i % 3],
                    channel="telegram" if i % 2 else "whatsapp",
                    country=country,
                    spheres=("youth",) if i % 2 else ("youth", "vaw"),
                )
                given = answer(i + shift)
                groups = dims.groups(definition.breakdowns)
                batch = [(given, d, v) for d, values in groups.items() for v in values]
                await tx.surveys.add_counts(survey, batch, [])
                i += 1
        await tx.surveys.close(survey_id, when + timedelta(days=7))
    async with store.transaction() as tx:
        found = await tx.surveys.get(survey_id)
    assert found is not None
    return found


async def seed_quarter(store: SqlStore) -> list[Survey]:
    """Members in Iraq, Syria and Yemen; field updates in Q4 2026; two rounds of `pulse`."""
    joined = datetime(2026, 10, 20, 9, tzinfo=UTC)
    ids = await seed_members(store, joined, {"IQ": 23, "SY": 12, "YE": 2})
    await seed_updates(store, joined, ids[0], {"IQ": 17, "SY": 9, "YE": 1})
    rounds = []
    for shift, (slug, (when, per_country)) in enumerate(ROUNDS.items()):
        rounds.append(await seed_round(store, slug, when, per_country, shift=shift))
    return rounds
