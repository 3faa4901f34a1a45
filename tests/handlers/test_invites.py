"""/invite: coordinators and administrators make invitation links from the bot."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

from bot.core.context import CoreConfig
from bot.core.invites import InviteLinks, new_code
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import Role
from handlers import build_router
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads

LINKS = InviteLinks(telegram_username="WaslAllianceBot", whatsapp_number="+964 770 000 0000")


def harness_with_links(db: SqlStore, channel: ChannelName = ChannelName.TELEGRAM) -> Harness:
    return Harness(db, build_router(), config=CoreConfig(invite_links=LINKS), channel=channel)


async def person(
    h: Harness, user_id: str, role: Role, locale: str = "en", country: str = "IQ"
) -> Person:
    she = h.person(user_id, locale)
    code = await make_invite(h, f"code-{user_id}", role=role)
    await join(she, code, locale=locale, country=country)
    return she


def code_in(text: str) -> str:
    match = re.search(r"start=([A-Za-z0-9_-]+)", text) or re.search(
        r"start ([A-Za-z0-9_-]+)", unquote(text)
    )
    assert match, text
    return match.group(1)


async def audit(h: Harness, action: str) -> list[dict[str, object]]:
    async with h.store.transaction() as tx:
        return [e for e in await tx.audit_log.entries() if e["action"] == action]


async def test_a_coordinator_invites_members_of_her_country_in_three_taps(db: SqlStore) -> None:
    h = harness_with_links(db)
    coordinator = await person(h, "1", Role.COORDINATOR, country="YE")
    [uses] = await coordinator.say("/invite")
    assert payloads(uses) == ["inv:uses:1", "inv:uses:5", "inv:uses:20", "inv:mine", "inv:cancel"]
    assert [b.label for b in uses.buttons[:3]] == ["1 person", "5 people", "20 people"]
    [country] = await coordinator.press("inv:uses:5")
    assert [b.label for b in country.buttons] == ["Yemen", "They choose", "Cancel"]
    ready, forward = await coordinator.press("inv:country:YE")
    assert "up to 5 people can join as member" in ready.text
    assert "Forward the next message" in ready.text
    assert "https://t.me/WaslAllianceBot?start=" in forward.text
    assert "https://wa.me/9647700000000?text=start%20" in forward.text
    code = code_in(forward.text)
    async with h.store.transaction() as tx:
        invite = await tx.invites.get(code)
    assert invite is not None
    assert (invite.role, invite.country, invite.uses_left) == (Role.MEMBER, "YE", 5)
    assert invite.expires_at == h.clock.now() + timedelta(days=7)
    [entry] = await audit(h, "invite.created")
    assert entry["actor_member_id"] is not None and entry["details"]["country"] == "YE"  # type: ignore[index]

    newcomer = h.person("2", "en")
    await newcomer.say(f"/start {code}")
    await newcomer.press("ob:lang:en")
    [spheres] = await newcomer.press("ob:values:yes")
    assert "ob:sph:youth" in payloads(spheres), "the country came with the invitation"
    await newcomer.press("ob:sph:youth")
    await newcomer.press("ob:sph:done")
    async with h.store.transaction() as tx:
        joined = await tx.members.get(ChannelName.TELEGRAM, "2")
    assert joined is not None and (joined.role, joined.country) == (Role.MEMBER, "YE")


async def test_an_administrator_may_invite_the_secretariat_alliance_wide(db: SqlStore) -> None:
    h = harness_with_links(db)
    admin = await person(h, "1", Role.ADMIN)
    [roles] = await admin.say("/invite")
    assert [b.label for b in roles.buttons[:3]] == ["Member", "Coordinator", "Secretariat"]
    assert payloads(roles) == [
        "inv:role:member",
        "inv:role:coordinator",
        "inv:role:secretariat",
        "inv:mine",
        "inv:cancel",
    ]
    await admin.press("inv:role:secretariat")
    ready, forward = await admin.press("inv:uses:1")  # no country step for the secretariat
    assert "1 person can join as secretariat" in ready.text
    async with h.store.transaction() as tx:
        invite = await tx.invites.get(code_in(forward.text))
    assert invite is not None and (invite.role, invite.country) == (Role.SECRETARIAT, None)


async def test_in_arabic_with_no_links_known_the_start_command_is_given(harness: Harness) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR, locale="ar")
    [uses] = await coordinator.say("/invite")
    assert uses.buttons[1].label == "5 أشخاص"
    await coordinator.press("inv:uses:1")
    _, forward = await coordinator.press("inv:country:any")
    assert "https://" not in forward.text
    code = re.search(r"/start ([A-Za-z0-9_-]+)", forward.text)
    assert code is not None
    async with harness.store.transaction() as tx:
        invite = await tx.invites.get(code.group(1))
    assert invite is not None and invite.country is None and invite.uses_left == 1


async def test_on_whatsapp_the_word_start_is_given_without_a_slash(db: SqlStore) -> None:
    h = Harness(db, build_router(), channel=ChannelName.WHATSAPP)
    coordinator = await person(h, "1", Role.COORDINATOR)
    await coordinator.say("invite")  # the bare word: WhatsApp has no slash menu
    await coordinator.press("inv:uses:1")
    _, forward = await coordinator.press("inv:country:IQ")
    assert re.search(r"(?<!/)start [A-Za-z0-9_-]{16}", forward.text), forward.text


async def test_members_cannot_invite_and_it_is_logged(harness: Harness) -> None:
    member = await person(harness, "1", Role.MEMBER)
    [refused] = await member.say("/invite")
    assert "not available" in refused.text
    [entry] = await audit(harness, "command.refused")
    assert entry["details"] == {"command": "invite", "role": "member"}
    assert await audit(harness, "invite.created") == []


async def test_wrong_input_re_asks_and_forged_buttons_make_nothing(harness: Harness) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR)
    [roles_hidden] = await coordinator.say("/invite")
    assert not any("role" in p for p in payloads(roles_hidden))
    again = await coordinator.say("twenty please")
    assert "choose one of the buttons" in again[0].text and payloads(again[-1])[0] == "inv:uses:1"
    again = await coordinator.press("inv:uses:1000")  # not an offered number
    assert "choose one of the buttons" in again[0].text
    await coordinator.press("inv:uses:5")
    again = await coordinator.press("inv:country:SY")  # not her country, not "they choose"
    assert "choose one of the buttons" in again[0].text
    again = await coordinator.send_media(MediaKind.PHOTO)
    assert "choose one of the buttons" in again[0].text
    [cancelled] = await coordinator.press("inv:cancel")
    assert "No invitation was made" in cancelled.text
    assert await audit(harness, "invite.created") == []
    # a coordinator cannot forge the administrator's role step either
    await coordinator.say("/invite")
    again = await coordinator.press("inv:role:coordinator")
    assert "choose one of the buttons" in again[0].text
    assert await audit(harness, "invite.created") == []


def test_codes_never_look_like_a_public_survey_link() -> None:
    codes = {new_code() for _ in range(5000)}
    assert len(codes) == 5000
    assert all(len(c) == 16 and not c.startswith("s_") for c in codes)
    assert not any(c.startswith("-") for c in codes), (
        "`wasl invite revoke CODE` would read an option"
    )
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", c) for c in codes)


def test_links_only_for_the_channels_that_are_known() -> None:
    assert InviteLinks().links("abc") == []
    assert InviteLinks(telegram_username="@Bot").links("abc") == ["https://t.me/Bot?start=abc"]
    assert InviteLinks(whatsapp_number="+33 6 12").links("abc") == [
        "https://wa.me/33612?text=start%20abc"
    ]
