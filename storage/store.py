"""The unit of work: one short transaction per update, SQLAlchemy Core statements on hot paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.messages import ChannelName, Outbound, ReplyAttempt
from bot.core.models import (
    ConversationState,
    Invite,
    Member,
    MemberStatus,
    NewMember,
    Role,
)
from bot.core.ports import ErasureReport, KeptAbout, MemberSummary
from bot.core.reports import record_key
from bot.delivery.policy import OutboxStatus
from storage.campaigns import CampaignRepository
from storage.connection import InlineConnection, SqlConnection
from storage.engine import inline_engine
from storage.erasure import erase_copies, forget_member_id
from storage.replies import ReplyRepository
from storage.reports import ReportRepository
from storage.surveys import SurveyRepository
from storage.tables import (
    audit_t,
    dashboard_link_t,
    id_counter_t,
    invite_t,
    member_t,
    message_t,
    occurrence_t,
    outbox_t,
    participation_t,
    sphere_t,
    state_t,
    tip_rating_t,
    update_row_t,
    update_t,
)
from storage.tips import TipRepository
from storage.updates import UpdateRepository

ERASED = "erased"


class NestedTransactionError(RuntimeError):
    """`store.transaction()` was opened inside another transaction of the same store."""


class _Open:
    """Marks a transaction open in the current task (and in tasks it starts meanwhile)."""

    __slots__ = ("active", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.active = True


_open: ContextVar[_Open | None] = ContextVar("wasl_open_transaction", default=None)


class SqlStore:
    """Opens transactions on an engine (SQLite or PostgreSQL).

    On SQLite a transaction runs its statements inline on the event loop (storage/connection.py)
    and holds `_lock` from start to end, so there is only ever one writer in this process: a
    transaction that awaits something real (a thread, the network) makes the others wait on the
    lock, never on SQLite's busy wait. `engine` stays the async engine, for migrations and for
    reads elsewhere (/healthz, tests), which WAL lets run beside the writer.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._inline = inline_engine(engine)
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None  # one, as there is one transaction at a time
        # True when this process runs one transaction at a time (SQLite): the others queue.
        self.serialised = self._inline is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Commit when the block ends, roll back if it raises (like `engine.begin()`)."""
        outer = _open.get()
        if outer is not None and outer.active and outer.store is self:
            raise NestedTransactionError(
                "store.transaction() opened inside another transaction of the same store; "
                "use the outer transaction (nesting would deadlock on SQLite)"
            )
        marker = _Open(self)
        token = _open.set(marker)
        try:
            if self._inline is None:
                async with self.engine.begin() as connection:
                    yield SqlTransaction(connection, self._insert)
            else:
                async with self._lock:
                    if self._connection is None:
                        self._connection = self._inline.connect()
                    with self._connection.begin():
                        yield SqlTransaction(InlineConnection(self._connection), self._insert)
        finally:
            marker.active = False
            _open.reset(token)

    async def scrub(self) -> None:
        """After an erasure: on SQLite, copy the WAL into the file and truncate it, so what was
        deleted (overwritten with zeros by `secure_delete`) leaves the WAL too. PostgreSQL
        needs no call here: VACUUM reclaims dead rows (the privacy notes say when)."""
        if self.engine.dialect.name != "sqlite":
            return
        if self._inline is None:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql(_CHECKPOINT)
            return
        async with self._lock:
            if self._connection is None:
                self._connection = self._inline.connect()
            with self._connection.begin():
                self._connection.exec_driver_sql(_CHECKPOINT)

    async def close(self) -> None:
        if self._inline is not None:
            async with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                self._inline.dispose()
        await self.engine.dispose()


_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"


class SqlTransaction:
    """Everything done here commits together when the `transaction()` block ends cleanly."""

    def __init__(self, connection: SqlConnection, insert_for_dialect: Any) -> None:
        self.conn = connection
        self._upsert = insert_for_dialect
        self._sqlite = insert_for_dialect is sqlite.insert
        self._hot = _hot_statements(insert_for_dialect)
        self.campaigns = CampaignRepository(connection, insert_for_dialect)
        self.tips = TipRepository(connection, insert_for_dialect)
        self.updates = UpdateRepository(connection, insert_for_dialect)
        self.surveys = SurveyRepository(connection, insert_for_dialect)
        self.reports = ReportRepository(connection, insert_for_dialect)
        self.replies = ReplyRepository(connection)

    # -- redelivery ---------------------------------------------------------------------------

    async def claim_update(self, channel: ChannelName, update_id: str, now: datetime) -> bool:
        result = await self.conn.execute(
            self._hot.claim_update,
            {"channel": channel.value, "update_id": update_id, "processed_at": now},
        )
        return result.rowcount == 1

    async def forget_processed_updates(self, before: datetime) -> int:
        result = await self.conn.execute(delete(update_t).where(update_t.c.processed_at < before))
        return result.rowcount

    # -- members ------------------------------------------------------------------------------

    async def get_member(self, channel: ChannelName, platform_id: str) -> Member | None:
        row = (
            await self.conn.execute(
                _MEMBER_BY_PLATFORM_ID, {"channel": channel.value, "platform_id": platform_id}
            )
        ).first()
        return _member(row) if row else None

    async def get_member_by_id(self, member_id: int) -> Member | None:
        row = (await self.conn.execute(_MEMBER_BY_ID, {"member_id": member_id})).first()
        return _member(row) if row else None

    async def create_member(self, new: NewMember, now: datetime) -> Member:
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
            )
            .returning(member_t.c.id)
        )
        member_id = result.scalar_one()
        await self._set_spheres(member_id, new.spheres)
        member = await self.get_member_by_id(member_id)
        assert member is not None
        return member

    async def _next_member_id(self) -> int:
        """SQLite gives a deleted highest id again: count past every id ever given instead, so
        a stale reference to an erased member can never point to someone new."""
        highest = (await self.conn.execute(select(func.max(member_t.c.id)))).scalar() or 0
        given = (
            await self.conn.execute(
                select(id_counter_t.c.last).where(id_counter_t.c.name == "member")
            )
        ).scalar() or 0
        next_id = max(highest, given) + 1
        statement = self._upsert(id_counter_t).values(name="member", last=next_id)
        await self.conn.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_={"last": next_id})
        )
        return next_id

    async def _set_spheres(self, member_id: int, spheres: Sequence[str]) -> None:
        await self.conn.execute(delete(sphere_t).where(sphere_t.c.member_id == member_id))
        if spheres:
            await self.conn.execute(
                insert(sphere_t), [{"member_id": member_id, "sphere": s} for s in set(spheres)]
            )

    async def save_member(self, member: Member, *, spheres_changed: bool = True) -> None:
        await self.conn.execute(
            update(member_t)
            .where(member_t.c.id == member.id)
            .values(
                locale=member.locale,
                country=member.country,
                role=member.role.value,
                status=member.status.value,
                timezone=member.timezone,
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

    async def list_members(
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
            select(update_row_t.c.created_at, update_row_t.c.status)
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
            updates=[(at, status) for at, status in updates],
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
        )

    async def erase_member(self, member: Member) -> ErasureReport:
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

    # -- conversation state -------------------------------------------------------------------

    async def load_state(self, channel: ChannelName, chat_id: str) -> ConversationState:
        row = (
            await self.conn.execute(_STATE, {"channel": channel.value, "chat_id": chat_id})
        ).first()
        if row is None:
            return ConversationState()
        data = dict(row.data or {})
        menu = data.pop(_MENU_KEY, [])
        return ConversationState(flow=row.flow, step=row.step, data=data, menu=list(menu))

    async def save_state(
        self, channel: ChannelName, chat_id: str, state: ConversationState, now: datetime
    ) -> None:
        key = {"channel": channel.value, "chat_id": chat_id}
        if state.flow is None and not state.data and not state.menu:
            dropped = await self.conn.execute(_DROP_STATE, key)
            if dropped.rowcount == 0:  # survey answers of hers wait in it to be counted
                await self.conn.execute(
                    _EMPTY_STATE, {"b_channel": channel.value, "b_chat": chat_id}
                )
            return
        data = {**state.data, _MENU_KEY: state.menu} if state.menu else state.data
        values = {"flow": state.flow, "step": state.step, "data": data, "updated_at": now}
        await self.conn.execute(self._hot.save_state, {**key, **values})

    async def forget_stale_states(self, before: datetime) -> int:
        result = await self.conn.execute(delete(state_t).where(state_t.c.updated_at < before))
        return result.rowcount

    # -- invites ------------------------------------------------------------------------------

    async def get_invite(self, code: str) -> Invite | None:
        row = (await self.conn.execute(select(invite_t).where(invite_t.c.code == code))).first()
        return _invite(row) if row is not None else None

    async def get_invite_by_id(self, invite_id: int) -> Invite | None:
        query = select(invite_t).where(invite_t.c.id == invite_id)
        row = (await self.conn.execute(query)).first()
        return _invite(row) if row is not None else None

    async def list_invites(self, created_by: str | None = None, limit: int = 100) -> list[Invite]:
        query = select(invite_t).order_by(invite_t.c.id.desc()).limit(limit)
        if created_by is not None:
            query = query.where(invite_t.c.created_by == created_by)
        return [_invite(row) for row in await self.conn.execute(query)]

    async def use_invite(self, invite_id: int, now: datetime | None = None) -> bool:
        usable = [invite_t.c.id == invite_id, invite_t.c.uses_left > 0]
        if now is not None:  # at the end of joining: not expired nor revoked meanwhile either
            usable += [
                invite_t.c.revoked_at.is_(None),
                invite_t.c.expires_at.is_(None) | (invite_t.c.expires_at > now),
            ]
        result = await self.conn.execute(
            update(invite_t).where(*usable).values(uses_left=invite_t.c.uses_left - 1)
        )
        return result.rowcount == 1

    async def revoke_invite(self, invite_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(invite_t)
            .where(invite_t.c.id == invite_id, invite_t.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    async def create_invite(
        self,
        *,
        code: str,
        role: Role,
        country: str | None,
        uses: int,
        expires_at: datetime | None,
        created_by: str,
        now: datetime,
    ) -> Invite:
        await self.conn.execute(
            insert(invite_t).values(
                code=code,
                role=role.value,
                country=country,
                uses_left=uses,
                expires_at=expires_at,
                created_at=now,
                created_by=created_by,
            )
        )
        invite = await self.get_invite(code)
        assert invite is not None
        return invite

    # -- audit --------------------------------------------------------------------------------

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        now: datetime,
        subject_member_id: int | None = None,
        actor_member_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            insert(audit_t).values(
                at=now,
                actor=actor,
                action=action,
                actor_member_id=actor_member_id,
                subject_member_id=subject_member_id,
                details=details or {},
            )
        )

    async def audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.conn.execute(select(audit_t).order_by(audit_t.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]

    # -- chat messages (for /wipe) ------------------------------------------------------------

    async def record_messages(
        self, channel: ChannelName, chat_id: str, message_ids: Sequence[str], now: datetime
    ) -> None:
        if message_ids:
            await self.conn.execute(
                insert(message_t),
                [
                    {"channel": channel.value, "chat_id": chat_id, "message_id": m, "at": now}
                    for m in message_ids
                ],
            )

    async def enqueue_replies(
        self,
        channel: ChannelName,
        chat_id: str,
        member_id: int | None,
        messages: Sequence[tuple[Outbound, str | None]],
        now: datetime,
    ) -> list[int]:
        return await self.replies.enqueue(channel, chat_id, member_id, messages, now)

    async def finish_replies(
        self,
        channel: ChannelName,
        chat_id: str,
        attempts: Sequence[ReplyAttempt],
        now: datetime,
        *,
        remember: bool,
    ) -> None:
        shown = await self.replies.finish(attempts, now)
        if remember and shown:
            await self.record_messages(channel, chat_id, shown, now)

    async def recent_messages(
        self, channel: ChannelName, chat_id: str, since: datetime
    ) -> list[str]:
        rows = await self.conn.execute(
            select(message_t.c.message_id)
            .where(
                message_t.c.channel == channel.value,
                message_t.c.chat_id == chat_id,
                message_t.c.at >= since,
            )
            .order_by(message_t.c.id)
        )
        return list(rows.scalars())

    async def forget_messages(self, channel: ChannelName, chat_id: str) -> int:
        result = await self.conn.execute(
            delete(message_t).where(
                message_t.c.channel == channel.value, message_t.c.chat_id == chat_id
            )
        )
        return result.rowcount

    async def forget_old_messages(self, before: datetime) -> int:
        result = await self.conn.execute(delete(message_t).where(message_t.c.at < before))
        return result.rowcount

    # -- dashboard links ----------------------------------------------------------------------

    async def create_dashboard_link(
        self, member_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        await self.conn.execute(
            insert(dashboard_link_t).values(
                token_hash=token_hash, member_id=member_id, created_at=now, expires_at=expires_at
            )
        )

    async def dashboard_member(self, token_hash: str, now: datetime) -> Member | None:
        member_id = (
            await self.conn.execute(
                select(dashboard_link_t.c.member_id).where(
                    dashboard_link_t.c.token_hash == token_hash,
                    dashboard_link_t.c.expires_at > now,
                )
            )
        ).scalar()
        return await self.get_member_by_id(member_id) if member_id is not None else None

    async def forget_expired_dashboard_links(self, now: datetime) -> int:
        result = await self.conn.execute(
            delete(dashboard_link_t).where(dashboard_link_t.c.expires_at <= now)
        )
        return result.rowcount


# Statements on every update's path, built once: building one costs SQLAlchemy several times
# what running it on SQLite does. Values come as parameters (bindparam, or a dict for INSERT).

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
_STATE_KEY = (state_t.c.channel == bindparam("channel"), state_t.c.chat_id == bindparam("chat_id"))
_STATE = select(state_t.c.flow, state_t.c.step, state_t.c.data).where(*_STATE_KEY)
_DROP_STATE = delete(state_t).where(*_STATE_KEY, state_t.c.survey_pending.is_(None))
_EMPTY_STATE = (
    update(state_t)
    .where(state_t.c.channel == bindparam("b_channel"), state_t.c.chat_id == bindparam("b_chat"))
    .values(flow=None, step=None, data={})
)
_MENU_KEY = "~menu"  # ConversationState.menu, stored beside the flow's data


class _HotStatements:
    """The dialect's upserts on every update's path."""

    def __init__(self, upsert: Any) -> None:
        self.claim_update = upsert(update_t).on_conflict_do_nothing()
        save = upsert(state_t)
        self.save_state = save.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={c: save.excluded[c] for c in ("flow", "step", "data", "updated_at")},
        )


_hot_by_dialect: dict[Any, _HotStatements] = {}


def _hot_statements(upsert: Any) -> _HotStatements:
    hot = _hot_by_dialect.get(upsert)
    if hot is None:
        hot = _hot_by_dialect[upsert] = _HotStatements(upsert)
    return hot


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
    )


def _invite(row: Row[Any]) -> Invite:
    return Invite(
        id=row.id,
        code=row.code,
        role=Role(row.role),
        country=row.country,
        uses_left=row.uses_left,
        expires_at=row.expires_at,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )
