"""Surveys under the privacy rules of issue 10: the wrong moment or the wrong person gets a
short, localised answer, and nothing she has not finished is ever counted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from babel.dates import format_date

from bot.cli_content import load_file
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.models import Role
from bot.core.reports import Breakdown
from bot.core.surveys import SurveyAction, SurveyButton, SurveyError, parse_definition
from bot.services.surveys import close_due_surveys, flush_survey_pools
from handlers import build_router
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.handlers.test_surveys import counted, load, mix, waiting
from tests.support.harness import Harness, Person
from tests.support.surveys import answer_briefly, pulse

CLOSED = "This survey has closed. Thank you for your interest."
NOT_FOR_YOU = "This survey is for other members. Thank you for your interest."


async def member(
    h: Harness, user_id: str, locale: str = "en", country: str = "IQ", role: Role = Role.MEMBER
) -> Person:
    code = await make_invite(h, f"m{user_id}", role=role)
    she = h.person(user_id, locale)
    await join(she, code, locale=locale, country=country)
    return she


async def finish(she: Person, sid: int) -> None:
    await answer_briefly(she)


async def overall(h: Harness, survey_id: int) -> int:
    """Respondents counted in the survey's overall results."""
    async with h.store.transaction() as tx:
        return await tx.reports.survey_responses(survey_id)


async def every_count(h: Harness, survey_id: int) -> dict[Breakdown, object]:
    """Every counter of the survey, by every breakdown."""
    return {by: await counted(h, survey_id, by) for by in Breakdown}


async def test_an_answer_arriving_as_the_survey_closes(harness: Harness) -> None:
    """Promise 5: an answer after the close gets a short reply in her language; what was
    finished before is counted, what was not is dropped, and nothing raises."""
    sid = await load(harness, days=1)
    finishers = [await member(harness, str(10 + i)) for i in range(2)]
    late = await member(harness, "20", "ar")
    for she in finishers:
        await finish(she, sid)
    arabic = Catalogs().get("ar")
    await late.say("/survey pulse-test")
    await late.tap("1")
    harness.clock.advance(timedelta(days=2))
    # Past its time, not closed by the job yet: her answer is refused, in Arabic.
    refused = await late.tap(arabic("No"))
    assert refused[0].text == arabic(CLOSED)
    assert await close_due_surveys(harness.store, harness.clock.now(), 2) == [sid]
    assert await overall(harness, sid) == 2, "the two finished before are counted, not she"
    assert await waiting(harness) == []
    again = await late.tap(arabic("No"), on=2)
    assert again, "a button of the closed survey still gets an answer"
    assert await flush_survey_pools(harness.store, 2) == 0


async def test_forget_half_way_takes_her_answers_and_leaves_the_counts(harness: Harness) -> None:
    """Promise 5: /forget half-way: her unfinished answers vanish with her state; what was
    already counted stays (it cannot be told apart, nor taken back)."""
    sid = await load(harness)
    done = [await member(harness, str(30 + i)) for i in range(4)]
    for she in done:
        await finish(she, sid)
    assert await flush_survey_pools(harness.store, 2) == 2
    before = await every_count(harness, sid)
    she = await member(harness, "40")
    await she.say("/survey pulse-test")
    await she.tap("5")
    await she.say("/forget")
    await she.tap("Yes, delete all")
    async with harness.store.transaction() as tx:
        state = await tx.conversations.load(harness.channel.name, she.user_id)
    assert state.flow is None and not state.data, "her state went with her"
    assert await every_count(harness, sid) == before, "counted answers stay as they were"
    assert await mix(harness) == 2, "the others' two waiting answers are untouched"


async def test_a_report_on_an_open_survey_says_when_results_come(harness: Harness) -> None:
    """Promise 6: results only after close; the refusal gives the closing date, in her
    language and her locale's date format."""
    sid = await load(harness, days=5)
    code = await make_invite(harness, "sec", role=Role.SECRETARIAT)
    she = harness.person("900", "ar")
    await join(she, code, locale="ar")
    [refused] = await she.say("/report pulse-test")
    async with harness.store.transaction() as tx:
        survey = await tx.surveys.get(sid)
    assert survey is not None
    when = format_date(survey.closes_at, locale="ar")
    assert when in refused.text and "pulse-test" not in refused.text
    assert refused.text == Catalogs().get("ar")(
        "“{title}” is still open. Results are shown only after it closes ({date}).",
        title=survey.definition.title("ar"),
        date=when,
    )


async def test_the_audience_is_checked_on_every_way_in(harness: Harness) -> None:
    """Promise 7: /survey slug, the invitation's button and the public link all check that
    she is in the survey's audience."""
    data = pulse()
    data["audience"] = {"countries": ["SY"]}
    sid = await load(harness, data)
    public = pulse("voices-sy", mode="public")
    public["audience"] = {"countries": ["SY"]}
    await load(harness, public)
    outsider = await member(harness, "50", "fr", country="IQ")
    french = Catalogs().get("fr")
    assert (await outsider.say("/survey pulse-test"))[0].text == french(NOT_FOR_YOU)
    # The invitation's Start button, as the outbox delivers it to the whole audience.
    start = SurveyButton(sid, SurveyAction.START).pack()
    assert (await outsider.press(start, message_id="1"))[0].text == french(NOT_FOR_YOU)
    assert (await outsider.say("/start s_voices-sy"))[0].text == french(NOT_FOR_YOU)
    insider = await member(harness, "51", "en", country="SY")
    question = (await insider.say("/survey pulse-test"))[-1]
    assert "How safe did you feel this month?" in question.text
    # A stranger on the public link who lives elsewhere is told so at the country question.
    stranger = harness.person("5100", "en")
    await stranger.say("/start s_voices-sy")
    await stranger.tap("English")
    await stranger.tap("Yes, start")
    assert (await stranger.tap("Iraq"))[0].text == NOT_FOR_YOU
    assert await waiting(harness) == []


async def test_the_consent_states_the_configured_k(db: SqlStore) -> None:
    """Promise 7: the public consent says the k in force (WASL_MIN_CELL), not always 5."""
    h = Harness(db, build_router(), config=CoreConfig(min_cell=8))
    await load(h, pulse("voices-iq", mode="public"))
    stranger = h.person("6000", "en")
    await stranger.say("/start s_voices-iq")
    consent = await stranger.tap("English")
    assert "at least 8 people" in consent[-1].text


async def test_a_breakdown_that_would_hide_everyone_is_refused_at_load(
    harness: Harness, tmp_path: Path, capsys: object
) -> None:
    """Promise 5: a survey counted by country where every country of its audience has fewer
    than k members could never show that breakdown: `wasl content load` refuses it, saying
    why, and writes nothing."""
    for i, country in enumerate(["IQ", "IQ", "SY", "YE"]):
        await member(harness, str(70 + i), country=country)
    data = pulse("by-country")
    data["breakdowns"] = ["country"]
    path = tmp_path / "surveys.yaml"
    path.write_text(yaml.safe_dump({"surveys": [data]}, allow_unicode=True), encoding="utf-8")
    assert await load_file(harness.store, path, harness.clock.now(), k=5) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "breakdown by country" in err and "fewer than 5" in err and "nothing was loaded" in err
    async with harness.store.transaction() as tx:
        assert await tx.surveys.by_slug("by-country") is None
    assert await load_file(harness.store, path, harness.clock.now(), k=2) == 0, "IQ has 2"


async def test_a_declared_crosstab_is_counted_and_follows_the_k_rule(harness: Harness) -> None:
    """Promise 1 for crosstabs: q2's answers per answer to q1, only for the declared pair, and
    a q1 answer given by fewer than k is never counted apart."""
    data = pulse()
    data["crosstabs"] = [["threat", "safe"]]
    sid = await load(harness, data)
    people = [await member(harness, str(80 + i)) for i in range(5)]
    for i, she in enumerate(people):  # four say "no" to the threat question, one "yes"
        await she.say("/survey pulse-test")
        await she.tap("2" if i < 4 else "5")
        await she.tap("No" if i < 4 else "Yes")
        if i == 4:
            await she.tap("Armed group")
            await she.tap("Done")
        await she.say("3")
        await she.tap("Skip")
    harness.clock.advance(timedelta(days=8))
    assert await close_due_surveys(harness.store, harness.clock.now(), 4) == [sid]
    async with harness.store.transaction() as tx:
        crossed = await tx.reports.survey_crosstab(sid, "threat", "safe")
        other = await tx.reports.survey_crosstab(sid, "safe", "threat")
    assert {(c.group, c.question, c.option, c.count) for c in crossed} == {
        ("no", "", "", 4),
        ("no", "safe", "2", 4),
    }, "'yes' (one person) is never counted apart; only q2 is crossed"
    assert other == [], "a pair not declared is not counted"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([["threat", "nope"]], "unknown question"),
        ([["threat", "threat"]], "two different"),
        ([["note", "safe"]], "free-text"),
        ("threat", "list of pairs"),
    ],
)
def test_crosstabs_are_checked_at_load(pairs: object, message: str) -> None:
    data = pulse()
    data["crosstabs"] = pairs
    with pytest.raises(SurveyError, match=message):
        parse_definition(data, ("en", "ar", "fr"))
