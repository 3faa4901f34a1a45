"""Broadcast benchmark: the real delivery worker and Telegram adapter against a strict fake.

A fake Bot API server on 127.0.0.1 (tests/fakes/telegram_api.py, with limits enforced here)
allows at most 30 sendMessage calls in any 1.0 s window overall and 1 per chat per 1.0 s; beyond
that it answers a real 429 ("Too Many Requests: retry after 1", parameters.retry_after = 1). N
members are seeded in a temporary SQLite database (migrated by Alembic), one campaign is
created and fired, and the real DeliveryWorker sends it through TelegramChannel over a PTB Bot.

The worker runs in its own process, as in production (the server keeps this one). Run 1 lets
it finish. Run 2 kills it with SIGKILL midway, inside an API call the server has just delivered
(the worst moment), and starts a new one, which recovers the rows left in flight. Both report
lost members, duplicated deliveries and 429s (and their share of the sends); run 1 also the
achieved rate as a fraction of the limit. The target: at least 0.97 of the limit, at most 1 % of
sends answered 429, nobody lost, and no more repeats than rows in flight at the kill.

Each wait is proportional to the run (members / limit), so 10,000 members fit.
`--postgres URL` runs the worker on PostgreSQL (a fresh schema per run) instead of SQLite.

    python bench/broadcast.py [--members 10000] [--kill-after 0.5] [--concurrency 8]
                              [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy import text as sql  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.messages import ChannelName  # noqa: E402
from bot.core.models import NewMember, Role  # noqa: E402
from bot.delivery.limiter import RateLimiter  # noqa: E402
from bot.delivery.worker import DeliveryWorker  # noqa: E402
from storage.engine import make_engine, migrate  # noqa: E402
from storage.outbox import OutboxStore  # noqa: E402
from storage.store import SqlStore  # noqa: E402
from storage.tables import outbox_t  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeBotApi, LocalOnlyTransport, _Refusal  # noqa: E402
from tests.support.database import migrate_postgres_schema  # noqa: E402

TG = ChannelName.TELEGRAM
LIMIT = 30  # sendMessage per WINDOW, overall (Telegram's bulk limit)
WINDOW = 1.0
PER_CHAT = 1  # per chat per WINDOW
TARGET_RATE = 0.97  # of the limit
TARGET_429_SHARE = 0.01  # of the sends
TOO_MANY = (429, "Too Many Requests: retry after 1", {"retry_after": 1})
FIRST_CHAT = 880_000_000


class StrictBotApi(FakeBotApi):
    """The fake Bot API, enforcing Telegram's limits on sendMessage and recording deliveries."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__()
        self.latency = latency
        self._accepted: deque[float] = deque()
        self._per_chat: dict[Any, deque[float]] = {}
        self.delivered: list[tuple[int, str, float]] = []  # (chat id, text, monotonic time)
        self.too_many: list[tuple[int, str, float, str]] = []  # ..., "overall" or "chat"
        self._kill: tuple[int, str, int] | None = None

    async def _m_sendmessage(  # type: ignore[override]  # the fake awaits coroutines
        self, params: dict[str, Any], files: Any
    ) -> dict[str, Any]:
        if self.latency:
            await asyncio.sleep(self.latency / 2)  # the request's way to Telegram
        now = time.monotonic()
        chat, text = params["chat_id"], str(params.get("text", ""))
        with self._lock:
            overall = _prune(self._accepted, now)
            mine = _prune(self._per_chat.setdefault(chat, deque()), now)
            if len(overall) >= LIMIT or len(mine) >= PER_CHAT:
                kind = "overall" if len(overall) >= LIMIT else "chat"
                self.too_many.append((chat, text, now, kind))
                refused = True
            else:
                refused = False
                overall.append(now)
                mine.append(now)
        if not refused:
            message = super()._m_sendmessage(params, files)
            with self._lock:
                self.delivered.append((chat, text, now))
                if self._kill is not None and self._kill[1] == text:
                    pid, _, after = self._kill
                    if sum(1 for _, x, _ in self.delivered if x == text) >= after:
                        self._kill = None
                        # delivered, but the worker dies before it hears so: a send in flight
                        os.kill(pid, signal.SIGKILL)
        if self.latency:
            await asyncio.sleep(self.latency / 2)  # and the answer's way back
        if refused:
            raise _Refusal(*TOO_MANY)
        return message

    def kill_during(self, pid: int, text: str, after: int) -> None:
        """SIGKILL process `pid` inside the API call that delivers the `after`-th `text`."""
        with self._lock:
            self._kill = (pid, text, after)

    def deliveries(self, text: str) -> list[tuple[int, float]]:
        with self._lock:
            return [(c, t) for c, x, t in self.delivered if x == text]

    def refusals(self, text: str) -> Counter[str]:
        """429s answered for `text`, by the limit that was hit ("overall" or "chat")."""
        with self._lock:
            return Counter(kind for _, x, _, kind in self.too_many if x == text)


def _prune(events: deque[float], now: float) -> deque[float]:
    while events and events[0] <= now - WINDOW:
        events.popleft()
    return events


# -- the database and the worker --------------------------------------------------------------


def engine_for(db: str) -> Any:
    """`db` is a SQLite file's path, or a PostgreSQL URL and a schema: "URL#schema"."""
    if db.startswith("postgresql"):
        url, schema = db.split("#")
        return make_engine(url, schema=schema)
    return make_engine(f"sqlite:///{db}")


async def new_database(folder: Path, name: str, postgres: str | None) -> str:
    """An empty database for one run: a SQLite file in `folder`, or a fresh PostgreSQL schema."""
    if postgres is None:
        return str(folder / f"{name}.db")
    schema = f"bench_{name}_{os.getpid()}"
    admin = make_engine(postgres)
    try:
        async with admin.begin() as conn:
            await conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await conn.execute(sql(f'CREATE SCHEMA "{schema}"'))
    finally:
        await admin.dispose()
    return f"{postgres}#{schema}"


async def drop_database(db: str) -> None:
    if db.startswith("postgresql"):
        url, schema = db.split("#")
        admin = make_engine(url)
        try:
            async with admin.begin() as conn:
                await conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await admin.dispose()


async def prepare(db: str, members: int, text: str) -> list[int]:
    """A migrated database with `members` members and one fired campaign."""
    store = SqlStore(engine_for(db))
    if db.startswith("postgresql"):
        await migrate_postgres_schema(store.engine, db.split("#")[0])
    else:
        await migrate(store.engine)
    now = datetime.now(UTC)
    chats = [FIRST_CHAT + i for i in range(members)]
    async with store.transaction() as tx:
        for chat in chats:
            await tx.members.create(
                NewMember(
                    channel=TG,
                    platform_id=str(chat),
                    chat_id=str(chat),
                    locale="en",
                    country="IQ",
                    spheres=["youth"],
                    role=Role.MEMBER,
                    consent_version="1",
                    consented_at=now,
                ),
                now,
            )
        campaign = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.CAMPAIGN,
                status=CampaignStatus.SCHEDULED,
                title="benchmark",
                texts={"en": text},
                default_locale="en",
                audience=Audience(),
                schedule="now",
            ),
            now,
        )
        fired = await tx.campaigns.fire(campaign, "once", now)
        assert fired is not None and fired[1] == members
    await store.close()
    return chats


async def deliver_all(db: str, api_base: str, concurrency: int) -> None:
    """Run the real worker (which first recovers what a killed run left) until nothing is due."""
    engine = engine_for(db)
    request = HTTPXRequest(httpx_kwargs={"transport": LocalOnlyTransport([])})
    bot = Bot(TOKEN, base_url=f"{api_base}/bot", request=request)
    clock = SystemClock()
    store = SqlStore(engine)
    outbox = OutboxStore(store)
    worker = DeliveryWorker(
        outbox,
        {TG: TelegramChannel(bot)},
        {TG: RateLimiter(LIMIT)},
        clock,
        concurrency=concurrency,
        idle_wait=0.05,
    )
    stop = asyncio.Event()
    async with bot:
        task = asyncio.create_task(worker.run(stop))
        try:
            while not task.done():
                await asyncio.sleep(0.05)
                if await outbox.due_count(clock.now()) == 0 and await _pending(engine) == 0:
                    break
            stop.set()
            await task
        finally:
            await store.close()


async def _pending(engine: Any) -> int:
    """Rows not finished yet, due or not (a 429'd row waits for its back-off)."""
    async with engine.connect() as conn:
        unfinished = ("pending", "claimed", "sending")
        query = select(func.count()).select_from(outbox_t).where(outbox_t.c.status.in_(unfinished))
        return int((await conn.execute(query)).scalar_one())


async def statuses(db: str) -> Counter[str]:
    engine = engine_for(db)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox_t.c.status, func.count()).group_by(outbox_t.c.status)
            )
            return Counter({status: int(n) for status, n in rows})
    finally:
        await engine.dispose()


# -- the runs ---------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    members: int
    delivered: int
    lost: int
    duplicated: int
    too_many: Counter[str]
    seconds: float
    rate: float | None = None  # fraction of the limit
    per_second: float | None = None
    in_flight: int | None = None
    rows: str = ""


def count(api: StrictBotApi, text: str, chats: list[int]) -> tuple[int, int, int, list[float]]:
    got = api.deliveries(text)
    per_chat = Counter(c for c, _ in got)
    lost = sum(1 for c in chats if per_chat[c] == 0)
    duplicated = sum(n - 1 for n in per_chat.values())
    return len(got), lost, duplicated, sorted(t for _, t in got)


def within(members: int) -> float:
    """Seconds a worker process may take for `members` sends: three times the fastest the limit
    allows, and a minute for starting and for a restart's pause."""
    return 3 * members / LIMIT * WINDOW + 60


def fraction_of_limit(times: list[float]) -> tuple[float, float]:
    """How close the broadcast came to the fastest schedule the server allows.

    The fastest way to deliver n messages under "at most LIMIT in any WINDOW" puts them in
    bursts of LIMIT, one WINDOW apart: the first and last are (ceil(n / LIMIT) - 1) * WINDOW
    apart. The fraction is that span over the span achieved (1.0 = at the limit).
    """
    span = times[-1] - times[0]
    ideal = (math.ceil(len(times) / LIMIT) - 1) * WINDOW
    return ideal / span, (len(times) - 1) / span


async def uninterrupted(
    api: StrictBotApi, folder: Path, members: int, concurrency: int, postgres: str | None
) -> Figures:
    text = "Run 1: the alliance meets on Saturday"
    path = await new_database(folder, "run1", postgres)
    chats = await prepare(path, members, text)
    start = time.monotonic()
    code = await asyncio.to_thread(child(path, api.base, concurrency).wait, within(members))
    if code != 0:
        raise SystemExit(f"the worker process failed: {code}")
    seconds = time.monotonic() - start
    delivered, lost, duplicated, times = count(api, text, chats)
    rate, per_second = fraction_of_limit(times)
    rows = await statuses(path)
    await drop_database(path)
    return Figures(
        "1: uninterrupted",
        members,
        delivered,
        lost,
        duplicated,
        api.refusals(text),
        seconds,
        rate=rate,
        per_second=per_second,
        rows=_rows(rows),
    )


def child(db: str, api_base: str, concurrency: int) -> subprocess.Popen[bytes]:
    script = os.environ.get("BENCH_CHILD", str(Path(__file__).resolve()))  # a traced child
    command = [sys.executable, script, "--child", db, api_base]
    command += ["--concurrency", str(concurrency)]
    return subprocess.Popen(command, cwd=ROOT)  # noqa: S603


async def killed_and_restarted(
    api: StrictBotApi,
    folder: Path,
    members: int,
    concurrency: int,
    kill_after: float,
    postgres: str | None,
) -> Figures:
    text = "Run 2: the alliance meets on Sunday"
    path = await new_database(folder, "run2", postgres)
    chats = await prepare(path, members, text)
    start = time.monotonic()
    first = child(path, api.base, concurrency)
    api.kill_during(first.pid, text, max(1, int(members * kill_after)))
    code = await asyncio.to_thread(first.wait, within(members))
    if code != -signal.SIGKILL:
        raise SystemExit(f"the worker process ended before the kill: {code}")
    at_kill = await statuses(path)
    second = child(path, api.base, concurrency)
    code = await asyncio.to_thread(second.wait, within(members))
    if code != 0:
        raise SystemExit(f"the restarted worker failed: {code}")
    seconds = time.monotonic() - start
    delivered, lost, duplicated, times = count(api, text, chats)
    _, per_second = fraction_of_limit(times)
    figures = Figures(
        "2: SIGKILL + restart",
        members,
        delivered,
        lost,
        duplicated,
        api.refusals(text),
        seconds,
        per_second=per_second,
        in_flight=at_kill["sending"],
        rows=f"at kill: {_rows(at_kill)}; after: {_rows(await statuses(path))}",
    )
    await drop_database(path)
    return figures


def _rows(counts: Counter[str]) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))


def report(results: list[Figures], concurrency: int, latency: float, database: str) -> bool:
    print(
        f"\nlimit enforced by the fake server: {LIMIT} sendMessage in any {WINDOW:.1f} s, "
        f"{PER_CHAT} per chat; API round trip +{latency * 1000:.0f} ms; "
        f"worker concurrency {concurrency}; database {database}"
    )
    header = (
        f"{'run':<22}{'members':>8}{'delivered':>10}{'lost':>6}{'dup':>5}{'in flight':>10}"
        f"{'429s':>6}{'429 %':>7}{'msg/s':>7}{'of limit':>9}{'seconds':>9}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in results:
        rate = f"{r.rate:.3f}" if r.rate is not None else "-"
        flight = str(r.in_flight) if r.in_flight is not None else "-"
        per_second = f"{r.per_second:.1f}" if r.per_second is not None else "-"
        refused = r.too_many.total()
        share = refused / max(1, refused + r.delivered)  # of the sendMessage calls
        print(
            f"{r.name:<22}{r.members:>8}{r.delivered:>10}{r.lost:>6}{r.duplicated:>5}{flight:>10}"
            f"{refused:>6}{share * 100:>6.2f}%{per_second:>7}{rate:>9}{r.seconds:>9.1f}"
        )
        ok &= r.lost == 0 and r.duplicated <= (r.in_flight or 0)
        ok &= r.rate is None or r.rate >= TARGET_RATE
        ok &= share <= TARGET_429_SHARE
    for r in results:
        print(f"  run {r.name.split(':')[0]} outbox rows: {r.rows}")
        if r.too_many:
            print(f"  run {r.name.split(':')[0]} 429s by limit hit: {_rows(r.too_many)}")
    print(
        "\n'of limit': the fastest span the server allows for these messages over the span "
        "achieved\n(first to last delivery); 'dup' must not exceed 'in flight' (rows marked "
        "sending at the kill);\n'429 %': refused sends over all sendMessage calls. Target: "
        f"of limit >= {TARGET_RATE}, 429 % <= {TARGET_429_SHARE:.0%}, lost 0."
    )
    print("target met" if ok else "TARGET MISSED")
    return ok


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    api = StrictBotApi(args.latency).start()
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            results = [
                await uninterrupted(api, folder, args.members, args.concurrency, args.postgres)
            ]
            if not args.no_kill:
                results.append(
                    await killed_and_restarted(
                        api, folder, args.members, args.concurrency, args.kill_after, args.postgres
                    )
                )
    finally:
        api.stop()
    ok = report(
        results, args.concurrency, args.latency, "PostgreSQL" if args.postgres else "SQLite"
    )
    print(f"total {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--kill-after", type=float, default=0.5, help="fraction sent at the kill")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="most sends in flight (WASL_DELIVERY_CONCURRENCY)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="simulated API round trip, seconds"
    )
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--no-kill", action="store_true", help="only the uninterrupted run")
    parser.add_argument("--child", nargs=2, metavar=("DB", "API"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    logging.basicConfig(level=logging.CRITICAL)
    if arguments.child:
        db, base = arguments.child
        asyncio.run(deliver_all(db, base, arguments.concurrency))
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
