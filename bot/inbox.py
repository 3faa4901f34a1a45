"""The inbox worker: processes the updates webhooks (and polling) kept, in order per chat.

One runs in every `wasl serve` / `wasl run` process. It claims the oldest row of each chat
(storage/inbox.py), hands its payload to the channel's processor (which goes through the
core's normal path, with its processed_update dedupe), and deletes the row once done (with
its next claim, in one commit). A row whose processing raised is tried again, a little later
each time, at most MAX_ATTEMPTS times. Rows left by a process that died are taken once their
lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from time import perf_counter

from bot.core.clock import Clock
from bot.metrics import UPDATE_SECONDS, UPDATES
from storage.inbox import InboxItem, InboxStore

log = logging.getLogger(__name__)

Processor = Callable[[str], Awaitable[None]]

MAX_ATTEMPTS = 5


class InboxWorker:
    def __init__(
        self,
        inbox: InboxStore,
        processors: Mapping[str, Processor],
        clock: Clock,
        *,
        concurrency: int = 8,
        lease: float = 30.0,
        stall: float = 60.0,
        poll: float = 1.0,
    ) -> None:
        self.inbox = inbox
        self.processors = dict(processors)
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.lease = timedelta(seconds=lease)
        self.stall = stall
        self.poll = poll
        self.processed = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        # Rows processed, deleted with the next claim (one commit for both): their chats' next
        # rows wait for that claim, which a finished row wakes at once.
        self._finished: list[int] = []
        self._last_progress = 0.0

    def wake(self) -> None:
        """Something was added: look at once instead of at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._last_progress = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name="inbox")
        log.info("event=inbox_started")

    async def stop(self, within: float = 10.0) -> None:
        """Stop claiming; let what is in flight finish (up to `within` s), cancel the rest.

        A cancelled row stays claimed and is processed again once its lease expires.
        """
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            _, late = await asyncio.wait(set(self._inflight), timeout=within)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self._flush()
        log.info("event=inbox_stopped")

    async def _flush(self) -> None:
        """Delete the rows processed since the last claim (at stop: no claim comes)."""
        finished, self._finished = self._finished, []
        for attempt in range(3):  # a connection the pool still held from before an outage
            try:
                if finished:
                    await self.inbox.done(*finished)
                return
            except Exception as error:  # processed: a repeat is deduped by processed_update
                log.warning("event=inbox_done_failed error=%s", type(error).__name__)
                if attempt < 2:
                    await asyncio.sleep(0.2)

    async def stalled(self) -> bool:
        """True when a row has waited longer than `stall` and nothing was processed here for
        as long (the worker is stuck, dead or cannot keep up): /healthz turns unhealthy."""
        oldest = await self.inbox.oldest()
        if oldest is None:
            return False
        waited = (self.clock.now() - oldest).total_seconds()
        quiet = asyncio.get_running_loop().time() - self._last_progress
        dead = self._task is None or self._task.done()
        return waited > self.stall and (quiet > self.stall or dead)

    async def drain(self, within: float = 10.0) -> None:
        """Wait until the inbox is empty (tests, shutdown of a command-line run)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if await self.inbox.oldest() is None and not self._inflight:
                return
            self.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("the inbox did not drain")

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            free = self.concurrency - len(self._inflight)
            claimed: list[InboxItem] = []
            if free > 0:
                finished = self._finished
                self._finished = []
                try:
                    claimed = await self.inbox.claim(self.clock.now(), self.lease, free, finished)
                except Exception as error:  # the database is down: try again at the next poll
                    log.warning("event=inbox_claim_failed error=%s", type(error).__name__)
                    self._finished = finished + self._finished  # deleted with the next claim
            for item in claimed:
                task = asyncio.create_task(self._one(item), name="inbox-item")
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            waiter = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait(
                    {waiter, *self._inflight},
                    timeout=self.poll,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()

    async def _one(self, item: InboxItem) -> None:
        processor = self.processors.get(item.channel)
        if processor is None:  # this process does not serve that channel: leave it
            log.warning("event=inbox_no_processor channel=%s", item.channel)
            return
        if item.attempts > MAX_ATTEMPTS:
            log.error(
                "event=inbox_item_dropped channel=%s update_id=%s attempts=%s",
                item.channel,
                item.platform_id,
                item.attempts,
            )
            UPDATES.labels(item.channel, "dropped").inc()
            await self._done(item)
            return
        started = perf_counter()
        try:
            await processor(item.payload)
        except Exception as error:  # retried once its lease expires
            UPDATES.labels(item.channel, "failed").inc()
            log.error(
                "event=inbox_item_failed channel=%s update_id=%s error=%s",
                item.channel,
                item.platform_id,
                type(error).__name__,
            )
            await self._retry_later(item)
            return
        UPDATE_SECONDS.labels(item.channel).observe(perf_counter() - started)
        UPDATES.labels(item.channel, "processed").inc()
        await self._done(item)

    async def _retry_later(self, item: InboxItem) -> None:
        """Try again after 2, 4, 8… seconds (at most the lease), then drop it."""
        delay = min(2.0**item.attempts, self.lease.total_seconds())
        try:
            await self.inbox.release(item.id, self.clock.now() + timedelta(seconds=delay))
        except Exception as error:  # the lease expires anyway
            log.warning("event=inbox_release_failed error=%s", type(error).__name__)

    async def _done(self, item: InboxItem) -> None:
        self._finished.append(item.id)
        self.processed += 1
        self._last_progress = asyncio.get_running_loop().time()
        self.wake()  # the chat's next row can go now, with this one deleted
