"""Everything that runs beside the channels: the delivery worker and the scheduler.

Each has leaders (storage/leader.py): one process delivers each channel's messages, and one
runs the scheduler. A process asks only for the channels it has, so a terminal bot never
delivers (or fails) Telegram messages, and rows of a channel no process has wait for one. The
terminal bot runs the scheduler only while no real bot leads a channel of its database. Every
other process stands by, checks every few seconds, and takes over when a leader stops or dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.core.messages import ChannelName, Outbound
from bot.core.outbox import ProgressTarget
from bot.core.ports import Channel
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from bot.scheduler import start_scheduler
from bot.services.campaigns import render_progress
from storage.leader import Leader, someone_leads
from storage.outbox import OutboxStore

log = logging.getLogger(__name__)


def limiters_for(app: App) -> dict[ChannelName, RateLimiter]:
    """One pacing per channel, at each platform's limit."""
    return {
        ChannelName.TELEGRAM: RateLimiter(app.settings.wasl.telegram_rate),
        ChannelName.WHATSAPP: RateLimiter(80, per_chat=1, window=6.0),
        ChannelName.CONSOLE: RateLimiter(1000, per_chat=1000),
    }


SCHEDULER = "scheduler"  # the scheduler's role, beside one per channel
REAL_CHANNELS = (ChannelName.TELEGRAM, ChannelName.WHATSAPP)


class Runtime:
    """Starts and stops the delivery worker and the scheduler on the running loop, as its
    leaderships come and go."""

    def __init__(
        self,
        app: App,
        channels: Mapping[ChannelName, Channel],
        *,
        leader_check: float = 5.0,
    ) -> None:
        self.app = app
        self.leaders = {name: Leader(app.store, name.value) for name in channels}
        self.scheduler_leader = Leader(app.store, SCHEDULER)
        # The terminal bot alone: it schedules only while no real bot shares the database.
        self.console_only = all(name is ChannelName.CONSOLE for name in channels)
        self.leader_check = leader_check
        self._watch: asyncio.Task[None] | None = None

        async def progress(target: ProgressTarget) -> tuple[Outbound, bool] | None:
            return await render_progress(
                app.store, app.catalogs, target.campaign_id, target.occurrence_id, target.locale
            )

        self.worker = DeliveryWorker(
            OutboxStore(app.store),
            channels,
            limiters_for(app),
            app.core.clock,
            concurrency=app.settings.wasl.delivery_concurrency,
            progress=progress,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._delivering: frozenset[ChannelName] = frozenset()
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def leading(self) -> bool:
        """True while this process delivers for a channel or runs the scheduler."""
        return self._task is not None or self._scheduler is not None

    def roles(self) -> dict[str, str]:
        """Each role this process may take, and whether it leads it or stands by."""
        leaders = [*self.leaders.values(), self.scheduler_leader]
        return {leader.role: "leader" if leader.leading else "standby" for leader in leaders}

    async def start(self) -> None:
        """Lead whatever nobody else leads; stand by for the rest, and keep watching."""
        await self._check()
        if not self.leading:
            log.info("event=runtime_standby")
        self._watch = asyncio.create_task(self._keep_watch(), name="leadership")

    async def _check(self) -> None:
        """Step down from what was lost; take what nobody leads any more."""
        try:
            await self._check_delivery()
            await self._check_scheduler()
        except Exception:  # a database hiccup: try again at the next check
            log.exception("event=leadership_check_failed")

    async def _check_delivery(self) -> None:
        led = set()
        for name, leader in self.leaders.items():
            if await leader.holding() or await leader.acquire():
                led.add(name)
        if led != self._delivering:
            if self._delivering - led:
                log.warning("event=runtime_stepped_down roles=%s", _names(self._delivering - led))
            await self._stop_delivery()
            if led:
                self._start_delivery(frozenset(led))

    async def _check_scheduler(self) -> None:
        leader = self.scheduler_leader
        if await leader.holding():
            if self.console_only and await self._real_bot_elsewhere():
                log.info("event=scheduler_handed_over")
                await self._stop_scheduler()
                await leader.release()
            return
        if self._scheduler is not None:  # the lock was lost (its connection dropped)
            log.warning("event=runtime_stepped_down roles=%s", SCHEDULER)
            await self._stop_scheduler()
        if self.console_only and await self._real_bot_elsewhere():
            return
        if await leader.acquire():
            self._scheduler = start_scheduler(self.app, self.worker.wake)
            log.info("event=scheduler_started")

    async def _real_bot_elsewhere(self) -> bool:
        return any([await someone_leads(self.app.store, c.value) for c in REAL_CHANNELS])

    def _start_delivery(self, channels: frozenset[ChannelName]) -> None:
        self._stop = asyncio.Event()
        self._delivering = channels
        self._task = asyncio.create_task(self.worker.run(self._stop, channels), name="delivery")
        log.info("event=runtime_started roles=%s", _names(channels))

    async def _stop_delivery(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None
        self._delivering = frozenset()

    async def _stop_scheduler(self, within: float = 10.0) -> None:
        """Stop scheduling; let the jobs already running finish (up to `within` s).

        APScheduler's asyncio executor can only cancel them, and a job cut off mid-way leaves
        its database call to come back to a loop that may be gone.
        """
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        executor = scheduler._lookup_executor("default")
        running = [f for f in getattr(executor, "_pending_futures", ()) if not f.done()]
        if running:
            await asyncio.wait(running, timeout=within)
        scheduler.shutdown(wait=False)

    async def _keep_watch(self) -> None:
        while True:
            await asyncio.sleep(self.leader_check)
            await self._check()

    async def settle(self, within: float = 10.0) -> None:
        """Wait (up to `within` s) until nothing due is left in the outbox, then report."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            delivering = self._delivering
            now = self.app.core.clock.now()
            if not delivering or await self.worker.outbox.due_count(now, delivering) == 0:
                break
            self.worker.wake()
            await asyncio.sleep(0.1)
        await self.worker.report_progress(force=True)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._stop_scheduler()
        await self._stop_delivery()
        for leader in [*self.leaders.values(), self.scheduler_leader]:
            await leader.release()
        log.info("event=runtime_stopped")


def _names(channels: frozenset[ChannelName]) -> str:
    return ",".join(sorted(c.value for c in channels))
