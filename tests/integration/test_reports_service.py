"""The reports service on SQLite and PostgreSQL: its role checks, its single audit entry per
operation, and what it suggests when a report would show nothing."""

from __future__ import annotations

import pytest

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.reports import Breakdown, CalendarPeriod, PeriodKind, Subject
from bot.services import reports
from bot.services.reports import Ask, Limits, Remedy, ReportError
from storage.store import SqlStore
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
