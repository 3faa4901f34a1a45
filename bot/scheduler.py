"""APScheduler wiring only: which job runs when. What is due is decided by pure code
(bot.core.schedule); the jobs themselves live in handlers and storage.

Campaigns live in the database. Rather than one APScheduler job per campaign (state that can
drift from the database across restarts and workers), one job looks every few seconds for
occurrences that are due; each occurrence key fires once, so restarts and a second process
never send one twice, and a schedule survives any restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.services.campaigns import fire_due
from bot.services.moderation import expire_updates, send_digest
from bot.services.reports import send_results
from bot.services.surveys import (
    close_due_surveys,
    flush_survey_pools,
    push_open_surveys,
    send_reminders,
)
from storage.housekeeping import purge_expired

log = logging.getLogger(__name__)

FIRE_EVERY_SECONDS = 10


async def fire_due_campaigns(app: App, wake: Callable[[], None]) -> None:
    """Write outbox rows for every campaign occurrence that is due, then wake the worker."""
    fired = await fire_due(app.store, app.catalogs, app.core.clock.now())
    for campaign_id, key, recipients in fired:
        log.info(
            "event=campaign_fired campaign=%s key=%s recipients=%s", campaign_id, key, recipients
        )
    if fired:
        wake()


async def housekeeping(app: App) -> None:
    """Delete expired short-lived records and update text past its retention period."""
    now = app.core.clock.now()
    counts = await purge_expired(app.store, now)
    counts["updates"] = await expire_updates(app.store, now, app.core.config.update_retention_days)
    log.info("event=housekeeping %s", " ".join(f"{k}={v}" for k, v in counts.items()))


async def survey_jobs(app: App, wake: Callable[[], None]) -> None:
    """Invite newly open surveys' audiences, remind, mix pooled answers, close what is due."""
    now = app.core.clock.now()
    pushed = await push_open_surveys(app.store, app.catalogs, now)
    reminded = await send_reminders(app.store, app.catalogs, now)
    mixed = await flush_survey_pools(app.store, app.core.config.min_cell)
    closed = await close_due_surveys(app.store, now)
    results = await send_results(
        app.store, app.catalogs, now, k=app.core.config.min_cell, secret=app.core.config.secret_key
    )
    log.info(
        "event=survey_jobs pushed=%s reminded=%s mixed=%s closed=%s results=%s",
        pushed,
        reminded,
        mixed,
        len(closed),
        results,
    )
    if pushed or reminded or results:
        wake()


async def weekly_digest(app: App, wake: Callable[[], None]) -> None:
    """Share the week's approved updates with practitioners of the same spheres elsewhere."""
    shared, reached = await send_digest(app.store, app.catalogs, app.core.clock.now())
    log.info("event=digest_sent updates=%s members=%s", shared, reached)
    if reached:
        wake()


def start_scheduler(app: App, wake: Callable[[], None]) -> AsyncIOScheduler:
    """Start the in-process scheduler on the running event loop."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    # Run each job once at start. APScheduler keeps wall time, whatever clock the app reads
    # (a test's fixed clock in the past would make it walk every missed interval since).
    now = datetime.now(UTC)
    # A busy start (a migration, a slow disk) may make a job late by more than APScheduler's
    # default second of grace: run it late rather than skip it with a warning in her terminal.
    common = {
        "coalesce": True,
        "max_instances": 1,
        "replace_existing": True,
        "next_run_time": now,
        "misfire_grace_time": 60,
    }
    scheduler.add_job(
        fire_due_campaigns,
        "interval",
        seconds=FIRE_EVERY_SECONDS,
        args=[app, wake],
        id="fire_due_campaigns",
        **common,
    )
    scheduler.add_job(housekeeping, "interval", hours=1, args=[app], id="housekeeping", **common)
    scheduler.add_job(
        survey_jobs, "interval", minutes=10, args=[app, wake], id="survey_jobs", **common
    )
    # Mondays 07:00 UTC: morning across the alliance's countries, from Lagos to Lahore.
    scheduler.add_job(
        weekly_digest,
        "cron",
        day_of_week="mon",
        hour=7,
        args=[app, wake],
        id="weekly_digest",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
        misfire_grace_time=6 * 3600,
    )
    scheduler.start()
    return scheduler
