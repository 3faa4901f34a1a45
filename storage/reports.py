"""Report aggregates, computed in SQL with GROUP BY: counts per group leave the database, rows
never do. Disclosure control is applied to these counts by bot/reports/disclosure.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select, update

from bot.core.models import MemberStatus
from bot.core.reports import (
    AnswerCount,
    Breakdown,
    CalendarPeriod,
    DeliveryCount,
    MemberCount,
    ResultRecipient,
    UpdateCount,
)
from storage.connection import SqlConnection
from storage.tables import (
    campaign_t,
    count_t,
    member_t,
    outbox_t,
    participation_t,
    sphere_t,
    survey_t,
    tally_t,
    text_t,
)

# A member's spheres as bits, inside one membership query only (never stored): one GROUP BY
# per set of spheres instead of one row per member.
SPHERE_BITS = {
    code: 1 << bit
    for bit, code in enumerate(
        ("youth", "pluralism", "religion", "rights", "vaw", "narratives", "media", "advocacy")
    )
}

# The counters' dimension for each breakdown a survey can be counted by (none for time: survey
# results are released once, for the whole survey).
SURVEY_DIMENSIONS = {
    Breakdown.NONE: "none",
    Breakdown.COUNTRY: "country",
    Breakdown.SPHERE: "sphere",
    Breakdown.LANGUAGE: "language",
    Breakdown.CHANNEL: "channel",
    Breakdown.AGE: "age",
    Breakdown.GENDER: "gender",
}


def _month(week: Any) -> ColumnElement[str]:
    """The month ("2026-11") a week belongs to: the one its Monday is in."""
    return func.substr(week, 1, 7)


def _text(row: Any, name: str) -> str:
    """A grouping column's value; "" when absent (no breakdown, or the value was not given)."""
    value = row._mapping.get(name)
    return "" if value is None else str(value)


class ReportRepository:
    """Aggregate reads for reports inside one transaction."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    # -- surveys ------------------------------------------------------------------------------

    async def survey_counts(self, survey_id: int, by: Breakdown) -> list[AnswerCount]:
        """The survey's counters for one breakdown (its declared ones only; a group too small
        to count was never written, so it is absent, not zero). A number question's answers
        come as ranges: option "#2" is the third range, as number_bins in
        bot/services/reports.py has it."""
        dimension = SURVEY_DIMENSIONS.get(by)
        if dimension is None:
            return []
        c = count_t.c
        rows = await self.conn.execute(
            select(c.question, c.answer, c.value, c.count).where(
                c.survey_id == survey_id, c.dimension == dimension, c.question != ""
            )
        )
        return [
            AnswerCount(
                r.question,
                r.answer,
                float(r.answer) if r.answer.isdigit() else None,
                "" if by is Breakdown.NONE else str(r.value),
                int(r[3]),
            )
            for r in rows
        ]

    async def survey_responses(self, survey_id: int) -> int:
        """Respondents counted in the survey's overall results."""
        result = await self.conn.execute(
            select(func.coalesce(func.sum(count_t.c.count), 0)).where(
                count_t.c.survey_id == survey_id,
                count_t.c.question == "",
                count_t.c.dimension == "none",
            )
        )
        return int(result.scalar_one())

    async def survey_headcounts(self, survey_id: int, by: Breakdown) -> dict[str, int]:
        """Respondents per group of a breakdown (groups counted with at least k only)."""
        dimension = SURVEY_DIMENSIONS.get(by)
        if dimension is None:
            return {}
        rows = await self.conn.execute(
            select(count_t.c.value, count_t.c.count).where(
                count_t.c.survey_id == survey_id,
                count_t.c.question == "",
                count_t.c.dimension == dimension,
            )
        )
        return {str(v): int(n) for v, n in rows}

    # Inspection for the privacy tests (no port: reports read crosstabs as breakdowns).
    async def survey_crosstab(self, survey_id: int, first: str, second: str) -> list[AnswerCount]:
        """A declared crosstab: `second`'s answers counted per answer to `first` (the group),
        from respondents counted with at least k sharing that answer; headcounts have
        question ""."""
        c = count_t.c
        rows = await self.conn.execute(
            select(c.question, c.answer, c.value, c.count).where(
                c.survey_id == survey_id, c.dimension == f"x:{first}:{second}"
            )
        )
        return [AnswerCount(r.question, r.answer, None, str(r.value), int(r[3])) for r in rows]

    # Inspection for the privacy tests (no port: free-text answers are never reported).
    async def survey_texts(self, survey_id: int, k: int) -> list[tuple[str, str]]:
        """(question, text) of the free-text answers, only once the survey has k respondents;
        in no order that follows arrival (sorted by question and text)."""
        if await self.survey_responses(survey_id) < k:
            return []
        rows = await self.conn.execute(
            select(text_t.c.question, text_t.c.text)
            .where(text_t.c.survey_id == survey_id)
            .order_by(text_t.c.question, text_t.c.text)
        )
        return [(str(q), str(t)) for q, t in rows]

    async def closed_surveys(self, limit: int = 8) -> list[tuple[int, str]]:
        answered = exists().where(count_t.c.survey_id == survey_t.c.id)
        rows = await self.conn.execute(
            select(survey_t.c.id, survey_t.c.slug)
            .where(survey_t.c.closed_at.is_not(None), answered)
            .order_by(survey_t.c.closed_at.desc(), survey_t.c.id.desc())
            .limit(limit)
        )
        return [(int(r.id), str(r.slug)) for r in rows]

    # -- field updates (from the anonymous tallies, which outlive the updates) ----------------

    async def update_counts(self, period: CalendarPeriod) -> list[UpdateCount]:
        t = tally_t.c
        query = select(t.country, t.sphere, t.week, t.urgent, t.count.label("n"), t.key_sum).where(
            t.week < period.end.isoformat(), t.count > 0
        )
        if period.first_week is not None:
            query = query.where(t.week >= period.first_week)
        rows = await self.conn.execute(query)
        return [
            UpdateCount(r.country, r.sphere, r.week, bool(r.urgent), int(r.n), int(r.key_sum))
            for r in rows
        ]

    # -- membership ---------------------------------------------------------------------------

    async def membership_counts(self, period: CalendarPeriod) -> list[MemberCount]:
        """Active members who joined in the period, counted per country, language, channel
        and set of spheres (bits) in one GROUP BY over a per-member subquery."""
        m = member_t.c
        bits = func.coalesce(
            func.sum(
                case(
                    *((sphere_t.c.sphere == code, bit) for code, bit in SPHERE_BITS.items()),
                    else_=0,
                )
            ),
            0,
        )
        joined = m.joined_at < period.end_at
        if period.start_at is not None:
            joined = and_(joined, m.joined_at >= period.start_at)
        per_member = (
            select(m.id, m.country, m.locale, m.channel, m.record_key, bits.label("bits"))
            .select_from(member_t.outerjoin(sphere_t, sphere_t.c.member_id == m.id))
            .where(m.status == MemberStatus.ACTIVE.value, joined)
            .group_by(m.id, m.country, m.locale, m.channel, m.record_key)
            .subquery()
        )
        p = per_member.c
        rows = await self.conn.execute(
            select(
                p.country,
                p.locale,
                p.channel,
                p.bits,
                func.count().label("n"),
                func.sum(p.record_key).label("key"),
            ).group_by(p.country, p.locale, p.channel, p.bits)
        )
        return [
            MemberCount(
                r.country or "",
                r.locale,
                r.channel,
                frozenset(code for code, bit in SPHERE_BITS.items() if int(r.bits) & bit),
                int(r.n),
                int(r.key or 0),
            )
            for r in rows
        ]

    # -- delivery -----------------------------------------------------------------------------

    async def delivery_counts(
        self, period: CalendarPeriod, limit: int = 20
    ) -> list[DeliveryCount]:
        c = campaign_t.c
        created = c.created_at < period.end_at
        if period.start_at is not None:
            created = and_(created, c.created_at >= period.start_at)
        recent = select(c.id).where(created).order_by(c.id.desc()).limit(limit).subquery()
        reason = func.coalesce(outbox_t.c.last_error, "").label("reason")
        rows = await self.conn.execute(
            select(
                c.id,
                c.kind,
                c.title,
                outbox_t.c.status,
                reason,
                func.count().label("n"),
                func.sum(member_t.c.record_key).label("key"),
            )
            .select_from(
                campaign_t.join(outbox_t, outbox_t.c.campaign_id == c.id).join(
                    member_t, member_t.c.id == outbox_t.c.member_id
                )
            )
            .where(c.id.in_(select(recent.c.id)))
            .group_by(c.id, c.kind, c.title, outbox_t.c.status, reason)
            .order_by(c.id.desc())
        )
        return [
            DeliveryCount(r.id, r.kind, r.title, r.status, r.reason, int(r.n), int(r.key or 0))
            for r in rows
        ]

    # -- closing the loop ---------------------------------------------------------------------

    async def results_due(self) -> list[int]:
        rows = await self.conn.execute(
            select(survey_t.c.id)
            .where(survey_t.c.closed_at.is_not(None), survey_t.c.results_sent_at.is_(None))
            .order_by(survey_t.c.id)
        )
        return [int(i) for i in rows.scalars()]

    async def results_recipients(self, survey_id: int) -> list[ResultRecipient]:
        m = member_t.c
        rows = await self.conn.execute(
            select(m.id, m.channel, m.locale, m.country)
            .select_from(member_t.join(participation_t, participation_t.c.member_id == m.id))
            .where(
                participation_t.c.survey_id == survey_id,
                participation_t.c.results_opt_in.is_(True),
                m.status == MemberStatus.ACTIVE.value,
            )
            .order_by(m.id)
        )
        return [ResultRecipient(r.id, r.channel, r.locale, r.country) for r in rows]

    async def mark_results_sent(self, survey_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(survey_t).where(survey_t.c.id == survey_id).values(results_sent_at=now)
        )
