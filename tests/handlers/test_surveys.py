"""Pulse surveys: answering with skip logic, back, skip, resume; closing; unlinkability;
public surveys; and the wrong input at every kind of question."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from bot.core.conversation import STALE, step_payload
from bot.core.i18n import Catalogs
from bot.core.messages import MediaKind, Outbound
from bot.core.models import Role
from bot.core.surveys import SurveyAction, SurveyButton, SurveyError, parse_definition
from bot.services.surveys import flush_survey_pools
from handlers.surveys import ANSWERING, FLOW, step_name
from storage.tables import count_t, metadata, outbox_t, participation_t, state_t, text_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person
from tests.support.surveys import pulse

LOCALES = ("en", "ar", "fr")
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


async def counted(h: Harness, dimension: str = "none") -> set[tuple[str, str, str, int]]:
    """(question, answer, value, count) of the counters of one dimension."""
    return {
        (str(r["question"]), str(r["answer"]), str(r["value"]), int(str(r["count"])))
        for r in await table(h, count_t)
        if r["dimension"] == dimension
    }


async def waiting(h: Harness) -> list[object]:
    return [r["survey_pending"] for r in await table(h, state_t) if r["survey_pending"]]


async def table(h: Harness, t: object) -> list[dict[str, object]]:
    async with h.store.transaction() as tx:
        query = select(t)  # type: ignore[call-overload]
        if t is outbox_t:  # broadcasts, not replies
            query = query.where(outbox_t.c.campaign_id.is_not(None))
        return [dict(r._mapping) for r in await tx.conn.execute(query)]


async def test_answering_with_skip_logic_back_and_resume(harness: Harness) -> None:
    await load(harness)
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
    assert labels(done[-1]) == [arabic("Yes, send results"), arabic("No, thanks")]
    await she.tap(arabic("Yes, send results"))
    assert await table(harness, count_t) == [], "kept in her state until counted with others"
    assert len(await waiting(harness)) == 1
    assert await mix(harness) == 1
    assert await counted(harness) == {
        ("", "", "", 1),
        ("safe", "2", "", 1),
        ("threat", "no", "", 1),
        ("work", "#1", "", 1),  # 12, counted in its range (7-13), never as itself
    }
    assert await waiting(harness) == [], "erased from her state once counted"
    async with harness.store.transaction() as tx:
        assert (await tx.conversations.load(harness.channel.name, she.user_id)).flow is None
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


async def test_answers_cannot_be_linked_to_a_member(harness: Harness) -> None:
    """The schema has no path from an answer to a person, and the rows carry nothing that
    names her: no member id, chat id, platform id or exact time."""
    sid = await load(harness)
    people = [await member(harness, f"7000{i}", LOCALES[i % 3]) for i in range(1, 7)]
    for i, she in enumerate(people):
        _ = CATALOGS.get(she.language or "en")
        await she.say("/survey pulse-test")
        await she.tap(str(1 + i % 5))
        await she.tap(_("No"))
        await she.say(str(i))
        await she.tap(_("Skip"))
    assert await mix(harness, k=5) == 0, "six waiting: fewer than 2k"
    assert await mix(harness, k=3) == 3, "a batch of k goes, k chosen at random wait"
    overall = [w for w in await waiting(harness) if "none" in w[str(sid)]["g"]]  # type: ignore[index]
    assert len(overall) == 3, "three wait for the overall count"
    languages = [w[str(sid)]["g"].get("language") for w in await waiting(harness)]  # type: ignore[index]
    assert len(languages) == 6 and all(languages), "two per language: no language group yet"
    assert await mix(harness) == 3
    async with harness.store.engine.connect() as conn:

        def foreign_keys(sync_conn):  # type: ignore[no-untyped-def]
            inspector = inspect(sync_conn)
            return {
                name: [
                    (fk["referred_table"], fk["constrained_columns"])
                    for fk in inspector.get_foreign_keys(name)
                ]
                for name in ("survey_count", "survey_text")
            }

        fks = await conn.run_sync(foreign_keys)
    referred = {t for keys in fks.values() for t, _ in keys}
    assert referred == {"survey"}, "answers point only at the survey"
    for name in ("survey_count", "survey_text"):
        columns = set(metadata.tables[name].columns.keys())
        assert not columns & {"member_id", "chat_id", "platform_id", "created_at", "at", "week"}
        assert not any("time" in c or c.endswith("_at") for c in columns)
    identifiers = {p.user_id for p in people}
    for row in await table(harness, count_t) + await table(harness, text_t):
        assert not {str(v) for v in row.values()} & identifiers
    assert ("", "", "", 6) in await counted(harness), "six people, counted together"
    participation = await table(harness, participation_t)
    assert set(participation[0]) == {
        "survey_id",
        "member_id",
        "status",
        "reminders_sent",
        "results_opt_in",
    }, "participation says who, never what"


async def test_answers_after_close_are_refused_politely(harness: Harness) -> None:
    await load(harness, days=1)
    she = await member(harness, "1")
    await she.say("/survey pulse-test")
    harness.clock.advance(timedelta(days=2))
    replies = await she.tap("3")
    assert "closed" in replies[0].text
    assert await table(harness, count_t) == []
    assert await waiting(harness) == []


async def test_public_survey_for_non_members(harness: Harness) -> None:
    data = pulse("voices-iq", mode="public")
    await load(harness, data)
    stranger = harness.person("5000", "fr")
    french = CATALOGS.get("fr")
    await stranger.say("/start s_voices-iq")
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
    heads = {
        (r["dimension"], r["value"]) for r in await table(harness, count_t) if not r["question"]
    }
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
    assert ("", "", "", 1) in await counted(harness)
    assert "can't find" in (await child.say("/start s_nope"))[0].text


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
    from storage.tables import public_seen_t

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
    invites = await table(harness, outbox_t)
    assert len(invites) == 3
    start = SurveyButton(sid, SurveyAction.START).pack()
    not_now = SurveyButton(sid, SurveyAction.LATER).pack()
    assert {tuple(b["payload"] for b in r["buttons"]) for r in invites} == {(start, not_now)}
    # The invitation went through the outbox, not this chat: its buttons, as delivered.
    later = await finisher.press(not_now, message_id="1")
    assert "later" in later[0].text

    await finisher.press(start, message_id="1")
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
        r["member_id"]
        for r in await table(harness, outbox_t)
        if "reminder" in str(r["text"]).lower()
        or "rappel" in str(r["text"]).lower()
        or "تذكير" in str(r["text"])
    }
    assert reminded == {2, 3}

    harness.clock.advance(timedelta(days=1))
    assert await close_due_surveys(harness.store, harness.clock.now(), 1) == [sid]
    # The finisher is counted; the half-way answers are dropped (keep_partial is not honoured:
    # a partial questionnaire would single out who stopped where).
    assert ("", "", "", 1) in await counted(harness)
    assert ("safe", "4", "", 1) in await counted(harness)
    assert ("safe", "1", "", 1) not in await counted(harness)
    assert [s for s in await table(harness, state_t) if s["flow"] == "srv"] == []
    assert await waiting(harness) == []
    statuses = {r["member_id"]: r["status"] for r in await table(harness, participation_t)}
    assert statuses == {1: "took_part", 2: "took_part", 3: "invited"}
    assert await table(harness, public_seen_t) == []
    closed = await halfway.say("/survey")
    assert closed[0].text == catalogs.get("fr")(
        "There is no open survey for you right now. Thank you!"
    )
    assert silent.user_id == "3"
