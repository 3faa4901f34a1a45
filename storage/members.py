"""Members: her row and spheres, what is kept about her (/mydata) and her erasure (/forget)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, or_, select, update

from bot.core.messages import ChannelName
from bot.core.models import Member, MemberStatus, NewMember, Role
from bot.core.outbox import OutboxStatus
from bot.core.ports import ErasureReport, KeptAbout, MemberSummary
from bot.core.reports import record_key
from storage.connection import SqlConnection
from storage.erasure import erase_copies, forget_member_id
from storage.peers import PeerRepository
from storage.tables import (
    audit_t,
    dashboard_link_t,
    id_counter_t,
    introduction_t,
    invite_t,
    member_t,
    message_t,
    occurrence_t,
    outbox_t,
    participation_t,
    peer_line_t,
    sphere_t,
    state_t,
    tip_rating_t,
    update_row_t,
)

ERASED = "erased"

# Her spheres, in the same query as her row (one statement for the member on every update).
_SEP = "\x1f"
_SPHERES = (
    select(func.aggregate_strings(sphere_t.c.sphere, _SEP))
    .where(sphere_t.c.member_id == member_t.c.id)
    .scalar_subquery()
    .label("spheres")
)
_MEMBER_BY_PLATFORM_ID = select(member_t, _SPHERES).where(
    member_t.c.channel == bindparam("channel"), member_t.c.platform_id == bindparam("platform_id")
)
_MEMBER_BY_ID = select(member_t, _SPHERES).where(member_t.c.id == bindparam("member_id"))


MANY = 1000  # platform ids per IN list


class MemberRepository:
    """The `Members` port on SQL."""

    def __init__(self, conn: SqlConnection, upsert: Any, *, sqlite: bool) -> None:
        self.conn = conn
        self._upsert = upsert
        self._sqlite = sqlite

    async def get(self, channel: ChannelName, platform_id: str) -> Member | None:
        row = (
            await self.conn.execute(
                _MEMBER_BY_PLATFORM_ID, {"channel": channel.value, "platform_id": platform_id}
            )
        ).first()
        return _member(row) if row else None

    async def by_id(self, member_id: int) -> Member | None:
        row = (await self.conn.execute(_MEMBER_BY_ID, {"member_id": member_id})).first()
        return _member(row) if row else None

    async def create(self, new: NewMember, now: datetime) -> Member:
        given = {"id": await self._next_member_id()} if self._sqlite else {}
        result = await self.conn.execute(
            insert(member_t)
            .values(
                **given,
                channel=new.channel.value,
                platform_id=new.platform_id,
                chat_id=new.chat_id,
                locale=new.locale,
                country=new.country,
                role=new.role.value,
                status=MemberStatus.ACTIVE.value,
                consent_version=new.consent_version,
                consented_at=new.consented_at,
                joined_at=now,
                last_seen_at=now,
                record_key=record_key(),
                second_locale=new.second_locale,
            )
            .returning(member_t.c.id)
        )
        member_id = result.scalar_one()
        await self._set_spheres(member_id, new.spheres)
        member = await self.by_id(member_id)
        assert member is not None
        return member

    async def taken(self, channel: ChannelName, platform_ids: Sequence[str]) -> set[str]:
        """Which of these platform ids already belong to a member on `channel`."""
        found: set[str] = set()
        for start in range(0, len(platform_ids), MANY):
            rows = await self.conn.execute(
                select(member_t.c.platform_id).where(
                    member_t.c.channel == channel.value,
                    member_t.c.platform_id.in_(platform_ids[start : start + MANY]),
                )
            )
            found.update(pid for (pid,) in rows)
        return found

    async def create_many(self, news: Sequence[NewMember], now: datetime) -> list[int]:
        """Like `create` for each, in a few statements whatever their number (a demo seed).

        Returns their ids, in order.
        """
        if not news:
            return []
        rows = [
            {
                "channel": new.channel.value,
                "platform_id": new.platform_id,
                "chat_id": new.chat_id,
                "locale": new.locale,
                "country": new.country,
                "role": new.role.value,
                "status": MemberStatus.ACTIVE.value,
                "consent_version": new.consent_version,
                "consented_at": new.consented_at,
                "joined_at": now,
                "last_seen_at": now,
                "record_key": record_key(),
                "second_locale": new.second_locale,
            }
            for new in news
        ]
        if self._sqlite:
            first = await self._next_member_id(len(rows))
            ids = list(range(first, first + len(rows)))
            for member_id, row in zip(ids, rows, strict=True):
                row["id"] = member_id
            await self.conn.execute(insert(member_t), rows)
        else:
            result = await self.conn.execute(
                insert(member_t).returning(member_t.c.id, sort_by_parameter_order=True), rows
            )
            ids = [member_id for (member_id,) in result]
        spheres = [
            {"member_id": member_id, "sphere": sphere}
            for member_id, new in zip(ids, news, strict=True)
            for sphere in sorted(set(new.spheres))
        ]
        if spheres:
            await self.conn.execute(insert(sphere_t), spheres)
        return ids

    async def _next_member_id(self, count: int = 1) -> int:
        """SQLite gives a deleted highest id again: count past every id ever given instead, so
        a stale reference to an erased member can never point to someone new."""
        highest = (await self.conn.execute(select(func.max(member_t.c.id)))).scalar() or 0
        given = (
            await self.conn.execute(
                select(id_counter_t.c.last).where(id_counter_t.c.name == "member")
            )
        ).scalar() or 0
        next_id = max(highest, given) + 1
        last = next_id + count - 1  # `count` ids reserved at once
        statement = self._upsert(id_counter_t).values(name="member", last=last)
        await self.conn.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_={"last": last})
        )
        return next_id

    async def _set_spheres(self, member_id: int, spheres: Sequence[str]) -> None:
        await self.conn.execute(delete(sphere_t).where(sphere_t.c.member_id == member_id))
        if spheres:
            await self.conn.execute(
                insert(sphere_t), [{"member_id": member_id, "sphere": s} for s in set(spheres)]
            )

    async def save(self, member: Member, *, spheres_changed: bool = True) -> None:
        await self.conn.execute(
            update(member_t)
            .where(member_t.c.id == member.id)
            .values(
                locale=member.locale,
                country=member.country,
                role=member.role.value,
                status=member.status.value,
                timezone=member.timezone,
                second_locale=member.second_locale,
                chat_id=member.chat_id,
                last_seen_at=member.last_seen_at,
            )
        )
        if spheres_changed:
            await self._set_spheres(member.id, member.spheres)

    async def set_status(
        self, channel: ChannelName, platform_id: str, status: MemberStatus
    ) -> None:
        await self.conn.execute(
            update(member_t)
            .where(member_t.c.channel == channel.value, member_t.c.platform_id == platform_id)
            .values(status=status.value)
        )

    async def set_role(self, member_id: int, role: Role) -> None:
        await self.conn.execute(
            update(member_t).where(member_t.c.id == member_id).values(role=role.value)
        )

    async def summaries(
        self, *, role: Role | None = None, country: str | None = None, limit: int = 1000
    ) -> list[MemberSummary]:
        c = member_t.c
        query = select(
            c.id, c.channel, c.role, c.country, c.locale, c.status, c.joined_at
        ).order_by(c.id)
        if role is not None:
            query = query.where(c.role == role.value)
        if country is not None:
            query = query.where(c.country == country)
        rows = (await self.conn.execute(query.limit(limit))).all()
        return [
            MemberSummary(
                id=row.id,
                channel=ChannelName(row.channel),
                role=Role(row.role),
                country=row.country,
                locale=row.locale,
                status=MemberStatus(row.status),
                joined_at=row.joined_at,
            )
            for row in rows
        ]

    async def kept_about(self, member: Member, now: datetime) -> KeptAbout:
        """Everything kept that is hers, for /mydata (her profile is on `member`)."""
        updates = await self.conn.execute(
            select(update_row_t.c.created_at, update_row_t.c.status, update_row_t.c.quotable)
            .where(update_row_t.c.author_id == member.id)
            .order_by(update_row_t.c.created_at.desc(), update_row_t.c.id.desc())
        )
        surveys = await self.conn.execute(
            select(participation_t.c.survey_id, participation_t.c.status)
            .where(participation_t.c.member_id == member.id)
            .order_by(participation_t.c.survey_id)
        )

        async def count(table: Any, *where: Any) -> int:
            found = await self.conn.execute(select(func.count()).select_from(table).where(*where))
            return int(found.scalar_one())

        return KeptAbout(
            updates=[(at, status, bool(quotable)) for at, status, quotable in updates],
            surveys=[(survey_id, status) for survey_id, status in surveys],
            tips_rated=await count(tip_rating_t, tip_rating_t.c.member_id == member.id),
            invites_created=await count(invite_t, invite_t.c.created_by == f"member:{member.id}"),
            dashboard_links=await count(
                dashboard_link_t,
                dashboard_link_t.c.member_id == member.id,
                dashboard_link_t.c.expires_at > now,
            ),
            pending_messages=await count(
                outbox_t,
                outbox_t.c.member_id == member.id,
                outbox_t.c.status.not_in(sorted(OutboxStatus.DONE)),
            ),
            peer_lines=await count(peer_line_t, peer_line_t.c.member_id == member.id),
            introductions=await count(
                introduction_t,
                or_(
                    introduction_t.c.requester_id == member.id,
                    introduction_t.c.peer_id == member.id,
                ),
            ),
        )

    async def erase(self, member: Member) -> ErasureReport:
        counts: dict[str, int] = {}
        # Audit entries stay (accountability) but no longer point at her.
        for column in (audit_t.c.actor_member_id, audit_t.c.subject_member_id):
            result = await self.conn.execute(
                update(audit_t).where(column == member.id).values({column.name: None})
            )
            counts[f"audit_{column.name}"] = result.rowcount
        result = await self.conn.execute(
            update(audit_t).where(audit_t.c.actor == f"member:{member.id}").values(actor=ERASED)
        )
        counts["audit_actor"] = result.rowcount
        # Invitations she made still work for the people she sent them to.
        result = await self.conn.execute(
            update(invite_t)
            .where(invite_t.c.created_by == f"member:{member.id}")
            .values(created_by=ERASED)
        )
        counts["invite_created_by"] = result.rowcount
        # A campaign she watched keeps going, but no longer reports progress to her chat.
        result = await self.conn.execute(
            update(occurrence_t)
            .where(
                occurrence_t.c.progress_channel == member.channel.value,
                occurrence_t.c.progress_chat == member.chat_id,
            )
            .values(
                progress_channel=None,
                progress_chat=None,
                progress_message_id=None,
                progress_locale=None,
            )
        )
        counts["campaign_progress"] = result.rowcount
        # Her updates, and every copy of their words (notices, digests, tip drafts).
        her_updates = list(
            (
                await self.conn.execute(
                    select(update_row_t.c.id).where(update_row_t.c.author_id == member.id)
                )
            ).scalars()
        )
        copies = await erase_copies(self.conn, her_updates, published_tips=True)
        counts.update({f"copies_{kind}": n for kind, n in copies.items()})
        # Her entry in who-does-what-where and every introduction she is in, either side,
        # with the messages about them (the other person's copy of her line and handle too).
        peers = await PeerRepository(self.conn, self._upsert).erase_member(member.id)
        counts.update({f"peers_{kind}": n for kind, n in peers.items()})
        # No audience may keep her id: a list of ids left out would be a list of who she was.
        counts["audience_exclude"] = await forget_member_id(self.conn, member.id)
        for name, statement in (
            (
                "chat_message",
                delete(message_t).where(
                    message_t.c.channel == member.channel.value,
                    message_t.c.chat_id == member.chat_id,
                ),
            ),
            (
                # replies written to her chat before she joined (those after name her row)
                "reply_outbox",
                delete(outbox_t).where(
                    outbox_t.c.channel == member.channel.value,
                    outbox_t.c.chat_id == member.chat_id,
                ),
            ),
            (
                "conversation_state",
                delete(state_t).where(
                    state_t.c.channel == member.channel.value, state_t.c.chat_id == member.chat_id
                ),
            ),
            (
                "field_update",
                delete(update_row_t).where(update_row_t.c.author_id == member.id),
            ),
            ("member_sphere", delete(sphere_t).where(sphere_t.c.member_id == member.id)),
            (
                "dashboard_link",
                delete(dashboard_link_t).where(dashboard_link_t.c.member_id == member.id),
            ),
            ("member", delete(member_t).where(member_t.c.id == member.id)),
        ):
            counts[name] = (await self.conn.execute(statement)).rowcount
        return ErasureReport(counts)


def _member(row: Row[Any]) -> Member:
    return Member(
        id=row.id,
        channel=ChannelName(row.channel),
        platform_id=row.platform_id,
        chat_id=row.chat_id,
        locale=row.locale,
        country=row.country,
        spheres=sorted(row.spheres.split(_SEP)) if row.spheres else [],
        role=Role(row.role),
        status=MemberStatus(row.status),
        consent_version=row.consent_version,
        consented_at=row.consented_at,
        joined_at=row.joined_at,
        last_seen_at=row.last_seen_at,
        timezone=row.timezone,
        second_locale=row.second_locale,
    )
