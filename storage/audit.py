"""The audit log, and the dashboard links (by the hash of their token)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from bot.core.models import Member
from storage.connection import SqlConnection
from storage.members import MemberRepository
from storage.tables import audit_t, dashboard_link_t


class AuditLogRepository:
    """The `AuditLog` port: append only (entries are read by the CLI and the tests)."""

    def __init__(self, conn: SqlConnection) -> None:
        self.conn = conn

    async def append(
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

    async def entries(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.conn.execute(select(audit_t).order_by(audit_t.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]


class DashboardLinkRepository:
    """The `DashboardLinks` port."""

    def __init__(self, conn: SqlConnection, members: MemberRepository) -> None:
        self.conn = conn
        self._members = members

    async def create(
        self, member_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        await self.conn.execute(
            insert(dashboard_link_t).values(
                token_hash=token_hash, member_id=member_id, created_at=now, expires_at=expires_at
            )
        )

    async def member(self, token_hash: str, now: datetime) -> Member | None:
        member_id = (
            await self.conn.execute(
                select(dashboard_link_t.c.member_id).where(
                    dashboard_link_t.c.token_hash == token_hash,
                    dashboard_link_t.c.expires_at > now,
                )
            )
        ).scalar()
        return await self._members.by_id(member_id) if member_id is not None else None

    async def forget_expired(self, now: datetime) -> int:
        result = await self.conn.execute(
            delete(dashboard_link_t).where(dashboard_link_t.c.expires_at <= now)
        )
        return result.rowcount
