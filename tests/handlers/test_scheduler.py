"""The scheduler's jobs run against a real app: what is due fires, and the worker is woken."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import scheduler
from bot.app import build_app
from bot.config import Settings
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role


async def test_jobs_fire_what_is_due_and_wake_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
    app = build_app(Settings(), clock=FixedClock())
    await app.migrate()
    now = app.core.clock.now()
    async with app.store.transaction() as tx:
        await tx.members.create(
            NewMember(
                ChannelName.TELEGRAM, "1", "1", "en", "IQ", ["youth"], Role.MEMBER, "v", now
            ),
            now,
        )
        await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.CAMPAIGN,
                status=CampaignStatus.SCHEDULED,
                title="due",
                texts={"en": "hello"},
                default_locale="en",
                audience=Audience(),
                schedule="now",
            ),
            now,
        )
    woken: list[bool] = []
    await scheduler.fire_due_campaigns(app, lambda: woken.append(True))
    assert woken == [True]
    await scheduler.fire_due_campaigns(app, lambda: woken.append(True))
    assert woken == [True], "an occurrence fires once"
    await scheduler.housekeeping(app)
    await scheduler.survey_jobs(app, lambda: woken.append(True))
    await scheduler.weekly_digest(app, lambda: woken.append(True))
    assert woken == [True], "nothing else was due"
    running = scheduler.start_scheduler(app, lambda: None)
    try:
        assert {job.id for job in running.get_jobs()} == {
            "fire_due_campaigns",
            "housekeeping",
            "survey_jobs",
            "weekly_digest",
        }
    finally:
        running.shutdown(wait=False)
    await app.close()
