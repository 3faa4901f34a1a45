"""APScheduler wiring only: which job runs when. The jobs themselves live elsewhere."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.core.clock import SystemClock
from storage.housekeeping import purge_expired

log = logging.getLogger(__name__)


async def housekeeping(app: App) -> None:
    """Delete expired short-lived records (see storage.housekeeping)."""
    counts = await purge_expired(app.store, SystemClock().now())
    log.info("event=housekeeping %s", " ".join(f"{k}={v}" for k, v in counts.items()))


def start_scheduler(app: App) -> AsyncIOScheduler:
    """Start the in-process scheduler on the running event loop."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        housekeeping,
        "interval",
        hours=1,
        args=[app],
        id="housekeeping",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        next_run_time=SystemClock().now(),
    )
    scheduler.start()
    return scheduler
