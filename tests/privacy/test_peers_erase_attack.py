"""Promise 3 for who does what where: /forget on either side of an introduction removes it.

Her line, the contact she typed, the request card that quoted her line (delivered, and one
still waiting), the other woman's contact sent to her: a unique string goes into each through
the real handlers, the worker delivers what it can through real PTB to the fake Bot API, and
after /forget every table (every cell as text) and, on SQLite, the raw bytes of the database
and its WAL are searched for them. The audit log never held a line or a contact.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select

from bot.core.models import Role
from handlers import build_router
from storage.store import SqlStore
from storage.tables import audit_t, introduction_t
from tests.fakes.telegram_api import running_api
from tests.handlers.conftest import join, make_invite
from tests.privacy.test_erase_attack import (
    assert_not_in_files,
    cells_containing,
    deliver_everything,
    member_id,
    telegram_id,
)
from tests.support.erasure import rows_naming
from tests.support.harness import Harness, Person


async def member(h: Harness, country: str) -> Person:
    someone = h.person(telegram_id(), "en")
    code = await make_invite(h, f"code-{secrets.token_hex(6)}", role=Role.MEMBER)
    await join(someone, code, country=country, spheres=("vaw",))
    return someone


async def write_line(she: Person, line: str) -> None:
    await she.say("/peers")
    await she.tap("✏️ My line")
    await she.say(line)
    await she.tap("Yes")


async def ask_first(she: Person, handle: str) -> None:
    await she.say("/peers")
    await she.tap("🤝 1")
    await she.say(handle)
    assert "Request sent" in (await she.tap("Send"))[0].text


async def ask(she: Person, line: str, handle: str) -> None:
    """She asks to meet the peer listed with `line`."""
    await she.say("/peers")
    [number] = [row.split(".")[0] for row in she.last.text.splitlines() if line in row]
    await she.tap(f"🤝 {number}")
    await she.say(handle)
    assert "Request sent" in (await she.tap("Send"))[0].text


async def test_forget_on_either_side_removes_the_introduction(store: SqlStore) -> None:
    h = Harness(store, build_router())
    # letters only: a hex tag of seven digits or more reads as a phone number, and her line
    # would be refused for holding a contact
    tag = "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    her_line, her_handle = f"ZEBRA{tag} shelters for girls", f"@zebra{tag}"
    peer_line, peer_number = f"OKAPI{tag} legal aid", f"+9{secrets.randbelow(10**11):011d}"
    third_line = f"IBIS{tag} radio for women"
    amina, grace = await member(h, "IQ"), await member(h, "NG")
    await write_line(amina, her_line)
    await write_line(grace, peer_line)
    await ask_first(amina, her_handle)
    with running_api() as api:
        assert await deliver_everything(h, api) == 1, "the request card went to Grace"
        async with store.transaction() as tx:
            [intro] = (await tx.conn.execute(select(introduction_t.c.id))).scalars()
        await grace.press(f"pri:1:{intro}:1")  # Accept, on the card the worker delivered
        [introduced] = await grace.say(peer_number)
        assert her_handle in introduced.text
    # Not delivered yet: Grace's contact to Amina, and a third member's request to Amina.
    hana = await member(h, "LB")
    await write_line(hana, third_line)
    await ask(hana, her_line, "@hana_lb")
    # And Amina asks a fourth member: the card quoting her line waits in Dina's outbox.
    dina = await member(h, "SY")
    await write_line(dina, f"GNU{tag} school visits")
    await ask(amina, f"GNU{tag}", her_handle)
    needles = (her_line, her_handle, peer_number.removeprefix("+"), amina.user_id)
    where = {table for table, _ in await cells_containing(store, needles)}
    assert where >= {"peer_line", "outbox"}, "her words went where the attack looks"
    async with store.transaction() as tx:
        audited = repr((await tx.conn.execute(select(audit_t))).all())
    assert "introduction.made" in audited
    assert not any(n in audited for n in (her_line, her_handle, peer_line, peer_number))

    her_id = await member_id(h, amina.user_id)
    await amina.say("/forget")
    await amina.tap("Yes, delete all")

    assert await cells_containing(store, needles) == []
    assert await rows_naming(store, member_id=her_id, identifiers=(amina.user_id,)) == []
    assert_not_in_files(store, her_line, her_handle, peer_number.removeprefix("+"))
    async with store.transaction() as tx:
        left = (await tx.conn.execute(select(introduction_t))).all()
    assert left == [], "both introductions she was in, either side, are gone"
    # Grace and Hana still have their own lines; Amina is listed to nobody.
    await grace.say("/peers")
    assert her_line not in grace.last.text and third_line in grace.last.text
    await grace.tap("Requests")
    assert "no introductions waiting" in grace.last.text
