"""Coordinators' /campaign and /alert conversations, down to what members receive."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.campaigns import CampaignKind, CampaignStatus
from bot.core.context import CoreConfig
from bot.core.conversation import NO_MEDIA_HERE, STALE, step_payload
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import NewMember, Role
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from bot.services.campaigns import ALERT_MARK, fire_due
from handlers import build_router
from storage.outbox import OutboxStore
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person

COORDINATOR = "900"


async def coordinator_and_members(
    h: Harness, members: list[tuple[str, str, str, str]], *, country: str = "IQ"
) -> Person:
    """A coordinator (in Iraq unless told), and members (user id, locale, country, sphere)."""
    code = await make_invite(h, "coord", role=Role.COORDINATOR)
    coord = h.person(COORDINATOR, "en")
    await join(coord, code, country=country, spheres=("advocacy",))
    for user_id, locale, country_code, sphere in members:
        code = await make_invite(h, f"m{user_id}")
        await join(
            h.person(user_id, locale),
            code,
            locale=locale,
            country=country_code,
            spheres=(sphere,),
        )
    return coord


MEMBERS = [
    ("1", "ar", "IQ", "youth"),
    ("2", "fr", "LB", "youth"),
    ("3", "en", "IQ", "vaw"),
    ("4", "ar", "SY", "media"),
]


async def deliver(h: Harness) -> dict[str, list[str]]:
    """Run the delivery worker until the outbox is drained: what each chat received."""
    before = len(h.channel.sent)
    worker = DeliveryWorker(
        OutboxStore(h.store),
        {h.channel.name: h.channel},
        {h.channel.name: RateLimiter(1000, per_chat=1000)},
        h.clock,
    )
    while await worker.drain_once():
        pass
    received: dict[str, list[str]] = {}
    for sent in h.channel.sent[before:]:
        received.setdefault(sent.chat_id, []).append(sent.message.text)
    return received


async def campaigns(h: Harness) -> list[tuple[CampaignKind, CampaignStatus]]:
    async with h.store.transaction() as tx:
        return [(c.kind, c.status) for c in await tx.campaigns.find()]


async def write(coord: Person, text: str, *, command: str = "/campaign") -> None:
    await coord.say(command)
    await coord.say(text)
    await coord.tap("Continue")


async def test_campaign_now_in_two_languages_to_one_sphere(three_languages: Harness) -> None:
    harness = three_languages
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    assert "Write the campaign message in English" in coord.last.text
    await coord.say("Training on Saturday in Erbil.")
    # Languages named in her own language, so no Arabic script sits mid-sentence in English.
    assert coord.labels() == ["Add Arabic", "Add French", "Continue", "◀ Back"]
    [ask] = await coord.tap("Add Arabic")
    assert "Write the campaign message in Arabic (up to" in ask.text
    await coord.say("تدريب يوم السبت في أربيل.")
    asked = (await coord.tap("Continue"))[0]
    assert "✅ Every country" in [b.label for b in asked.buttons], "everyone, said plainly"
    await coord.tap("Done")
    toggled = (await coord.tap("Youth deradicalisation"))[0]
    assert toggled.replace
    assert "▫️ Every sphere" in [b.label for b in toggled.buttons]
    await coord.tap("Done")
    replies = await coord.tap("Now")
    previews = [r.text for r in replies]
    assert any("Training on Saturday" in t for t in previews)
    assert any("تدريب" in t for t in previews)
    summary = replies[-1].text
    assert "Recipients: 2" in summary
    assert "Countries: every country" in summary and "Spheres: Youth deradicalisation" in summary
    assert coord.labels() == ["Send", "Cancel", "◀ Back"]
    done = await coord.tap("Send")
    assert "to 2 people" in done[0].text and "Sending #" in done[0].text
    received = await deliver(harness)
    assert received["1"] == ["تدريب يوم السبت في أربيل."], "the Arabic member gets Arabic"
    assert received["2"] == ["Training on Saturday in Erbil."], "French falls back to English"
    assert "3" not in received and "4" not in received


async def test_alert_skips_schedule_goes_first_and_is_marked(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    # A campaign waiting in the outbox: the alert still goes out first.
    await write(coord, "Newsletter")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Now")
    await coord.tap("Send")
    await write(coord, "Road to Mosul closed today: postpone visits.", command="/alert")
    await coord.tap("Iraq")
    await coord.tap("Done")
    replies = await coord.tap("Done")
    assert "Recipients: 3" in replies[-1].text  # two members and the coordinator, in Iraq
    assert "When:" not in "".join(r.text for r in replies[:-1]), "no time is asked"
    assert any(
        r.text.endswith("⚠️ Alert\nRoad to Mosul closed today: postpone visits.") for r in replies
    ), "previewed as members will see it"
    await coord.tap("Send")
    assert await campaigns(harness) == [
        (CampaignKind.ALERT, CampaignStatus.SENT),
        (CampaignKind.CAMPAIGN, CampaignStatus.SENT),
    ]
    received = await deliver(harness)
    arabic, english = Catalogs().get("ar")(ALERT_MARK), Catalogs().get("en")(ALERT_MARK)
    assert received["1"][0] == f"{arabic}\nRoad to Mosul closed today: postpone visits."
    assert received["3"][0] == f"{english}\nRoad to Mosul closed today: postpone visits."
    assert received["3"][1] == "Newsletter", "the campaign comes after, and is not marked"
    assert received["2"] == ["Newsletter"], "Lebanon gets no alert"


async def test_an_alert_is_marked_on_every_channel(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    now = harness.clock.now()
    async with harness.store.transaction() as tx:
        on_whatsapp = await tx.members.create(
            NewMember(
                ChannelName.WHATSAPP, "wa1", "wa1", "fr", "IQ", ["youth"], Role.MEMBER, "v", now
            ),
            now,
        )
    await write(coord, "Checkpoint closed.", command="/alert")
    await coord.tap("Iraq")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Send")
    # Read as the delivery worker reads them: one text per member, whatever her channel
    # (a WhatsApp template outside the 24 hours carries the same text).
    items = await OutboxStore(harness.store).claim(harness.clock.now(), 100)
    texts = {(item.channel, item.member_id): item.text for item in items}
    french = Catalogs().get("fr")(ALERT_MARK)
    assert texts[(ChannelName.WHATSAPP, on_whatsapp.id)] == f"{french}\nCheckpoint closed."
    assert len(texts) == 4 and all(
        text.endswith("\nCheckpoint closed.") and text.startswith("⚠️") for text in texts.values()
    )


async def test_nobody_in_the_audience_is_said_at_once(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await write(coord, "Hello")
    await coord.tap("Jordan")
    replies = await coord.tap("Done")
    assert "Nobody matches" in replies[0].text, "said as soon as the countries are chosen"
    assert "Done" in coord.labels(), "she is asked again for the countries"
    await coord.tap("Jordan")  # untick: Lebanon only
    await coord.tap("Lebanon")
    await coord.tap("Done")
    await coord.tap("Violence against women")
    replies = await coord.tap("Done")
    assert "Nobody matches" in replies[0].text, "said before any time is asked"
    assert replies[-1].text.startswith("Which countries?")
    assert await campaigns(harness) == []


async def test_a_coordinator_outside_the_alliance_list_reaches_her_own_country(
    harness: Harness,
) -> None:
    members = [*MEMBERS, ("5", "ar", "SD", "youth"), ("6", "en", "SD", "vaw")]
    coord = await coordinator_and_members(harness, members, country="SD")
    await write(coord, "Meeting in Khartoum")
    labels = coord.labels()
    assert labels[:2] == ["✅ Every country", "▫️ Sudan"], "her own country first"
    await coord.tap("Sudan")
    assert coord.labels()[:2] == ["▫️ Every country", "✅ Sudan"]
    await coord.tap("Done")
    await coord.tap("Done")
    replies = await coord.tap("Now")
    assert "Recipients: 3" in replies[-1].text and "Countries: Sudan" in replies[-1].text
    await coord.tap("Send")
    received = await deliver(harness)
    assert set(received) == {"5", "6", COORDINATOR}


async def test_scheduled_and_weekly_campaigns_and_bad_times(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await write(coord, "Monthly check-in")
    await coord.tap("Done")
    await coord.tap("Done")
    assert "YYYY-MM-DD" in (await coord.tap("At a set time"))[0].text
    assert "past" in (await coord.say("2020-01-01 09:00"))[0].text
    assert "could not read" in (await coord.say("next tuesday"))[0].text
    wrong = await coord.send_media(MediaKind.STICKER)
    assert wrong[0].text == NO_MEDIA_HERE and "YYYY-MM-DD" in wrong[-1].text
    replies = await coord.say("2026-02-01 09:00")
    assert "Asia/Baghdad" in replies[-1].text, "her country's time zone is used"
    assert coord.labels()[0] == "Schedule"
    await coord.tap("Schedule")
    assert "Scheduled as #1" in coord.last.text
    assert await deliver(harness) == {}, "nothing is sent before its time"
    shown = (await coord.say("/campaign show 1"))[0].text
    assert "Scheduled for" in shown and "Asia/Baghdad" in shown
    assert "Finished" not in shown and "Sent 0 of 0" not in shown

    await write(coord, "Weekly tip")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Every week")
    await coord.tap("Monday")
    assert "could not read" in (await coord.say("25:99"))[0].text
    replies = await coord.say("9:30")
    assert "every week" in replies[-1].text
    await coord.tap("Schedule")
    assert "every week; next on" in (await coord.say("/campaign show 2"))[0].text.lower()
    async with harness.store.transaction() as tx:
        made = [(c.schedule, c.cron) for c in reversed(await tx.campaigns.find())]
    assert made == [("at", None), ("cron", "30 9 * * mon")]

    # Once its time has come it fires, and "show" follows its delivery.
    due = datetime(2026, 2, 1, 9, 1, tzinfo=ZoneInfo("Asia/Baghdad"))
    fired = await fire_due(harness.store, harness.catalogs, due)
    assert [(campaign_id, recipients) for campaign_id, _, recipients in fired] == [(1, 5)]
    assert "Sent 0 of 5" in (await coord.say("/campaign show 1"))[0].text


async def test_too_long_text_is_refused_with_the_limit(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    replies = await coord.say("x" * 4001)
    assert "4,000" in replies[0].text
    await coord.say("Short now")
    assert "Continue" in coord.labels()


async def test_big_campaigns_wait_for_a_second_coordinator(db: SqlStore) -> None:
    h = Harness(db, build_router(), config=CoreConfig(approval_threshold=2))
    coord = await coordinator_and_members(h, MEMBERS)
    code = await make_invite(h, "coord2", role=Role.COORDINATOR)
    second = h.person("901", "fr")
    await join(second, code, locale="fr", country="LB")
    await write(coord, "Everyone, please answer the survey")
    await coord.tap("Done")
    await coord.tap("Done")
    replies = await coord.tap("Now")
    assert "approve" in replies[-1].text
    await coord.tap("Send")
    assert "once another coordinator" in coord.last.text
    received = await deliver(h)
    assert list(received) == ["901"], "only the approval notice, to the other coordinator"
    assert "approve 1" in received["901"][0]
    own = await coord.say("/campaign approve 1")
    assert "Another coordinator" in own[0].text
    await coord.say("/campaign show 1")
    assert "Waiting for approval" in coord.last.text
    assert coord.labels() == ["Cancel #1"], "no Approve button under her own campaign"
    await second.tap("#1")  # the notice's Approve button
    received = await deliver(h)
    assert len(received) == 6, "now the campaign itself went to everyone"
    again = await second.say("/campaign approve 1")
    french = Catalogs().get("fr")
    assert again[0].text == french("Campaign #{id} is not waiting for approval.", id=1)


async def test_cancel_show_and_list(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await write(coord, "To cancel")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Now")
    await coord.tap("Send")
    assert "To cancel" in (await coord.say("/campaign list"))[0].text
    assert "Sent 0 of 5" in (await coord.say("/campaign show 1"))[0].text
    replies = await coord.say("/campaign cancel 1")
    assert "Not sent: 5" in replies[0].text
    assert await deliver(harness) == {}, "nothing went out"
    assert "no campaign #1 to cancel" in (await coord.say("/campaign cancel 1"))[0].text
    assert "number" in (await coord.say("/campaign show"))[0].text
    assert "There is no campaign #99" in (await coord.say("/campaign show 99"))[0].text


async def test_the_cancel_button_under_a_campaign_and_stale_buttons(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await write(coord, "Oops")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Now")
    await coord.tap("Send")
    replies = await coord.tap("Cancel #1")
    assert "Not sent: 5" in replies[0].text
    assert await campaigns(harness) == [(CampaignKind.CAMPAIGN, CampaignStatus.CANCELLED)]
    forged = await coord.press("campaign-ok:0:1")  # an older version's Approve button
    assert forged[0].text == STALE
    # A step button from an earlier /campaign is answered as stale, never acted on.
    old = await coord.press(step_payload("camp", 2, "confirm", "yes"))
    assert old[0].text == STALE


async def test_members_cannot_broadcast_and_flows_can_be_cancelled(harness: Harness) -> None:
    await coordinator_and_members(harness, MEMBERS)
    member = harness.person("1", "ar")
    [refused] = await member.say("/campaign")
    assert refused.text == harness.catalogs.get("ar")("This command is not available to you.")
    async with harness.store.transaction() as tx:
        [entry] = await tx.audit_log.entries(limit=1)
    assert (entry["action"], entry["details"]) == (
        "command.refused",
        {"command": "campaign", "role": "member"},
    ), "the refusal is audited, never her words"
    async with harness.store.transaction() as tx:
        assert (await tx.members.get(ChannelName.TELEGRAM, "1")) is not None
    assert await campaigns(harness) == []
    coord = harness.person(COORDINATOR, "en")
    await coord.say("/alert")
    assert "Cancelled" in (await coord.say("/cancel"))[0].text
    assert "nothing to cancel" in (await coord.say("/cancel"))[0].text
    await write(coord, "Not this one")
    await coord.tap("Done")
    await coord.tap("Done")
    await coord.tap("Now")
    assert "Cancelled" in (await coord.tap("Cancel"))[0].text
    assert await campaigns(harness) == []


async def test_help_names_the_campaign_commands_for_coordinators_only(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    shown = (await coord.say("/help"))[0].text
    line = next(line for line in shown.splitlines() if line.startswith("/campaign"))
    for action in ("list", "show N", "approve N", "cancel N"):
        assert action in line
    member = harness.person("3", "en")
    assert "/campaign" not in (await member.say("/help"))[0].text
