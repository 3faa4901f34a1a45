"""Replies have the broadcasts' guarantees: written to the outbox in the update's transaction,
sent at once, retried by the delivery worker when the send fails, and not sent twice blindly
when the Bot API may have delivered them already. Real PTB against the fake Bot API, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.channels.telegram import TelegramChannel
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign
from bot.core.context import CoreConfig
from bot.core.messages import ChannelName, InboundEvent
from bot.core.models import NewMember, Role
from bot.core.outbox import REPLY_PRIORITY, OutboxStatus
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from handlers import build_router
from handlers.tips import TipSpheres
from storage.outbox import REPLY_STALE, OutboxStore
from storage.store import SqlStore
from storage.tables import outbox_t
from tests.fakes.telegram_api import Call, FakeBotApi, running_api
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness

TG = ChannelName.TELEGRAM
HER = 4242
TIMEOUT = 1.0  # the client's read timeout; the late answers come after 2.5 s
SERVER_ERROR = (500, "Internal Server Error", None)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


@pytest.fixture
def api(server: FakeBotApi) -> Iterator[FakeBotApi]:
    server.reset()
    yield server
    assert not server.refused


@pytest.fixture
async def channel(api: FakeBotApi) -> AsyncIterator[TelegramChannel]:
    bot = Bot(
        api.token,
        base_url=f"{api.base}/bot",
        request=api.request(read_timeout=TIMEOUT),
        get_updates_request=api.request(),
    )
    async with bot:
        yield TelegramChannel(bot)


@pytest.fixture
def harness(store: SqlStore) -> Harness:
    return Harness(store, build_router(), config=CoreConfig(open_join=True))


def worker(h: Harness, channel: TelegramChannel) -> DeliveryWorker:
    return DeliveryWorker(OutboxStore(h.store), {TG: channel}, {TG: RateLimiter(30)}, h.clock)


def delivered(api: FakeBotApi, text: str) -> list[Call]:
    """Messages the Bot API accepted (and showed her) whose text contains `text`."""
    return [c for c in api.calls_to("sendMessage", HER) if c.result and text in c.params["text"]]


async def replies(store: SqlStore) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        rows = await tx.conn.execute(
            select(outbox_t).where(outbox_t.c.priority == REPLY_PRIORITY).order_by(outbox_t.c.id)
        )
        return [dict(r._mapping) for r in rows]


async def help_(h: Harness, channel: TelegramChannel) -> None:
    her = h.person(str(HER))
    await h.core.handle(her.inbound(text="/help", message_id="7"), channel)


async def test_a_reply_refused_with_a_500_is_delivered_once_by_the_worker(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail("sendMessage", SERVER_ERROR)
    await help_(harness, channel)
    assert api.calls_to("sendMessage", HER), "the fast path tried at once"
    assert delivered(api, "/") == []
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.PENDING and row["attempts"] == 1
    assert row["attempted_at"] is None, "a 500 is an answer: it was not delivered"

    sender = worker(harness, channel)
    assert await sender.drain_once() == 0, "retried with back-off, not at once"
    harness.clock.advance(timedelta(seconds=6))
    assert await sender.drain_once() == 1
    harness.clock.advance(timedelta(minutes=5))
    assert await sender.drain_once() == 0
    [sent] = delivered(api, "/")
    assert "/help" in sent.params["text"] or "/start" in sent.params["text"]
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.SENT and row["attempts"] == 2
    # Promise 3: once final, a reply keeps neither her words nor her chat.
    assert (row["text"], row["buttons"], row["chat_id"]) == ("", [], None)


async def test_a_reply_sent_at_once_keeps_no_text_and_no_chat_id(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    """Promise 3: the fast path's final rows are emptied like the worker's."""
    await help_(harness, channel)
    assert len(delivered(api, "/")) == 1
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.SENT
    assert (row["text"], row["buttons"], row["chat_id"]) == ("", [], None)


async def test_a_harmless_reply_answered_too_late_is_sent_again_once(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.answer_late("sendMessage", TIMEOUT + 1.5)
    await help_(harness, channel)
    assert len(delivered(api, "/")) == 1, "the Bot API delivered it, but answered too late"
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.PENDING and row["attempted_at"] is not None

    sender = worker(harness, channel)
    harness.clock.advance(timedelta(seconds=6))
    assert await sender.drain_once() == 1
    harness.clock.advance(timedelta(minutes=5))
    assert await sender.drain_once() == 0
    assert len(delivered(api, "/")) == 2, "a menu twice is harmless: resent exactly once"
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.SENT


async def test_a_reply_whose_resend_also_times_out_is_not_sent_a_third_time(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.answer_late("sendMessage", TIMEOUT + 1.5, times=2)
    await help_(harness, channel)
    sender = worker(harness, channel)
    harness.clock.advance(timedelta(seconds=6))
    assert await sender.drain_once() == 1
    harness.clock.advance(timedelta(hours=1))
    assert await sender.drain_once() == 0
    assert len(delivered(api, "/")) == 2
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.UNCERTAIN


async def test_an_alert_answered_too_late_is_not_resent_and_counts_as_uncertain(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    now = harness.clock.now()
    async with harness.store.transaction() as tx:
        await tx.members.create(
            NewMember(
                channel=TG,
                platform_id=str(HER),
                chat_id=str(HER),
                locale="en",
                country="IQ",
                spheres=["youth"],
                role=Role.MEMBER,
                consent_version="1",
                consented_at=now,
            ),
            now,
        )
        alert = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.ALERT,
                status=CampaignStatus.SCHEDULED,
                title="Checkpoint",
                texts={"en": "Checkpoint closed on the Mosul road"},
                default_locale="en",
                audience=Audience(),
                schedule="now",
            ),
            now,
        )
        assert await tx.campaigns.fire(alert, "once", now) is not None
    api.answer_late("sendMessage", TIMEOUT + 1.5)
    sender = worker(harness, channel)
    assert await sender.drain_once() == 1
    for _ in range(3):
        harness.clock.advance(timedelta(hours=1))
        assert await sender.drain_once() == 0, "never sent again"
    assert len(delivered(api, "Checkpoint")) == 1, "she has it once, and only once"
    async with harness.store.transaction() as tx:
        progress = await tx.campaigns.progress(alert.id)
        reasons = await tx.campaigns.failure_reasons(alert.id)
    assert progress.uncertain == 1 and progress.sent == 0 and progress.finished
    assert any("may have been delivered" in reason for reason in reasons)


async def test_replies_claimed_by_a_process_that_died_are_sent_by_the_worker(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    her = harness.person(str(HER))
    # The update is processed and committed; the process dies before it sends anything.
    processed = await harness.core._process(her.inbound(text="/help", message_id="7"), None)
    assert processed is not None
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.CLAIMED and row["chat_id"] == str(HER)
    assert api.calls_to("sendMessage", HER) == []

    sender = worker(harness, channel)
    assert await sender.drain_once() == 0, "not while its process may still send it"
    harness.clock.advance(REPLY_STALE + timedelta(seconds=1))
    assert await sender.drain_once() == 1
    assert await sender.drain_once() == 0
    assert len(delivered(api, "/")) == 1
    [row] = await replies(harness.store)
    assert row["status"] == OutboxStatus.SENT


async def test_a_restarted_worker_sends_replies_left_claimed_at_once(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    her = harness.person(str(HER))
    assert await harness.core._process(her.inbound(text="/help", message_id="7"), None)
    outbox = OutboxStore(harness.store)
    assert (await outbox.recover())[OutboxStatus.CLAIMED] == 1
    assert await worker(harness, channel).drain_once() == 1
    assert len(delivered(api, "/")) == 1


async def test_an_edit_refused_with_a_500_is_made_by_the_worker_in_place(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    her = harness.person(str(HER))
    await join(her)  # through the recording channel
    shown = await channel.send(str(HER), harness.channel.sent[-1].message)
    assert shown.message_id is not None
    api.fail("editMessageText", SERVER_ERROR)
    spheres = TipSpheres().pack()  # "Spheres" under a tip: the message becomes the list
    press = her.inbound(event=InboundEvent.BUTTON, payload=spheres, message_id=shown.message_id)
    await harness.core.handle(press, channel)
    row = (await replies(harness.store))[-1]
    assert row["edit_message_id"] == shown.message_id and row["layout"] == {"columns": 2}
    assert row["status"] == OutboxStatus.PENDING

    harness.clock.advance(timedelta(seconds=6))
    assert await worker(harness, channel).drain_once() == 1
    edits = [c for c in api.calls_to("editMessageText", HER) if c.result]
    assert [int(c.params["message_id"]) for c in edits] == [int(shown.message_id)]
    keyboard = edits[0].keyboard
    assert keyboard and all(len(line) <= 2 for line in keyboard) and len(keyboard[0]) == 2
    assert not [c for c in api.calls_to("sendMessage", HER) if "sphere" in c.params["text"]]
    async with harness.store.transaction() as tx:
        kept = await tx.chat_log.recent(TG, str(HER), harness.clock.now() - timedelta(days=1))
    assert shown.message_id not in kept, "an edit leaves no new message to wipe"


async def test_replies_after_a_failed_one_wait_for_it_and_keep_their_order(
    harness: Harness, api: FakeBotApi, channel: TelegramChannel
) -> None:
    her = harness.person(str(HER))
    await her.say(f"/start {await make_invite(harness)}")  # joining: the language question
    api.fail("sendMessage", SERVER_ERROR)
    await harness.core.handle(her.inbound(text="/help", message_id="3"), channel)
    rows = [r for r in await replies(harness.store) if r["status"] != OutboxStatus.SENT]
    assert len(rows) >= 2, "/help while joining: a word on the step, then its question again"
    assert len(api.calls_to("sendMessage", HER)) == 1, "stopped at the first failure"
    assert {r["status"] for r in rows} == {OutboxStatus.PENDING}
    assert len({r["next_attempt_at"] for r in rows}) == 1, "the rest wait for the first"

    harness.clock.advance(timedelta(seconds=6))
    sender = worker(harness, channel)
    assert await sender.drain_once() == len(rows)
    said = [c.params["text"] for c in api.calls_to("sendMessage", HER) if c.result]
    assert said == [r["text"] for r in rows], "each once, in order"
