"""Alembic environment: runs on a connection handed over by storage.engine.migrate.

For `alembic revision --autogenerate` during development, set DATABASE_URL and run
`alembic -c storage/alembic.ini revision --autogenerate -m "..."`.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from storage.engine import make_engine
from storage.tables import metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///wasl.db"))
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    asyncio.run(run_standalone())
