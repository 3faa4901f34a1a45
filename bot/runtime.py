"""Everything that runs beside the channels: the delivery worker and the scheduler.

Only the leader runs them (storage/leader.py): every other process stands by, checks every
few seconds, and takes over when the leader stops or dies.
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
from storage.leader import Leader
from storage.outbox import OutboxStore

log = logging.getLogger(__name__)


def limiters_for(app: App) -> dict[ChannelName, RateLimiter]:
    """One pacing per channel, at each platform's limit."""
    return {
        ChannelName.TELEGRAM: RateLimiter(app.settings.wasl.telegram_rate),
        ChannelName.WHATSAPP: RateLimiter(80, per_chat=1, window=6.0),
        ChannelName.CONSOLE: RateLimiter(1000, per_chat=1000),
    }


class Runtime:
    """Starts and stops the delivery worker and the scheduler on the running loop."""

    def __init__(
        self,
        app: App,
        channels: Mapping[ChannelName, Channel],
        *,
        leader_check: float = 5.0,
    ) -> None:
        self.app = app
        self.leader = Leader(app.store)
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
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def leading(self) -> bool:
        """True while this process runs the delivery worker and the scheduler."""
        return self._task is not None

    async def start(self) -> None:
        """Lead at once if nobody else does; otherwise stand by and watch."""
        try:
            leading = await self.leader.acquire()
        except Exception:  # the database is not answering yet: the watch tries again
            log.exception("event=leadership_check_failed")
            leading = False
        if leading:
            self._start_services()
        else:
            log.info("event=runtime_standby")
        self._watch = asyncio.create_task(self._keep_watch(), name="leadership")

    def _start_services(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.worker.run(self._stop), name="delivery")
        self._scheduler = start_scheduler(self.app, self.worker.wake)
        log.info("event=runtime_started")

    async def _stop_services(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None

    async def _keep_watch(self) -> None:
        """Step down when the lock is lost; take over when the leader is gone."""
        while True:
            await asyncio.sleep(self.leader_check)
            try:
                if self.leading and not await self.leader.holding():
                    log.warning("event=runtime_stepped_down")
                    await self._stop_services()
                elif not self.leading and await self.leader.acquire():
                    log.info("event=runtime_took_over")
                    self._start_services()
            except Exception:  # a database hiccup: try again at the next check
                log.exception("event=leadership_check_failed")

    async def settle(self, within: float = 10.0) -> None:
        """Wait (up to `within` s) until nothing due is left in the outbox, then report."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if await self.worker.outbox.due_count(self.app.core.clock.now()) == 0:
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
        await self._stop_services()
        await self.leader.release()
        log.info("event=runtime_stopped")
