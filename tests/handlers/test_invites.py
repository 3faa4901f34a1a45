"""/invite: coordinators and administrators make invitation links from the bot."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

from bot.core.context import CoreConfig
from bot.core.conversation import step_payload
from bot.core.invites import InviteLinks, new_code
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import Role
from handlers import build_router
from handlers.invites import INVITE
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads, visible

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
    assert coordinator.labels() == [
        "1 person",
        "5 people",
        "20 people",
        "My invitations",
        "✖ Cancel",
    ]
    assert uses.columns == 3
    await coordinator.tap("5 people")
    assert coordinator.labels() == ["Yemen", "They choose", "◀ Back", "✖ Cancel"]
    ready, forward = await coordinator.tap("Yemen")
    assert "Invitation ready (role: member): up to 5 people can join until" in ready.text
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
    await newcomer.tap("English")
    await newcomer.tap("Skip")
    await newcomer.tap("I accept")
    assert "▫️ Youth deradicalisation" in newcomer.labels(), "the country came with the invitation"
    await newcomer.tap("Youth deradicalisation")
    await newcomer.tap("Done")
    async with h.store.transaction() as tx:
        joined = await tx.members.get(ChannelName.TELEGRAM, "2")
    assert joined is not None and (joined.role, joined.country) == (Role.MEMBER, "YE")


async def test_an_administrator_may_invite_the_secretariat_alliance_wide(db: SqlStore) -> None:
    h = harness_with_links(db)
    admin = await person(h, "1", Role.ADMIN)
    await admin.say("/invite")
    assert admin.labels() == [
        "Member",
        "Coordinator",
        "Secretariat",
        "My invitations",
        "✖ Cancel",
    ]
    await admin.tap("Secretariat")
    ready, forward = await admin.tap("1 person")  # no country step for the secretariat
    assert "(role: secretariat): 1 person can join until" in ready.text
    async with h.store.transaction() as tx:
        invite = await tx.invites.get(code_in(forward.text))
    assert invite is not None and (invite.role, invite.country) == (Role.SECRETARIAT, None)


async def test_in_arabic_with_no_links_known_the_start_command_is_given(harness: Harness) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR, locale="ar")
    [uses] = await coordinator.say("/invite")
    assert uses.buttons[1].label == "\u20685\u2069 أشخاص", "the number isolated"
    assert visible(uses.buttons[1].label) == "5 أشخاص"
    _ = harness.catalogs.get("ar")
    await coordinator.tap(_.plural("{n} person", "{n} people", 1))
    _, forward = await coordinator.tap(_("They choose"))
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
    await coordinator.tap("1 person")
    _, forward = await coordinator.tap("Iraq")
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
    assert "Member" not in coordinator.labels(), "a coordinator invites members only: no step"
    assert not any(":role:" in p for p in payloads(roles_hidden))
    again = await coordinator.say("twenty please")
    assert (
        "choose one of the buttons" in again[0].text and again[-1].buttons[0].label == "1 person"
    )
    again = await coordinator.press(forged("uses", "1000"))  # not an offered number
    assert "earlier message" in again[0].text and again[-1].text.startswith("How many people")
    await coordinator.tap("5 people")
    again = await coordinator.press(forged("country", "SY"))  # not hers, not "they choose"
    assert "earlier message" in again[0].text
    again = await coordinator.send_media(MediaKind.PHOTO)
    assert "can't use a photo" in again[0].text and "They choose" in coordinator.labels()
    [cancelled] = await coordinator.tap("✖ Cancel")
    assert "No invitation was made" in cancelled.text
    assert await audit(harness, "invite.created") == []
    # a coordinator cannot forge the administrator's role step either
    await coordinator.say("/invite")
    again = await coordinator.press(forged("role", "coordinator"))
    assert "earlier message" in again[0].text
    assert await audit(harness, "invite.created") == []


def forged(step: str, value: str) -> str:
    """A button the bot never offered (a forged or damaged payload) at a step of /invite."""
    return step_payload(INVITE.name, INVITE.version, step, value)


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


async def role_of(h: Harness, she: Person) -> Role | None:
    async with h.store.transaction() as tx:
        member = await tx.members.get(h.channel.name, she.user_id)
    return member.role if member else None


async def uses_left(h: Harness, code: str) -> int:
    async with h.store.transaction() as tx:
        invite = await tx.invites.get(code)
    assert invite is not None
    return invite.uses_left


async def test_a_member_opening_a_higher_role_invitation_takes_the_role(
    harness: Harness,
) -> None:
    she = await person(harness, "1", Role.MEMBER, country="IQ")
    code = await make_invite(harness, "make-coord", role=Role.COORDINATOR, uses=2)
    [answer] = await she.say(f"/start {code}")
    assert "already a member" not in answer.text
    assert "your role is now: coordinator" in answer.text
    assert await role_of(harness, she) is Role.COORDINATOR
    assert await uses_left(harness, code) == 1, "the invitation's use is taken"
    [granted] = await audit(harness, "role.granted")
    assert granted["details"] == {
        "invite_id": granted["details"]["invite_id"],  # type: ignore[index]
        "from": "member",
        "to": "coordinator",
    }
    assert granted["subject_member_id"] == granted["actor_member_id"] is not None
    [invite] = await she.say("/invite")  # she may invite now
    assert "How many people" in invite.text
    # The same invitation again gives her nothing more: nothing changes.
    await she.tap("✖ Cancel")
    [again] = await she.say(f"/start {code}")
    assert "already a member" in again.text
    assert await uses_left(harness, code) == 1
    assert len(await audit(harness, "role.granted")) == 1


async def test_a_same_or_lower_role_invitation_changes_nothing(harness: Harness) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR, country="YE")
    member = await person(harness, "2", Role.MEMBER)
    lower = await make_invite(harness, "for-members", role=Role.MEMBER, country="NG")
    for she in (coordinator, member):
        [answer] = await she.say(f"/start {lower}")
        assert "already a member" in answer.text
    assert await role_of(harness, coordinator) is Role.COORDINATOR
    assert await role_of(harness, member) is Role.MEMBER
    async with harness.store.transaction() as tx:
        kept = await tx.members.get(ChannelName.TELEGRAM, "1")
    assert kept is not None and kept.country == "YE", "her country is hers"
    assert await uses_left(harness, lower) == 1
    # A higher one that no longer works changes nothing either.
    old = await make_invite(harness, "old-admin", role=Role.ADMIN, expires_in=timedelta(hours=1))
    harness.clock.advance(timedelta(hours=2))
    [answer] = await member.say(f"/start {old}")
    assert "already a member" in answer.text
    assert await role_of(harness, member) is Role.MEMBER
    assert await audit(harness, "role.granted") == []
