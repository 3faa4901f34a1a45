"""`wasl invite create|list|revoke` end to end on a SQLite file, and every argument checked."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.cli import main
from storage.engine import make_engine
from storage.store import SqlStore
from tests.support.database import migrated_sqlite_file


async def _audit(path: Path) -> list[dict[str, object]]:
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        async with store.transaction() as tx:
            return await tx.audit_log.entries()
    finally:
        await store.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = migrated_sqlite_file(tmp_path)  # a copy of the schema migrated once per session
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    return path


def test_create_list_and_revoke(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "list"]) == 0
    assert "no invitations" in capsys.readouterr().out
    assert main(["invite", "create", "--uses", "3", "--country", "iq", "--expires", "2d"]) == 0
    assert main(["invite", "create", "--role", "coordinator", "--uses", "1000"]) == 0
    codes = re.findall(r"invite code: (\S+)", capsys.readouterr().out)
    assert len(codes) == 2
    assert main(["invite", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["code", "role", "country", "uses", "left", "expires", "status"]
    rows = {line.split()[0]: line.split() for line in listed[1:]}
    assert rows[codes[0]][1:4] == ["member", "IQ", "3"] and rows[codes[0]][-1] == "active"
    assert rows[codes[1]][1:4] == ["coordinator", "any", "1000"]

    assert main(["invite", "revoke", codes[0]]) == 0
    assert f"revoked {codes[0]}" in capsys.readouterr().out
    assert main(["invite", "revoke", codes[0]]) == 1
    assert "already revoked" in capsys.readouterr().err
    assert main(["invite", "revoke", "no-such-code"]) == 1
    assert "no such invitation" in capsys.readouterr().err
    assert main(["invite", "list"]) == 0
    revoked = next(line for line in capsys.readouterr().out.splitlines() if codes[0] in line)
    assert revoked.endswith("revoked")
    entries = asyncio.run(_audit(database))
    revocations = [e for e in entries if e["action"] == "invite.revoked"]
    assert [e["actor"] for e in revocations] == ["cli"]


@pytest.mark.parametrize(
    "argv",
    [
        ["invite", "create", "--uses", "0"],
        ["invite", "create", "--uses", "-5"],
        ["invite", "create", "--uses", "1001"],
        ["invite", "create", "--uses", "many"],
        ["invite", "create", "--expires", "0d"],
        ["invite", "create", "--expires", "30m"],
        ["invite", "create", "--expires", "91d"],
        ["invite", "create", "--expires", "99999999999w"],
        ["invite", "create", "--expires", "soon"],
        ["invite", "create", "--country", "ZZ"],
        ["invite", "create", "--country", "EU"],
        ["invite", "create", "--country", "XX"],
        ["invite", "create", "--country", "IRQ"],
        ["invite", "create", "--role", "boss"],
        ["campaign", "show", "99999999999999999999"],
        ["campaign", "show", "#1"],
        ["campaign", "show", "²"],
        ["campaign", "cancel", "0"],
        ["campaign", "approve", "2147483648"],
        ["role", "grant", "--member", "99999999999999999999", "--role", "admin"],
        ["role", "grant", "--member", "-1", "--role", "admin"],
        ["demo", "seed", "--members", "0"],
    ],
    ids=" ".join,
)
def test_bad_arguments_are_a_usage_error_not_a_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_the_edges_that_are_allowed(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "create", "--uses", "1", "--expires", "1h"]) == 0
    assert main(["invite", "create", "--expires", "90d", "--country", "ye"]) == 0
    assert main(["campaign", "show", "2147483647"]) == 1
    assert "no campaign #2147483647" in capsys.readouterr().err
    assert main(["role", "grant", "--member", "2147483647", "--role", "admin"]) == 1
