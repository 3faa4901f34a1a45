"""Dashboard links, as someone holding a copy of the database sees them: only a keyed hash of
each token, never the token or a plain hash of it; no row for someone refused a link; none left
after /forget. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from bot.core import keys
from bot.core.context import CoreConfig
from bot.core.models import Role
from bot.services.reports import token_hash
from handlers import build_router
from storage.store import SqlStore
from storage.tables import dashboard_link_t, metadata
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person

PUBLIC = "https://bot.example.org"


async def person(h: Harness, user_id: str, role: Role) -> Person:
    she = h.person(user_id)
    await join(she, await make_invite(h, f"code-{user_id}", role=role))
    return she


async def token_of(she: Person) -> str:
    [answer] = await she.say("/dashboard")
    match = re.search(rf"{re.escape(PUBLIC)}/dashboard\?t=\S+", answer.text)
    assert match, answer.text
    return parse_qs(urlsplit(match.group(0)).query)["t"][0]


async def links(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return list((await tx.conn.execute(select(dashboard_link_t.c.token_hash))).scalars())


async def every_value(store: SqlStore) -> str:
    """Every row of every table, as one text to search."""
    async with store.transaction() as tx:
        return repr(
            [[tuple(r) for r in await tx.conn.execute(select(t))] for t in metadata.sorted_tables]
        )


async def test_only_a_keyed_hash_of_a_link_is_kept_and_none_after_forget(
    store: SqlStore,
) -> None:
    secret = keys.decode(keys.generate())
    h = Harness(store, build_router(), config=CoreConfig(public_url=PUBLIC, secret_key=secret))
    member = await person(h, "1", Role.MEMBER)
    [refused] = await member.say("/dashboard")
    assert "not available" in refused.text
    assert await links(store) == [], "no link for someone refused one"

    analyst = await person(h, "700", Role.SECRETARIAT)
    token = await token_of(analyst)
    assert await links(store) == [token_hash(secret, token)], "only a keyed hash is kept"
    copy = await every_value(store)
    assert token not in copy and hashlib.sha256(token.encode()).hexdigest() not in copy
    elsewhere = token_hash(CoreConfig().secret_key, token)  # another installation's key
    assert elsewhere not in copy, "without WASL_SECRET_KEY a guessed token cannot be tested"

    await analyst.say("/forget")
    await analyst.tap("Yes, delete all")
    async with store.transaction() as tx:
        left = (await tx.conn.execute(select(func.count()).select_from(dashboard_link_t))).scalar()
    assert left == 0, "her links are gone with her"
