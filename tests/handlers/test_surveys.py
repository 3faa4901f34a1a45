"""Pulse surveys: answering with skip logic, back, skip, resume; closing; unlinkability;
public surveys; and the wrong input at every kind of question."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.core.conversation import STALE, step_payload
from bot.core.i18n import Catalogs
from bot.core.messages import MediaKind, Outbound
from bot.core.models import Role
from bot.core.reports import Breakdown
from bot.core.surveys import SurveyError, parse_definition
from bot.services.surveys import flush_survey_pools
from handlers.surveys import ANSWERING, FLOW, step_name
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person
from tests.support.surveys import deliver, pulse

LOCALES = ("en", "ar", "fr")
ROOT = Path(__file__).resolve().parents[2]
CATALOGS = Catalogs()


def labels(message: Outbound) -> list[str]:
    return [b.label for b in message.buttons]


def forged(survey_id: int, key: str, value: str) -> str:
    """A survey button as a stale or forged one would be: another question's, another
    survey's, or a value never offered (these cannot be tapped by a label she sees)."""
    return step_payload(FLOW, ANSWERING.version, step_name(survey_id, key), value)


async def load(h: Harness, data: dict[str, object] | None = None, days: int = 7) -> int:
    definition = parse_definition(data or pulse(), LOCALES)
    async with h.store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            definition, h.clock.now(), h.clock.now() + timedelta(days=days), h.clock.now()
        )
    return survey_id


async def member(h: Harness, user_id: str, locale: str = "en", country: str = "IQ") -> Person:
    code = await make_invite(h, f"m{user_id}")
    she = h.person(user_id, locale)
    await join(she, code, locale=locale, country=country, spheres=("youth", "vaw"))
    return she


async def mix(h: Harness, k: int | None = None) -> int:
    """Count waiting answers: as the survey job does with `k`, or all of them (a final fold
    with k = 1, as at the close of a survey whose k would be 1)."""
    if k is not None:
        return await flush_survey_pools(h.store, k)
    stored = 0
    async with h.store.transaction() as tx:
        for survey_id in await tx.surveys.waiting():
            survey = await tx.surveys.get(survey_id)
            assert survey is not None
            stored += (await tx.surveys.fold(survey, 1, final=True)).overall
    return stored


async def counted(
    h: Harness, survey_id: int, by: Breakdown = Breakdown.NONE
) -> set[tuple[str, str, str, int]]:
    """(question, answer, group, count) of the survey's counters for one breakdown, with the
    number of respondents per group as ("", "", group, n)."""
    async with h.store.transaction() as tx:
        counts = await tx.reports.survey_counts(survey_id, by)
        heads = await tx.reports.survey_headcounts(survey_id, by)
    return {(c.question, c.option, c.group, c.count) for c in counts} | {
        ("", "", group, n) for group, n in heads.items()
    }


async def waiting(h: Harness) -> list[int]:
    """The surveys with finished questionnaires waiting to be counted."""
    async with h.store.transaction() as tx:
        return await tx.surveys.waiting()


async def state_of(h: Harness, she: Person) -> str | None:
    """The flow she is in, if any."""
    async with h.store.transaction() as tx:
        return (await tx.conversations.load(h.channel.name, she.user_id)).flow


async def test_answering_with_skip_logic_back_and_resume(harness: Harness) -> None:
    sid = await load(harness)
    she = await member(harness, "1", "ar")
    arabic = CATALOGS.get("ar")
    listing = (await she.say("/survey"))[0]
    assert labels(listing) == ["نبض: الأمان"], "the open survey, titled in her language"
    replies = await she.tap("نبض: الأمان")
    assert "نبض" in replies[0].text, "title in her language"
    assert labels(replies[-1])[:5] == ["1", "2", "3", "4", "5"]
    await she.tap("2")
    await she.tap(arabic("Yes"))
    who = she.last
    assert "من قِبل من؟" in who.text and arabic("◀ Back") in labels(who)
    await she.tap("جماعة مسلحة")
    await she.tap("عبر الإنترنت")
    too_many = await she.tap("العائلة")
    assert too_many[0].text == arabic("You can choose up to {n}. Untick one first.", n=2)
    assert "▫️ العائلة" in labels(she.last), "a third choice over the maximum is refused"
    await she.tap(arabic("◀ Back"))  # back to the yes/no
    assert "هل تعرضتِ للتهديد؟" in she.last.text and arabic("Yes") in labels(she.last)
    await she.tap(arabic("No"))  # jumps over "who"
    assert "كم يوماً عملتِ في المجتمع؟" in she.last.text
    paused = await she.tap(arabic("Stop for now"))
    assert len(paused) == 1 and not paused[0].buttons, "paused: not asked again"
    resumed = await she.say("/survey")
    assert "كم يوماً عملتِ في المجتمع؟" in resumed[-1].text, "resumes at the same question"
    assert arabic("Stop for now") in labels(resumed[-1])
    assert (await she.say("many"))[0].text == arabic("Please type a number.")
    assert "31" in (await she.say("45"))[0].text
    await she.say("12")
    skip = she.last
    assert arabic("Skip") in labels(skip)
    done = await she.tap(arabic("Skip"))
    async with harness.store.transaction() as tx:
        state = await tx.conversations.load(harness.channel.name, she.user_id)
    assert (state.flow, state.step, state.data) == (None, None, {}), (
        "handed in: nothing of her answers or of the questions she passed through stays in "
        "the conversation (they wait apart, to be counted)"
    )
    assert labels(done[-1]) == [arabic("Yes, send results"), arabic("No, thanks")]
    await she.tap(arabic("Yes, send results"))
    assert await counted(harness, sid) == set(), "kept in her state until counted with others"
    assert await waiting(harness) == [sid]
    assert await mix(harness) == 1
    assert await counted(harness, sid) == {
        ("", "", "", 1),
        ("safe", "2", "", 1),
        ("threat", "no", "", 1),
        ("work", "#1", "", 1),  # 12, counted in its range (7-13), never as itself
    }
    assert await waiting(harness) == [], "erased from her state once counted"
    assert await state_of(harness, she) is None, "nothing of the way she answered is left"
    again = await she.say("/survey pulse-test")
    assert again[0].text == arabic("You have already answered this survey. Thank you!")
    nothing_open = arabic("There is no open survey for you right now. Thank you!")
    assert (await she.say("/survey"))[0].text == nothing_open


async def test_wrong_input_for_each_question_type(harness: Harness) -> None:
    sid = await load(harness)
    she = await member(harness, "1")
    await she.say("/survey pulse-test")
    assert "buttons" in (await she.say("three"))[0].text
    assert await she.send_media(MediaKind.STICKER)
    safe = "How safe did you feel this month?"
    old = await she.press(forged(sid, "work", "5"))  # a button from a later question
    assert old[0].text == STALE and safe in old[-1].text
    other = await she.press(forged(999, "safe", "5"))  # the same question of another survey
    assert other[0].text == STALE and safe in other[-1].text
    never = await she.press(forged(sid, "safe", "9"))  # a value never offered
    assert never[0].text == STALE and safe in never[-1].text
    await she.tap("4")
    await she.tap("Yes")
    assert "at least one" in (await she.tap("Done"))[0].text
    await she.tap("Family")
    await she.tap("Done")
    assert "type a number" in (await she.say("lots"))[0].text.lower()
    assert "0" in (await she.say("-3"))[0].text
    await she.say("20")
    assert "280" in (await she.say("x" * 281))[0].text
    await she.say("Thanks for asking")
    async with harness.store.transaction() as tx:
        started, completed = await tx.surveys.counts(sid)
    assert (started, completed) == (1, 1)


async def test_answers_after_close_are_refused_politely(harness: Harness) -> None:
    sid = await load(harness, days=1)
    she = await member(harness, "1")
    await she.say("/survey pulse-test")
    harness.clock.advance(timedelta(days=2))
    replies = await she.tap("3")
    assert "closed" in replies[0].text
    assert await counted(harness, sid) == set()
    assert await waiting(harness) == []


async def test_public_survey_for_non_members(harness: Harness) -> None:
    data = pulse("voices-iq", mode="public")
    sid = await load(harness, data)
    stranger = harness.person("5000", "fr")
    french = CATALOGS.get("fr")
    asked = await stranger.say("/start s_voices-iq")
    assert asked[-1].text == "Dans quelle langue souhaitez-vous répondre\u00a0?"
    arabic = CATALOGS.get("ar")
    # Anyone may answer a public survey: Arabic asks without the feminine ـكِ of members.
    assert arabic("Which language would you like to answer in?") == "ما لغة الإجابة المفضّلة لديك؟"
    await stranger.tap("Français")
    consent = stranger.last
    assert labels(consent) == [french("Yes, start"), french("No"), french("◀ Back")]
    await stranger.tap(french("Yes, start"))
    await stranger.tap(french.country_name("IQ"))
    await stranger.tap("20–24")
    await stranger.tap(french("Woman"))
    await stranger.tap("5")
    await stranger.tap(french("No"))
    await stranger.say("3")
    await stranger.tap(french("Skip"))
    await mix(harness)
    heads = set()
    async with harness.store.transaction() as tx:
        for by in Breakdown:
            groups = await tx.reports.survey_headcounts(sid, by)
            heads |= {(by.value, group) for group, n in groups.items() if n}
    assert heads == {
        ("none", ""),
        ("country", "IQ"),
        ("language", "fr"),
        ("age", "20-24"),
        ("gender", "woman"),
    }
    again = await stranger.say("/start s_voices-iq")
    assert again[0].text == french("You have already answered this survey. Thank you!")
    child = harness.person("5001", "en")
    await child.say("/start s_voices-iq")
    await child.tap("English")
    await child.tap("Yes, start")
    await child.tap("Prefer not to say")
    replies = await child.tap("Under 15")
    assert "15 and older" in replies[0].text
    assert ("", "", "", 1) in await counted(harness, sid)
    assert "can't find" in (await child.say("/start s_nope"))[0].text


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_shipped_survey_says_how_many_to_choose_once(
    harness: Harness, locale: str
) -> None:
    """The limit of a multiple-choice question is said by the bot, in her language, from
    `max_choices`: the question's own text does not say it again."""
    shipped = yaml.safe_load((ROOT / "content" / "surveys.yaml").read_text("utf-8"))
    await load(harness, shipped["surveys"][0])
    she = await member(harness, "1", locale)
    _ = CATALOGS.get(locale)
    [listing] = await she.say("/survey")
    await she.tap(labels(listing)[0])
    await she.tap("3")
    [by_whom] = await she.tap(_("Yes"))
    limit = _("Choose up to {n}.", n=3)
    lines = by_whom.text.split("\n")
    assert lines.count(limit) == 1, by_whom.text
    prompt = lines[1]
    assert not any(word in prompt.casefold() for word in ("up to", "three", "jusqu", "حتى")), (
        prompt
    )


async def test_survey_status_for_coordinators_shows_counts_only(harness: Harness) -> None:
    await load(harness)
    code = await make_invite(harness, "coord", role=Role.COORDINATOR)
    coord = harness.person("900")
    await join(coord, code)
    status = (await coord.say("/survey status pulse-test"))[0].text
    assert "0 started, 0 completed" in status
    she = await member(harness, "1")
    assert "not available" in (await she.say("/survey status pulse-test"))[0].text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["questions"][1].update(jumps={"no": "missing"}), "missing question"),
        (
            lambda d: (
                d["questions"][3].update(jumps={})
                or d["questions"][2].update(jumps={"armed": "safe"})
            ),
            "cycle",
        ),
        (lambda d: d["questions"][0]["text"]["en"].pop("low"), "labels for both ends"),
        (lambda d: d["questions"][2]["text"]["fr"]["options"].pop(), "option labels"),
        (lambda d: d["questions"][3].update(min=10, max=1), "min ≤ max"),
        (lambda d: d["text"].update(de={"title": "x"}), "unsupported"),
        (lambda d: d.update(slug="Bad Slug"), "slug"),
        (lambda d: d["questions"].extend(d["questions"][:1] * 15), "1 to 15"),
    ],
)
def test_bad_definitions_are_refused_naming_the_problem(change, message) -> None:  # type: ignore[no-untyped-def]
    data = pulse()
    change(data)
    with pytest.raises(SurveyError, match=message):
        parse_definition(data, LOCALES)


async def test_push_remind_and_close(harness: Harness) -> None:
    from bot.core.i18n import Catalogs
    from bot.services.surveys import close_due_surveys, push_open_surveys, send_reminders

    data = pulse()
    data["reminders"] = 1
    data["keep_partial"] = True
    sid = await load(harness, data, days=4)
    finisher = await member(harness, "1")
    halfway = await member(harness, "2", "fr")
    silent = await member(harness, "3", "ar", country="NG")
    catalogs = Catalogs()

    assert await push_open_surveys(harness.store, catalogs, harness.clock.now()) == 1
    assert await push_open_surveys(harness.store, catalogs, harness.clock.now()) == 0
    invited = await deliver(harness)
    assert set(invited) == {"1", "2", "3"}, "the whole audience, once"
    for she in (finisher, halfway, silent):
        _ = catalogs.get(she.language or "en")
        assert labels(she.last) == [_("Start"), _("Not now")], "in her language"
    later = await finisher.tap("Not now")
    assert "later" in later[0].text

    await finisher.tap("Start", on=2)  # the invitation, above "later"
    await finisher.tap("4")
    await finisher.tap("No")
    await finisher.say("5")
    await finisher.tap("Skip")
    await halfway.say("/survey pulse-test")
    await halfway.tap("1")

    # Day 1 at 09:00 UTC: no reminder is due yet (one reminder, half-way through the window).
    assert await send_reminders(harness.store, catalogs, harness.clock.now()) == 0
    # Half-way, plus 13 h: due, but it is 01:00 in Baghdad and 23:00 in Lagos: quiet hours.
    harness.clock.advance(timedelta(days=2, hours=13))
    assert await send_reminders(harness.store, catalogs, harness.clock.now()) == 0
    # The next morning, 09:00 UTC: both who have not finished get one reminder, once.
    harness.clock.advance(timedelta(hours=11))
    assert await send_reminders(harness.store, catalogs, harness.clock.now()) == 2
    assert await send_reminders(harness.store, catalogs, harness.clock.now()) == 0
    reminded = {
        chat
        for chat, texts in (await deliver(harness)).items()
        for text in texts
        if "reminder" in text.lower() or "rappel" in text.lower() or "تذكير" in text
    }
    assert reminded == {"2", "3"}

    harness.clock.advance(timedelta(days=1))
    assert await close_due_surveys(harness.store, harness.clock.now(), 1) == [sid]
    # The finisher is counted; the half-way answers are dropped (keep_partial is not honoured:
    # a partial questionnaire would single out who stopped where).
    assert ("", "", "", 1) in await counted(harness, sid)
    assert ("safe", "4", "", 1) in await counted(harness, sid)
    assert ("safe", "1", "", 1) not in await counted(harness, sid)
    assert [await state_of(harness, she) for she in (finisher, halfway, silent)] == [None] * 3
    assert await waiting(harness) == []
    async with harness.store.transaction() as tx:
        statuses = {i: await tx.surveys.participation(sid, i) for i in (1, 2, 3)}
        assert await tx.surveys.respondent_salt(sid) is None, "no respondent hash can be made"
    assert statuses == {1: "took_part", 2: "took_part", 3: "invited"}
    closed = await halfway.say("/survey")
    assert closed[0].text == catalogs.get("fr")(
        "There is no open survey for you right now. Thank you!"
    )
    assert silent.user_id == "3"
