"""`wasl campaign create|list|show|approve|cancel`: the bot's rules from the terminal — a
preview, a confirmation unless --yes, and a second approval above the threshold."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from storage.engine import make_engine, migrate
from storage.leader import Leader
from storage.store import SqlStore


async def _audit(path: Path) -> list[dict[str, object]]:
    store = SqlStore(make_engine(f"sqlite:///{path}"))
    try:
        async with store.transaction() as tx:
            return await tx.audit_log.entries()
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
    assert main(["demo", "seed", "--members", "6"]) == 0
    return path


def answer(monkeypatch: pytest.MonkeyPatch, reply: str | None) -> list[str]:
    """What the operator types at the confirmation (None: no terminal); the questions asked."""
    asked: list[str] = []

    def fake_input(question: str) -> str:
        asked.append(question)
        if reply is None:
            raise EOFError
        return reply

    monkeypatch.setattr("builtins.input", fake_input)
    return asked


CREATE = ["campaign", "create", "--text", "en=Workshop on Monday", "--text", "ar=ورشة يوم الاثنين"]


def test_create_shows_a_preview_and_asks_first(
    database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = answer(monkeypatch, "n")
    assert main(CREATE) == 1
    out, err = capsys.readouterr()
    assert "campaign to 6 people" in out
    assert "Workshop on Monday" in out and "ورشة يوم الاثنين" in out
    assert "(get the en text)" in out or "(get the ar text)" in out
    assert asked == ["create it? [y/N] "]
    assert "not created" in err
    assert main(["campaign", "list"]) == 0
    assert capsys.readouterr().out == "", "nothing was created"

    answer(monkeypatch, None)  # no terminal to answer: no
    assert main(CREATE) == 1
    asked = answer(monkeypatch, "yes")
    assert main(CREATE) == 0
    assert asked and "campaign #1 (being sent) to 6 people" in capsys.readouterr().out

    asked = answer(monkeypatch, "n")
    assert main([*CREATE, "--yes"]) == 0, "--yes does not ask"
    assert asked == []
    assert "campaign #2 (being sent)" in capsys.readouterr().out


def test_above_the_threshold_it_waits_for_approval(
    database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WASL_APPROVAL_THRESHOLD", "5")
    assert main([*CREATE, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "more than 5 people" in out
    assert "campaign #1 (pending_approval)" in out and "wasl campaign approve 1" in out
    assert main(["campaign", "show", "1"]) == 0
    assert "Waiting for approval" in capsys.readouterr().out
    assert main(["campaign", "approve", "1"]) == 0
    assert "approved #1" in capsys.readouterr().out
    assert main(["campaign", "approve", "1"]) == 1
    assert "not waiting for approval" in capsys.readouterr().err
    assert main(["campaign", "show", "1"]) == 0
    assert "Sent 0 of 6" in capsys.readouterr().out
    # An alert is urgent: never held.
    assert main([*CREATE, "--kind", "alert", "--yes"]) == 0
    assert "(being sent)" in capsys.readouterr().out
    actions = [e["action"] for e in asyncio.run(_audit(database))]
    assert actions.count("campaign.created") == 1 and actions.count("campaign.approved") == 1
    assert actions.count("alert.created") == 1


def test_scheduled_nobody_and_cancel(
    database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*CREATE, "--country", "ZZ", "--yes"]) == 2
    assert "nobody matches" in capsys.readouterr().err
    assert main([*CREATE, "--at", "2099-01-01T09:00+03:00", "--yes"]) == 0
    assert "campaign #1 (scheduled)" in capsys.readouterr().out
    assert main(["campaign", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "Scheduled for" in shown and "Sent 0 of 0" not in shown
    assert main(["campaign", "cancel", "1"]) == 0
    assert "cancelled #1" in capsys.readouterr().out
    assert main(["campaign", "cancel", "1"]) == 1
    assert "no campaign #1 to cancel" in capsys.readouterr().err


def test_demo_seed_again_adds_only_the_members_missing(database: Path) -> None:
    """The bulk seed skips the members already there and draws the others as before."""

    def members() -> list[tuple[object, ...]]:
        with sqlite3.connect(database) as db:
            return db.execute(
                "SELECT m.id, m.platform_id, m.locale, m.country, m.status,"
                " group_concat(s.sphere) FROM member m JOIN member_sphere s"
                " ON s.member_id = m.id GROUP BY m.id ORDER BY m.id"
            ).fetchall()

    first = members()
    assert len(first) == 6 and len({row[1] for row in first}) == 6
    assert main(["demo", "seed", "--members", "10"]) == 0
    again = members()
    assert again[:6] == first  # the six are untouched
    assert [row[0] for row in again] == list(range(1, 11))
    assert {row[4] for row in again} == {"active"}
    # the four new ones draw what the first four did: skipping consumes no random draw
    assert [row[2:4] for row in again[6:]] == [row[2:4] for row in first[:4]]


def test_follow_off_a_terminal_prints_plain_lines_only_when_they_change(
    database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show --follow` into a log or a pipe: no carriage returns, and a line only when the
    progress changed (nothing delivers here, so it stays the same: one line)."""
    assert main([*CREATE, "--yes"]) == 0
    capsys.readouterr()
    real_sleep = asyncio.sleep
    waits: list[float] = []

    async def three_seconds(delay: float, *args: object) -> object:
        if delay == 1:  # the follow loop's pause: stop it, as Ctrl-C would, after three
            waits.append(delay)
            if len(waits) == 3:
                raise KeyboardInterrupt
        return await real_sleep(0, *args)

    monkeypatch.setattr(asyncio, "sleep", three_seconds)
    assert main(["campaign", "show", "1", "--follow"]) == 130
    out = capsys.readouterr().out
    assert len(waits) == 3, "it followed for three rounds"
    assert "\r" not in out
    assert out.count("Sent 0 of 6") == 1, out
    assert out.endswith("\n")
    assert "waiting for channel: telegram (no running process delivers it" in out, (
        "following, it says that nobody is delivering instead of waiting silently"
    )


def test_show_says_which_rows_wait_for_a_channel_nobody_delivers(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Demo members are on Telegram: while no process leads Telegram their rows wait (never
    failed), and `show` says so; once a process leads it, the line is gone."""
    assert main([*CREATE, "--yes"]) == 0
    capsys.readouterr()
    assert main(["campaign", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "     6  waiting for channel: telegram (no running process delivers it" in out
    assert "failed 0" in out

    async def show_while_a_bot_leads_telegram() -> int:
        store = SqlStore(make_engine(f"sqlite:///{database}"))
        leader = Leader(store, "telegram")
        try:
            assert await leader.acquire()
            return await asyncio.to_thread(main, ["campaign", "show", "1"])
        finally:
            await leader.release()
            await store.close()

    assert asyncio.run(show_while_a_bot_leads_telegram()) == 0
    assert "waiting for channel" not in capsys.readouterr().out
