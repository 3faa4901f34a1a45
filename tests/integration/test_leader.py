"""One leader per database delivers and schedules; the others stand by and take over."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.core.clock import FixedClock
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName, Outbound, SendResult, SendStatus
from bot.core.router import Core
from bot.runtime import Runtime
from handlers import build_router
from storage.leader import Leader, someone_leads
from storage.store import SqlStore


async def test_only_one_leader_at_a_time_and_the_next_takes_over(store: SqlStore) -> None:
    first, second = Leader(store, "telegram"), Leader(store, "telegram")
    try:
        assert await first.acquire()
        assert await first.acquire(), "asking again while leading is harmless"
        assert not await second.acquire()
        assert await first.holding() and not await second.holding()
        await first.release()
        assert not first.leading
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_dropped_database_session_loses_the_lead(store: SqlStore) -> None:
    first, second = Leader(store, "telegram"), Leader(store, "telegram")
    try:
        assert await first.acquire()
        connection = first._connection
        if store.engine.dialect.name == "sqlite":  # the file lock lives with the process
            assert connection is None and await first.holding()
            assert not await second.acquire()
            return
        assert connection is not None
        raw = await connection.get_raw_connection()
        await raw.driver_connection.close()  # type: ignore[union-attr]  # the network drops it
        assert not await first.holding()
        assert await second.acquire(), "PostgreSQL released the lock with the session"
    finally:
        await first.release()
        await second.release()


@dataclass
class CountingChannel:
    name: ChannelName = ChannelName.CONSOLE
    choice_limit: int | None = None
    sent: list[str] = field(default_factory=list)

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        self.sent.append(chat_id)
        return SendResult(SendStatus.SENT, message_id=str(len(self.sent)))

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        return 0


def app_on(store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    catalogs = Catalogs()
    core = Core(store, build_router(), catalogs, FixedClock(), CoreConfig())
    return App(settings=Settings(), store=store, catalogs=catalogs, core=core)


async def test_a_second_process_stands_by_until_the_leader_stops(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_on(store, tmp_path, monkeypatch)
    channel = CountingChannel()
    first = Runtime(app, {channel.name: channel}, leader_check=0.05)
    second = Runtime(app, {channel.name: channel}, leader_check=0.05)
    try:
        await first.start()
        await second.start()
        assert first.leading and not second.leading
        assert second._scheduler is None, "a standby runs no scheduler"
        await asyncio.sleep(0.2)
        assert not second.leading, "it keeps standing by while the leader lives"
        await first.stop()
        async with asyncio.timeout(5):
            while set(second.roles().values()) != {"leader"}:  # noqa: ASYNC110 - it takes over
                await asyncio.sleep(0.02)
        assert second.leading and second._scheduler is not None
    finally:
        await first.stop()
        await second.stop()
    assert not second.leading and set(second.roles().values()) == {"standby"}


async def test_the_terminal_bot_leaves_delivery_and_scheduling_to_a_real_bot(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wasl chat` on a database a Telegram bot uses: it delivers only the terminal's
    messages, and hands the scheduler over as soon as a real bot is there."""
    app = app_on(store, tmp_path, monkeypatch)
    console, telegram = CountingChannel(), CountingChannel(ChannelName.TELEGRAM)
    terminal = Runtime(app, {ChannelName.CONSOLE: console}, leader_check=0.05)
    bot = Runtime(app, {ChannelName.TELEGRAM: telegram}, leader_check=0.05)
    try:
        await terminal.start()
        assert terminal.roles() == {"console": "leader", "scheduler": "leader"}, "alone: it may"
        assert not await someone_leads(store, "telegram")
        await bot.start()
        assert await someone_leads(store, "telegram")
        assert bot.roles()["telegram"] == "leader"
        async with asyncio.timeout(5):
            while bot.roles()["scheduler"] != "leader":  # noqa: ASYNC110 - handed over
                await asyncio.sleep(0.02)
        assert terminal.roles() == {"console": "leader", "scheduler": "standby"}
        assert terminal._scheduler is None and bot._scheduler is not None
        await asyncio.sleep(0.2)
        assert terminal.roles()["scheduler"] == "standby", "it does not take it back"
    finally:
        await terminal.stop()
        await bot.stop()
    assert not await someone_leads(store, "telegram")
    assert not await someone_leads(store, "scheduler")


async def test_stopping_at_once_lets_the_jobs_already_running_finish(
    store: SqlStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every job runs once at start: a runtime stopped straight away waits for them instead of
    cutting them off mid-transaction."""
    app = app_on(store, tmp_path, monkeypatch)
    runtime = Runtime(app, {ChannelName.TELEGRAM: CountingChannel(ChannelName.TELEGRAM)})
    await runtime.start()
    await asyncio.sleep(0)  # the jobs' tasks are started
    await runtime.stop()
    cut = [
        r for r in caplog.records if r.name.startswith("apscheduler") and r.levelname == "ERROR"
    ]
    assert cut == [], [r.getMessage() for r in cut]
