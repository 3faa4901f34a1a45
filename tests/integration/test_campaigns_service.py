"""The campaigns service on SQLite and PostgreSQL (the `store` fixture runs each test on both):
who may, when a second approval is needed, the audit written once, alerts marked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.campaigns import ApproveCampaign, Audience, CampaignKind, CampaignStatus
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.schedule import Schedule, ScheduleError
from bot.services import campaigns as service
from storage.outbox import OutboxStore
from storage.store import SqlStore

CATALOGS = Catalogs()


async def member(
    store: SqlStore, clock: FixedClock, pid: str, role: Role = Role.MEMBER, locale: str = "en"
) -> Member:
    async with store.transaction() as tx:
        return await tx.members.create(
            NewMember(
                ChannelName.TELEGRAM, pid, pid, locale, "IQ", ["youth"], role, "1", clock.now()
            ),
            clock.now(),
        )


def draft(
    kind: CampaignKind = CampaignKind.CAMPAIGN, schedule: Schedule | None = None
) -> service.Draft:
    return service.Draft(
        kind=kind,
        texts={"en": "Workshop", "ar": "ورشة"},
        default_locale="en",
        audience=Audience(),
        schedule=schedule or Schedule("now"),
    )


async def actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [str(e["action"]) for e in await tx.audit_log.entries(limit=100)]


async def test_held_above_the_threshold_then_approved_by_another(
    store: SqlStore, clock: FixedClock
) -> None:
    author = await member(store, clock, "1", Role.COORDINATOR)
    other = await member(store, clock, "2", Role.COORDINATOR)
    for pid in ("3", "4"):
        await member(store, clock, pid)
    now = clock.now()
    async with store.transaction() as tx:
        held = await service.submit(
            tx, Actor.of(author), draft(), now, threshold=3, catalogs=CATALOGS
        )
    assert held.pending and not held.fired and held.recipients == 4
    # The approval request went to the other coordinator only, with a typed Approve button.
    notices = await OutboxStore(store).claim(now, 100)
    assert [n.chat_id for n in notices] == ["2"]
    assert notices[0].buttons[0]["payload"] == ApproveCampaign(held.campaign.id).pack()
    async with store.transaction() as tx:
        own = await service.approve(tx, Actor.of(author), held.campaign.id, now, catalogs=CATALOGS)
        assert own is service.Approval.OWN
        approved = await service.approve(
            tx, Actor.of(other), held.campaign.id, now, catalogs=CATALOGS
        )
        assert approved is service.Approval.SENDING
        again = await service.approve(
            tx, Actor.of(other), held.campaign.id, now, catalogs=CATALOGS
        )
        assert again is service.Approval.NOT_WAITING
        progress = await tx.campaigns.progress(held.campaign.id)
    assert progress.total == 4
    assert (await actions(store)).count("campaign.approved") == 1
    assert (await actions(store)).count("campaign.created") == 1


async def test_the_command_line_follows_the_same_rule_and_alerts_are_never_held(
    store: SqlStore, clock: FixedClock
) -> None:
    for pid in ("1", "2", "3"):
        await member(store, clock, pid, locale="ar" if pid == "1" else "en")
    now = clock.now()
    async with store.transaction() as tx:
        cli = await service.submit(tx, CLI, draft(), now, threshold=2, catalogs=CATALOGS)
        alert = await service.submit(
            tx, CLI, draft(CampaignKind.ALERT), now, threshold=2, catalogs=CATALOGS
        )
    assert cli.pending and alert.fired
    items = await OutboxStore(store).claim(now, 100)
    marks = {CATALOGS.get(loc)(service.ALERT_MARK) for loc in ("en", "ar")}
    assert len(items) == 3 and all(i.text.split("\n")[0] in marks for i in items)
    assert {i.text.split("\n", 1)[1] for i in items} == {"Workshop", "ورشة"}
    async with store.transaction() as tx:
        stored = await tx.campaigns.get(alert.campaign.id)
    assert stored is not None and stored.texts == {"en": "Workshop", "ar": "ورشة"}, "as written"


async def test_members_may_not_and_nobody_or_the_past_creates_nothing(
    store: SqlStore, clock: FixedClock
) -> None:
    plain = await member(store, clock, "1")
    now = clock.now()
    async with store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await service.submit(tx, Actor.of(plain), draft(), now, threshold=9, catalogs=CATALOGS)
        with pytest.raises(NotAllowed):
            await service.cancel(tx, Actor.of(plain), 1, now)
        nobody = service.Draft(
            kind=CampaignKind.CAMPAIGN,
            texts={"en": "x"},
            default_locale="en",
            audience=Audience(countries=("ZZ",)),
            schedule=Schedule("now"),
        )
        with pytest.raises(service.NobodyMatches):
            await service.submit(tx, CLI, nobody, now, threshold=9, catalogs=CATALOGS)
        past = draft(schedule=Schedule("at", run_at=now - timedelta(hours=1)))
        with pytest.raises(ScheduleError):
            await service.submit(tx, CLI, past, now, threshold=9, catalogs=CATALOGS)
        assert await tx.campaigns.find() == []


async def test_scheduled_fires_once_when_due_and_cancel_stops_the_rest(
    store: SqlStore, clock: FixedClock
) -> None:
    for pid in ("1", "2"):
        await member(store, clock, pid)
    now = clock.now()
    later = Schedule("at", run_at=now + timedelta(hours=2))
    async with store.transaction() as tx:
        made = await service.submit(
            tx, CLI, draft(schedule=later), now, threshold=9, catalogs=CATALOGS
        )
        shown = await service.show(tx, CLI, made.campaign.id)
    assert shown is not None and not made.fired
    text = service.progress_text(CATALOGS.get("en"), shown.campaign, shown.progress, now)
    assert text.startswith("Scheduled for") and "Sent" not in text
    assert await service.fire_due(store, CATALOGS, now) == []
    due = now + timedelta(hours=2, minutes=1)
    assert [r[2] for r in await service.fire_due(store, CATALOGS, due)] == [2]
    assert await service.fire_due(store, CATALOGS, due) == [], "an occurrence fires once"
    async with store.transaction() as tx:
        cancelled = await service.cancel(tx, CLI, made.campaign.id, due)
        assert cancelled == service.Cancelled(sent=0, stopped=2)
        assert await service.cancel(tx, CLI, made.campaign.id, due) is None
        found = await tx.campaigns.get(made.campaign.id)
    assert found is not None and found.status is CampaignStatus.CANCELLED
