"""Roles checked at every step and button, odd ids, control characters, and the flood limit."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from bot.core.context import CoreConfig
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import MemberStatus, Role
from bot.core.surveys import SurveyAction, SurveyButton
from bot.core.updates import UpdateStatus
from handlers import build_router
from handlers.invites import RevokeInvite
from handlers.moderation import Action, Moderate
from storage.outbox import OutboxStore
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person

NO_LONGER = "This is no longer available to you."
STALE = "That button is from an earlier message and no longer works."
SORRY = "something went wrong"


async def person(
    h: Harness, user_id: str, role: Role = Role.MEMBER, *, country: str = "IQ", locale: str = "en"
) -> Person:
    code = await make_invite(h, f"code-{user_id}", role=role)
    she = h.person(user_id, locale)
    await join(she, code, locale=locale, country=country)
    return she


async def set_role(h: Harness, user_id: str, role: Role) -> None:
    async with h.store.transaction() as tx:
        found = await tx.members.get(h.channel.name, user_id)
        assert found is not None
        await tx.members.set_role(found.id, role)


async def audit(h: Harness, action: str) -> list[dict[str, Any]]:
    async with h.store.transaction() as tx:
        return [e for e in await tx.audit_log.entries(limit=500) if e["action"] == action]


async def campaigns(h: Harness) -> int:
    async with h.store.transaction() as tx:
        return len(await tx.campaigns.find(limit=1000))


async def broadcasts(h: Harness) -> int:
    """Rows waiting in the outbox for a broadcast, not her own replies (which go through the
    outbox too)."""
    claimed = await OutboxStore(h.store).claim(h.clock.now(), 1000)
    return len([item for item in claimed if not item.reply])


async def invitations(h: Harness) -> int:
    async with h.store.transaction() as tx:
        return len(await tx.invites.list(limit=1000))


async def state_flow(h: Harness, user_id: str) -> str | None:
    async with h.store.transaction() as tx:
        return (await tx.conversations.load(h.channel.name, user_id)).flow


# -- roles at every step ----------------------------------------------------------------------


async def test_a_coordinator_demoted_mid_alert_sends_nothing(harness: Harness) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR)
    for user_id in ("2", "3", "4", "5", "6", "7"):
        await person(harness, user_id)
    await coordinator.say("/alert")
    await coordinator.say("Road to Mosul closed today.")
    await coordinator.tap("Continue")
    [asked, again] = await coordinator.send_media(MediaKind.STICKER)  # the wrong kind of input
    assert "photo or file" in asked.text and "Done" in [b.label for b in again.buttons]
    [asked, again] = await coordinator.press("camp:2:zz:1")  # a button no step offers
    assert asked.text == STALE and "Done" in [b.label for b in again.buttons]
    await coordinator.tap("Done")
    await set_role(harness, "1", Role.MEMBER)

    [refused] = await coordinator.tap("Done")  # the spheres' Done
    assert refused.text == NO_LONGER and refused.buttons == ()
    assert await state_flow(harness, "1") is None, "the flow's state is cleared"
    stale, *_ = await coordinator.press("camp:2:confirm:yes")
    assert stale.text == STALE
    assert await campaigns(harness) == 0 and await broadcasts(harness) == 0
    [entry] = await audit(harness, "flow.refused")
    assert entry["details"] == {"flow": "camp", "role": "member"}, "never her text"
    assert entry["actor_member_id"] is not None


async def test_a_coordinator_demoted_at_the_campaign_preview_creates_nothing(
    harness: Harness,
) -> None:
    coordinator = await person(harness, "1", Role.COORDINATOR)
    await person(harness, "2")
    await coordinator.say("/campaign")
    await coordinator.say("Training on Saturday.")
    await coordinator.tap("Continue")
    await coordinator.tap("Done")
    await coordinator.tap("Done")
    await coordinator.tap("Now")
    assert coordinator.labels() == ["Send", "Cancel", "◀ Back"]
    await set_role(harness, "1", Role.MEMBER)
    [refused] = await coordinator.tap("Send")
    assert refused.text == NO_LONGER
    assert await campaigns(harness) == 0 and await broadcasts(harness) == 0
    assert len(await audit(harness, "flow.refused")) == 1
    # Her role back: a new /campaign starts from the beginning, nothing kept.
    await set_role(harness, "1", Role.COORDINATOR)
    [fresh] = await coordinator.say("/campaign")
    assert "Write the campaign message" in fresh.text


async def test_an_admin_demoted_mid_invite_makes_no_coordinator_invitation(
    harness: Harness,
) -> None:
    admin = await person(harness, "1", Role.ADMIN)
    await admin.say("/invite")
    await admin.tap("Coordinator")
    [asked, _] = await admin.send_media(MediaKind.PHOTO)  # the wrong kind of input
    assert "can't use a photo" in asked.text
    await set_role(harness, "1", Role.COORDINATOR)  # still invites members, not coordinators
    await admin.tap("5 people")
    [refused] = await admin.tap("They choose")
    assert refused.text == NO_LONGER
    assert await state_flow(harness, "1") is None
    before = await invitations(harness)
    assert [e["details"] for e in await audit(harness, "flow.refused")] == [
        {"flow": "inv", "role": "coordinator"}
    ]
    assert await audit(harness, "invite.created") == []

    # Demoted to member at the first step: the router stops her at once.
    await set_role(harness, "1", Role.ADMIN)
    await admin.say("/invite")
    await set_role(harness, "1", Role.MEMBER)
    [refused] = await admin.tap("Coordinator")
    assert refused.text == NO_LONGER
    assert await invitations(harness) == before
    assert await audit(harness, "invite.created") == []


async def test_a_demoted_coordinator_pressing_an_old_moderation_button(harness: Harness) -> None:
    author = await person(harness, "1")
    coordinator = await person(harness, "2", Role.COORDINATOR)
    await author.say("/update")
    await author.say("Mothers' circle in Sinjar met again.")
    await author.tap("Done")
    await author.tap("Routine")
    await author.tap("Yes, keep it")
    await author.tap("No")  # not quoted in briefs
    await author.tap("Send")
    [card] = await coordinator.say("/moderate")
    assert card.text.startswith("Update #1") and "Approve for sharing" in coordinator.labels()
    await set_role(harness, "2", Role.MEMBER)
    [refused] = await coordinator.tap("Approve for sharing")
    assert refused.text == NO_LONGER
    async with harness.store.transaction() as tx:
        update = await tx.updates.get(1)
    assert update is not None and update.status is UpdateStatus.NEW, "nothing was moderated"
    [entry] = await audit(harness, "button.refused")
    assert entry["details"] == {"button": "mod", "role": "member"}
    assert await audit(harness, "update.approved") == []


async def test_a_member_in_her_own_flow_is_not_disturbed_by_a_privileged_button(
    harness: Harness,
) -> None:
    """A refused button leaves her own conversation (an update being written) as it was."""
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("A note from Basra.")
    [refused] = await she.press(Moderate(Action.APPROVE, 1).pack())  # never shown to her
    assert refused.text == NO_LONGER
    assert await state_flow(harness, "1") == "upd"


# -- odd ids, on SQLite and PostgreSQL ---------------------------------------------------------


async def test_odd_ids_typed_or_pressed_get_a_short_answer(store: SqlStore) -> None:
    h = Harness(store, build_router())
    coordinator = await person(h, "1", Role.COORDINATOR)
    for typed in (
        "/campaign show 99999999999999999999999",
        "/campaign approve 2147483648",
        "/campaign cancel -5",
        "/campaign show ²",
        "/campaign show 0",
        "/campaign show 1e3",
    ):
        [answer] = await coordinator.say(typed)
        assert "is not a valid number" in answer.text, typed
    [answer] = await coordinator.say("/campaign show #1")
    assert answer.text == "There is no campaign #1."
    [answer] = await coordinator.say("/campaign show 2147483647")
    assert answer.text == "There is no campaign #2147483647."
    for pressed in (
        "mod:1:a:²",
        "mod:1:a:99999999999999999999",
        "mod:1:a:-1",
        "mod:1:a:",
        "mod:1:a:0",
        "mod:1:z:1",
        Moderate(Action.APPROVE, 2**31).pack(),
        "mod:a:1",  # the format of an older release
    ):
        [answer] = await coordinator.press(pressed)
        assert answer.text == STALE, pressed
    for pressed in (
        "svy:1:99999999999999999999:s",
        "svy:1:²:s",
        "svy:1:1:z",
        "svy:s:1",  # the format of an older release
    ):
        [answer] = await coordinator.press(pressed)
        assert answer.text == STALE, pressed
    [answer] = await coordinator.press(SurveyButton(2**31, SurveyAction.START).pack())
    assert "can't find this survey" in answer.text
    await coordinator.say("/invite")
    answers = await coordinator.press(f"{RevokeInvite.prefix}:1:99999999999999999999")
    assert answers[0].text == STALE
    assert not any(SORRY in m.message.text for m in h.channel.sent)

    secretariat = await person(h, "2", Role.SECRETARIAT)
    await secretariat.say("/report")
    answers = await secretariat.press("rep:1:survey:99999999999999999999")
    assert answers[0].text == STALE
    assert not any(SORRY in m.message.text for m in h.channel.sent)


async def test_a_nul_byte_in_an_update_is_cleaned_and_send_works(store: SqlStore) -> None:
    h = Harness(store, build_router())
    she = await person(h, "1")
    await she.say("/update")
    await she.say("Water\x00 cut\x07 in Mosul\r\nsince Monday\x1b.")
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("Yes, keep it")
    await she.tap("No")  # not quoted in briefs
    [received] = await she.tap("Send")
    assert "Received" in received.text
    async with store.transaction() as tx:
        update = await tx.updates.get(1)
    assert update is not None and update.text == "Water cut in Mosul\nsince Monday."


# -- the flood limit ---------------------------------------------------------------------------


async def test_a_flood_is_answered_twenty_times_then_once_slow_down_then_silence(
    db: SqlStore,
) -> None:
    h = Harness(db, build_router(), config=CoreConfig(flood_per_minute=20))
    she = await person(h, "1")
    other = await person(h, "2")
    h.clock.advance(timedelta(minutes=1))  # a new window, after joining
    answered, slow, silent = 0, 0, 0
    for n in range(25):
        replies = await she.say("/pause" if n == 22 else "/help")
        if not replies:
            silent += 1
        elif replies[0].text == "You are sending messages very fast. Please wait a minute.":
            slow += 1
            assert len(replies) == 1
        else:
            answered += 1
    assert (answered, slow, silent) == (20, 1, 4)
    async with db.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "1")
    assert member is not None and member.status is MemberStatus.ACTIVE, "/pause was dropped"
    assert await other.say("/help"), "someone else is not slowed by her flood"
    h.clock.advance(timedelta(seconds=59))
    assert await she.say("/help") == [], "still the same minute"
    h.clock.advance(timedelta(seconds=1))
    [help_text, *_] = await she.say("/help")
    assert "fast" not in help_text.text, "a minute later she is answered again"


async def test_the_slow_down_is_in_her_language(db: SqlStore) -> None:
    await person(Harness(db, build_router()), "1", locale="ar")  # joined in Arabic
    h = Harness(db, build_router(), config=CoreConfig(flood_per_minute=2))
    h._update_ids = itertools.count(100)  # the platform's ids go on
    she = h.person("1", None)  # her phone says nothing of her language: it is her member row's
    await she.say("/help")
    await she.say("/help")
    [slow] = await she.say("/help")
    assert slow.text == "أنتِ ترسلين الرسائل بسرعة كبيرة. يُرجى الانتظار دقيقة."


async def test_the_terminal_is_not_flood_limited(db: SqlStore) -> None:
    """The terminal bot is the operator's own, and piped input is fast: no limit there."""
    h = Harness(
        db, build_router(), config=CoreConfig(flood_per_minute=2), channel=ChannelName.CONSOLE
    )
    she = h.person("local")
    for _ in range(5):
        assert await she.say("/help")
