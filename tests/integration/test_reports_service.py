"""The reports service on SQLite and PostgreSQL: its role checks, its single audit entry per
operation, and what it suggests when a report would show nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.campaigns import CampaignKind
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.reports import Breakdown, CalendarPeriod, PeriodKind, Subject
from bot.reports.render import render_csv
from bot.services import reports
from bot.services.notices import send_each
from bot.services.reports import Ask, Limits, Remedy, ReportError
from storage.store import SqlStore
from storage.tables import outbox_t
from tests.support.reports import seed_survey

LIMITS = Limits(k=5, secret=b"s" * 32)


async def someone(store: SqlStore, clock: FixedClock, user_id: str, role: Role) -> Member:
    now = clock.now()
    async with store.transaction() as tx:
        return await tx.members.create(
            NewMember(
                ChannelName.TELEGRAM, user_id, user_id, "en", "IQ", [], role, "2026-11", now
            ),
            now,
        )


async def audit_actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [str(e["action"]) for e in await tx.audit_log.entries(50)]


async def test_a_member_is_refused_and_the_secretariat_audited_once(
    store: SqlStore, clock: FixedClock
) -> None:
    _ = Catalogs().get("en")
    now = clock.now()
    survey = await seed_survey(store, now, {"IQ": 20, "SY": 12})
    member = await someone(store, clock, "1", Role.MEMBER)
    analyst = await someone(store, clock, "2", Role.SECRETARIAT)
    ask = Ask(Subject.SURVEY, Breakdown.COUNTRY, survey=survey)
    async with store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await reports.make_report(tx, Actor.of(member), ask, _, now, LIMITS)
        with pytest.raises(NotAllowed):
            await reports.open_dashboard(tx, Actor.of(member), now, LIMITS.secret)
    assert await audit_actions(store) == [], "a refused operation writes nothing"
    async with store.transaction() as tx:
        report = await reports.make_report(tx, Actor.of(analyst), ask, _, now, LIMITS)
        await reports.make_report(tx, CLI, ask, _, now, LIMITS, action="report.exported")
    assert report.reference == survey.slug
    async with store.transaction() as tx:
        entries = await tx.audit_log.entries(50)
    assert sorted(str(e["action"]) for e in entries) == ["report.exported", "report.sent"]
    sent = next(e for e in entries if e["action"] == "report.sent")
    assert sent["actor_member_id"] == analyst.id
    assert sent["details"]["by"] == "country" and sent["details"]["survey"] == survey.slug


async def test_nothing_to_show_suggests_only_what_can_help(
    store: SqlStore, clock: FixedClock
) -> None:
    _ = Catalogs().get("en")
    now = clock.now()
    tiny = await seed_survey(store, now, {"IQ": 2}, slug="tiny")
    month = CalendarPeriod.recent(PeriodKind.MONTH, now.date())[0]
    every = CalendarPeriod.recent(PeriodKind.ALL, now.date())[0]
    await someone(store, clock, "9", Role.MEMBER)  # joined now: in no complete period
    cases = [
        (Ask(Subject.SURVEY, Breakdown.COUNTRY, survey=tiny), Remedy.BREAKDOWN),
        (Ask(Subject.SURVEY, Breakdown.NONE, survey=tiny), Remedy.NOTHING),
        (Ask(Subject.MEMBERSHIP, Breakdown.NONE, period=month), Remedy.PERIOD),
        (Ask(Subject.MEMBERSHIP, Breakdown.NONE, period=every), Remedy.NOTHING),
    ]
    for ask, remedy in cases:
        async with store.transaction() as tx:
            with pytest.raises(ReportError) as refused:
                await reports.make_report(tx, CLI, ask, _, now, LIMITS)
        assert refused.value.remedy is remedy, ask
        if ask.by is Breakdown.NONE:
            assert "no breakdown" not in str(refused.value).lower(), "never her own choice"
    assert await audit_actions(store) == [], "no report, no audit entry"


async def test_the_delivery_report_speaks_her_language(store: SqlStore, clock: FixedClock) -> None:
    """Statuses, the campaigns Wasl made itself and the reasons Wasl wrote are in her
    language; a coordinator's title and a platform's own words are shown as written."""
    now = clock.now()
    people = [await someone(store, clock, str(n), Role.MEMBER) for n in range(12)]
    # (kind, title, the reason each of the 12 messages ends with, or None: sent)
    sends = [
        (CampaignKind.SURVEY, "survey pulse-2026", [None] * 6 + ["channel not configured"] * 6),
        (
            CampaignKind.REMINDER,
            "reminder pulse-2026",
            ["gave up after 5 attempts: timed out"] * 12,
        ),
        (
            CampaignKind.ALERT,
            "survey says: road closed",
            ["member paused"] * 6 + ["chat not found"] * 6,
        ),
    ]
    status_of = {
        "channel not configured": "failed",
        "gave up after 5 attempts: timed out": "failed",
        "member paused": "skipped",
        "chat not found": "unreachable",
    }
    async with store.transaction() as tx:
        for kind, title, reasons in sends:
            chosen = [p.id for p in people]
            await send_each(tx, kind, title, [(i, "telegram", "hi") for i in chosen], now)
            campaign_id = max(c.campaign_id for c in await tx.reports.delivery_counts(every(now)))
            for member_id, reason in zip(chosen, reasons, strict=True):
                status = status_of[reason] if reason else "sent"
                await tx.conn.execute(
                    update(outbox_t)
                    .where(
                        outbox_t.c.member_id == member_id, outbox_t.c.campaign_id == campaign_id
                    )
                    .values(status=status, last_error=reason)
                )
    _ = Catalogs().get("fr")
    async with store.transaction() as tx:
        report = await reports.delivery_report(tx, every(now), 5, _, now)
    campaigns, why = report.sections
    assert set(campaigns.column_labels) >= {"Envoyés", "Échoués", "Injoignables", "Non envoyés"}
    assert [label.split(" · ", 1)[1] for label in campaigns.row_labels] == [
        "Alerte\u00a0: survey says: road closed",  # a coordinator's title is never parsed
        "Rappel de sondage\u00a0: pulse-2026",
        "Invitation au sondage\u00a0: pulse-2026",
    ]
    assert sorted(why.row_labels) == [
        "abandon après 5 tentatives\u00a0: délai dépassé",
        "chat not found",  # Telegram's words
        "elle a suspendu les envois",
        "messagerie non configurée sur ce serveur",
    ]
    assert "failed" not in render_csv(report, _).decode("utf-8-sig")
    arabic = Catalogs().get("ar")
    assert reports.group_label(arabic, Breakdown.CHANNEL, "console") == arabic("terminal")


def every(now: datetime) -> CalendarPeriod:
    return CalendarPeriod.all_time(now.date() + timedelta(weeks=1))  # this week included
