"""Pulse surveys: answering with skip logic, back, skip, resume; closing; unlinkability;
public surveys; and the wrong input at every kind of question."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from bot.core.i18n import Catalogs
from bot.core.messages import MediaKind
from bot.core.models import Role
from bot.core.surveys import SurveyError, parse_definition
from handlers.surveys import flush_survey_pools
from storage.tables import count_t, metadata, outbox_t, participation_t, state_t, text_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads
from tests.support.surveys import pulse

LOCALES = ("en", "ar", "fr")


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
    sid = await load(harness)
    she = await member(harness, "1", "ar")
    listing = (await she.say("/survey"))[0]
    assert payloads(listing) == [f"svy:s:{sid}"]
    replies = await she.press(f"svy:s:{sid}")
    assert "نبض" in replies[0].text, "title in her language"
    assert payloads(replies[-1])[:5] == [f"srv:{sid}:safe:{n}" for n in "12345"]
    await she.press(f"srv:{sid}:safe:2")
    await she.press(f"srv:{sid}:threat:yes")
    who = she.last
    assert f"srv:{sid}:who:~back" in payloads(who)
    await she.press(f"srv:{sid}:who:armed")
    await she.press(f"srv:{sid}:who:online")
    too_many = await she.press(f"srv:{sid}:who:family")
    assert too_many, "a third choice over the maximum is refused with a reason"
    await she.press(f"srv:{sid}:who:~back")  # back to the yes/no
    assert f"srv:{sid}:threat:yes" in payloads(she.last)
    await she.press(f"srv:{sid}:threat:no")  # jumps over "who"
    assert "work" in she.last.buttons[-1].payload
    await she.press(f"srv:{sid}:work:~stop")
    resumed = await she.say("/survey")
    assert f"srv:{sid}:work:~stop" in payloads(resumed[-1]), "resumes at the same question"
    arabic = Catalogs().get("ar")
    assert (await she.say("many"))[0].text == arabic("Please type a number.")
    assert "31" in (await she.say("45"))[0].text
    await she.say("12")
    skip = she.last
    assert f"srv:{sid}:note:~skip" in payloads(skip)
    done = await she.press(f"srv:{sid}:note:~skip")
    assert payloads(done[-1]) == [f"srv:{sid}:optin:yes", f"srv:{sid}:optin:no"]
    await she.press(f"srv:{sid}:optin:yes")
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
    old = await she.press(f"srv:{sid}:work:5")  # a button from a later question
    assert "earlier question" in old[0].text
    other = await she.press("srv:999:safe:5")  # from another survey
    assert "earlier question" in other[0].text
    forged = await she.press(f"srv:{sid}:safe:9")
    assert "buttons" in forged[0].text
    await she.press(f"srv:{sid}:safe:4")
    await she.press(f"srv:{sid}:threat:yes")
    assert "at least one" in (await she.press(f"srv:{sid}:who:~done"))[0].text
    await she.press(f"srv:{sid}:who:family")
    await she.press(f"srv:{sid}:who:~done")
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
        await she.say("/survey pulse-test")
        await she.press(f"srv:{sid}:safe:{1 + i % 5}")
        await she.press(f"srv:{sid}:threat:no")
        await she.say(str(i))
        await she.press(f"srv:{sid}:note:~skip")
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
    sid = await load(harness, days=1)
    she = await member(harness, "1")
    await she.say("/survey pulse-test")
    harness.clock.advance(timedelta(days=2))
    replies = await she.press(f"srv:{sid}:safe:3")
    assert "closed" in replies[0].text
    assert await table(harness, count_t) == []
    assert await waiting(harness) == []


async def test_public_survey_for_non_members(harness: Harness) -> None:
    data = pulse("voices-iq", mode="public")
    sid = await load(harness, data)
    stranger = harness.person("5000", "fr")
    await stranger.say("/start s_voices-iq")
    await stranger.press(f"pub:{sid}:lang:fr")
    consent = stranger.last
    assert payloads(consent) == [f"pub:{sid}:consent:yes", f"pub:{sid}:consent:no"]
    await stranger.press(f"pub:{sid}:consent:yes")
    await stranger.press(f"pub:{sid}:country:IQ")
    await stranger.press(f"pub:{sid}:age:20-24")
    await stranger.press(f"pub:{sid}:gender:woman")
    await stranger.press(f"srv:{sid}:safe:5")
    await stranger.press(f"srv:{sid}:threat:no")
    await stranger.say("3")
    await stranger.press(f"srv:{sid}:note:~skip")
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
    french = Catalogs().get("fr")
    assert again[0].text == french("You have already answered this survey. Thank you!")
    child = harness.person("5001", "en")
    await child.say("/start s_voices-iq")
    await child.press(f"pub:{sid}:lang:en")
    await child.press(f"pub:{sid}:consent:yes")
    await child.press(f"pub:{sid}:country:none")
    replies = await child.press(f"pub:{sid}:age:under15")
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
    from handlers.surveys import close_due_surveys, push_open_surveys, send_reminders
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
    assert {tuple(b["payload"] for b in r["buttons"]) for r in invites} == {
        (f"svy:s:{sid}", f"svy:n:{sid}")
    }
    later = await finisher.press(f"svy:n:{sid}", message_id="1")
    assert "later" in later[0].text

    await finisher.press(f"svy:s:{sid}", message_id="1")
    await finisher.press(f"srv:{sid}:safe:4")
    await finisher.press(f"srv:{sid}:threat:no")
    await finisher.say("5")
    await finisher.press(f"srv:{sid}:note:~skip")
    await halfway.say("/survey pulse-test")
    await halfway.press(f"srv:{sid}:safe:1")

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
