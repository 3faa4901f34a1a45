"""Coordinators' /campaign and /alert conversations, down to the outbox rows they write."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import Role
from handlers import build_router
from storage.store import SqlStore
from storage.tables import campaign_t, outbox_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads


async def coordinator_and_members(h: Harness, members: list[tuple[str, str, str, str]]) -> Person:
    """A coordinator in Iraq, and members (user id, locale, country, sphere)."""
    code = await make_invite(h, "coord", role=Role.COORDINATOR)
    coord = h.person("900", "en")
    await join(coord, code, country="IQ", spheres=("advocacy",))
    for user_id, locale, country, sphere in members:
        code = await make_invite(h, f"m{user_id}")
        await join(
            h.person(user_id, locale), code, locale=locale, country=country, spheres=(sphere,)
        )
    return coord


MEMBERS = [
    ("1", "ar", "IQ", "youth"),
    ("2", "fr", "LB", "youth"),
    ("3", "en", "IQ", "vaw"),
    ("4", "ar", "SY", "media"),
]


async def outbox(store: SqlStore) -> list[tuple[int, str, str]]:
    async with store.transaction() as tx:
        rows = await tx.conn.execute(
            select(outbox_t.c.member_id, outbox_t.c.text, outbox_t.c.status)
            .where(outbox_t.c.campaign_id.is_not(None))  # broadcasts, not replies
            .order_by(outbox_t.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_campaign_now_in_two_languages_to_one_sphere(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    assert "Write the campaign message in English" in coord.last.text
    more = (await coord.say("Training on Saturday in Erbil."))[0]
    assert "camp:more:ar" in payloads(more)
    await coord.press("camp:more:ar")
    await coord.say("تدريب يوم السبت في أربيل.")
    await coord.press("camp:more:done")
    await coord.press("camp:c:done")  # all countries
    toggled = (await coord.press("camp:s:youth"))[0]
    assert toggled.replace
    await coord.press("camp:s:done")
    replies = await coord.press("camp:when:now")
    previews = [r.text for r in replies]
    assert any("Training on Saturday" in t for t in previews)
    assert any("تدريب" in t for t in previews)
    summary = replies[-1].text
    assert "Recipients: 2" in summary
    assert payloads(replies[-1]) == ["camp:go:send", "camp:go:cancel"]
    done = await coord.press("camp:go:send")
    assert "to 2 people" in done[0].text and "Sending #" in done[0].text
    rows = await outbox(harness.store)
    texts = {member_id: text for member_id, text, _ in rows}
    assert len(rows) == 2
    assert "تدريب يوم السبت في أربيل." in texts.values(), "the Arabic member gets Arabic"
    assert "Training on Saturday in Erbil." in texts.values(), "French falls back to English"


async def test_alert_skips_schedule_and_goes_first(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/alert")
    await coord.say("Road to Mosul closed today: postpone visits.")
    await coord.press("camp:more:done")
    await coord.press("camp:c:IQ")
    await coord.press("camp:c:done")
    replies = await coord.press("camp:s:done")
    assert "Recipients: 3" in replies[-1].text  # two members and the coordinator, in Iraq
    await coord.press("camp:go:send")
    async with harness.store.transaction() as tx:
        kinds = [r.kind for r in await tx.conn.execute(select(campaign_t.c.kind))]
        priorities = {
            r.priority
            for r in await tx.conn.execute(
                select(outbox_t.c.priority).where(outbox_t.c.campaign_id.is_not(None))
            )
        }
    assert kinds == ["alert"]
    assert priorities == {0}


async def test_nobody_in_the_audience_is_said_and_nothing_is_created(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    await coord.say("Hello")
    await coord.press("camp:more:done")
    await coord.press("camp:c:LB")
    await coord.press("camp:c:done")
    await coord.press("camp:s:vaw")
    await coord.press("camp:s:done")
    replies = await coord.press("camp:when:now")
    assert "Nobody matches" in replies[0].text
    assert "camp:c:done" in payloads(replies[-1]), "she is asked again for the audience"
    async with harness.store.transaction() as tx:
        assert (await tx.conn.execute(select(campaign_t))).first() is None


async def test_scheduled_and_weekly_campaigns_and_bad_times(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    await coord.say("Monthly check-in")
    await coord.press("camp:more:done")
    await coord.press("camp:c:done")
    await coord.press("camp:s:done")
    assert "YYYY-MM-DD" in (await coord.press("camp:when:at"))[0].text
    assert "past" in (await coord.say("2020-01-01 09:00"))[0].text
    assert "could not read" in (await coord.say("next tuesday"))[0].text
    assert "Please type" in (await coord.send_media(MediaKind.STICKER))[0].text
    replies = await coord.say("2026-02-01 09:00")
    assert "Asia/Baghdad" in replies[-1].text, "her country's time zone is used"
    await coord.press("camp:go:send")
    assert "Scheduled as #" in coord.last.text
    assert await outbox(harness.store) == [], "nothing is sent before its time"

    await coord.say("/campaign")
    await coord.say("Weekly tip")
    await coord.press("camp:more:done")
    await coord.press("camp:c:done")
    await coord.press("camp:s:done")
    await coord.press("camp:when:weekly")
    await coord.press("camp:day:mon")
    assert "could not read" in (await coord.say("25:99"))[0].text
    replies = await coord.say("9:30")
    assert "every week" in replies[-1].text
    await coord.press("camp:go:send")
    async with harness.store.transaction() as tx:
        rows = (await tx.conn.execute(select(campaign_t.c.schedule, campaign_t.c.cron))).all()
    assert [tuple(r) for r in rows] == [("at", None), ("cron", "30 9 * * mon")]


async def test_too_long_text_is_refused_with_the_limit(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    replies = await coord.say("x" * 4001)
    assert "4,000" in replies[0].text
    replies = await coord.say("Short now")
    assert "camp:more:done" in payloads(replies[0])


async def test_big_campaigns_wait_for_a_second_coordinator(db: SqlStore) -> None:
    h = Harness(db, build_router(), config=CoreConfig(approval_threshold=2))
    coord = await coordinator_and_members(h, MEMBERS)
    code = await make_invite(h, "coord2", role=Role.COORDINATOR)
    second = h.person("901", "fr")
    await join(second, code, locale="fr", country="LB")
    await coord.say("/campaign")
    await coord.say("Everyone, please answer the survey")
    await coord.press("camp:more:done")
    await coord.press("camp:c:done")
    await coord.press("camp:s:done")
    replies = await coord.press("camp:when:now")
    assert "approve" in replies[-1].text
    await coord.press("camp:go:send")
    assert "once another coordinator" in coord.last.text
    rows = await outbox(h.store)
    assert len(rows) == 1, "only the approval notice, to the other coordinator"
    assert "approval" in rows[0][1] or "approbation" in rows[0][1] or "#1" in rows[0][1]
    own = await coord.say("/campaign approve 1")
    assert "Another coordinator" in own[0].text
    await second.say("/campaign approve 1")
    rows = await outbox(h.store)
    assert len(rows) == 1 + 6, "now the campaign itself went to everyone"
    again = await second.say("/campaign approve 1")
    french = Catalogs().get("fr")
    assert again[0].text == french("Campaign #{id} is not waiting for approval.", id=1)


async def test_cancel_show_and_list(harness: Harness) -> None:
    coord = await coordinator_and_members(harness, MEMBERS)
    await coord.say("/campaign")
    await coord.say("To cancel")
    await coord.press("camp:more:done")
    await coord.press("camp:c:done")
    await coord.press("camp:s:done")
    await coord.press("camp:when:now")
    await coord.press("camp:go:send")
    assert "To cancel" in (await coord.say("/campaign list"))[0].text
    assert "Sent 0 of 5" in (await coord.say("/campaign show 1"))[0].text
    replies = await coord.say("/campaign cancel 1")
    assert "Not sent: 5" in replies[0].text
    assert {status for _, _, status in await outbox(harness.store)} == {"cancelled"}
    assert "no campaign #1 to cancel" in (await coord.say("/campaign cancel 1"))[0].text
    assert "number" in (await coord.say("/campaign show"))[0].text
    assert "There is no campaign #99" in (await coord.say("/campaign show 99"))[0].text


async def test_members_cannot_broadcast_and_flows_can_be_cancelled(harness: Harness) -> None:
    await coordinator_and_members(harness, MEMBERS)
    member = harness.person("1", "ar")
    replies = await member.say("/campaign")
    assert replies
    async with harness.store.transaction() as tx:
        assert (await tx.members.get(ChannelName.TELEGRAM, "1")) is not None
    assert (await harness.store.engine.dispose()) is None
    coord = harness.person("900", "en")
    await coord.say("/alert")
    assert "Cancelled" in (await coord.say("/cancel"))[0].text
    assert "nothing to cancel" in (await coord.say("/cancel"))[0].text
