"""A thousand members answer a ten-question survey through the real core, router and SQLite
storage (issue 5): every answer is counted, once, under the right option."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.reports import Breakdown
from bot.core.surveys import parse_definition
from bot.services.surveys import close_due_surveys, flush_survey_pools
from tests.support.harness import Harness, Person
from tests.support.surveys import pulse_ten

RESPONDENTS = 1000
FIRST_ID = 500_000
# The labels she sees for the answers counted as these keys (pulse_ten in English).
LABELS = {
    "yes": "Yes",
    "no": "No",
    "armed": "Armed group",
    "family": "Family",
    "online": "Online",
    "peers": "Peers",
    "ngo": "An NGO",
    "none": "No one",
    "legal": "Legal aid",
    "health": "Health",
    "~done": "Done",
    "~skip": "Skip",
}


async def answer(she: Person, sid: int, i: int, expected: Counter[tuple[str, str]]) -> int:
    """Respondent `i` answers every question (a varied, known pattern); returns updates sent."""
    updates = 0

    async def press(key: str, value: str, counted: bool = True) -> None:
        nonlocal updates
        await she.tap(LABELS.get(value, value))  # a scale point's label is its number
        updates += 1
        if counted:
            expected[key, value] += 1

    async def say(text: str, key: str) -> None:
        nonlocal updates
        await she.say(text)
        updates += 1
        # A number is counted in its range (0-31 in ranges of 7); a free text as given.
        expected[key, f"#{int(text) // 7}" if text.isdigit() else ""] += 1

    await she.say("/survey pulse-ten")
    updates += 1
    await press("safe", str(1 + i % 5))
    if i % 4 == 0:
        await press("threat", "yes")
        await press("who", "armed" if i % 8 == 0 else "family")
        if i % 3 == 0:
            await press("who", "online")
        await press("who", "~done", counted=False)
    else:
        await press("threat", "no")  # skips "who"
    await say(str(i % 32), "work")
    await press("support", ("peers", "ngo", "none")[i % 3])
    await press("trust", str(1 + i * 7 % 5))
    await press("online", "yes" if i % 2 else "no")
    await press("needs", "legal")
    if i % 5 == 0:
        await press("needs", "health")
    await press("needs", "~done", counted=False)
    await press("hope", str(1 + i // 3 % 5))
    if i % 10:
        await press("note", "~skip", counted=False)
    else:
        await say("All fine", "note")
    return updates


async def test_a_thousand_members_complete_a_ten_question_survey(harness: Harness) -> None:
    now = harness.clock.now()
    definition = parse_definition(pulse_ten(), ("en", "ar", "fr"))
    async with harness.store.transaction() as tx:
        sid, _ = await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
        members = await tx.members.create_many(  # set-up, in bulk: the answers are the test
            [
                NewMember(
                    channel=ChannelName.TELEGRAM,
                    platform_id=str(FIRST_ID + i),
                    chat_id=str(FIRST_ID + i),
                    locale="en",
                    country=("IQ", "SY", "LB")[i % 3],
                    spheres=["youth"],
                    role=Role.MEMBER,
                    consent_version="1",
                    consented_at=now,
                )
                for i in range(RESPONDENTS)
            ],
            now,
        )

    expected: Counter[tuple[str, str]] = Counter()
    updates = 0
    start = time.perf_counter()
    for i in range(RESPONDENTS):
        she = harness.person(str(FIRST_ID + i))
        updates += await answer(she, sid, i, expected)
        if i == 0:
            assert [b.label for b in she.last.buttons] == ["Yes, send results", "No, thanks"]
    elapsed = time.perf_counter() - start
    print(
        f"\n{RESPONDENTS} respondents, {updates} updates through the core in {elapsed:.2f} s "
        f"({elapsed / updates * 1e6:.0f} µs per update)"
    )

    async with harness.store.transaction() as tx:
        assert await tx.surveys.counts(sid) == (RESPONDENTS, RESPONDENTS)
    # The job counts the waiting answers in one batch (the test answered between ticks), but
    # for k kept back to go with the last batch, at the close.
    start = time.perf_counter()
    assert await flush_survey_pools(harness.store, 5) == RESPONDENTS - 5
    print(f"fold of {RESPONDENTS - 5} questionnaires: {time.perf_counter() - start:.2f} s")
    assert await close_due_surveys(harness.store, now + timedelta(days=8), 5) == [sid]
    async with harness.store.transaction() as tx:
        assert await tx.surveys.counts(sid) == (RESPONDENTS, RESPONDENTS)
        assert await tx.reports.survey_responses(sid) == RESPONDENTS
        statuses = Counter(
            [await tx.surveys.participation(sid, member_id) for member_id in members]
        )
        assert statuses == {"took_part": RESPONDENTS}
        counts = await tx.reports.survey_counts(sid, Breakdown.NONE)
        counted = {(c.question, c.option): c.count for c in counts}
    assert counted == dict(expected)
    assert counted["threat", "yes"] == RESPONDENTS // 4
    assert sum(n for (q, _), n in counted.items() if q == "safe") == RESPONDENTS
    assert counted["note", ""] == RESPONDENTS // 10
