"""Field update queries: submit with tallies, the moderation queue, digests, retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, not_, or_, select, update

from bot.core.clock import week_of
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import MemberStatus
from bot.core.reports import ALL_SPHERES, record_key
from bot.core.updates import FieldUpdate, Recipient, UpdateStatus
from storage.connection import SqlConnection
from storage.erasure import erase_copies
from storage.tables import member_t, sphere_t, tally_t, update_row_t, update_sphere_t


class UpdateRepository:
    """Field update reads and writes inside one transaction."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    async def submit(
        self,
        *,
        author_id: int,
        country: str,
        locale: str,
        urgent: bool,
        text: str | None,
        media_kind: MediaKind | None,
        media_ref: str | None,
        keep_if_shared: bool,
        spheres: Sequence[str],
        now: datetime,
        quotable: bool = False,
    ) -> int:
        result = await self.conn.execute(
            insert(update_row_t)
            .values(
                author_id=author_id,
                country=country,
                locale=locale,
                urgent=urgent,
                text=text,
                media_kind=media_kind.value if media_kind else None,
                media_ref=media_ref,
                keep_if_shared=keep_if_shared,
                quotable=quotable,
                status=UpdateStatus.NEW.value,
                created_at=now,
            )
            .returning(update_row_t.c.id)
        )
        update_id: int = result.scalar_one()
        unique = sorted(set(spheres))
        if unique:
            await self.conn.execute(
                insert(update_sphere_t), [{"update_id": update_id, "sphere": s} for s in unique]
            )
        week = week_of(now)
        # One random record key per update, added to each tally it counts in: reports turn the
        # sums into cell keys (cell-key method). "*" counts the update once, for totals.
        key = record_key()
        for sphere in [ALL_SPHERES, *unique]:
            statement = self._upsert(tally_t).values(
                country=country, sphere=sphere, week=week, urgent=urgent, count=1, key_sum=key
            )
            await self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["country", "sphere", "week", "urgent"],
                    set_={"count": tally_t.c.count + 1, "key_sum": tally_t.c.key_sum + key},
                )
            )
        return update_id

    async def get(self, update_id: int) -> FieldUpdate | None:
        row = (
            await self.conn.execute(select(update_row_t).where(update_row_t.c.id == update_id))
        ).first()
        return (await self._with_spheres([row]))[0] if row else None

    async def _with_spheres(self, rows: Sequence[Any]) -> list[FieldUpdate]:
        ids = [r.id for r in rows]
        spheres: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            found = await self.conn.execute(
                select(update_sphere_t.c.update_id, update_sphere_t.c.sphere)
                .where(update_sphere_t.c.update_id.in_(ids))
                .order_by(update_sphere_t.c.sphere)
            )
            for update_id, sphere in found:
                spheres[update_id].append(sphere)
        return [
            FieldUpdate(
                id=r.id,
                author_id=r.author_id,
                country=r.country,
                locale=r.locale,
                urgent=r.urgent,
                text=r.text,
                media_kind=MediaKind(r.media_kind) if r.media_kind else None,
                media_ref=r.media_ref,
                keep_if_shared=r.keep_if_shared,
                status=UpdateStatus(r.status),
                created_at=r.created_at,
                spheres=spheres[r.id],
                quotable=r.quotable,
            )
            for r in rows
        ]

    def _queue(self, countries: Sequence[str] | None) -> Any:
        condition = update_row_t.c.status == UpdateStatus.NEW.value
        if countries is not None:
            condition = and_(condition, update_row_t.c.country.in_(countries))
        return condition

    async def next_to_moderate(
        self, countries: Sequence[str] | None, after_id: int = 0
    ) -> FieldUpdate | None:
        base = self._queue(countries)
        # Urgent first, then oldest. The one after `after_id` in that order (from the urgent
        # band on to the routine one), then from the start again.
        band = case((update_row_t.c.urgent, 0), else_=1)
        after: Any = update_row_t.c.id > after_id
        if after_id:
            urgent = (
                await self.conn.execute(
                    select(update_row_t.c.urgent).where(update_row_t.c.id == after_id)
                )
            ).scalar()
            if urgent is not None:
                after_band = 0 if urgent else 1
                after = or_(band > after_band, and_(band == after_band, after))
        row = (
            await self.conn.execute(
                select(update_row_t).where(base, after).order_by(band, update_row_t.c.id).limit(1)
            )
        ).first()
        if row is None and after_id:
            row = (
                await self.conn.execute(
                    select(update_row_t)
                    .where(base)
                    .order_by(case((update_row_t.c.urgent, 0), else_=1), update_row_t.c.id)
                    .limit(1)
                )
            ).first()
        return (await self._with_spheres([row]))[0] if row else None

    async def queue_size(self, countries: Sequence[str] | None) -> int:
        result = await self.conn.execute(
            select(func.count()).select_from(update_row_t).where(self._queue(countries))
        )
        return int(result.scalar_one())

    async def moderate(
        self, update_id: int, status: UpdateStatus, moderator_id: int, now: datetime
    ) -> bool:
        result = await self.conn.execute(
            update(update_row_t)
            .where(
                update_row_t.c.id == update_id,
                update_row_t.c.status == UpdateStatus.NEW.value,
            )
            .values(status=status.value, moderated_by=moderator_id, moderated_at=now)
        )
        return result.rowcount == 1

    async def to_share(self) -> list[FieldUpdate]:
        rows = (
            await self.conn.execute(
                select(update_row_t)
                .where(
                    update_row_t.c.status == UpdateStatus.APPROVED.value,
                    update_row_t.c.shared_at.is_(None),
                    update_row_t.c.text.is_not(None),
                )
                .order_by(update_row_t.c.id)
            )
        ).all()
        return await self._with_spheres(rows)

    async def mark_shared(self, update_ids: Sequence[int], now: datetime) -> None:
        if update_ids:
            await self.conn.execute(
                update(update_row_t)
                .where(update_row_t.c.id.in_(list(update_ids)))
                .values(shared_at=now)
            )

    async def quotes(
        self, country: str, first: datetime | None, end: datetime, limit: int
    ) -> list[FieldUpdate]:
        condition = and_(
            update_row_t.c.country == country,
            update_row_t.c.status == UpdateStatus.APPROVED.value,
            update_row_t.c.quotable.is_(True),
            update_row_t.c.text.is_not(None),
            update_row_t.c.created_at < end,
        )
        if first is not None:
            condition = and_(condition, update_row_t.c.created_at >= first)
        rows = (
            await self.conn.execute(
                select(update_row_t)
                .where(condition)
                .order_by(update_row_t.c.created_at.desc(), update_row_t.c.id.desc())
                .limit(limit)
            )
        ).all()
        return await self._with_spheres(rows)

    async def digest_recipients(self) -> list[Recipient]:
        members = (
            await self.conn.execute(
                select(member_t.c.id, member_t.c.channel, member_t.c.locale, member_t.c.country)
                .where(member_t.c.status == MemberStatus.ACTIVE.value)
                .order_by(member_t.c.id)
            )
        ).all()
        spheres: dict[int, list[str]] = {}
        for member_id, sphere in await self.conn.execute(
            select(sphere_t.c.member_id, sphere_t.c.sphere)
        ):
            spheres.setdefault(member_id, []).append(sphere)
        return [
            Recipient(
                m.id,
                ChannelName(m.channel),
                m.locale,
                m.country,
                tuple(sorted(spheres.get(m.id, []))),
            )
            for m in members
        ]

    async def expire(self, before: datetime) -> int:
        kept = and_(
            update_row_t.c.status == UpdateStatus.APPROVED.value,
            update_row_t.c.keep_if_shared.is_(True),
        )
        old = update_row_t.c.created_at < before
        # Copies go for every old update: the notice of a kept one named her (its `exclude`),
        # and nothing is waiting to be sent with words this old.
        expiring = select(update_row_t.c.id).where(
            old, or_(update_row_t.c.author_id.is_not(None), not_(kept))
        )
        ids = list((await self.conn.execute(expiring)).scalars())
        await erase_copies(self.conn, ids, published_tips=False)
        await self.conn.execute(
            update(update_row_t).where(old, kept).values(author_id=None, media_ref=None)
        )
        result = await self.conn.execute(delete(update_row_t).where(old, not_(kept)))
        return result.rowcount
