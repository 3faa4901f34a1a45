"""Tip queries: browse by sphere with language fallback, ratings, drafts, content load/export."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class TipRepository:
    """Tip reads and writes inside one transaction."""

    def __init__(self, conn: AsyncConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert
