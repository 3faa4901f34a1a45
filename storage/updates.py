"""Field update queries: submit with tallies, the moderation queue, digests, retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class UpdateRepository:
    """Field update reads and writes inside one transaction."""

    def __init__(self, conn: AsyncConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert
