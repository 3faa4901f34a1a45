"""Find any row, in any table, that still names a person (for /forget tests)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.store import SqlStore
from storage.tables import metadata


def _member_id_column(table_name: str, column_name: str) -> bool:
    return (
        column_name == "member_id"
        or column_name.endswith("_member_id")
        or (table_name == "member" and column_name == "id")
    )


async def rows_naming(
    store: SqlStore, *, member_id: int, identifiers: tuple[str, ...]
) -> list[tuple[str, str, Any]]:
    """(table, column, value) for every cell in every table that names her.

    Member-id columns are checked for her id; text and JSON columns for any of `identifiers`
    (platform id, chat id) and for "member:<id>". Tables added later are covered automatically.
    """
    needles = (*identifiers, f"member:{member_id}")
    found: list[tuple[str, str, Any]] = []
    async with store.transaction() as tx:
        for table in metadata.sorted_tables:
            rows = (await tx.conn.execute(select(table))).mappings().all()
            for row in rows:
                for column in table.columns:
                    value = row[column.name]
                    if value is None:
                        continue
                    if _member_id_column(table.name, column.name) and value == member_id:
                        found.append((table.name, column.name, value))
                    elif isinstance(value, str | dict | list):
                        # JSON columns too: any string anywhere inside equal to a needle.
                        text = value if isinstance(value, str) else json.dumps(value)
                        if any(n and (text == n or f'"{n}"' in text) for n in needles):
                            found.append((table.name, column.name, value))
    return found
