"""Promise 3: a final outbox row keeps no text and nothing that reaches her chat.

Delivered, unreachable, cancelled and skipped rows are emptied by the statement that makes them
final; the counts that campaign progress and the delivery report need stay.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.channels.telegram import TelegramChannel
from bot.core.campaigns import Audience, CampaignButton, CampaignKind, CampaignStatus, NewCampaign
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import MemberStatus, NewMember, Role
from bot.core.outbox import OutboxStatus
from bot.core.reports import CalendarPeriod
from bot.core.schedule import ONCE
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from storage.housekeeping import purge_expired
from storage.outbox import OutboxStore
from storage.store import SqlStore
from storage.tables import outbox_t
from tests.fakes.telegram_api import BLOCKED, running_api

TG = ChannelName.TELEGRAM
TEXT = "Checkpoint on the north road: take the river road to the workshop"
CHATS = ("5550001001", "5550001002", "5550001003", "5550001004")


async def seed(store: SqlStore, clock: FixedClock) -> list[int]:
    ids = []
    async with store.transaction() as tx:
        for chat in CHATS:
            member = await tx.members.create(
                NewMember(TG, chat, chat, "en", "IQ", ["youth"], Role.MEMBER, "1", clock.now()),
                clock.now(),
            )
            ids.append(member.id)
        paused = await tx.members.by_id(ids[-1])
        assert paused is not None
        paused.status = MemberStatus.PAUSED
        await tx.members.save(paused, spheres_changed=False)
    return ids


async def campaign(store: SqlStore, clock: FixedClock, title: str) -> int:
    async with store.transaction() as tx:
        made = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.ALERT,
                status=CampaignStatus.SCHEDULED,
                title=title,
                texts={"en": TEXT},
                default_locale="en",
                audience=Audience(),
                schedule="now",
                buttons=[CampaignButton({"en": "Open"}, "cmd:help")],
            ),
            clock.now(),
        )
        await tx.campaigns.fire(made, ONCE, clock.now())
    return made.id


async def test_final_rows_have_no_text_and_no_chat_id(store: SqlStore, clock: FixedClock) -> None:
    ids = await seed(store, clock)
    sent_id = await campaign(store, clock, "road")
    cancelled_id = await campaign(store, clock, "later")
    async with store.transaction() as tx:
        assert await tx.campaigns.cancel(cancelled_id, clock.now()) == 3
    outbox = OutboxStore(store)
    with running_api() as api:
        api.fail("sendMessage", BLOCKED, chat_id=int(CHATS[1]), times=None)
        async with api.bot() as bot:
            worker = DeliveryWorker(
                outbox, {TG: TelegramChannel(bot)}, {TG: RateLimiter(30)}, clock
            )
            while await worker.drain_once():
                pass
    async with store.transaction() as tx:
        rows = [dict(r._mapping) for r in await tx.conn.execute(select(outbox_t))]
        progress = await tx.campaigns.progress(sent_id)
        reasons = await tx.campaigns.failure_reasons(sent_id)
        # All time up to the end of this week, so the campaigns just sent count.
        report = await tx.reports.delivery_counts(
            CalendarPeriod.all_time(clock.now().date() + timedelta(weeks=1))
        )
    assert {r["status"] for r in rows} == {
        OutboxStatus.SENT,
        OutboxStatus.UNREACHABLE,
        OutboxStatus.CANCELLED,
    }
    for row in rows:
        assert row["text"] == "" and row["buttons"] == [], row["status"]
        cells = json.dumps({k: v for k, v in row.items()}, default=str)
        assert not any(chat in cells for chat in CHATS), "no chat id in a final row"
    # What the reports need stayed.
    assert (progress.total, progress.sent, progress.unreachable) == (3, 2, 1)
    assert sum(reasons.values()) == 1
    by_status = {(c.campaign_id, c.status): c.count for c in report}
    assert by_status[(sent_id, OutboxStatus.SENT)] == 2
    assert by_status[(cancelled_id, OutboxStatus.CANCELLED)] == 3
    assert ids[-1] not in {r["member_id"] for r in rows}, "a paused member gets no row at all"
    # The platform's message id (WhatsApp's carry her number) goes after the last status...
    sent = next(r for r in rows if r["status"] == OutboxStatus.SENT)
    assert sent["platform_message_id"]
    assert await outbox.record_status(sent["platform_message_id"], "read", None, False) == 1
    # ...or, for a status that never comes, with housekeeping two weeks later.
    async with store.transaction() as tx:
        after = (
            await tx.conn.execute(
                select(outbox_t.c.platform_message_id).where(outbox_t.c.id == sent["id"])
            )
        ).scalar()
    assert after is None
    await campaign(store, clock, "again")
    with running_api() as api:
        async with api.bot() as bot:
            worker = DeliveryWorker(
                outbox, {TG: TelegramChannel(bot)}, {TG: RateLimiter(30)}, clock
            )
            while await worker.drain_once():
                pass
    async with store.transaction() as tx:
        kept = list((await tx.conn.execute(select(outbox_t.c.platform_message_id))).scalars())
    assert sum(k is not None for k in kept) == 3, "one left of the first, two of the second"
    assert (await purge_expired(store, clock.now() + timedelta(days=13)))[
        "outbox_message_ids"
    ] == 0
    counts = await purge_expired(store, clock.now() + timedelta(days=15))
    assert counts["outbox_message_ids"] == 3


async def test_a_row_skipped_for_a_paused_member_is_emptied(
    store: SqlStore, clock: FixedClock
) -> None:
    ids = await seed(store, clock)
    await campaign(store, clock, "road")
    outbox = OutboxStore(store)
    claimed = await outbox.claim(clock.now(), 10)
    assert len(claimed) == 3
    async with store.transaction() as tx:
        member = await tx.members.by_id(ids[0])
        assert member is not None
        member.status = MemberStatus.PAUSED
        await tx.members.save(member, spheres_changed=False)
    item = next(i for i in claimed if i.member_id == ids[0])
    assert item.text == TEXT
    await outbox.skip(item, "member paused")
    async with store.transaction() as tx:
        row = (await tx.conn.execute(select(outbox_t).where(outbox_t.c.id == item.id))).one()
    assert row.status == OutboxStatus.SKIPPED and row.text == "" and row.buttons == []
