"""Campaign queries: audiences, creation, firing an occurrence into the outbox, progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Integer,
    Select,
    String,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from bot.core.campaigns import (
    PRIORITY,
    Audience,
    Campaign,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
    Progress,
)
from bot.core.models import MemberStatus
from bot.core.outbox import OutboxStatus
from storage.connection import SqlConnection
from storage.tables import (
    campaign_t,
    member_t,
    occurrence_t,
    outbox_source_t,
    outbox_t,
    sphere_t,
)

CHUNK = 500


def audience_query(audience: Audience) -> Select[Any]:
    """Active members matching the audience (paused and unreachable ones never match)."""
    query = select(member_t.c.id, member_t.c.locale, member_t.c.channel).where(
        member_t.c.status == MemberStatus.ACTIVE.value
    )
    if audience.countries:
        query = query.where(member_t.c.country.in_(audience.countries))
    if audience.locales:
        query = query.where(member_t.c.locale.in_(audience.locales))
    if audience.roles:
        query = query.where(member_t.c.role.in_(audience.roles))
    if audience.exclude:
        query = query.where(member_t.c.id.not_in(audience.exclude))
    if audience.spheres:
        query = query.where(
            exists().where(
                sphere_t.c.member_id == member_t.c.id, sphere_t.c.sphere.in_(audience.spheres)
            )
        )
    return query


class CampaignRepository:
    """Campaign reads and writes inside one transaction."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    async def audience_by_locale(self, audience: Audience) -> dict[str, int]:
        """How many members would receive it, per language."""
        sub = audience_query(audience).subquery()
        rows = await self.conn.execute(
            select(sub.c.locale, func.count()).group_by(sub.c.locale).order_by(sub.c.locale)
        )
        return {locale: int(n) for locale, n in rows}

    async def create(self, new: NewCampaign, now: datetime) -> Campaign:
        result = await self.conn.execute(
            insert(campaign_t)
            .values(
                kind=new.kind.value,
                status=new.status.value,
                title=new.title[:120],
                default_locale=new.default_locale,
                texts=new.texts,
                buttons=[{"labels": b.labels, "payload": b.payload} for b in new.buttons],
                audience=new.audience.to_json(),
                schedule=new.schedule,
                run_at=new.run_at,
                cron=new.cron,
                timezone=new.timezone,
                priority=PRIORITY[new.kind],
                created_by=new.created_by,
                created_at=now,
                template_name=new.template_name,
                template_language=new.template_language,
                source_update_id=new.source_update_id,
            )
            .returning(campaign_t.c.id)
        )
        campaign = await self.get(result.scalar_one())
        assert campaign is not None
        return campaign

    async def get(self, campaign_id: int) -> Campaign | None:
        row = (
            await self.conn.execute(select(campaign_t).where(campaign_t.c.id == campaign_id))
        ).first()
        return _campaign(row) if row else None

    async def find(
        self, statuses: Sequence[CampaignStatus] = (), limit: int = 50
    ) -> list[Campaign]:
        """The newest campaigns, optionally only those in `statuses`."""
        query = select(campaign_t).order_by(campaign_t.c.id.desc()).limit(limit)
        if statuses:
            query = query.where(campaign_t.c.status.in_([s.value for s in statuses]))
        return [_campaign(row) for row in await self.conn.execute(query)]

    async def last_fired(self, campaign_id: int) -> datetime | None:
        """The scheduled time of the latest occurrence (its firing time for a one-off)."""
        row = (
            await self.conn.execute(
                select(occurrence_t.c.key, occurrence_t.c.fired_at)
                .where(occurrence_t.c.campaign_id == campaign_id)
                .order_by(occurrence_t.c.fired_at.desc(), occurrence_t.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        try:
            return datetime.fromisoformat(row.key)
        except ValueError:
            fired_at: datetime = row.fired_at
            return fired_at

    async def set_status(
        self,
        campaign_id: int,
        status: CampaignStatus,
        now: datetime,
        *,
        approved_by: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value}
        if status is CampaignStatus.CANCELLED:
            values["cancelled_at"] = now
        if approved_by is not None:
            values["approved_by"], values["approved_at"] = approved_by, now
        await self.conn.execute(
            update(campaign_t).where(campaign_t.c.id == campaign_id).values(**values)
        )

    async def cancel(self, campaign_id: int, now: datetime) -> int:
        """Cancel the campaign and every message not yet handed to the platform."""
        await self.set_status(campaign_id, CampaignStatus.CANCELLED, now)
        result = await self.conn.execute(
            update(outbox_t)
            .where(
                outbox_t.c.campaign_id == campaign_id,
                outbox_t.c.status.in_([OutboxStatus.PENDING, OutboxStatus.CLAIMED]),
            )
            .values(
                status=OutboxStatus.CANCELLED, last_error="campaign cancelled", text="", buttons=[]
            )
        )
        return result.rowcount

    async def fire(
        self,
        campaign: Campaign,
        key: str,
        now: datetime,
        *,
        progress_channel: str | None = None,
        progress_chat: str | None = None,
        progress_locale: str | None = None,
    ) -> tuple[int, int] | None:
        """Write one outbox row per recipient for occurrence `key`, in this transaction.

        Returns (occurrence id, recipients), or None when this occurrence was already fired.
        """
        inserted = await self.conn.execute(
            self._upsert(occurrence_t)
            .values(
                campaign_id=campaign.id,
                key=key,
                fired_at=now,
                progress_channel=progress_channel,
                progress_chat=progress_chat,
                progress_locale=progress_locale,
            )
            .on_conflict_do_nothing()
            .returning(occurrence_t.c.id)
        )
        occurrence_id = inserted.scalar_one_or_none()
        if occurrence_id is None:
            return None
        recipients = await self._enqueue_audience(campaign, key, occurrence_id, now)
        await self._set_recipients(occurrence_id, recipients)
        if campaign.schedule != "cron":
            await self.set_status(campaign.id, CampaignStatus.SENT, now)
        return occurrence_id, recipients

    async def _enqueue_audience(
        self, campaign: Campaign, key: str, occurrence_id: int, now: datetime
    ) -> int:
        """One outbox row per recipient, written by the database in one INSERT … SELECT.

        Nothing per member passes through Python, so memory stays flat whatever the audience
        size. Her text and buttons are chosen by a CASE over the audience's few languages,
        each resolved by the campaign's own fallbacks (`text_for`, `labels_for`).
        """
        audience = audience_query(campaign.audience).subquery()
        # Both statements read the whole audience: in a thread on SQLite (on the loop, they
        # would stall every other task for their whole length); awaited on PostgreSQL.
        locales = await self.conn.run_sync(_column, select(audience.c.locale).distinct())
        if not locales:
            return 0
        locale = member_t.c.locale
        text_type = outbox_t.c.text.type
        buttons_type = outbox_t.c.buttons.type

        def buttons(loc: str) -> list[dict[str, str]]:
            return [
                {"label": label, "payload": payload} for label, payload in campaign.labels_for(loc)
            ]

        last, *others = sorted(locales)
        text: Any = literal(campaign.text_for(last), text_type)
        button_value: Any = literal(buttons(last), buttons_type)
        if others:
            text = case(
                *((locale == loc, literal(campaign.text_for(loc), text_type)) for loc in others),
                else_=text,
            )
            if campaign.buttons:
                button_value = case(
                    *((locale == loc, literal(buttons(loc), buttons_type)) for loc in others),
                    else_=button_value,
                )
        when = outbox_t.c.created_at.type
        source = (
            audience_query(campaign.audience)
            .with_only_columns(
                literal(f"{campaign.id}:{key}:", outbox_t.c.idempotency_key.type)
                + cast(member_t.c.id, String),
                literal(campaign.id, Integer),
                literal(occurrence_id, Integer),
                member_t.c.id,
                member_t.c.channel,
                literal(PRIORITY[campaign.kind], Integer),
                text,
                button_value,
                literal(OutboxStatus.PENDING, outbox_t.c.status.type),
                literal(0, Integer),
                literal(now, when),
                literal(now, when),
            )
            .order_by(member_t.c.id)
        )
        statement = insert(outbox_t).from_select(
            [
                "idempotency_key",
                "campaign_id",
                "occurrence_id",
                "member_id",
                "channel",
                "priority",
                "text",
                "buttons",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            source,
        )
        return await self.conn.run_sync(_rowcount, statement)

    async def _set_recipients(self, occurrence_id: int, recipients: int) -> None:
        await self.conn.execute(
            update(occurrence_t)
            .where(occurrence_t.c.id == occurrence_id)
            .values(recipients=recipients)
        )

    async def fire_personal(
        self,
        campaign: Campaign,
        key: str,
        now: datetime,
        messages: Sequence[tuple[int, str, str]],
        sources: Mapping[int, Sequence[int]] | None = None,
        buttons: Mapping[int, Sequence[tuple[str, str]]] | None = None,
    ) -> tuple[int, int] | None:
        """Like `fire`, but with a text of its own for each (member id, channel, text).

        `sources`: for each member id, the field updates her text quotes (a digest), recorded
        so that the row goes when one of them does (storage/erasure.py). `buttons`: for each
        member id, (label, payload) pairs under her text.
        """
        inserted = await self.conn.execute(
            self._upsert(occurrence_t)
            .values(campaign_id=campaign.id, key=key, fired_at=now)
            .on_conflict_do_nothing()
            .returning(occurrence_t.c.id)
        )
        occurrence_id = inserted.scalar_one_or_none()
        if occurrence_id is None:
            return None
        rows: list[tuple[int, str, str, list[tuple[str, str]]]] = [
            (member_id, channel, text, list((buttons or {}).get(member_id, ())))
            for member_id, channel, text in messages
        ]
        await self._enqueue(campaign, key, occurrence_id, rows, now)
        if sources:
            await self._link_sources(occurrence_id, sources)
        await self.set_status(campaign.id, CampaignStatus.SENT, now)
        return occurrence_id, len(rows)

    async def _link_sources(
        self, occurrence_id: int, sources: Mapping[int, Sequence[int]]
    ) -> None:
        enqueued = await self.conn.execute(
            select(outbox_t.c.id, outbox_t.c.member_id).where(
                outbox_t.c.occurrence_id == occurrence_id
            )
        )
        links = [
            {"outbox_id": outbox_id, "update_id": update_id}
            for outbox_id, member_id in enqueued
            for update_id in sorted(set(sources.get(member_id, ())))
        ]
        for start in range(0, len(links), CHUNK):
            await self.conn.execute(insert(outbox_source_t), links[start : start + CHUNK])

    async def _enqueue(
        self,
        campaign: Campaign,
        key: str,
        occurrence_id: int,
        messages: Sequence[tuple[int, str, str, list[tuple[str, str]]]],
        now: datetime,
    ) -> None:
        """One outbox row per (member id, channel, text, buttons), with idempotency keys."""
        priority = PRIORITY[campaign.kind]

        def row(member_id: int, channel: str, text: str, buttons: list[tuple[str, str]]) -> Any:
            return {
                "idempotency_key": f"{campaign.id}:{key}:{member_id}",
                "campaign_id": campaign.id,
                "occurrence_id": occurrence_id,
                "member_id": member_id,
                "channel": channel,
                "priority": priority,
                "text": text,
                "buttons": [{"label": label, "payload": payload} for label, payload in buttons],
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }

        for start in range(0, len(messages), CHUNK):
            chunk = [row(*message) for message in messages[start : start + CHUNK]]
            await self.conn.execute(insert(outbox_t), chunk)
        await self._set_recipients(occurrence_id, len(messages))

    async def progress(self, campaign_id: int, occurrence_id: int | None = None) -> Progress:
        query = select(outbox_t.c.status, func.count()).group_by(outbox_t.c.status)
        if occurrence_id is not None:
            query = query.where(outbox_t.c.occurrence_id == occurrence_id)
        else:
            query = query.where(outbox_t.c.campaign_id == campaign_id)
        counts = {status: int(n) for status, n in await self.conn.execute(query)}
        return Progress(
            total=sum(counts.values()),
            sent=counts.get(OutboxStatus.SENT, 0),
            failed=counts.get(OutboxStatus.FAILED, 0),
            unreachable=counts.get(OutboxStatus.UNREACHABLE, 0),
            skipped=counts.get(OutboxStatus.SKIPPED, 0),
            cancelled=counts.get(OutboxStatus.CANCELLED, 0),
            needs_template=counts.get(OutboxStatus.NEEDS_TEMPLATE, 0),
            uncertain=counts.get(OutboxStatus.UNCERTAIN, 0),
        )

    async def failure_reasons(self, campaign_id: int) -> dict[str, int]:
        rows = await self.conn.execute(
            select(outbox_t.c.last_error, func.count())
            .where(
                outbox_t.c.campaign_id == campaign_id,
                outbox_t.c.status.in_(
                    [
                        OutboxStatus.FAILED,
                        OutboxStatus.UNREACHABLE,
                        OutboxStatus.NEEDS_TEMPLATE,
                        OutboxStatus.UNCERTAIN,
                    ]
                ),
            )
            .group_by(outbox_t.c.last_error)
        )
        return {str(reason): int(n) for reason, n in rows}


def _column(connection: Connection, statement: Select[Any]) -> list[Any]:
    return list(connection.execute(statement).scalars())


def _rowcount(connection: Connection, statement: Executable) -> int:
    return int(connection.execute(statement).rowcount)


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        kind=CampaignKind(row.kind),
        status=CampaignStatus(row.status),
        title=row.title,
        default_locale=row.default_locale,
        texts=dict(row.texts),
        audience=Audience.from_json(row.audience),
        schedule=row.schedule,
        run_at=row.run_at,
        cron=row.cron,
        timezone=row.timezone,
        created_at=row.created_at,
        created_by=row.created_by,
        approved_by=row.approved_by,
        buttons=[CampaignButton(dict(b["labels"]), b["payload"]) for b in row.buttons],
        template_name=row.template_name,
        template_language=row.template_language,
    )
