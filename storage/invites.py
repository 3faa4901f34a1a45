"""Invitations: codes with a role, a country, uses left, an expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from bot.core.models import Invite, Role
from storage.connection import SqlConnection
from storage.tables import invite_t


class InviteRepository:
    """The `Invites` port on SQL."""

    def __init__(self, conn: SqlConnection) -> None:
        self.conn = conn

    async def get(self, code: str) -> Invite | None:
        row = (await self.conn.execute(select(invite_t).where(invite_t.c.code == code))).first()
        return _invite(row) if row is not None else None

    async def by_id(self, invite_id: int) -> Invite | None:
        query = select(invite_t).where(invite_t.c.id == invite_id)
        row = (await self.conn.execute(query)).first()
        return _invite(row) if row is not None else None

    async def list(self, created_by: str | None = None, limit: int = 100) -> list[Invite]:
        query = select(invite_t).order_by(invite_t.c.id.desc()).limit(limit)
        if created_by is not None:
            query = query.where(invite_t.c.created_by == created_by)
        return [_invite(row) for row in await self.conn.execute(query)]

    async def use(self, invite_id: int, now: datetime | None = None) -> bool:
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

    async def revoke(self, invite_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(invite_t)
            .where(invite_t.c.id == invite_id, invite_t.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    async def create(
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
        invite = await self.get(code)
        assert invite is not None
        return invite


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
