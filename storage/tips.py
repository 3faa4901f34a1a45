"""Tip queries: browse by sphere with language fallback, ratings, drafts, content load/export."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, delete, func, insert, select, update

from bot.core.tips import (
    RateOutcome,
    Ratings,
    TipDefinition,
    TipText,
    TipView,
    UpsertOutcome,
    pick_locale,
)
from storage.connection import SqlConnection
from storage.tables import tip_rating_t, tip_sphere_t, tip_t, tip_text_t

DRAFT_SLUG = "update-{id}"


class TipRepository:
    """Tip reads and writes inside one transaction."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    # -- browsing -----------------------------------------------------------------------------

    async def published_ids(self, sphere: str | None = None) -> list[int]:
        statement = select(tip_t.c.id).where(tip_t.c.published.is_(True)).order_by(tip_t.c.id)
        if sphere is not None:
            statement = statement.join(tip_sphere_t, tip_sphere_t.c.tip_id == tip_t.c.id).where(
                tip_sphere_t.c.sphere == sphere
            )
        return list((await self.conn.execute(statement)).scalars())

    async def page(
        self, sphere: str | None, index: int, locale: str, second: str | None = None
    ) -> TipView | None:
        ids = await self.published_ids(sphere)
        if not 0 <= index < len(ids):
            return None
        return await self._view(
            ids[index], locale, published_only=True, place=(index, len(ids)), second=second
        )

    async def view(
        self,
        tip_id: int,
        locale: str,
        *,
        published_only: bool = True,
        second: str | None = None,
    ) -> TipView | None:
        return await self._view(
            tip_id, locale, published_only=published_only, place=None, second=second
        )

    async def _view(
        self,
        tip_id: int,
        locale: str,
        *,
        published_only: bool,
        place: tuple[int, int] | None,
        second: str | None = None,
    ) -> TipView | None:
        row = (await self.conn.execute(select(tip_t).where(tip_t.c.id == tip_id))).first()
        if row is None or (published_only and not row.published):
            return None
        texts = await self._texts([tip_id])
        spheres = await self._spheres([tip_id])
        return _view(row, texts[tip_id], spheres[tip_id], locale, place, second)

    # Inspection for the storage tests (no port: nothing in Wasl needs it).
    async def counts_by_sphere(self) -> dict[str, int]:
        rows = await self.conn.execute(
            select(tip_sphere_t.c.sphere, func.count())
            .join(tip_t, tip_t.c.id == tip_sphere_t.c.tip_id)
            .where(tip_t.c.published.is_(True))
            .group_by(tip_sphere_t.c.sphere)
        )
        return {sphere: count for sphere, count in rows}

    # -- ratings ------------------------------------------------------------------------------

    async def rate(self, tip_id: int, member_id: int, helpful: bool, now: datetime) -> RateOutcome:
        where = (tip_rating_t.c.tip_id == tip_id, tip_rating_t.c.member_id == member_id)
        before = (
            await self.conn.execute(select(tip_rating_t.c.helpful).where(*where))
        ).scalar_one_or_none()
        if before is not None and bool(before) == helpful:
            return RateOutcome.SAME
        values = {"helpful": helpful, "at": now}
        # An upsert, so two taps racing on two workers still leave one vote.
        statement = self._upsert(tip_rating_t).values(tip_id=tip_id, member_id=member_id, **values)
        await self.conn.execute(
            statement.on_conflict_do_update(index_elements=["tip_id", "member_id"], set_=values)
        )
        return RateOutcome.RECORDED if before is None else RateOutcome.CHANGED

    # Inspection for the tests (no port: members' votes are never shown to anyone).
    async def ratings(self, tip_ids: Sequence[int] | None = None) -> dict[int, Ratings]:
        helpful = func.sum(case((tip_rating_t.c.helpful.is_(True), 1), else_=0))
        statement = select(tip_rating_t.c.tip_id, helpful, func.count()).group_by(
            tip_rating_t.c.tip_id
        )
        if tip_ids is not None:
            statement = statement.where(tip_rating_t.c.tip_id.in_(list(tip_ids)))
        rows = await self.conn.execute(statement)
        return {
            tip_id: Ratings(helpful=int(yes), not_helpful=int(total) - int(yes))
            for tip_id, yes, total in rows
        }

    # -- drafts -------------------------------------------------------------------------------

    async def drafts(self, locale: str, limit: int = 50) -> list[TipView]:
        rows = list(
            await self.conn.execute(
                select(tip_t).where(tip_t.c.published.is_(False)).order_by(tip_t.c.id).limit(limit)
            )
        )
        ids = [row.id for row in rows]
        texts, spheres = await self._texts(ids), await self._spheres(ids)
        return [
            _view(row, texts[row.id], spheres[row.id], locale, (i, len(rows)))
            for i, row in enumerate(rows)
        ]

    async def publish(self, tip_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(tip_t)
            .where(tip_t.c.id == tip_id, tip_t.c.published.is_(False))
            .values(published=True, updated_at=now)
        )
        return result.rowcount == 1

    async def create_draft(
        self,
        *,
        update_id: int,
        locale: str,
        text: TipText,
        spheres: Sequence[str],
        now: datetime,
    ) -> int:
        slug = DRAFT_SLUG.format(id=update_id)
        existing = await self._id_for(slug)
        if existing is not None:
            return existing
        definition = TipDefinition(
            slug=slug,
            default_locale=locale,
            spheres=tuple(spheres),
            texts={locale: text},
            published=False,
            from_update_id=update_id,
        )
        return await self._insert(definition.normalised(), now)

    # -- content load and export --------------------------------------------------------------

    async def upsert(self, definition: TipDefinition, now: datetime) -> tuple[int, UpsertOutcome]:
        wanted = definition.normalised()
        tip_id = await self._id_for(wanted.slug)
        if tip_id is None:
            return await self._insert(wanted, now), UpsertOutcome.CREATED
        current = (await self._definitions([tip_id]))[0]
        if _same_content(current, wanted):
            return tip_id, UpsertOutcome.UNCHANGED
        values: dict[str, Any] = {
            "default_locale": wanted.default_locale,
            "source": wanted.source,
            "published": wanted.published,
            "updated_at": now,
        }
        if wanted.from_update_id is not None:
            values["from_update_id"] = wanted.from_update_id
        await self.conn.execute(update(tip_t).where(tip_t.c.id == tip_id).values(**values))
        await self.conn.execute(delete(tip_sphere_t).where(tip_sphere_t.c.tip_id == tip_id))
        await self.conn.execute(delete(tip_text_t).where(tip_text_t.c.tip_id == tip_id))
        await self._insert_children(tip_id, wanted)
        return tip_id, UpsertOutcome.UPDATED

    async def export(self) -> list[TipDefinition]:
        ids = list((await self.conn.execute(select(tip_t.c.id).order_by(tip_t.c.id))).scalars())
        return await self._definitions(ids)

    # -- helpers ------------------------------------------------------------------------------

    async def _id_for(self, slug: str) -> int | None:
        found: int | None = (
            await self.conn.execute(select(tip_t.c.id).where(tip_t.c.slug == slug))
        ).scalar_one_or_none()
        return found

    async def _insert(self, definition: TipDefinition, now: datetime) -> int:
        result = await self.conn.execute(
            insert(tip_t)
            .values(
                slug=definition.slug,
                default_locale=definition.default_locale,
                source=definition.source,
                published=definition.published,
                from_update_id=definition.from_update_id,
                created_at=now,
                updated_at=now,
            )
            .returning(tip_t.c.id)
        )
        tip_id: int = result.scalar_one()
        await self._insert_children(tip_id, definition)
        return tip_id

    async def _insert_children(self, tip_id: int, definition: TipDefinition) -> None:
        if definition.spheres:
            await self.conn.execute(
                insert(tip_sphere_t),
                [{"tip_id": tip_id, "sphere": sphere} for sphere in definition.spheres],
            )
        if definition.texts:
            await self.conn.execute(
                insert(tip_text_t),
                [
                    {"tip_id": tip_id, "locale": locale, "title": text.title, "body": text.body}
                    for locale, text in definition.texts.items()
                ],
            )

    async def _texts(self, ids: Sequence[int]) -> dict[int, dict[str, TipText]]:
        found: dict[int, dict[str, TipText]] = defaultdict(dict)
        if ids:
            rows = await self.conn.execute(
                select(tip_text_t).where(tip_text_t.c.tip_id.in_(list(ids)))
            )
            for row in rows:
                found[row.tip_id][row.locale] = TipText(title=row.title, body=row.body)
        return found

    async def _spheres(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = defaultdict(list)
        if ids:
            rows = await self.conn.execute(
                select(tip_sphere_t.c.tip_id, tip_sphere_t.c.sphere)
                .where(tip_sphere_t.c.tip_id.in_(list(ids)))
                .order_by(tip_sphere_t.c.sphere)
            )
            for tip_id, sphere in rows:
                found[tip_id].append(sphere)
        return defaultdict(tuple, {tip_id: tuple(s) for tip_id, s in found.items()})

    async def _definitions(self, ids: Sequence[int]) -> list[TipDefinition]:
        if not ids:
            return []
        rows = {
            row.id: row
            for row in await self.conn.execute(select(tip_t).where(tip_t.c.id.in_(list(ids))))
        }
        texts, spheres = await self._texts(ids), await self._spheres(ids)
        return [
            TipDefinition(
                slug=rows[i].slug,
                default_locale=rows[i].default_locale,
                spheres=spheres[i],
                texts=dict(sorted(texts[i].items())),
                source=rows[i].source,
                published=bool(rows[i].published),
                from_update_id=rows[i].from_update_id,
            )
            for i in ids
            if i in rows
        ]


def _same_content(current: TipDefinition, wanted: TipDefinition) -> bool:
    """True when loading `wanted` would change nothing (the update link is not content)."""
    return (
        current.default_locale == wanted.default_locale
        and current.spheres == wanted.spheres
        and dict(current.texts) == dict(wanted.texts)
        and current.source == wanted.source
        and current.published == wanted.published
        and (wanted.from_update_id is None or current.from_update_id == wanted.from_update_id)
    )


def _view(
    row: Row[Any],
    texts: dict[str, TipText],
    spheres: tuple[str, ...],
    locale: str,
    place: tuple[int, int] | None,
    second: str | None = None,
) -> TipView:
    shown = pick_locale(sorted(texts), locale, row.default_locale, second)
    text = texts[shown] if shown is not None else TipText(title=row.slug, body="")
    position, total = (place[0] + 1, place[1]) if place is not None else (0, 0)
    return TipView(
        id=row.id,
        slug=row.slug,
        title=text.title,
        body=text.body,
        locale=shown or locale,
        fell_back=shown is not None and shown != locale,
        source=row.source,
        published=bool(row.published),
        spheres=spheres,
        from_update_id=row.from_update_id,
        position=position,
        total=total,
    )
