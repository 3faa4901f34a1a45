"""Who does what where and introductions: the `Peers` port on SQL (bot/core/peers.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update

from bot.core.models import MemberStatus
from bot.core.peers import (
    Introduction,
    IntroStatus,
    Listed,
    NewIntroduction,
    Profile,
    SphereCount,
)
from storage.connection import SqlConnection
from storage.tables import (
    campaign_t,
    introduction_notice_t,
    introduction_t,
    member_t,
    peer_line_t,
    peer_profile_t,
    sphere_t,
)

ENDED = (
    IntroStatus.INTRODUCED.value,
    IntroStatus.DECLINED.value,
    IntroStatus.WITHDRAWN.value,
    IntroStatus.EXPIRED.value,
)


class PeerRepository:
    """Her entry, the listing of a sphere, introductions and the messages about them."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    async def profile(self, member_id: int) -> Profile | None:
        found = (
            await self.conn.execute(
                select(peer_profile_t.c.open).where(peer_profile_t.c.member_id == member_id)
            )
        ).first()
        if found is None:
            return None
        lines = await self.conn.execute(
            select(peer_line_t.c.sphere, peer_line_t.c.line).where(
                peer_line_t.c.member_id == member_id
            )
        )
        return Profile(member_id, bool(found.open), {r.sphere: r.line for r in lines})

    async def save_line(
        self, member_id: int, sphere: str, line: str, open_: bool, now: datetime
    ) -> None:
        await self.conn.execute(
            self._upsert(peer_profile_t)
            .values(member_id=member_id, open=open_, updated_at=now)
            .on_conflict_do_update(
                index_elements=[peer_profile_t.c.member_id],
                set_={"open": open_, "updated_at": now},
            )
        )
        await self.conn.execute(
            self._upsert(peer_line_t)
            .values(member_id=member_id, sphere=sphere, line=line)
            .on_conflict_do_update(
                index_elements=[peer_line_t.c.member_id, peer_line_t.c.sphere],
                set_={"line": line},
            )
        )

    async def remove_line(self, member_id: int, sphere: str) -> bool:
        removed = await self.conn.execute(
            delete(peer_line_t).where(
                peer_line_t.c.member_id == member_id, peer_line_t.c.sphere == sphere
            )
        )
        left = (
            await self.conn.execute(
                select(func.count())
                .select_from(peer_line_t)
                .where(peer_line_t.c.member_id == member_id)
            )
        ).scalar_one()
        if not left:  # nothing to list her by: her entry goes too
            await self.conn.execute(
                delete(peer_profile_t).where(peer_profile_t.c.member_id == member_id)
            )
        return bool(removed.rowcount)

    async def set_open(self, member_id: int, open_: bool) -> bool:
        result = await self.conn.execute(
            update(peer_profile_t)
            .where(peer_profile_t.c.member_id == member_id)
            .values(open=open_)
        )
        return bool(result.rowcount)

    async def listed(self, sphere: str) -> list[Listed]:
        rows = await self.conn.execute(
            select(member_t.c.id, member_t.c.country, peer_line_t.c.line)
            .select_from(
                peer_line_t.join(
                    peer_profile_t, peer_profile_t.c.member_id == peer_line_t.c.member_id
                ).join(member_t, member_t.c.id == peer_line_t.c.member_id)
            )
            .where(
                peer_line_t.c.sphere == sphere,
                peer_profile_t.c.open.is_(True),
                member_t.c.status != MemberStatus.UNREACHABLE.value,
            )
            .order_by(member_t.c.id)
        )
        return [Listed(r.id, r.country, r.line) for r in rows]

    async def create(self, new: NewIntroduction, now: datetime) -> Introduction:
        result = await self.conn.execute(
            insert(introduction_t)
            .values(
                sphere=new.sphere,
                requester_id=new.requester_id,
                peer_id=new.peer_id,
                status=IntroStatus.PENDING.value,
                requester_ok=new.requester_ok,
                peer_ok=False,
                suggested=new.suggested,
                requester_handle=new.requester_handle,
                created_at=now,
                expires_at=new.expires_at,
            )
            .returning(introduction_t.c.id)
        )
        intro = await self.get(result.scalar_one())
        assert intro is not None
        return intro

    async def get(self, intro_id: int) -> Introduction | None:
        row = (
            await self.conn.execute(select(introduction_t).where(introduction_t.c.id == intro_id))
        ).first()
        return _intro(row) if row else None

    async def save(self, intro: Introduction) -> None:
        await self.conn.execute(
            update(introduction_t)
            .where(introduction_t.c.id == intro.id)
            .values(
                status=intro.status.value,
                requester_ok=intro.requester_ok,
                peer_ok=intro.peer_ok,
                requester_handle=intro.requester_handle,
                peer_handle=intro.peer_handle,
                answered_at=intro.answered_at,
            )
        )

    async def of_member(self, member_id: int, now: datetime) -> list[Introduction]:
        rows = await self.conn.execute(
            select(introduction_t)
            .where(
                or_(
                    introduction_t.c.requester_id == member_id,
                    introduction_t.c.peer_id == member_id,
                ),
                introduction_t.c.status == IntroStatus.PENDING.value,
                introduction_t.c.expires_at > now,
            )
            .order_by(introduction_t.c.id)
        )
        return [_intro(r) for r in rows]

    async def requested_since(self, member_id: int, since: datetime) -> int:
        return int(
            (
                await self.conn.execute(
                    select(func.count())
                    .select_from(introduction_t)
                    .where(
                        introduction_t.c.requester_id == member_id,
                        introduction_t.c.suggested.is_(False),
                        introduction_t.c.created_at >= since,
                    )
                )
            ).scalar_one()
        )

    async def between(self, a: int, b: int, sphere: str) -> list[Introduction]:
        rows = await self.conn.execute(
            select(introduction_t)
            .where(
                introduction_t.c.sphere == sphere,
                or_(
                    and_(introduction_t.c.requester_id == a, introduction_t.c.peer_id == b),
                    and_(introduction_t.c.requester_id == b, introduction_t.c.peer_id == a),
                ),
            )
            .order_by(introduction_t.c.id.desc())
        )
        return [_intro(r) for r in rows]

    async def sphere_counts(self, sphere: str, joined_before: datetime) -> list[SphereCount]:
        m = member_t.c
        rows = await self.conn.execute(
            select(m.country, func.count().label("n"), func.sum(m.record_key).label("key"))
            .select_from(member_t.join(sphere_t, sphere_t.c.member_id == m.id))
            .where(
                sphere_t.c.sphere == sphere,
                m.status == MemberStatus.ACTIVE.value,
                m.joined_at < joined_before,
            )
            .group_by(m.country)
        )
        return [SphereCount(r.country, int(r.n), int(r.key or 0)) for r in rows]

    async def link_notice(self, intro_id: int, campaign_id: int) -> None:
        await self.conn.execute(
            insert(introduction_notice_t).values(introduction_id=intro_id, campaign_id=campaign_id)
        )

    async def forget_ended(self, before: datetime, now: datetime) -> int:
        """The handles of requests expired by `now` are blanked; introductions over
        (answered, withdrawn or expired) before `before` go, with the messages about them."""
        await self.conn.execute(
            update(introduction_t)
            .where(
                introduction_t.c.expires_at <= now,
                or_(
                    introduction_t.c.requester_handle.is_not(None),
                    introduction_t.c.peer_handle.is_not(None),
                ),
            )
            .values(requester_handle=None, peer_handle=None)
        )
        ended = or_(
            and_(introduction_t.c.status.in_(ENDED), introduction_t.c.answered_at < before),
            introduction_t.c.expires_at < before,
        )
        ids = list((await self.conn.execute(select(introduction_t.c.id).where(ended))).scalars())
        return await self._delete(ids)

    async def erase_member(self, member_id: int) -> dict[str, int]:
        """/forget: her entry, every introduction she is in (either side) and the messages
        about them, sent or waiting (the other person's copy of her line and handle too)."""
        ids = list(
            (
                await self.conn.execute(
                    select(introduction_t.c.id).where(
                        or_(
                            introduction_t.c.requester_id == member_id,
                            introduction_t.c.peer_id == member_id,
                        )
                    )
                )
            ).scalars()
        )
        lines = await self.conn.execute(
            delete(peer_line_t).where(peer_line_t.c.member_id == member_id)
        )
        profile = await self.conn.execute(
            delete(peer_profile_t).where(peer_profile_t.c.member_id == member_id)
        )
        return {
            "peer_line": lines.rowcount,
            "peer_profile": profile.rowcount,
            "introduction": await self._delete(ids),
        }

    async def _delete(self, ids: list[int]) -> int:
        if not ids:
            return 0
        campaigns = select(introduction_notice_t.c.campaign_id).where(
            introduction_notice_t.c.introduction_id.in_(ids)
        )
        # The campaign rows of its messages take their outbox rows with them (cascade).
        await self.conn.execute(
            delete(campaign_t).where(campaign_t.c.id.in_(campaigns.scalar_subquery()))
        )
        result = await self.conn.execute(
            delete(introduction_t).where(introduction_t.c.id.in_(ids))
        )
        return int(result.rowcount)


def _intro(row: Row[Any]) -> Introduction:
    return Introduction(
        id=row.id,
        sphere=row.sphere,
        requester_id=row.requester_id,
        peer_id=row.peer_id,
        status=IntroStatus(row.status),
        requester_ok=bool(row.requester_ok),
        peer_ok=bool(row.peer_ok),
        suggested=bool(row.suggested),
        created_at=row.created_at,
        expires_at=row.expires_at,
        requester_handle=row.requester_handle,
        peer_handle=row.peer_handle,
        answered_at=row.answered_at,
    )
