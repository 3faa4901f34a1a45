"""Joining the alliance: invites, language, values, country, spheres — and every wrong input."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from bot.core.conversation import step_payload
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import MemberStatus, Role
from handlers.onboarding import ONBOARDING
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person

ARABIC = re.compile(r"[\u0600-\u06FF]")
VALUES = ["I accept", "No, thank you", "◀ Back"]


async def members(h: Harness, *people: Person) -> int:
    """How many of these people are members."""
    async with h.store.transaction() as tx:
        found = [await tx.members.get(h.channel.name, p.user_id) for p in people]
    return sum(m is not None for m in found)


async def nothing_kept(h: Harness, she: Person) -> bool:
    """No conversation state and no member row for her."""
    async with h.store.transaction() as tx:
        state = await tx.conversations.load(h.channel.name, she.user_id)
    return state.flow is None and not state.data and await members(h, she) == 0


def forged(step: str, value: str) -> str:
    """A joining button the bot never offered (a forged or damaged payload)."""
    return step_payload(ONBOARDING.name, ONBOARDING.version, step, value)


async def test_without_invite_explains_how_to_join_and_stores_nothing(harness: Harness) -> None:
    she = harness.person()
    replies = await she.say("/start")
    assert "invitation" in replies[0].text
    await she.say("hello?")
    assert "invitation" in she.last.text
    assert await nothing_kept(harness, she)


async def test_unknown_and_expired_invites_are_refused(harness: Harness) -> None:
    await make_invite(harness, "old-one", expires_in=timedelta(days=1))
    harness.clock.advance(timedelta(days=2))
    she = harness.person()
    assert "don't recognise" in (await she.say("/start nope"))[0].text
    assert "expired" in (await she.say("/start old-one"))[0].text
    assert await nothing_kept(harness, she)


async def test_full_join_with_invite_in_arabic(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person(language="ar")
    first = (await she.say(f"/start {code}"))[0]
    assert ARABIC.search(first.text), "the language question is asked in her guessed language"
    assert first.buttons[0].label == "العربية", "her guessed language comes first"
    second = (await she.tap("العربية"))[0]
    assert ARABIC.search(second.text) and "English" in she.labels()
    assert "العربية" not in she.labels(), "her own language is no second language"
    values = (await she.tap("تخطي"))[0]
    assert ARABIC.search(values.text)
    assert she.labels()[:2] == ["أوافق", "لا، شكرًا"]
    country = (await she.tap("أوافق"))[0]
    assert "العراق" in [b.label for b in country.buttons], "country names come from CLDR in ar"
    await she.tap("العراق")
    assert "تم" in she.labels()
    checklist = she.last_sent()
    toggled = (await she.tap("العنف ضد المرأة"))[0]
    assert toggled.replace, "a toggle edits the message in place"
    assert she.last_sent().edited and she.last_sent().message_id == checklist.message_id
    assert "✅ العنف ضد المرأة" in she.labels()
    await she.tap("المرأة في الإعلام")
    await she.tap("تم")
    assert ARABIC.search(she.last.text)
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, she.user_id)
        invite = await tx.invites.get(code)
        audit = await tx.audit_log.entries()
    assert member is not None
    assert (member.locale, member.country, member.role) == ("ar", "IQ", Role.MEMBER)
    assert member.spheres == ["media", "vaw"]
    assert member.consented_at == harness.clock.now()
    assert invite is not None and invite.uses_left == 0
    assert [a["action"] for a in audit] == ["member.joined"]
    async with harness.store.transaction() as tx:
        state = await tx.conversations.load(ChannelName.TELEGRAM, she.user_id)
    assert state.flow is None and not state.data, "no conversation state is left after joining"


async def test_join_in_french_and_english(harness: Harness) -> None:
    await make_invite(harness, "two-uses", uses=2)
    amina, claire = harness.person("1", "en"), harness.person("2", "fr-CA")
    await join(amina, "two-uses", locale="en")
    await join(claire, "two-uses", locale="fr")
    assert "Welcome to the alliance" in amina.last.text
    assert "Bienvenue" in claire.last.text or "bienvenue" in claire.last.text
    async with harness.store.transaction() as tx:
        fr = await tx.members.get(ChannelName.TELEGRAM, "2")
    assert fr is not None and fr.locale == "fr"


async def test_used_up_invite_is_refused_for_the_second_person(harness: Harness) -> None:
    code = await make_invite(harness, uses=1)
    first, second = harness.person("1"), harness.person("2")
    await join(first, code)
    replies = await second.say(f"/start {code}")
    assert "used up" in replies[0].text


async def test_invite_used_up_while_she_was_joining(harness: Harness) -> None:
    code = await make_invite(harness, uses=1)
    first, second = harness.person("1"), harness.person("2")
    await second.say(f"/start {code}")  # starts, then stops to think
    await join(first, code)
    await second.tap("English")
    await second.tap("Skip")
    await second.tap("I accept")
    await second.tap("Iraq")
    await second.tap("Youth deradicalisation")
    await second.tap("Done")
    assert "used up" in second.last.text
    assert await members(harness, first, second) == 1


async def test_invite_with_a_country_skips_the_country_question(harness: Harness) -> None:
    code = await make_invite(harness, country="NG", role=Role.COORDINATOR)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.tap("English")
    await she.tap("Skip")
    await she.tap("I accept")
    assert "Done" in she.labels() and "Another country" not in she.labels()
    await she.tap("Advocacy")
    await she.tap("Done")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, she.user_id)
    assert member is not None and (member.country, member.role) == ("NG", Role.COORDINATOR)


async def test_declining_the_values_keeps_nothing(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.tap("English")
    await she.tap("Skip")
    replies = await she.tap("No, thank you")
    assert "Nothing about you has been kept" in replies[0].text
    assert await nothing_kept(harness, she)


async def test_country_search_by_name_in_her_language_or_english(harness: Harness) -> None:
    code = await make_invite(harness, uses=3)
    she = harness.person("5", "fr")
    await she.say(f"/start {code}")
    await she.tap("Français")
    await she.tap("Passer")
    await she.tap("J’accepte")
    [asked] = await she.tap("Autre pays")
    assert "pays" in asked.text and not asked.buttons, "she is asked to type, nothing more"
    found = (await she.say("egypte"))[0]
    assert [b.label for b in found.buttons] == ["Égypte"]
    found = (await she.say("Somalia"))[0]  # English works too
    assert "Somalie" in [b.label for b in found.buttons]
    nothing = await she.say("Atlantis")
    assert "Atlantis" in nothing[0].text
    assert "Irak" in [b.label for b in nothing[-1].buttons], "the list is offered again"
    await she.tap("Somalie", on=3)  # the search's answer, two messages ago
    await she.tap("Droits des femmes")
    await she.tap("Terminé")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "5")
    assert member is not None and member.country == "SO"


async def test_arabic_country_search_ignores_hamza_and_diacritics(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person("6", "ar")
    await she.say(f"/start {code}")
    await she.tap("العربية")
    await she.tap("تخطي")
    await she.tap("أوافق")
    ar = harness.catalogs.get("ar")
    found = (await she.say("الامارات"))[0]  # typed without the hamza
    assert found.buttons[0].label == ar.country_name("AE")
    # A listed country's name, typed without the hamza, is that button.
    await she.say("الاردن")
    assert "تم" in she.labels(), "the spheres come next"
    await she.tap(ar("Advocacy"))
    await she.tap("تم")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "6")
    assert member is not None and member.country == "JO"


async def test_wrong_input_at_every_step_gets_an_answer_and_keeps_the_step(
    harness: Harness,
) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    for label in ("English", "Skip", "I accept", None):
        for bad in (
            she.send_media(MediaKind.STICKER),
            she.send_media(MediaKind.VOICE),
            she.edit("changed my mind"),
            she.say("x" * 4096) if label else she.send_media(MediaKind.PHOTO, "a caption"),
        ):
            replies = await bad
            assert replies, "every wrong input gets an answer"
            assert all(len(r.text) < 4096 for r in replies)
        if label:
            await she.tap(label)
    # still at the country step, and it still works
    await she.tap("Lebanon")
    await she.tap("Youth deradicalisation")
    await she.tap("Done")
    assert "Welcome to the alliance" in she.last.text


async def test_stale_and_double_pressed_buttons(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.tap("English")
    await she.tap("Skip")
    replies = await she.tap("Français", on=3)  # on the old message
    assert "earlier message" in replies[0].text
    assert [b.label for b in replies[-1].buttons] == VALUES, "current step re-asked"
    await she.tap("I accept")
    await she.tap("Iraq")
    done = she.last_sent()
    empty_done = await she.tap("Done")
    assert [m.text for m in empty_done] == ["Please choose at least one sphere."]
    await she.tap("Youth deradicalisation")
    await she.tap("Done")
    [done_payload] = [b.payload for b in done.message.buttons if b.label == "Done"]
    again = await she.press(done_payload, done.message_id)  # a double tap after joining
    assert "earlier message" in again[0].text
    assert await members(harness, she) == 1
    answered = await she.press(forged("country", "ZZ"))
    assert answered, "an unknown button payload is answered too"


async def test_forged_payloads_inside_the_flow_are_answered(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    replies = await she.press(forged("lang", "xx"))
    assert replies[-1].buttons[0].label == "English", "the language question again"
    await she.tap("English")
    replies = await she.press(forged("second", "en"))  # her own language: never offered
    assert "earlier message" in replies[0].text and "Skip" in she.labels()
    await she.tap("Skip")
    await she.tap("I accept")
    replies = await she.press(forged("country", "ZZ"))
    assert "Iraq" in [b.label for b in replies[-1].buttons]
    await she.tap("Iraq")
    replies = await she.press(forged("spheres", "nonsense"))
    assert "Done" in [b.label for b in replies[-1].buttons]
    replies = await she.press("ob:sph:youth")  # a button from before the engine
    assert "earlier message" in replies[0].text and "Done" in she.labels()
    assert await members(harness, she) == 0


async def test_commands_mid_onboarding_ask_to_finish_first(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    replies = await she.say("/mydata")
    assert "finish joining" in replies[0].text
    assert replies[-1].buttons[0].label == "English", "the language question again"
    replies = await she.say("/start")  # /start again carries on where she was
    assert replies[-1].buttons[0].label == "English"


async def test_restart_mid_onboarding_continues_where_she_was(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.tap("Français")
    await she.tap("Passer")
    [accept] = [b.payload for b in she.last.buttons if b.label == "J’accepte"]
    # A new core on the same database: as after a restart, or on a second worker.
    from handlers import build_router

    restarted = Harness(harness.store, build_router())
    restarted._update_ids = itertools.count(100)  # Telegram's ids keep rising across restarts
    again = restarted.person(she.user_id, she.language)
    replies = await again.press(accept, message_id=she.last_sent().message_id)
    assert "Irak" in [b.label for b in replies[0].buttons]
    assert "pays" in replies[0].text, "her language choice survived the restart"


async def test_open_join_and_bootstrap_admin(open_harness: Harness) -> None:
    she = open_harness.person("42")
    await join(she)
    async with open_harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "42")
    assert member is not None and member.role is Role.MEMBER
    assert member.status is MemberStatus.ACTIVE


async def test_bootstrap_admin_joins_without_invite(db: object) -> None:
    from bot.core.context import CoreConfig
    from handlers import build_router

    h = Harness(db, build_router(), config=CoreConfig(admin_ids=frozenset({("telegram", "7")})))  # type: ignore[arg-type]
    await join(h.person("7"))
    async with h.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "7")
    assert member is not None and member.role is Role.ADMIN
    async with h.store.transaction() as tx:
        assert await tx.invites.list() == []
        assert [e["action"] for e in await tx.audit_log.entries()] == ["member.joined"]


async def test_help_while_joining_helps_with_the_step_she_is_on(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    helped = await she.say("/help")
    assert "invitation" not in helped[0].text, "she has one: she is joining"
    assert "Tap the language" in helped[0].text
    assert helped[-1].buttons[0].label == "English", "then the question again"
    await she.tap("English")
    helped = await she.say("/help")
    assert "another language you read" in helped[0].text and "Skip" in she.labels()
    await she.tap("Skip")
    helped = await she.say("/help")
    assert "I accept" in helped[0].text and helped[-1].buttons[0].label == "I accept"
    await she.tap("I accept")
    helped = await she.say("/help")
    assert "Another country" in helped[0].text and "Iraq" in she.labels()
    await she.tap("Iraq")
    helped = await she.say("/help")
    assert "then Done" in helped[0].text and "Done" in she.labels()
    await she.tap("Youth deradicalisation")
    await she.tap("Done")
    assert "Welcome to the alliance" in she.last.text
    helped = await she.say("/help")  # a member now: what she can do
    assert "Here is what you can do" in helped[0].text


async def test_in_the_terminal_a_tick_is_one_line_not_the_whole_menu(harness: Harness) -> None:
    import io

    from bot.channels.console import ConsoleChannel

    out = io.StringIO()
    console = ConsoleChannel(out, language="en")

    async def typed(line: str) -> str:
        before = len(out.getvalue())
        await harness.core.handle(console.to_inbound(line), console)
        return out.getvalue()[before:]

    await typed("/start")  # the terminal joins without an invitation
    await typed("English")
    await typed("Skip")
    await typed("I accept")
    menu = await typed("Iraq")
    assert "Which spheres" in menu and "  1. ▫️ Youth deradicalisation" in menu
    assert await typed("1") == "✓ Youth deradicalisation\n\n"
    assert await typed("Women in media") == "✓ Women in media\n\n"
    assert await typed("1") == "✗ Youth deradicalisation\n\n", "the numbers stay as shown"
    assert "Please choose at least one sphere" not in await typed("Done")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.CONSOLE, "console")
    assert member is not None and member.spheres == ["media"]
