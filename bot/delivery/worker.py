"""The delivery worker: drains the outbox under each channel's limits, losing nothing.

Each row is marked "sending" just before its API call, so a crash leaves at most the rows in
flight in doubt; they are sent again at restart. Everything else resumes exactly where it
stopped. How a send ended is recorded with the next row's "sending" mark, in the same commit
(one commit per send, not two), and what is left at the end of a batch in one commit: a row
answered but not yet recorded is still "sending", so it counts as in flight.

Pacing counts each send when the platform saw it (bot/delivery/limiter.py): the worker reports
every send's round trip, and a 429 back to the limiter, which widens its margin; the 429'd row
alone waits `retry_after` (the whole channel only when 429s repeat or the wait is long).

How many sends are in flight adapts (`InFlight`): one while the platform answers fast, and
as many as its round trip needs to keep to its rate (Little's law), up to `concurrency`. A
Bot API 100 ms away needs about four to send 30 a second; one alone would send nine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import timedelta
from time import monotonic

from bot.core.clock import Clock
from bot.core.messages import (
    Button,
    ChannelName,
    Outbound,
    SendResult,
    SendStatus,
    Template,
)
from bot.core.models import MemberStatus
from bot.core.outbox import (
    WAITING_FOR_CHANNEL,
    Finished,
    Outbox,
    OutboxItem,
    OutboxStatus,
    Outcome,
    ProgressTarget,
    RetryPolicy,
)
from bot.core.ports import Channel
from bot.delivery.limiter import RateLimiter

log = logging.getLogger(__name__)

WAIT_FOR_CHANNEL = timedelta(minutes=1)
WHATSAPP_WINDOW = timedelta(hours=23, minutes=45)  # a margin: "last seen" is kept coarsely
ProgressRenderer = Callable[[ProgressTarget], Awaitable[tuple[Outbound, bool] | None]]


class InFlight:
    """How many sends to keep in the air: the platform's rate × its round trip, and no more.

    Each send in the air when the process dies may be repeated at restart (Invariant 1), so
    the worker keeps as few as keep pace: one on a fast link, a few on a slow one.
    """

    HEADROOM = 1.25  # round trips vary: a little more than the average keeps the pace
    SMOOTHING = 0.2  # weight of the newest round trip in the running average

    def __init__(self, most: int) -> None:
        self.most = max(1, most)
        self.round_trip: float | None = None

    def observe(self, seconds: float) -> None:
        """One more API round trip, in seconds."""
        if self.round_trip is None:
            self.round_trip = seconds
        else:
            self.round_trip += self.SMOOTHING * (seconds - self.round_trip)

    def allowed(self, rate: float) -> int:
        """How many sends may be in the air to keep up `rate` per second."""
        if self.round_trip is None:
            return 1
        needed = math.ceil(rate * self.round_trip * self.HEADROOM)
        return max(1, min(self.most, needed))


class DeliveryWorker:
    """Claims due outbox rows, paces them, sends them, records each outcome."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[ChannelName, Channel],
        limiters: Mapping[ChannelName, RateLimiter],
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 1,
        batch: int = 100,
        idle_wait: float = 1.0,
        progress: ProgressRenderer | None = None,
        progress_every: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.channels = channels
        self.limiters = limiters
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self.in_flight = InFlight(self.concurrency)
        self.batch = batch
        self.idle_wait = idle_wait
        self.progress = progress
        self.progress_every = progress_every
        self._wake = asyncio.Event()
        self._last_progress = 0.0
        self._finished: list[Finished] = []  # sends that ended, not yet recorded
        self.serving: frozenset[ChannelName] = frozenset(channels)  # the channels it drains

    def wake(self) -> None:
        """New rows were written: start sending now instead of after the idle wait."""
        self._wake.set()

    async def run(
        self, stop: asyncio.Event, channels: Collection[ChannelName] | None = None
    ) -> None:
        """Recover what a previous run left in flight, then drain until `stop` is set.

        Only rows of `channels` (default: every channel it has), the ones this process leads:
        the others wait for the process that leads theirs.
        """
        self.serving = frozenset(self.channels if channels is None else channels)
        recovered = await self.outbox.recover(self.serving)
        log.info("event=outbox_recovered %s", " ".join(f"{k}={v}" for k, v in recovered.items()))
        for limiter in self.limiters.values():
            # A process killed a moment ago may have sent a full window, and the rows it had in
            # flight to their chats: a restart within that window would collect 429s.
            limiter.pause(limiter.window)
        while not stop.is_set():
            try:
                handled = await self.drain_once()
                await self.report_progress()
            except Exception:
                log.exception("event=delivery_loop_failed")
                handled = 0
            if handled == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, self._wake), self.idle_wait)
        await self.report_progress(force=True)

    async def drain_once(self) -> int:
        """Claim one batch of due rows and deliver it; returns how many rows were handled."""
        items = await self.outbox.claim(self.clock.now(), self.batch, self.serving)
        if not items:
            return 0
        running: set[asyncio.Task[None]] = set()
        try:
            for item in items:
                rate = self.limiters[item.channel].rate if item.channel in self.limiters else 1
                while len(running) >= self.in_flight.allowed(rate):  # one, on a fast link
                    done, running = await asyncio.wait(
                        running, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()  # an error surfaces here, as gather would raise it
                    await self.report_progress()  # every few seconds at most
                running.add(asyncio.create_task(self.deliver(item)))
            await asyncio.gather(*running)
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            raise
        except Exception:
            # One send's bookkeeping failed: let the others finish theirs before saying so.
            await asyncio.gather(*running, return_exceptions=True)
            await self.record_finished()
            raise
        await self.record_finished()
        return len(items)

    async def record_finished(self) -> None:
        """Record, in one commit, how the sends not yet recorded ended."""
        finished = self._take_finished()
        try:
            await self.outbox.finish_many(finished)
        except BaseException:
            self._finished[:0] = finished  # kept for the next try
            raise

    def _take_finished(self) -> list[Finished]:
        finished, self._finished = self._finished, []
        return finished

    def _finish(self, item: OutboxItem, outcome: Outcome, message_ids: Sequence[str] = ()) -> None:
        """How `item` ended, recorded with the next bookkeeping commit."""
        self._finished.append(Finished(item, outcome, self.clock.now(), tuple(message_ids)))

    async def deliver(self, item: OutboxItem) -> None:
        """Send one row and record the outcome. Never raises for a platform error."""
        if item.member_status is not MemberStatus.ACTIVE:
            await self.outbox.skip(item, f"member {item.member_status.value}")
            return
        channel = self.channels.get(item.channel)
        if channel is None:  # never claimed by this worker: it waits for one that has it
            later = self.clock.now() + WAIT_FOR_CHANNEL
            self._finish(item, Outcome(OutboxStatus.PENDING, later, error=WAITING_FOR_CHANNEL))
            return
        message = _outbound(item)
        # A reply answers her own message: it is inside the window (or fails as any send).
        if item.channel is ChannelName.WHATSAPP and not item.reply and self._outside_window(item):
            if not item.template_name:
                error = "outside the 24-hour window, no template configured"
                self._finish(item, Outcome(OutboxStatus.NEEDS_TEMPLATE, error=error))
                return
            template = Template(item.template_name, item.template_language or "en", (item.text,))
            message = Outbound(message.text, template=template)
        limiter = self.limiters[item.channel]
        allowed = await limiter.acquire(item.chat_id)
        finished = self._take_finished()
        try:
            # with the outcomes of the sends that ended meanwhile: one commit
            marked = await self.outbox.mark_sending(item.id, finished)
        except BaseException:
            self._finished[:0] = finished
            raise
        if not marked:
            # cancelled (the row stays cancelled), or she paused or became unreachable since
            # the batch was claimed
            await self.outbox.skip(item, "member no longer active")
            return
        started = monotonic()
        try:
            result = await channel.send(
                item.chat_id, message, edit_message_id=item.edit_message_id
            )
        except Exception as error:  # an adapter bug must not stop the broadcast
            log.exception("event=send_crashed outbox_id=%s", item.id)
            result = SendResult(SendStatus.RETRY, reason=f"adapter error: {type(error).__name__}")
        else:
            self.in_flight.observe(monotonic() - started)
        refused = result.status is SendStatus.RETRY and bool(result.retry_after)
        # counted from when the platform saw it; a 429 widens the margin (and pauses the
        # channel when they repeat); the row itself waits retry_after (the policy's retry_at)
        limiter.sent(
            allowed, started, monotonic(), refused=refused, retry_after=result.retry_after
        )
        outcome = self.policy.outcome(
            result,
            item.attempts + 1,
            self.clock.now(),
            harmful=item.harmful_duplicate,
            attempted_before=item.attempted_at is not None,
        )
        self._finish(item, outcome, result.all_ids)

    def _outside_window(self, item: OutboxItem) -> bool:
        """WhatsApp lets a business write freely only within 24 h of her last message."""
        last = item.last_seen_at
        return last is None or self.clock.now() - last > WHATSAPP_WINDOW

    async def report_progress(self, *, force: bool = False) -> None:
        """Edit each watching coordinator's progress message, every few seconds at most."""
        if self.progress is None:
            return
        now = monotonic()
        if not force and now - self._last_progress < self.progress_every:
            return
        self._last_progress = now
        for target in await self.outbox.watched():
            rendered = await self.progress(target)
            channel = self.channels.get(target.channel)
            if rendered is None or channel is None:
                continue
            message, finished = rendered
            result = await channel.send(target.chat_id, message, edit_message_id=target.message_id)
            finished_at = self.clock.now() if finished else None
            message_id = result.message_id or target.message_id
            if result.status is SendStatus.SENT or finished:
                await self.outbox.set_progress_message(
                    target.occurrence_id, message_id, finished_at
                )


def _outbound(item: OutboxItem) -> Outbound:
    buttons = tuple(Button(b["label"], b["payload"]) for b in item.buttons)
    layout = item.layout or {}
    return Outbound(
        item.text,
        buttons,
        columns=int(layout.get("columns", 1)),
        typed=bool(layout.get("typed", False)),
        attachment=item.attachment,
    )


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
