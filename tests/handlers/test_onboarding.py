"""Joining the alliance: invites, language, values, country, spheres — and every wrong input."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.core.messages import ChannelName, MediaKind
from bot.core.models import MemberStatus, Role
from storage.tables import audit_t, invite_t, member_t, state_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, payloads

ARABIC = re.compile(r"[\u0600-\u06FF]")


async def count(h: Harness, table: object) -> int:
    async with h.store.transaction() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_without_invite_explains_how_to_join_and_stores_nothing(harness: Harness) -> None:
    she = harness.person()
    replies = await she.say("/start")
    assert "invitation" in replies[0].text
    await she.say("hello?")
    assert "invitation" in she.last.text
    assert await count(harness, member_t) == 0
    assert await count(harness, state_t) == 0


async def test_unknown_and_expired_invites_are_refused(harness: Harness) -> None:
    await make_invite(harness, "old-one", expires_in=timedelta(days=1))
    harness.clock.advance(timedelta(days=2))
    she = harness.person()
    assert "don't recognise" in (await she.say("/start nope"))[0].text
    assert "expired" in (await she.say("/start old-one"))[0].text
    assert await count(harness, state_t) == 0


async def test_full_join_with_invite_in_arabic(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person(language="ar")
    first = (await she.say(f"/start {code}"))[0]
    assert ARABIC.search(first.text), "the language question is asked in her guessed language"
    assert payloads(first)[0] == "ob:lang:ar", "her guessed language comes first"
    values = (await she.press("ob:lang:ar"))[0]
    assert ARABIC.search(values.text)
    assert payloads(values) == ["ob:values:yes", "ob:values:no"]
    country = (await she.press("ob:values:yes"))[0]
    assert "ob:country:IQ" in payloads(country)
    assert "العراق" in [b.label for b in country.buttons], "country names come from CLDR in ar"
    spheres = (await she.press("ob:country:IQ"))[0]
    assert "ob:sph:done" in payloads(spheres)
    toggled = (await she.press("ob:sph:vaw"))[0]
    assert toggled.replace, "a toggle edits the message in place"
    assert any(b.label.startswith("✅") for b in toggled.buttons)
    await she.press("ob:sph:media")
    await she.press("ob:sph:done")
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
    assert await count(harness, state_t) == 0, "no conversation state is left after joining"


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
    await second.press("ob:lang:en")
    await second.press("ob:values:yes")
    await second.press("ob:country:IQ")
    await second.press("ob:sph:youth")
    await second.press("ob:sph:done")
    assert "used up" in second.last.text
    assert await count(harness, member_t) == 1


async def test_invite_with_a_country_skips_the_country_question(harness: Harness) -> None:
    code = await make_invite(harness, country="NG", role=Role.COORDINATOR)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.press("ob:lang:en")
    spheres = (await she.press("ob:values:yes"))[0]
    assert "ob:sph:done" in payloads(spheres)
    await she.press("ob:sph:advocacy")
    await she.press("ob:sph:done")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, she.user_id)
    assert member is not None and (member.country, member.role) == ("NG", Role.COORDINATOR)


async def test_declining_the_values_keeps_nothing(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.press("ob:lang:en")
    replies = await she.press("ob:values:no")
    assert "Nothing about you has been kept" in replies[0].text
    assert await count(harness, state_t) == 0
    assert await count(harness, member_t) == 0


async def test_country_search_by_name_in_her_language_or_english(harness: Harness) -> None:
    code = await make_invite(harness, uses=3)
    she = harness.person("5", "fr")
    await she.say(f"/start {code}")
    await she.press("ob:lang:fr")
    await she.press("ob:values:yes")
    await she.press("ob:country:other")
    found = (await she.say("egypte"))[0]
    assert payloads(found) == ["ob:country:EG"]
    assert found.buttons[0].label == "Égypte"
    found = (await she.say("Somalia"))[0]  # English works too
    assert "ob:country:SO" in payloads(found)
    nothing = await she.say("Atlantis")
    assert "Atlantis" in nothing[0].text
    assert "ob:country:IQ" in payloads(nothing[-1]), "the list is offered again"
    await she.press("ob:country:SO")
    await she.press("ob:sph:rights")
    await she.press("ob:sph:done")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "5")
    assert member is not None and member.country == "SO"


async def test_arabic_country_search_ignores_hamza_and_diacritics(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person("6", "ar")
    await she.say(f"/start {code}")
    await she.press("ob:lang:ar")
    await she.press("ob:values:yes")
    found = (await she.say("الاردن"))[0]  # typed without the hamza
    assert payloads(found)[0] == "ob:country:JO"


async def test_wrong_input_at_every_step_gets_an_answer_and_keeps_the_step(
    harness: Harness,
) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    for step_payload in ("ob:lang:en", "ob:values:yes", None):
        for bad in (
            she.send_media(MediaKind.STICKER),
            she.send_media(MediaKind.VOICE),
            she.edit("changed my mind"),
            she.say("x" * 4096) if step_payload else she.send_media(MediaKind.PHOTO, "a caption"),
        ):
            replies = await bad
            assert replies, "every wrong input gets an answer"
            assert all(len(r.text) < 4096 for r in replies)
        if step_payload:
            await she.press(step_payload)
    # still at the country step, and it still works
    await she.press("ob:country:LB")
    await she.press("ob:sph:youth")
    await she.press("ob:sph:done")
    assert "Welcome to the alliance" in she.last.text


async def test_stale_and_double_pressed_buttons(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    lang_message = she.last_sent().message_id
    await she.press("ob:lang:en")
    replies = await she.press("ob:lang:fr", message_id=lang_message)  # old message
    assert "earlier message" in replies[0].text
    assert payloads(replies[-1]) == ["ob:values:yes", "ob:values:no"], "current step re-asked"
    await she.press("ob:values:yes")
    await she.press("ob:country:IQ")
    empty_done = await she.press("ob:sph:done")
    assert "at least one" in empty_done[0].text
    await she.press("ob:sph:youth")
    await she.press("ob:sph:done")
    again = await she.press("ob:sph:done")  # a double tap after joining
    assert "earlier message" in again[0].text
    assert await count(harness, member_t) == 1
    forged = await she.press("ob:country:ZZ")
    assert forged, "an unknown button payload is answered too"


async def test_forged_payloads_inside_the_flow_are_answered(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    replies = await she.press("ob:lang:xx")
    assert payloads(replies[-1])[0].startswith("ob:lang:")
    await she.press("ob:lang:en")
    await she.press("ob:values:yes")
    replies = await she.press("ob:country:ZZ")
    assert "ob:country:IQ" in payloads(replies[-1])
    await she.press("ob:country:IQ")
    replies = await she.press("ob:sph:nonsense")
    assert "ob:sph:done" in payloads(replies[-1])


async def test_commands_mid_onboarding_ask_to_finish_first(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    replies = await she.say("/mydata")
    assert "finish joining" in replies[0].text
    assert payloads(replies[-1])[0].startswith("ob:lang:")
    replies = await she.say("/start")  # /start again carries on where she was
    assert payloads(replies[-1])[0].startswith("ob:lang:")


async def test_restart_mid_onboarding_continues_where_she_was(harness: Harness) -> None:
    code = await make_invite(harness)
    she = harness.person()
    await she.say(f"/start {code}")
    await she.press("ob:lang:fr")
    # A new core on the same database: as after a restart, or on a second worker.
    from handlers import build_router

    restarted = Harness(harness.store, build_router())
    restarted._update_ids = itertools.count(100)  # Telegram's ids keep rising across restarts
    again = restarted.person(she.user_id, she.language)
    replies = await again.press("ob:values:yes", message_id="1")
    assert "ob:country:IQ" in payloads(replies[0])
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
    assert await count(h, invite_t) == 0
    assert await count(h, audit_t) == 1
