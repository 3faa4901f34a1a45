"""Two workers on one database, as two `wasl serve` processes would be: each in its own thread
with its own event loop, engine, App and Telegram application, talking to the fake Bot API.

- Through the inbox, neither ever processes an update of a chat while the other (or itself)
  is processing one of the same chat, and each chat's updates are processed in the order they
  were accepted.
- Taps of one chat reaching both workers at the same moment, processed directly (outside any
  claim), lose nothing: the conversation state carries a version, a save against a stale
  version rolls back and the update runs again on the fresh state.

The taps are sphere ticks at the last step of joining (a checklist): each tick toggles one
sphere in her state, so a lost write shows as a sphere missing from it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from bot.app import App, core_config
from bot.bootstrap import build_application
from bot.channels.telegram import TelegramChannel, process_item, running
from bot.config import Settings
from bot.core import keys
from bot.core.clock import SystemClock
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.router import Core
from bot.inbox import InboxWorker
from bot.intake import NewItem
from handlers import build_router
from storage.engine import make_engine
from storage.inbox import InboxStore
from storage.store import SqlStore
from tests.fakes.telegram_api import FakeBotApi, callback_update, running_api, text_update
from tests.support.database import (
    commits_without_disk_wait,
    migrate_postgres_schema,
    migrated_sqlite_file,
    new_schema_name,
)

T = TypeVar("T")

CHATS = 6
ROUNDS = 25  # rounds of simultaneous taps, one per worker, in every chat
INBOX_TAPS = 8  # taps per chat put in the inbox at once (half by each worker's webhook)
SPHERE_PREFIX = "ob:1:spheres:"
_user_ids = itertools.count(61_000)
_update_ids = itertools.count(610_000)


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


@dataclass(frozen=True)
class Database:
    url: str
    schema: str | None = None


@pytest.fixture
async def database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database]:
    """A migrated database both workers open: a SQLite file, or a PostgreSQL schema."""
    if backend == "sqlite":
        path = await asyncio.to_thread(migrated_sqlite_file, tmp_path, "two.db")
        yield Database(f"sqlite:///{path}")
        return
    url: str = request.getfixturevalue("postgres_url")  # already probed by `backend`
    schema = new_schema_name()
    admin = make_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(url, schema=schema)
        try:
            await migrate_postgres_schema(engine, url)
        finally:
            await engine.dispose()
        yield Database(url, schema)
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@dataclass
class Tracker:
    """What both workers processed, per chat: how many at once, and in which order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overlaps: int = 0
    order: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def wrap(self, processor: Callable[[str], Awaitable[None]]) -> Callable[[str], Any]:
        async def tracked(payload: str) -> None:
            chat, update_id = _chat_and_id(payload)
            with self.lock:
                self.running[chat] += 1
                self.overlaps += self.running[chat] > 1
                self.order[chat].append(update_id)
            try:
                await asyncio.sleep(0.005)  # long enough for the other worker to claim too
                await processor(payload)
            finally:
                with self.lock:
                    self.running[chat] -= 1

        return tracked


def _chat_and_id(payload: str) -> tuple[str, int]:
    data = json.loads(payload)
    body = data.get("callback_query") or data.get("message") or {}
    return str(body["from"]["id"]), int(data["update_id"])


class Worker:
    """One worker, as one process would be: its own thread, loop, engine, App and bot."""

    def __init__(self, name: str, database: Database, api: FakeBotApi, tracker: Tracker) -> None:
        self.name = name
        self.database, self.api, self.tracker = database, api, tracker
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()
        self.stack = AsyncExitStack()
        self.app: App | None = None
        self.inbox: InboxStore | None = None
        self.worker: InboxWorker | None = None
        self.process: Callable[[str], Awaitable[None]] | None = None

    def call(self, coroutine: Coroutine[Any, Any, T], within: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(within)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def start(self) -> None:
        settings = Settings()
        engine = make_engine(self.database.url, schema=self.database.schema)
        store = SqlStore(commits_without_disk_wait(engine))
        catalogs = Catalogs(default=settings.wasl.default_locale)
        core = Core(
            store, build_router(), catalogs, SystemClock(), core_config(settings, keys.ephemeral())
        )
        self.app = app = App(settings=settings, store=store, catalogs=catalogs, core=core)
        self.stack.push_async_callback(app.close)
        telegram = build_application(
            app, request=self.api.request(), get_updates_request=self.api.request()
        )
        await self.stack.enter_async_context(running(telegram))
        self.process = partial(
            process_item, app.core.handle, telegram.bot, TelegramChannel(telegram.bot)
        )
        self.inbox = InboxStore(store)
        self.worker = InboxWorker(
            self.inbox, {"telegram": self.tracker.wrap(self.process)}, core.clock, poll=0.05
        )

    async def start_inbox(self) -> None:
        assert self.worker is not None
        await self.worker.start()
        self.stack.push_async_callback(self.worker.stop)

    async def stop(self) -> None:
        await self.stack.aclose()

    def close(self) -> None:
        self.call(self.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@asynccontextmanager
async def two_workers(database: Database, api: FakeBotApi) -> AsyncIterator[list[Worker]]:
    tracker = Tracker()
    workers = [Worker(f"worker-{n}", database, api, tracker) for n in (1, 2)]
    try:
        for worker in workers:
            await asyncio.to_thread(worker.call, worker.start())
        yield workers
    finally:
        for worker in workers:
            await asyncio.to_thread(worker.close)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: FakeBotApi) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name, value in {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base,
        "WASL_OPEN_JOIN": "true",
        "WASL_COUNTRIES": "IQ",
        "WASL_FLOOD_PER_MINUTE": "0",  # many taps a second from one chat, on purpose
    }.items():
        monkeypatch.setenv(name, value)


def keyboard_of(api: FakeBotApi, chat: int) -> tuple[int, list[tuple[str, str]]]:
    """The latest message with buttons in her chat: its id, and its (label, payload)s."""
    with api._lock:
        calls = [c for c in api.calls if c.params.get("chat_id") == chat and c.keyboard]
    assert calls, f"no keyboard was sent to {chat}"
    last = calls[-1]
    buttons = [(b["text"], b["callback_data"]) for row in last.keyboard for b in row]
    return last.message_id, buttons


def tap(api: FakeBotApi, chat: int, label: str) -> dict[str, Any]:
    message_id, buttons = keyboard_of(api, chat)
    payload = next((p for text_, p in buttons if text_ == label), None)
    assert payload is not None, f"no button {label!r} for {chat}: {buttons}"
    return callback_update(chat, payload, message_id, update_id=next(_update_ids))


async def join_to_spheres(worker: Worker, api: FakeBotApi, chat: int) -> list[str]:
    """Take her through joining up to the spheres checklist; its sphere payloads."""
    assert worker.process is not None
    run = worker.process
    await asyncio.wrap_future(
        worker.submit(run(_dumps(text_update(chat, "/start", update_id=next(_update_ids)))))
    )
    for label in ("English", "Skip", "I accept", "Iraq"):
        await asyncio.wrap_future(worker.submit(run(_dumps(tap(api, chat, label)))))
    _, buttons = keyboard_of(api, chat)
    spheres = [
        p for _, p in buttons if p.startswith(SPHERE_PREFIX) and not p.endswith(("~d", "~b"))
    ]
    assert len(spheres) >= 4, buttons
    return spheres


def _dumps(update: dict[str, Any]) -> str:
    return json.dumps(update)


async def saved_spheres(worker: Worker, chat: int) -> set[str]:
    assert worker.app is not None
    app = worker.app

    async def read() -> set[str]:
        async with app.store.transaction() as tx:
            state = await tx.conversations.load(ChannelName.TELEGRAM, str(chat))
        assert (state.flow, state.step) == ("ob", "spheres")
        return set(state.data.get("spheres", []))

    return await asyncio.wrap_future(worker.submit(read()))


def toggled(taps: list[str]) -> set[str]:
    ticked: set[str] = set()
    for payload in taps:
        ticked ^= {payload.removeprefix(SPHERE_PREFIX)}
    return ticked


def sorries(api: FakeBotApi) -> list[str]:
    return [c.text for c in api.replies() if "something went wrong" in c.text]


async def test_simultaneous_taps_of_one_chat_on_two_workers_are_all_saved(
    database: Database, api: FakeBotApi, settings: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside any claim: each round, both workers process a tap of the same chat at the same
    moment (a different sphere each), in every chat; no tick may be lost."""
    api.reset()
    caplog.set_level(logging.INFO, logger="bot.core.router")
    async with two_workers(database, api) as (one, two):
        chats = [next(_user_ids) for _ in range(CHATS)]
        spheres = {chat: await join_to_spheres(one, api, chat) for chat in chats}
        pressed: dict[int, list[str]] = defaultdict(list)
        assert one.process is not None and two.process is not None
        for round_ in range(ROUNDS):
            futures: list[Future[None]] = []
            for chat in chats:
                first = spheres[chat][round_ % len(spheres[chat])]
                second = spheres[chat][(round_ + 1) % len(spheres[chat])]
                message_id, _ = keyboard_of(api, chat)
                for worker, payload in ((one, first), (two, second)):
                    update = callback_update(
                        chat, payload, message_id, update_id=next(_update_ids)
                    )
                    assert worker.process is not None
                    futures.append(worker.submit(worker.process(_dumps(update))))
                pressed[chat] += [first, second]
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        lost = 0
        for chat in chats:
            lost += len(toggled(pressed[chat]) ^ await saved_spheres(one, chat))
    conflicts = sum("event=state_conflict" in r.getMessage() for r in caplog.records)
    print(
        f"\n{database.url.split(':')[0]}: {CHATS * ROUNDS * 2} simultaneous taps, "
        f"{conflicts} stale saves run again, {lost} ticks lost"
    )
    assert lost == 0
    assert sorries(api) == []


async def test_two_inbox_workers_take_one_chat_at_a_time_in_order(
    database: Database, api: FakeBotApi, settings: None
) -> None:
    """Through the inbox: taps of every chat accepted by both workers' webhooks at once; no
    chat is ever processed by two at a time, each in the order accepted, no tick lost."""
    api.reset()
    async with two_workers(database, api) as workers:
        one = workers[0]
        chats = [next(_user_ids) for _ in range(CHATS)]
        spheres = {chat: await join_to_spheres(one, api, chat) for chat in chats}
        for worker in workers:
            await asyncio.wrap_future(worker.submit(worker.start_inbox()))
        pressed: dict[int, list[str]] = {}
        accepted: dict[str, list[int]] = defaultdict(list)
        batches: list[list[tuple[Worker, NewItem]]] = [[] for _ in range(INBOX_TAPS)]
        for chat in chats:
            message_id, _ = keyboard_of(api, chat)
            pressed[chat] = [spheres[chat][n % len(spheres[chat])] for n in range(INBOX_TAPS)]
            for n, payload in enumerate(pressed[chat]):
                update = callback_update(chat, payload, message_id, update_id=next(_update_ids))
                accepted[str(chat)].append(update["update_id"])
                item = NewItem(str(update["update_id"]), str(chat), _dumps(update))
                batches[n].append((workers[n % 2], item))
        for batch in batches:  # the n-th tap of every chat, each webhook keeping its own
            for worker, item in batch:
                assert worker.inbox is not None and worker.worker is not None
                inbox, wake = worker.inbox, worker.worker.wake
                added = worker.submit(inbox.add("telegram", [item], SystemClock().now()))
                assert await asyncio.wrap_future(added) == 1
                worker.loop.call_soon_threadsafe(wake)
        for worker in workers:
            assert worker.worker is not None
            await asyncio.wrap_future(worker.submit(worker.worker.drain(within=60)))
        tracker = one.tracker
        assert tracker.overlaps == 0, "two updates of one chat were processed at once"
        assert {c: tracker.order[c] for c in accepted} == accepted, "in the order accepted"
        split = [w.worker.processed for w in workers if w.worker is not None]
        print(f"\n{database.url.split(':')[0]}: rows processed by each worker {split}")
        for chat in chats:
            assert await saved_spheres(one, chat) == toggled(pressed[chat])
    assert sorries(api) == []
