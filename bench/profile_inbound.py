"""Where one inbound update's CPU goes: webhook → inbox → worker → router → reply.

The real path in one process: the Starlette webhook (through httpx's ASGI transport, so
without uvicorn's HTTP parsing), the inbox, the inbox worker, the core and its handlers, and
the replies through python-telegram-bot to the fake Bot API (tests/fakes/telegram_api.py,
in a thread of its own, whose CPU is not counted). The mix: 25% `/start` from new people,
50% button presses mid-onboarding (ticking spheres), 25% text from members.

Printed per update: CPU of the event loop's thread (ms), SQL statements and commits, and
with `--profile` the share of CPU by package and the functions costing most.

    python bench/profile_inbound.py [--updates 800] [--postgres URL] [--profile]

Measured on the shared 2-core machine (2026-12-03, 600 updates, runs alternated with the code
before; CPU per update varies by a third with the machine's load, the counts do not):
SQLite 11.6–11.9 → 7.1–9.3 ms, 9.1 → 8.9 statements, 4.9 → 3.9 commits; PostgreSQL
14.3–17.4 → 11.6–12.6 ms, 8.9 → 8.2 statements, 4.6 → 3.5 commits. Under heavier load
(800 updates while the test suite ran) the CPU figures were within noise of each other.
Then (2026-12-03, PostgreSQL, 600 updates): group commit 11.8 → 10.0 ms, 3.50 → 1.66
commits; the spinner answered in the webhook's response (no answerCallbackQuery request of
the bot's own) 10.0 → 7.7 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.app import App, core_config  # noqa: E402
from bot.bootstrap import build_application  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import keys  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.i18n import Catalogs  # noqa: E402
from bot.core.router import Core  # noqa: E402
from bot.web import SECRET_HEADER, build_web  # noqa: E402
from handlers import build_router  # noqa: E402
from storage.engine import make_engine, migrate  # noqa: E402
from storage.store import SqlStore  # noqa: E402
from tests.fakes.telegram_api import (  # noqa: E402
    FakeBotApi,
    callback_update,
    running_api,
    text_update,
)

SECRET = "bench-secret"  # noqa: S105 (the fake webhook secret of this run)
SPHERES = "ob:1:spheres:"
_users = itertools.count(100_000)


class Counters:
    """SQL statements and commits on the given engines."""

    def __init__(self, engines: list[Engine]) -> None:
        self.statements = self.commits = 0
        self.kinds: Counter[str] = Counter()
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._statement)
            event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.statements += 1
        words = sql.split()
        verb = words[0].upper() if words else "?"
        after: dict[str, str] = {}
        for k, w in itertools.pairwise(words):
            after.setdefault(k.upper(), w)  # the first: not FOR UPDATE SKIP LOCKED's
        table = next((after[k] for k in ("INTO", "UPDATE", "FROM") if k in after), "?")
        table = table.strip('"')
        self.kinds[f"{verb} {table}"] += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1


async def build(postgres: str | None, folder: str) -> tuple[App, str | None]:
    settings = Settings()
    if postgres is None:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        schema = None
    else:
        schema = f"bench_{os.getpid()}"
        admin = make_engine(postgres)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = make_engine(postgres, schema=schema)
    await migrate(engine)
    store = SqlStore(engine)
    catalogs = Catalogs(default="en")
    config = core_config(settings, keys.ephemeral())
    core = Core(store, build_router(), catalogs, SystemClock(), config)
    return App(settings=settings, store=store, catalogs=catalogs, core=core), schema


def keyboard(api: FakeBotApi, chat: int) -> tuple[int, list[tuple[str, str]]]:
    with api._lock:
        calls = [c for c in api.calls if c.params.get("chat_id") == chat and c.keyboard]
    last = calls[-1]
    return last.message_id, [(b["text"], b["callback_data"]) for r in last.keyboard for b in r]


def press(api: FakeBotApi, chat: int, label: str) -> dict[str, Any]:
    message_id, buttons = keyboard(api, chat)
    payload = next(p for t, p in buttons if t == label)
    return callback_update(chat, payload, message_id)


async def run(args: argparse.Namespace) -> None:
    with running_api() as api, tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # no stray .env
        os.environ.update(
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_BASE=api.base,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            WASL_OPEN_JOIN="true",
            WASL_COUNTRIES="IQ",
            WASL_FLOOD_PER_MINUTE="0",
        )
        app, schema = await build(args.postgres, folder)
        try:
            await measure(app, api, args)
        finally:
            await app.close()
            if schema is not None:
                admin = make_engine(args.postgres)
                async with admin.begin() as connection:
                    await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                await admin.dispose()


async def measure(app: App, api: FakeBotApi, args: argparse.Namespace) -> None:
    telegram = build_application(app, request=api.request(), get_updates_request=api.request())
    web = build_web(app, telegram)
    worker = web.state.inbox_worker
    transport = httpx.ASGITransport(app=web)
    headers = {SECRET_HEADER: SECRET}
    async with (
        web.router.lifespan_context(web),
        httpx.AsyncClient(transport=transport, base_url="http://wasl.test") as client,
    ):

        async def post(updates: list[dict[str, Any]], limit: int = 16) -> None:
            goal = worker.processed + len(updates)
            gate = asyncio.Semaphore(limit)  # webhooks in flight, as Telegram keeps several

            async def one(update: dict[str, Any]) -> None:
                async with gate:
                    response = await client.post("/webhook/telegram", json=update, headers=headers)
                    assert response.status_code == 200, response.status_code
                    api.webhook_answered(response)  # as Telegram does

            await asyncio.gather(*(one(u) for u in updates))
            while worker.processed < goal:  # noqa: ASYNC110 (the worker's own counter)
                await asyncio.sleep(0.005)

        async def steps(chats: list[int], make: Callable[[int], dict[str, Any]]) -> None:
            await post([make(c) for c in chats])

        # Members to write text, and people at the spheres step to tick spheres.
        members = [next(_users) for _ in range(args.members)]
        joining = [next(_users) for _ in range(args.joining)]
        everyone = members + joining
        await steps(everyone, lambda c: text_update(c, "/start"))
        for label in ("English", "Skip", "I accept", "Iraq"):
            await steps(everyone, lambda c, label=label: press(api, c, label))
        spheres = [p for _, p in keyboard(api, joining[0])[1] if p.startswith(SPHERES)]
        spheres = [p for p in spheres if not p.endswith(("~d", "~b"))]
        await steps(members, lambda c: press(api, c, keyboard(api, c)[1][0][0]))
        await steps(members, lambda c: press(api, c, "Done"))
        question = {c: keyboard(api, c)[0] for c in joining}

        rng = random.Random(7)  # a fixed mix, the same every run
        mix: list[dict[str, Any]] = []
        for n in range(args.updates):
            kind = n % 4
            if kind == 0:
                mix.append(text_update(next(_users), "/start"))
            elif kind == 3:
                mix.append(text_update(rng.choice(members), rng.choice(["hello", "/help"])))
            else:
                chat = rng.choice(joining)
                mix.append(callback_update(chat, rng.choice(spheres), question[chat]))
        rng.shuffle(mix)

        counters = Counters(engines(app))
        calls_before = len(api.calls)
        # Timed by this thread's CPU clock: waiting (for the GIL, the fake server) is not
        # counted against the function that waited.
        profile = cProfile.Profile(time.thread_time) if args.profile else None
        cpu, wall = time.thread_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        await post(mix)
        if profile is not None:
            profile.disable()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        n = len(mix)
        backend = "postgresql" if args.postgres else "sqlite"
        calls = Counter(
            c.method + (" (in the webhook's answer)" if c.via_webhook else "")
            for c in api.calls[calls_before:]
        )
        print(
            f"{backend}: {n} updates: {cpu / n * 1e3:.2f} ms CPU per update (event loop thread), "
            f"{counters.statements / n:.2f} SQL statements and {counters.commits / n:.2f} "
            f"commits per update, {n / wall:.0f} updates/s wall"
        )
        print(
            "Bot API calls per update: " + ", ".join(f"{m} {k / n:.2f}" for m, k in calls.items())
        )
        print(
            "SQL per update: "
            + ", ".join(f"{kind} {k / n:.2f}" for kind, k in counters.kinds.most_common())
        )
        if profile is not None:
            report(profile, args.top)


def engines(app: App) -> list[Engine]:
    found = [app.store.engine.sync_engine]
    inline = getattr(app.store, "_inline", None)  # SQLite: the statements run on the loop
    if inline is not None:
        found.append(inline)
    return found


BUCKETS = (
    ("sqlalchemy", "SQLAlchemy"),
    ("asyncpg", "asyncpg"),
    ("sqlite3", "sqlite3"),
    ("/telegram/", "python-telegram-bot"),
    ("httpx", "httpx"),
    ("httpcore", "httpcore"),
    ("starlette", "Starlette"),
    ("pydantic", "pydantic"),
    ("/bot/", "Wasl bot/"),
    ("/handlers/", "Wasl handlers/"),
    ("/storage/", "Wasl storage/"),
    ("json", "json"),
    ("asyncio", "asyncio"),
    ("anyio", "anyio"),
    ("h11", "h11"),
    ("~", "C built-ins"),
)


def report(profile: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    shares: Counter[str] = Counter()
    for (path, _, _), value in raw.items():
        bucket = next((name for key, name in BUCKETS if key in path), "other")
        shares[bucket] += value[2]
    print("\nCPU by package (own time):")
    for name, spent in shares.most_common():
        print(f"  {name:<22} {spent / total:6.1%}")
    print()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--updates", type=int, default=800)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--joining", type=int, default=100)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL instead of SQLite")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured run")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
