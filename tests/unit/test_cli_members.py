"""`wasl member list` and `wasl role grant|revoke` end to end on a SQLite file: the list shows
members by id (never a platform id or a number), and the id it shows is the one to grant to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from storage.engine import make_engine, migrate
from storage.store import SqlStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PHONE = "9647701234567"


async def _run(path: Path, work):  # type: ignore[no-untyped-def]
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        async with store.transaction() as tx:
            return await work(tx)
    finally:
        await store.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wasl.db"

    async def create() -> None:
        store = SqlStore(make_engine(f"sqlite:///{path}"))
        try:
            await migrate(store.engine)
        finally:
            await store.close()

    asyncio.run(create())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    return path


def _new(channel: ChannelName, platform_id: str, country: str | None, locale: str) -> NewMember:
    return NewMember(
        channel=channel,
        platform_id=platform_id,
        chat_id=platform_id,
        locale=locale,
        country=country,
        spheres=["youth"],
        role=Role.MEMBER,
        consent_version="2026-11",
        consented_at=NOW,
    )


def test_member_list_shows_ids_to_grant_roles_to(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["member", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no members"

    async def plant(tx):  # type: ignore[no-untyped-def]
        amal = await tx.members.create(_new(ChannelName.TELEGRAM, "70001", "IQ", "ar"), NOW)
        claire = await tx.members.create(_new(ChannelName.WHATSAPP, PHONE, "ML", "fr"), NOW)
        return amal.id, claire.id

    amal, claire = asyncio.run(_run(database, plant))
    assert main(["member", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["id", "role", "country", "language", "status", "channel"]
    rows = {int(line.split()[0]): line.split()[1:] for line in lines[1:]}
    assert rows == {
        amal: ["member", "IQ", "ar", "active", "telegram"],
        claire: ["member", "ML", "fr", "active", "whatsapp"],
    }
    assert PHONE not in out and "70001" not in out, "no platform id, no phone number"

    assert main(["role", "grant", "--member", str(claire), "--role", "coordinator"]) == 0
    assert capsys.readouterr().out.strip() == f"member {claire}: member → coordinator"
    assert main(["member", "list", "--role", "coordinator"]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[:2] for line in listed] == [[str(claire), "coordinator"]]
    assert main(["member", "list", "--country", "iq"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [str(amal)]

    assert main(["role", "revoke", "--member", str(claire)]) == 0
    assert capsys.readouterr().out.strip() == f"member {claire}: coordinator → member"
    assert main(["role", "grant", "--telegram-id", "70001", "--role", "admin"]) == 0
    assert capsys.readouterr().out.strip() == f"member {amal}: member → admin"
    assert main(["role", "grant", "--member", "999", "--role", "admin"]) == 1
    assert "no such member" in capsys.readouterr().err

    entries = asyncio.run(_run(database, lambda tx: tx.audit_log.entries()))
    changes = [
        (e["action"], e["actor"], e["subject_member_id"], e["details"])
        for e in reversed(entries)
        if e["action"].startswith("role.")
    ]
    assert changes == [
        ("role.granted", "cli", claire, {"from": "member", "to": "coordinator"}),
        ("role.revoked", "cli", claire, {"from": "coordinator", "to": "member"}),
        ("role.granted", "cli", amal, {"from": "member", "to": "admin"}),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["member", "list", "--role", "queen"],
        ["member", "list", "--country", "Iraq"],
        ["role", "revoke"],
        ["role", "revoke", "--member", "0"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
