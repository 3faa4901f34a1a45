"""Field updates: sharing one, urgent notices, moderation, the weekly digest, retention."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.core.i18n import Catalogs
from bot.core.messages import MediaKind
from bot.core.models import Role
from bot.core.reports import ALL_SPHERES
from bot.services.moderation import expire_updates, send_digest
from handlers.moderation import Action, Moderate
from storage.tables import outbox_t, tally_t, update_row_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads


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


async def share(she: Person, text: str, *, urgent: bool = False, keep: bool = True) -> None:
    await she.say("/update")
    await she.say(text)
    await she.press("upd:sph:done")
    await she.press("upd:urg:yes" if urgent else "upd:urg:no")
    await she.press("upd:keep:yes" if keep else "upd:keep:no")
    await she.press("upd:go:send")


async def rows(h: Harness, table: object, *columns: object) -> list[tuple[object, ...]]:
    async with h.store.transaction() as tx:
        query = select(*columns) if columns else select(table)  # type: ignore[call-overload]
        if table is outbox_t:  # broadcasts, not replies
            query = query.where(outbox_t.c.campaign_id.is_not(None))
        return [tuple(r) for r in await tx.conn.execute(query)]


async def test_routine_update_is_received_only_after_it_is_stored(harness: Harness) -> None:
    she = await person(harness, "1", spheres=("youth", "vaw"))
    await she.say("/update")
    spheres = (await she.say("Youth centre in Mosul reopened; mothers asked for sessions."))[0]
    ticked = [b.payload for b in spheres.buttons if b.label.startswith("✅")]
    assert ticked == ["upd:sph:youth", "upd:sph:vaw"], "her spheres are pre-selected"
    await she.press("upd:sph:vaw")  # untick one
    await she.press("upd:sph:done")
    await she.press("upd:urg:no")
    summary = (await she.press("upd:keep:no"))[0]
    assert "Mosul" in summary.text
    assert payloads(summary) == ["upd:go:send", "upd:go:country", "upd:go:cancel"]
    assert await rows(harness, update_row_t) == [], "nothing stored before she confirms"
    received = (await she.press("upd:go:send"))[0]
    assert "Received" in received.text
    stored = await rows(
        harness,
        update_row_t,
        update_row_t.c.country,
        update_row_t.c.urgent,
        update_row_t.c.status,
        update_row_t.c.keep_if_shared,
    )
    assert stored == [("IQ", False, "new", False)]
    tallies = await rows(harness, tally_t, tally_t.c.sphere, tally_t.c.count)
    assert tallies == [("*", 1), ("youth", 1)], "counted once in all, and once per sphere"


async def test_urgent_update_notifies_the_country_coordinators(harness: Harness) -> None:
    await person(harness, "50", role=Role.COORDINATOR, country="IQ")
    await person(harness, "51", role=Role.COORDINATOR, country="LB")
    she = await person(harness, "1")
    await share(she, "Recruiters approached girls at the school gate today.", urgent=True)
    assert "alerted" in she.last.text
    notices = await rows(
        harness, outbox_t, outbox_t.c.member_id, outbox_t.c.text, outbox_t.c.priority
    )
    assert len(notices) == 1, "only Iraq's coordinator"
    assert notices[0][0] == 1 and "school gate" in str(notices[0][1])
    assert notices[0][2] == 1, "notices go before campaigns"


async def test_urgent_update_without_a_country_coordinator_reaches_admins(
    harness: Harness,
) -> None:
    await person(harness, "70", role=Role.ADMIN, country="LB")
    she = await person(harness, "1", country="YE")
    await share(she, "Checkpoint closed the road to the clinic.", urgent=True)
    notices = await rows(harness, outbox_t, outbox_t.c.member_id)
    assert notices == [(1,)]


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
    replies = await she.press("tip:p:youth:0")  # a button from elsewhere: answered
    assert replies
    await she.edit("fixed a typo")
    assert "edits" in she.last.text
    # a photo without caption: asked for words, then accepted
    photo = she.inbound(media=MediaKind.PHOTO, media_ref="AgACphoto1", message_id="900")
    asked = await she.deliver(photo)
    assert "few words" in asked[0].text
    spheres = await she.say("The burned school, taken this morning.")
    assert "upd:sph:done" in payloads(spheres[0])
    await she.press("upd:sph:done")
    assert "Please choose" in (await she.say("urgent!!"))[0].text
    await she.press("upd:urg:no")
    await she.press("upd:keep:yes")
    assert "attachment" in she.last.text
    await she.press("upd:go:send")
    stored = await rows(harness, update_row_t, update_row_t.c.media_kind, update_row_t.c.media_ref)
    assert stored == [("photo", "AgACphoto1")]


async def test_another_country_and_cancel(harness: Harness) -> None:
    she = await person(harness, "1", country="IQ")
    await she.say("/update")
    await she.say("Refugees from Syria arriving at the border crossing.")
    await she.press("upd:sph:done")
    await she.press("upd:urg:no")
    await she.press("upd:keep:no")
    await she.press("upd:go:country")
    found = (await she.say("Syria"))[0]
    assert "upd:cty:SY" in payloads(found)
    summary = (await she.press("upd:cty:SY"))[0]
    assert "Syria" in summary.text
    await she.press("upd:go:send")
    assert await rows(harness, update_row_t, update_row_t.c.country) == [("SY",)]
    await she.say("/update")
    await she.say("Something else")
    assert "Cancelled" in (await she.say("/cancel"))[0].text


async def test_unfinished_update_resumes_then_expires_after_a_day(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Half written")
    resumed = await she.say("/update")
    assert "unfinished" in resumed[0].text
    assert "upd:sph:done" in payloads(resumed[-1])
    harness.clock.advance(timedelta(hours=25))
    expired = await she.press("upd:sph:done")
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
    assert "upd:sph:done" in payloads(replaced[-1]), "still at the spheres"
    assert "choose one of the buttons" in (await she.say("routine"))[0].text
    await she.press("upd:sph:done")
    await she.press("upd:urg:no")
    summary = (await she.press("upd:keep:no"))[0]
    assert "Forty mothers came" in summary.text and "Half written" not in summary.text
    too_long = await she.say("word " * 300)
    assert "limit is 1,000" in too_long[0].text and too_long[1].text == ("word " * 300).strip()
    assert "Received" in (await she.press("upd:go:send"))[0].text
    async with harness.store.transaction() as tx:
        rows = await tx.conn.execute(select(update_row_t.c.text))
        assert list(rows.scalars()) == [
            "Forty mothers came to the dialogue in Mosul, calm and hopeful."
        ]


async def test_start_mid_way_shows_where_she_was(harness: Harness) -> None:
    she = await person(harness, "1")
    await she.say("/update")
    await she.say("Half written")
    welcome, question = await she.say("/start")
    assert "continue where you stopped" in welcome.text and "/cancel" in welcome.text
    assert "upd:sph:done" in payloads(question), "the question she left, with its buttons"
    urgent = await she.press("upd:sph:done")
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
    digest = await rows(harness, outbox_t, outbox_t.c.member_id, outbox_t.c.text)
    assert len(digest) == 1
    member_id, text = digest[0]
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
    left = await rows(harness, update_row_t, update_row_t.c.id, update_row_t.c.author_id)
    assert left == [(1, None)], "the kept one no longer points at her"
    async with harness.store.transaction() as tx:
        total = (
            await tx.conn.execute(
                select(func.sum(tally_t.c.count)).where(tally_t.c.sphere == ALL_SPHERES)
            )
        ).scalar_one()
    assert total == 2, "the anonymous counts stay"
