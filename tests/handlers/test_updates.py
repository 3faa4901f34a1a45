"""Field updates: sharing one, urgent notices, moderation, the weekly digest, retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.i18n import Catalogs
from bot.core.messages import MediaKind, MediaRef, Outbound
from bot.core.models import ConversationState, Role
from bot.core.reports import ALL_SPHERES, CalendarPeriod, PeriodKind
from bot.core.updates import FieldUpdate, UpdateStatus
from bot.services import updates
from bot.services.moderation import expire_updates, send_digest
from bot.services.updates import BadUpdate, Draft
from handlers.moderation import Action, Moderate
from storage.outbox import OutboxItem, OutboxStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads

STALE_TEXT = "That button is from an earlier message and no longer works."


async def person(
    h: Harness,
    user_id: str,
    *,
    country: str = "IQ",
    spheres: tuple[str, ...] = ("youth",),
    role: Role = Role.MEMBER,
    locale: str = "en",
) -> Person:
    code = await make_invite(h, f"c{user_id}", role=role)
    she = h.person(user_id, locale)
    await join(she, code, locale=locale, country=country, spheres=spheres)
    return she


async def share(
    she: Person, text: str, *, urgent: bool = False, keep: bool = True, quotable: bool = False
) -> None:
    await she.say("/update")
    await she.say(text)
    await she.tap("Done")
    await she.tap("Urgent" if urgent else "Routine")
    await she.tap("Yes, keep it" if keep else "No")
    await she.tap("Yes" if quotable else "No")
    await she.tap("Send")


async def stored(h: Harness, update_id: int = 1) -> FieldUpdate | None:
    async with h.store.transaction() as tx:
        return await tx.updates.get(update_id)


async def waiting(h: Harness) -> int:
    """Updates waiting for moderation, in every country."""
    async with h.store.transaction() as tx:
        return await tx.updates.queue_size(None)


async def notices(h: Harness) -> list[OutboxItem]:
    """What the delivery worker would now send besides replies: notices, digests."""
    claimed = await OutboxStore(h.store).claim(h.clock.now(), 100)
    return [item for item in claimed if not item.reply]


async def tallies(h: Harness) -> list[tuple[str, int]]:
    """The anonymous counts, (sphere, count), of all time."""
    until = h.clock.now().date() + timedelta(days=7)
    period = CalendarPeriod(PeriodKind.ALL, PeriodKind.ALL.value, None, until)
    async with h.store.transaction() as tx:
        return sorted((t.sphere, t.count) for t in await tx.reports.update_counts(period))


def labels(message: Outbound) -> list[str]:
    return [b.label for b in message.buttons]


async def test_routine_update_is_received_only_after_it_is_stored(harness: Harness) -> None:
    she = await person(harness, "1", spheres=("youth", "vaw"))
    await she.say("/update")
    spheres = (await she.say("Youth centre in Mosul reopened; mothers asked for sessions."))[0]
    ticked = [label for label in labels(spheres) if label.startswith("✅")]
    assert ticked == ["✅ Youth deradicalisation", "✅ Violence against women"], (
        "her spheres are pre-selected"
    )
    await she.tap("Violence against women")  # untick one
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("No")  # not kept past retention
    summary = (await she.tap("No"))[0]  # not quoted in briefs
    assert "Mosul" in summary.text
    assert "quoted" not in summary.text
    assert labels(summary) == ["Send", "Another country", "◀ Back", "✖ Cancel"]
    assert all(p.isascii() and len(p.encode()) <= 64 for p in payloads(summary))
    assert await waiting(harness) == 0, "nothing stored before she confirms"
    received = (await she.tap("Send"))[0]
    assert received.text == "Received, thank you. The coordinators for Iraq will read it."
    update = await stored(harness)
    assert update is not None
    assert (update.country, update.urgent, update.status, update.keep_if_shared) == (
        "IQ",
        False,
        UpdateStatus.NEW,
        False,
    )
    assert update.spheres == ["youth"] and not update.quotable
    assert await tallies(harness) == [("*", 1), ("youth", 1)], (
        "counted once in all, and once per sphere"
    )


async def test_urgent_update_notifies_the_country_coordinators(harness: Harness) -> None:
    await person(harness, "50", role=Role.COORDINATOR, country="IQ")
    await person(harness, "51", role=Role.COORDINATOR, country="LB")
    she = await person(harness, "1")
    await share(she, "Recruiters approached girls at the school gate today.", urgent=True)
    assert she.last.text == ("Received, thank you. The coordinators for Iraq have been alerted.")
    sent = await notices(harness)
    assert len(sent) == 1, "only Iraq's coordinator"
    assert sent[0].member_id == 1 and "school gate" in sent[0].text
    assert sent[0].priority == 1, "notices go before campaigns"
    assert [b["payload"] for b in sent[0].buttons] == ["cmd:moderate"]


async def test_urgent_update_without_a_country_coordinator_reaches_admins(
    harness: Harness,
) -> None:
    await person(harness, "70", role=Role.ADMIN, country="LB")
    await person(harness, "71", role=Role.COORDINATOR, country="IQ")
    she = await person(harness, "1", country="YE")
    await share(she, "Checkpoint closed the road to the clinic.", urgent=True)
    assert [item.member_id for item in await notices(harness)] == [1]
    assert she.last.text == (
        "Received, thank you. No coordinator for Yemen could be alerted, so the "
        "administrators have been."
    )
    assert "coordinators for Yemen have been alerted" not in she.last.text


async def test_urgent_update_with_nobody_to_alert_says_it_is_saved(harness: Harness) -> None:
    await person(harness, "51", role=Role.COORDINATOR, country="LB")
    she = await person(harness, "1", country="IQ")
    await share(she, "Men with guns at the market this morning.", urgent=True)
    assert await notices(harness) == [], "no coordinator for Iraq, no administrator"
    assert she.last.text == (
        "Received, thank you. Nobody could be alerted right now; your update is saved and "
        "will be seen in moderation."
    )
    assert await waiting(harness) == 1, "saved for moderation"
    update = await stored(harness)
    assert update is not None and update.urgent


async def test_bad_input_while_writing_an_update(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    assert "few words" in (await she.say("🙏🙏🙏"))[0].text
    assert "few words" in (await she.say("   "))[0].text
    assert "can't use" in (await she.send_media(MediaKind.STICKER))[0].text
    long = "ا" * 1200
    replies = await she.say(long)
    assert "1,200" in replies[0].text and "1,000" in replies[0].text
    assert replies[1].text == long, "her text comes back so she can shorten it"
    await she.say("/tips")  # browsing tips mid-way keeps her update where it was
    assert await she.tap("Youth deradicalisation")  # a button from elsewhere: answered
    await she.edit("fixed a typo")
    assert "edits" in she.last.text
    # a photo without caption: asked for words, then accepted
    photo = she.inbound(media=MediaKind.PHOTO, media_ref="AgACphoto1", message_id="900")
    asked = await she.deliver(photo)
    assert "few words" in asked[0].text
    spheres = await she.say("The burned school, taken this morning.")
    assert "Done" in labels(spheres[0])
    assert "One attachment" not in spheres[0].text
    await she.tap("Done")
    assert "Please choose" in (await she.say("urgent!!"))[0].text
    await she.tap("Routine")
    await she.tap("Yes, keep it")
    await she.tap("No")
    assert "attachment" in she.last.text
    await she.tap("Send")
    update = await stored(harness)
    assert update is not None
    assert (update.media_kind, update.media_ref) == (MediaKind.PHOTO, "AgACphoto1")
    assert update.text == "The burned school, taken this morning."


async def test_she_is_asked_whether_her_words_may_be_quoted_in_briefs(
    harness: Harness,
) -> None:
    """One yes/no question after keeping; no unless she taps Yes; text that is no answer, and a
    button from an earlier question, are answered and the question asked again."""
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Women's dialogue group in Basra doubled this month.")
    await she.tap("Done")
    await she.tap("Routine")
    [question] = await she.tap("No")
    assert "quote your words, without your name, in briefs" in question.text
    assert labels(question)[:2] == ["Yes", "No"]
    wrong = await she.say("maybe")
    assert wrong[0].text == "Please choose one of the buttons."
    assert "quote your words" in wrong[-1].text, "the question again"
    stale = await she.tap("Yes, keep it")  # the question before's button, answered already
    assert stale[0].text == STALE_TEXT
    assert "quote your words" in stale[-1].text, "a stale button: the question again"
    summary = (await she.tap("Yes"))[0]
    assert "may be quoted in briefs" in summary.text, "the summary says what she agreed to"
    await she.tap("◀ Back")
    summary = (await she.tap("No"))[0]
    assert "may be quoted in briefs" not in summary.text, "changed her mind"
    await she.tap("◀ Back")
    await she.tap("Yes")
    await she.tap("Send")
    update = await stored(harness)
    assert update is not None and update.quotable
    [mydata] = [m for m in await she.say("/mydata") if "What Wasl keeps of what" in m.text]
    assert "may be quoted in briefs" in mydata.text


async def test_an_update_is_not_quotable_unless_she_said_yes(harness: Harness) -> None:
    she = await person(harness, "1")
    await share(she, "Mothers' circle met in Erbil again.", keep=True)
    update = await stored(harness)
    assert update is not None and not update.quotable
    [mydata] = [m for m in await she.say("/mydata") if "What Wasl keeps of what" in m.text]
    assert "quoted" not in mydata.text


async def test_a_photo_with_its_words_and_a_second_attachment(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    spheres = await she.deliver(
        she.inbound(
            media=MediaKind.VOICE,
            media_ref="AwACvoice",
            text="Voices from the camp",
            message_id="7",
        )
    )
    assert "Which spheres" in spheres[0].text, "her words came with it: no caption asked"
    await she.say("/cancel")
    await she.say("/update")
    await she.deliver(she.inbound(media=MediaKind.PHOTO, media_ref="AgAC1", message_id="8"))
    again = await she.deliver(
        she.inbound(media=MediaKind.PHOTO, media_ref="AgAC2", message_id="9")
    )
    assert "One attachment per update" in again[0].text
    assert "few words" in (await she.say("   "))[0].text


async def test_another_country_and_cancel(harness: Harness) -> None:
    she = await person(harness, "1", country="IQ")
    await she.say("/update")
    await she.say("Refugees from Syria arriving at the border crossing.")
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("No")
    await she.tap("No")
    await she.tap("Another country")
    assert "could not find" in (await she.say("Atlantis"))[0].text
    found = (await she.say("Syria"))[0]
    assert "Syria" in labels(found)
    summary = (await she.tap("Syria"))[0]
    assert "Syria" in summary.text
    await she.tap("Send")
    update = await stored(harness)
    assert update is not None and update.country == "SY"
    await she.say("/update")
    await she.say("Something else")
    assert "Cancelled" in (await she.say("/cancel"))[0].text
    await she.say("/update")
    await she.say("Something else again")
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("No")
    await she.tap("No")
    assert "Cancelled" in (await she.tap("Cancel"))[0].text
    assert await waiting(harness) == 1, "the cancelled one was not stored"


async def test_unfinished_update_resumes_then_expires_after_a_day(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Half written")
    resumed = await she.say("/update")
    assert "unfinished" in resumed[0].text
    assert "Done" in labels(resumed[-1])
    harness.clock.advance(timedelta(hours=25))
    expired = await she.tap("Done")
    assert "24 hours" in expired[0].text
    fresh = await she.say("/update")
    assert "What is happening" in fresh[0].text


async def test_a_sentence_typed_instead_of_a_button_rewrites_the_update(
    harness: Harness,
) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Half written")
    replaced = await she.say("Forty mothers came to the dialogue in Mosul, calm and hopeful.")
    assert "replaced the text" in replaced[0].text
    assert "Done" in labels(replaced[-1]), "still at the spheres"
    assert "choose one of the buttons" in (await she.say("routine"))[0].text
    assert "choose one of the buttons" in (await she.say("🙏 🙏 🙏 🙏 🙏"))[0].text
    await she.tap("Done")
    await she.tap("Routine")
    await she.tap("No")
    summary = (await she.tap("No"))[0]
    assert "Forty mothers came" in summary.text and "Half written" not in summary.text
    too_long = await she.say("word " * 300)
    assert "limit is 1,000" in too_long[0].text and too_long[1].text == ("word " * 300).strip()
    assert "Received" in (await she.tap("Send"))[0].text
    update = await stored(harness)
    assert update is not None
    assert update.text == "Forty mothers came to the dialogue in Mosul, calm and hopeful."


async def test_start_mid_way_shows_where_she_was(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Half written")
    welcome, question = await she.say("/start")
    assert "continue where you stopped" in welcome.text and "/cancel" in welcome.text
    assert "Done" in labels(question), "the question she left, with its buttons"
    urgent = await she.tap("Done")
    assert "urgent" in urgent[0].text.lower()
    await she.say("/cancel")
    [menu] = await she.say("/start")
    assert "already a member" in menu.text, "outside a conversation: the main menu"


async def test_moderation_queue_conflict_and_digest(harness: Harness) -> None:
    coord_a = await person(harness, "50", role=Role.COORDINATOR, country="IQ")
    coord_b = await person(harness, "51", role=Role.COORDINATOR, country="IQ")
    author = await person(harness, "1", country="IQ", spheres=("youth",))
    reader = await person(harness, "2", country="NG", spheres=("youth",), locale="fr")
    same_country = await person(harness, "3", country="IQ", spheres=("youth",))
    other_sphere = await person(harness, "4", country="NG", spheres=("media",))
    await share(author, "Mothers' circle in Sinjar helped two young men leave a militia.")
    await share(author, "Routine note, internal only.")

    card = (await coord_a.say("/moderate"))[0]
    assert "Sinjar" in card.text and "2 updates waiting" in card.text
    assert card.text.startswith("Update #1") and "Approve for sharing" in coord_a.labels()
    stale_for_b = (await coord_b.say("/moderate"))[0]
    assert stale_for_b.text.startswith("Update #1") and "Keep internal" in coord_b.labels()
    await coord_a.tap("Approve for sharing")
    conflict = await coord_b.tap("Keep internal")
    assert "Already done by another coordinator" in conflict[0].text
    assert conflict[-1].text.startswith("Update #2")
    await coord_b.tap("Keep internal")
    assert "No new updates" in coord_b.last.text
    outsider = await person(
        harness, "60", role=Role.COORDINATOR, country="LB", spheres=("advocacy",)
    )
    # Update 2's button was never shown to them: a forged press, or one from an old message.
    approve_2 = Moderate(Action.APPROVE, 2).pack()
    assert "no longer available" in (await outsider.press(approve_2))[0].text
    assert "no longer available to you" in (await author.press(approve_2))[0].text

    shared, reached = await send_digest(harness.store, Catalogs(), harness.clock.now())
    assert (shared, reached) == (1, 1), "only the member of the same sphere in another country"
    digest = await notices(harness)
    assert len(digest) == 1
    member_id, text = digest[0].member_id, digest[0].text
    assert member_id == 4, "the reader in Nigeria: same sphere, another country"
    assert "Sinjar" in str(text)
    assert "Irak" in str(text), "country named in her language (French)"
    assert "Mothers' circle" in str(text), "the update stays in its original language"
    assert (await send_digest(harness.store, Catalogs(), harness.clock.now())) == (0, 0)
    assert {reader.user_id, same_country.user_id, other_sphere.user_id} == {"2", "3", "4"}


async def test_retention_deletes_old_text_but_keeps_counts(harness: Harness) -> None:
    coord = await person(harness, "50", role=Role.COORDINATOR, country="IQ")
    she = await person(harness, "1")
    await share(she, "Kept if shared: approved and agreed.", keep=True)
    await share(she, "Not agreed to keep.", keep=False)
    await coord.say("/moderate")
    await coord.tap("Approve for sharing")
    await coord.tap("Approve for sharing")
    harness.clock.advance(timedelta(days=181))
    deleted = await expire_updates(harness.store, harness.clock.now(), 180)
    assert deleted == 1
    kept, gone = await stored(harness, 1), await stored(harness, 2)
    assert kept is not None and kept.author_id is None, "the kept one no longer points at her"
    assert gone is None
    total = sum(count for sphere, count in await tallies(harness) if sphere == ALL_SPHERES)
    assert total == 2, "the anonymous counts stay"


async def test_an_update_begun_before_an_upgrade_resumes(harness: Harness) -> None:
    she = await person(harness, "1")
    # What the release before the engine saved half-way through (no version, no trail).
    old = ConversationState(
        flow="upd",
        step="keep",
        data={
            "started": harness.clock.now().isoformat(),
            "spheres": ["youth"],
            "country": "IQ",
            "text": "Written before the upgrade.",
            "urgent": False,
        },
    )
    async with harness.store.transaction() as tx:
        await tx.conversations.save(harness.channel.name, she.user_id, old, harness.clock.now())
    assert "unfinished" in (await she.say("/update"))[0].text
    assert "Yes, keep it" in she.labels()
    await she.tap("Yes, keep it")
    summary = (await she.tap("No"))[0]
    assert "Written before the upgrade." in summary.text
    await she.tap("Send")
    update = await stored(harness)
    assert update is not None and update.text == "Written before the upgrade."
    assert update.keep_if_shared


async def test_the_service_refuses_what_the_conversation_never_sends(harness: Harness) -> None:
    she = await person(harness, "1")
    async with harness.store.transaction() as tx:
        member = await tx.members.get(harness.channel.name, she.user_id)
    assert member is not None
    good = Draft("IQ", "en", ["youth"], urgent=False, keep_if_shared=False, text="Words here.")
    bad = [
        replace(good, text="   "),
        replace(good, text="x" * 1001),
        replace(good, spheres=["weather"]),
        replace(good, text=None, media=MediaRef(MediaKind.STICKER, "CAAD")),
    ]
    async with harness.store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await updates.submit(tx, harness.catalogs, CLI, good, harness.clock.now())
        for draft in bad:
            with pytest.raises(BadUpdate):
                await updates.submit(
                    tx, harness.catalogs, Actor.of(member), draft, harness.clock.now()
                )
        done = await updates.submit(
            tx, harness.catalogs, Actor.of(member), good, harness.clock.now()
        )
    assert done.alerted is None, "a routine update alerts nobody"
    assert await waiting(harness) == 1
