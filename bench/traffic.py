"""Webhook traffic for the inbound benchmarks (bench/inbound.py, bench/webhooks.py).

What both share: a fake Bot API that notes when each reply reaches it; a database (a SQLite
file or a fresh PostgreSQL database), migrated by `wasl migrate` and seeded with members; Wasl
workers (`wasl serve` or `wasl run` with a webhook) and bare python-telegram-bot "floor"
workers as subprocesses; a round-robin front; and people who write to the bot.

The people: 25% `/start` from someone new, 50% button presses by people mid-way through
joining, 25% text from members already in. A button press uses the keyboard the bot last sent
her (its message id and a payload it offered, read from the fake API's record of the
`sendMessage`), so no press is a stale one; at the spheres step she ticks two spheres at
once (two updates posted together, one to each worker when there are two), then taps Done.
Whoever is furthest along goes on first (people join in one go, rather than all inching
forward together); when nobody of the kind drawn is free, someone new starts instead, so the
real mix drifts a little towards `/start` (it is printed).
Every update Wasl (or the floor) handles gets exactly one reply (`sendMessage` or
`editMessageText`), and she acts again only once she has it, so replies are counted per chat:
fewer than she sent is a lost update, more is a duplicate. Latency is from the POST to the
reply reaching the fake API.

The floor: `python bench/traffic.py floor --port P --api BASE`, a PTB Application with its
defaults replying once (sendMessage) to each update, behind a minimal Starlette route under
uvicorn (PTB's custom-webhook pattern: parse, put on the update queue, answer 200).

The fake API enforces no rate limit here: replies to people who wrote are not a broadcast, and
30/s overall would cap any inbound figure at 30/s (bench/broadcast.py measures the limit).
The fake API and the people share this process (two threads): on a 2-core machine they take
CPU from the workers measured, the same for Wasl and the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.fakes.telegram_api import FakeBotApi, callback_update, text_update  # noqa: E402

SECRET = "bench-webhook-secret"  # noqa: S105 (a test value)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header's name)
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MEMBER_BASE = 700_000_000  # chat ids of the seeded members
NEWCOMER_BASE = 710_000_000  # and of the people who join during the run
MIX = (0.25, 0.50, 0.25)  # /start from someone new, a press mid-joining, a member's text
# The joining steps (handlers/onboarding.py) as their buttons' payloads start ("ob:1:<step>:"),
# and what she picks when the reply carries no keyboard (the floor's replies carry none).
STEPS = ("lang", "second", "values", "country", "spheres")
FALLBACK = {
    "lang": ["en", "fr", "ar"],
    "second": ["none", "es"],
    "values": ["yes"],
    "country": ["IQ", "SY", "NG"],
    "spheres": ["youth", "media", "rights", "vaw"],
}
DONE = "~d"  # the spheres checklist's Done
# Buttons she does not press: "No, thank you" ends her joining; "Another country" asks her to
# type its name; "~…" are More, Back and Done.
SKIPPED = {"no", "other"}
TEXTS = ("hello", "Thank you!", "When is the next meeting?", "salam")
GIVE_UP = 5.0  # seconds an update may wait for its reply before a steady run stops offering
WAIT = 20.0  # seconds she waits for a reply before counting it lost (a kill run's recovery)


# -- the fake Bot API ---------------------------------------------------------------------------


class ReplyClock(FakeBotApi):
    """The fake Bot API, calling `listener(chat, at, markup, message_id)` on the driver's loop
    for every reply (sendMessage, editMessageText) as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listener: Callable[[int, float, Any, int], None] | None = None

    def _m_sendmessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        at = time.monotonic()
        message = super()._m_sendmessage(params, files)
        self._heard(params, at, int(message["message_id"]))
        return message

    def _m_editmessagetext(self, params: dict[str, Any], files: Any) -> Any:
        at = time.monotonic()
        result = super()._m_editmessagetext(params, files)
        self._heard(params, at, int(params.get("message_id") or 0))
        return result

    def _heard(self, params: dict[str, Any], at: float, message_id: int) -> None:
        if self.loop is not None and self.listener is not None:
            chat = params.get("chat_id")
            markup = params.get("reply_markup")
            self.loop.call_soon_threadsafe(self.listener, chat, at, markup, message_id)


# -- databases and processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Database:
    """A SQLite file in `folder`, or a fresh PostgreSQL database next to `postgres`'s."""

    def __init__(self, kind: str, folder: Path, postgres: str = POSTGRES) -> None:
        self.kind = kind
        self.admin = postgres
        self.name = f"wasl_bench_{secrets.token_hex(4)}"
        if kind == "sqlite":
            self.url = f"sqlite:///{folder / (self.name + '.db')}"
        else:
            self.url = postgres.rsplit("/", 1)[0] + f"/{self.name}"

    async def create(self, folder: Path, members: int) -> list[int]:
        """Create, migrate (`wasl migrate`, as a deployment does) and seed `members` members;
        their chat ids."""
        if self.kind == "postgres":
            await self._admin(f'CREATE DATABASE "{self.name}"')
        env = wasl_env(self.url)
        command = [sys.executable, "-m", "bot", "migrate"]
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, cwd=folder, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"wasl migrate failed: {done.stderr.decode()[-2000:]}")
        return await self._seed(members)

    async def _seed(self, members: int) -> list[int]:
        from bot.core.messages import ChannelName
        from bot.core.models import NewMember, Role

        chats = [MEMBER_BASE + i for i in range(members)]
        store = self.store()
        now = datetime.now(UTC)
        try:
            async with store.transaction() as tx:
                for chat in chats:
                    new = NewMember(
                        channel=ChannelName.TELEGRAM,
                        platform_id=str(chat),
                        chat_id=str(chat),
                        locale="en",
                        country="IQ",
                        spheres=["youth"],
                        role=Role.MEMBER,
                        consent_version="1",
                        consented_at=now,
                    )
                    await tx.members.create(new, now)
        finally:
            await store.close()
        return chats

    def store(self) -> Any:
        from storage.engine import make_engine
        from storage.store import SqlStore

        return SqlStore(make_engine(self.url))

    async def drop(self) -> None:
        if self.kind == "postgres":
            await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    async def _admin(self, statement: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()


def wasl_env(database_url: str, **settings: str) -> dict[str, str]:
    """This environment without Wasl's or the platforms' settings, plus the given ones."""
    from bot.core import keys

    prefixes = ("TELEGRAM_", "WHATSAPP_", "WASL_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT), WASL_SECRET_KEY=keys.generate())
    env.update(WASL_LOG_FORMAT="text")  # key=value lines: what `warnings` and `leading` read
    env.update(settings)
    return env


class Worker:
    """One process taking webhooks on its own port, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/webhook/telegram"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603
                command, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT
            )

    @classmethod
    def wasl(
        cls, command: str, db: Database, api: FakeBotApi, folder: Path, n: int, **extra: str
    ) -> Worker:
        """`wasl serve` (webhooks only) or `wasl run` (with a webhook URL: webhooks, and the
        delivery worker and scheduler when it leads)."""
        port = free_port()
        settings = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE": api.base,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "WASL_PORT": str(port),
            "WASL_OPEN_JOIN": "true",
            **extra,
        }
        if command == "run":
            settings["TELEGRAM_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/webhook/telegram"
        env = wasl_env(db.url, **settings)
        log = folder / f"wasl-{command}-{n}-{port}.log"
        return cls([sys.executable, "-m", "bot", command], env, port, log)

    @classmethod
    def floor(cls, api: FakeBotApi, folder: Path, n: int) -> Worker:
        port = free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "floor"]
        command += ["--port", str(port), "--api", api.base]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return cls(command, env, port, folder / f"floor-{n}-{port}.log")

    async def healthy(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SystemExit(f"a worker exited: {self.output()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    got = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if got.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise SystemExit(f"a worker never became healthy: {self.output()[-3000:]}")

    def cpu(self) -> float:
        """CPU seconds the process has used (user and system), from /proc."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def warnings(self) -> list[str]:
        """The events it logged as a warning or an error, by name (for a report of problems)."""
        lines = self.output().splitlines()
        bad = [line for line in lines if "level=WARNING" in line or "level=ERROR" in line]
        return [word for line in bad for word in line.split() if word.startswith("event=")]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


async def start_all(workers: Sequence[Worker]) -> None:
    await asyncio.gather(*(w.healthy() for w in workers))


@contextlib.asynccontextmanager
async def serving(workers: Sequence[Worker], api: FakeBotApi) -> AsyncIterator[Front]:
    """The workers started and healthy, behind a front; stopped at the end."""
    try:
        await start_all(workers)
        front = Front([w.url for w in workers], api)
        try:
            yield front
        finally:
            await front.close()
    finally:
        stop_all(workers)


def stop_all(workers: Sequence[Worker]) -> None:
    """Stop them together (each takes a moment to close)."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGINT)
    for worker in workers:
        worker.stop()


# -- the people ---------------------------------------------------------------------------------


@dataclass
class Person:
    chat: int
    joining: bool  # a newcomer (else a member already in)
    step: int = 0  # index into STEPS; len(STEPS) + 1 once she has tapped Done
    sent: int = 0
    heard: int = 0
    posted: list[float] = field(default_factory=list)  # POST times of what awaits a reply
    keyboard: list[str] = field(default_factory=list)  # payloads of her last keyboard
    keyboard_id: int = 0
    chose: dict[str, str] = field(default_factory=dict)
    spheres: set[str] = field(default_factory=set)
    waiter: asyncio.Future[None] | None = None
    said: list[str] = field(default_factory=list)  # what she sent, for a report of problems

    @property
    def finished(self) -> bool:
        return self.step > len(STEPS)


@dataclass
class Tally:
    """What one run of traffic measured."""

    latencies: list[float]  # seconds, POST to reply, for updates posted in the window
    replies: int  # replies that reached the API within the window
    seconds: float
    posted: int  # updates posted within the window
    harness_cpu: float = 0.0  # share of one core this process (people, fake API) used
    gave_up: float | None = None  # seconds into a steady run it stopped: overloaded
    cpu_per_update: float = float("nan")  # CPU seconds of the workers per reply (closed loop)

    @property
    def per_second(self) -> float:
        return self.replies / self.seconds

    @property
    def offered(self) -> float:
        return self.posted / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


class Front:
    """Round robin over the workers; a worker that refuses the connection or answers an error
    is skipped (the update goes to the next), as a proxy with health checks would."""

    def __init__(self, urls: Sequence[str], api: FakeBotApi) -> None:
        self.urls = list(urls)
        self.api = api  # runs the calls webhooks name in their answers, as Telegram does
        self._next = 0
        self.failovers = 0
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=512),
            timeout=httpx.Timeout(30.0),
        )

    async def post(self, update: dict[str, Any]) -> None:
        for _ in range(4 * len(self.urls)):
            url = self.urls[self._next % len(self.urls)]
            self._next += 1
            try:
                response = await self.client.post(
                    url, json=update, headers={SECRET_HEADER: SECRET}
                )
                if response.status_code == 200:
                    self.api.webhook_answered(response)
                    return
            except httpx.TransportError:
                pass
            self.failovers += 1
            await asyncio.sleep(0.01)
        raise RuntimeError("no worker took the update")

    async def close(self) -> None:
        await self.client.aclose()


class Traffic:
    """People writing to the bot through `front`; replies heard through `api`."""

    def __init__(
        self,
        api: ReplyClock,
        members: Sequence[int],
        *,
        seed: int = 1,
        first_new: int = 0,
        wait: float = WAIT,
    ) -> None:
        self.rng = random.Random(seed)
        self.wait = wait
        self.people: dict[int, Person] = {c: Person(c, joining=False) for c in members}
        self.ready_members = list(members)
        # Who is mid-way and has her reply, furthest along first: she goes on tapping (as
        # someone joining does, in one go) rather than everyone inching forward together.
        self.ready_joining: list[tuple[int, int, int]] = []  # (-step, order, chat), a heap
        self._order = itertools.count()
        self.newcomers = NEWCOMER_BASE + first_new
        self.heard: list[tuple[float, float]] = []  # (posted at, replied at)
        self.reply_times: list[float] = []
        self.strays = 0  # replies to chats nobody here wrote from
        self.unexpected = 0  # a keyboard that was not her next step's
        self.wrong_chats: list[int] = []
        self.failed_posts = 0
        self.posted = 0
        self.presses = 0  # of the updates posted, button presses
        self.starts = 0  # and /start
        self.post_times: list[float] = []
        self.front: Front | None = None
        self._cpu = (0.0, 0.0)
        api.loop = asyncio.get_running_loop()
        api.listener = self._reply

    def _reply(self, chat: int, at: float, markup: Any, message_id: int) -> None:
        person = self.people.get(chat)
        if person is None:
            self.strays += 1
            return
        person.heard += 1
        self.reply_times.append(at)
        if person.posted:
            self.heard.append((person.posted[0], at))
            del person.posted[0]
        rows = (markup or {}).get("inline_keyboard") if isinstance(markup, dict) else None
        if rows:
            person.keyboard = [b.get("callback_data", "") for row in rows for b in row]
            person.keyboard_id = message_id
        waiter = person.waiter
        if person.heard >= person.sent and waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- choosing what happens next ---------------------------------------------------------

    def next_action(self) -> tuple[Person, list[dict[str, Any]]]:
        """Someone and the update(s) she sends now, by the mix; a newcomer when nobody of the
        drawn kind is free (then she is there to press next time)."""
        draw = self.rng.random()
        members = self.ready_members
        if MIX[0] <= draw < MIX[0] + MIX[1] and self.ready_joining:
            person = self.people[heapq.heappop(self.ready_joining)[2]]
        elif draw >= MIX[0] + MIX[1] and members:
            index = self.rng.randrange(len(members))
            members[index], members[-1] = members[-1], members[index]
            person = self.people[members.pop()]
        else:
            self.newcomers += 1
            person = self.people.setdefault(self.newcomers, Person(self.newcomers, joining=True))
            return person, [text_update(person.chat, "/start")]
        if not person.joining:
            return person, [text_update(person.chat, self.rng.choice(TEXTS))]
        return person, self._presses(person)

    def _presses(self, person: Person) -> list[dict[str, Any]]:
        step = STEPS[person.step] if person.step < len(STEPS) else "spheres"
        prefix = f"ob:1:{step}:"
        offered = [p[len(prefix) :] for p in person.keyboard if p.startswith(prefix)]
        if person.keyboard and not offered:
            self.unexpected += 1  # the bot's keyboard is not this step's: state went astray
        choices = [c for c in offered if c[:1] != "~" and c not in SKIPPED] or FALLBACK[step]
        on = person.keyboard_id

        def press(code: str) -> dict[str, Any]:
            return callback_update(person.chat, prefix + code, on)

        if person.step == len(STEPS):  # ticked: Done
            person.step += 1
            return [press(DONE)]
        if step == "spheres":  # two ticks at once, as a quick thumb does
            two = self.rng.sample(choices, 2)
            person.spheres.update(two)
            person.step += 1
            return [press(two[0]), press(two[1])]
        code = self.rng.choice(choices)
        person.chose[step] = code
        person.step += 1
        return [press(code)]

    # -- sending ------------------------------------------------------------------------------

    async def act(
        self, person: Person, updates: list[dict[str, Any]], *, free: bool = True
    ) -> None:
        """Post her update(s) and wait for the replies; then she is `free` to be drawn again."""
        assert self.front is not None
        loop = asyncio.get_running_loop()
        person.waiter = loop.create_future()
        person.sent += len(updates)
        for update in updates:
            query, message = update.get("callback_query"), update.get("message")
            person.said.append(query["data"] if query else message["text"])
            self.presses += query is not None
            self.starts += message is not None and message["text"] == "/start"
        self.posted += len(updates)
        now = time.monotonic()
        person.posted.extend([now] * len(updates))
        self.post_times.extend([now] * len(updates))
        results = await asyncio.gather(
            *(self.front.post(u) for u in updates), return_exceptions=True
        )
        self.failed_posts += sum(1 for r in results if isinstance(r, Exception))
        if person.heard < person.sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(person.waiter, self.wait)
        if person.heard < person.sent:
            return  # lost (or very late): she stops here, counted at the end
        if free:
            self.free(person)

    def free(self, person: Person) -> None:
        """She has her reply: she may act again (unless she has finished joining)."""
        if person.joining and not person.finished:
            heapq.heappush(self.ready_joining, (-person.step, next(self._order), person.chat))
        elif not person.joining:
            self.ready_members.append(person.chat)

    async def closed(
        self,
        front: Front,
        users: int,
        seconds: float,
        warmup: float = 1.0,
        workers: Sequence[Worker] = (),
    ) -> Tally:
        """`users` people at once, each acting again as soon as she has her reply: the most the
        workers can take. Measured after `warmup` s; with the CPU the `workers` used per reply
        (what a busy machine changes least)."""
        self.front = front
        cpu, replies = sum(w.cpu() for w in workers), len(self.reply_times)
        start = time.monotonic()
        end = start + warmup + seconds
        self._cpu = (time.process_time(), time.monotonic())

        async def user() -> None:
            while time.monotonic() < end:
                await self.act(*self.next_action())

        await asyncio.gather(*(user() for _ in range(users)))
        tally = self._tally(start + warmup, end)
        used, answered = sum(w.cpu() for w in workers) - cpu, len(self.reply_times) - replies
        tally.cpu_per_update = used / max(1, answered)
        return tally

    async def steady(
        self,
        front: Front,
        rate: float,
        seconds: float,
        warmup: float = 1.0,
        give_up: float | None = GIVE_UP,
    ) -> Tally:
        """Updates offered at `rate` per second whatever the answers (an open loop). Offering
        stops early once an update has waited `give_up` s for its reply: the workers cannot
        keep up, and the backlog would only grow (Tally.gave_up says when)."""
        self.front = front
        start = time.monotonic()
        end = start + warmup + seconds
        self._cpu = (time.process_time(), time.monotonic())
        tasks: set[asyncio.Task[None]] = set()
        due = checked = start
        gave_up = None
        while due < end:
            person, updates = self.next_action()
            task = asyncio.create_task(self.act(person, updates))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += len(updates) / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now = time.monotonic()
            if give_up is not None and now - checked > 0.5:
                checked = now
                if now - self.oldest_waiting(now) > give_up:
                    gave_up = now - start - warmup
                    break
        if tasks:
            await asyncio.wait(tasks)
        tally = self._tally(start + warmup, min(end, time.monotonic()) if gave_up else end)
        tally.gave_up = gave_up
        return tally

    async def join_all(self, front: Front, people: int) -> None:
        """`people` newcomers join at once, each in one go: as many double ticks (two presses
        posted together, to two workers when there are two) for the lost-tap check."""
        self.front = front

        async def one() -> None:
            self.newcomers += 1
            person = self.people.setdefault(self.newcomers, Person(self.newcomers, joining=True))
            await self.act(person, [text_update(person.chat, "/start")], free=False)
            while not person.finished and person.heard >= person.sent:
                await self.act(person, self._presses(person), free=False)

        await asyncio.gather(*(one() for _ in range(people)))

    def oldest_waiting(self, now: float) -> float:
        """When the oldest update still without its reply was posted (`now` if none)."""
        return min((p.posted[0] for p in self.people.values() if p.posted), default=now)

    def _tally(self, start: float, end: float) -> Tally:
        latencies = [at - sent for sent, at in self.heard if start <= sent < end]
        replies = sum(1 for at in self.reply_times if start <= at < end)
        posted = sum(1 for at in self.post_times if start <= at < end)
        cpu = (time.process_time() - self._cpu[0]) / (time.monotonic() - self._cpu[1])
        return Tally(latencies, replies, max(end - start, 1e-3), posted, cpu)

    # -- at the end -----------------------------------------------------------------------------

    def lost(self) -> int:
        return sum(max(0, p.sent - p.heard) for p in self.people.values())

    def duplicated(self) -> int:
        return sum(max(0, p.heard - p.sent) for p in self.people.values())

    async def settle(self, quiet: float = 5.0, within: float = 180.0) -> None:
        """Wait until every update has its reply, or no reply came for `quiet` s (or `within`
        s passed), then a little more for late duplicates."""
        deadline = time.monotonic() + within
        while self.lost() and time.monotonic() < deadline:
            last = self.reply_times[-1] if self.reply_times else 0.0
            if time.monotonic() - last > quiet:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)

    async def wrong_members(self, db: Database) -> int:
        """People whose joining the database does not show as she did it: finished and not a
        member with her country and both spheres she ticked, or a member without finishing."""
        from bot.core.messages import ChannelName

        store = db.store()
        wrong = 0
        try:
            async with store.transaction() as tx:
                for person in self.people.values():
                    if not person.joining or person.heard < person.sent:
                        continue
                    member = await tx.members.get(ChannelName.TELEGRAM, str(person.chat))
                    if not person.finished:
                        bad = member is not None
                    else:
                        bad = member is None or (
                            (set(member.spheres), member.country)
                            != (person.spheres, person.chose.get("country"))
                        )
                    if bad:
                        wrong += 1
                        self.wrong_chats.append(person.chat)
        finally:
            await store.close()
        return wrong

    def problems(self, api: FakeBotApi, most: int = 4) -> list[str]:
        """What the first few people with a lost, repeated or wrong update sent and heard."""
        chats = [c for c, p in self.people.items() if p.heard != p.sent] + self.wrong_chats
        lines = []
        for chat in chats[:most]:
            person = self.people[chat]
            heard = [c.text.split("\n")[0][:40] for c in api.replies(chat)]
            lines.append(f"    chat {chat}: sent {person.said}; heard {heard}")
        return lines

    def mix(self) -> str:
        """The real mix of what was posted: "/start %, press %, text %"."""
        total = max(1, self.posted)
        start, press = self.starts * 100 // total, self.presses * 100 // total
        return f"{start}/{press}/{100 - start - press}"

    def joined(self) -> int:
        return sum(1 for p in self.people.values() if p.joining and p.finished)


@dataclass
class Verdict:
    """What went wrong in a run, counted at its end."""

    lost: int  # updates without a reply, or that no worker took
    duplicated: int  # replies beyond one per update
    wrong: int | None  # joinings the database or the next keyboard contradicts (None: floor)
    astray: int  # of those, keyboards not of her next step (after a repeated reply, say)
    joined: int
    mix: str
    problems: list[str]

    @property
    def clean(self) -> bool:
        return self.lost + self.duplicated + (self.wrong or 0) == 0


async def verdict(traffic: Traffic, api: FakeBotApi, db: Database | None) -> Verdict:
    """Count it (before the database is dropped)."""
    wrong = None if db is None else await traffic.wrong_members(db) + traffic.unexpected
    return Verdict(
        traffic.lost() + traffic.failed_posts,
        traffic.duplicated(),
        wrong,
        traffic.unexpected,
        traffic.joined(),
        traffic.mix(),
        traffic.problems(api),
    )


async def run_traffic(
    api: ReplyClock,
    workers: Sequence[Worker],
    members: Sequence[int],
    db: Database | None,
    *,
    index: int,
    users: int,
    closed: float,
    rate: float | None = None,
    seconds: float = 0.0,
    joiners: int = 0,
) -> tuple[Tally, Tally | None, Verdict]:
    """Start the workers; the closed loop; the steady run when a `rate` is given; `joiners`
    newcomers joining at once; stop them and count what went wrong."""
    async with serving(workers, api) as front:
        traffic = Traffic(api, members, seed=index, first_new=index * 1_000_000)
        most = await traffic.closed(front, users, closed, workers=workers)
        await traffic.settle()
        steady = None
        if rate:
            steady = await traffic.steady(front, rate, seconds)
            await traffic.settle()
        if joiners:
            await traffic.join_all(front, joiners)
            await traffic.settle()
    counted = await verdict(traffic, api, db)
    if not counted.clean:
        events = Counter(e for w in workers for e in w.warnings())
        counted.problems.append(f"    workers' warnings: {dict(events.most_common(6))}")
    return most, steady, counted


def traffic_options(
    description: str, *, workers: str, rate: float, duration: float
) -> argparse.ArgumentParser:
    """The options both benchmarks take (each adds its own)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", default=workers, help=f"worker counts, e.g. {workers}")
    parser.add_argument("--rate", type=float, default=rate, help="steady updates per second")
    parser.add_argument("--duration", type=float, default=duration, help="steady run, seconds")
    parser.add_argument("--closed", type=float, default=6.0, help="closed-loop run, seconds")
    parser.add_argument("--users", type=int, default=32, help="people at once, closed loop")
    parser.add_argument("--members", type=int, default=400, help="members seeded")
    parser.add_argument(
        "--joiners", type=int, default=30, help="with 2+ workers: newcomers joining at once"
    )
    parser.add_argument("--postgres", default=POSTGRES, metavar="URL")
    return parser


def quick(args: argparse.Namespace) -> None:
    """--quick: short runs, few members."""
    args.duration, args.closed, args.members = min(args.duration, 5.0), 3.0, 100
    args.joiners = min(args.joiners, 10)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# -- the floor ----------------------------------------------------------------------------------


async def floor(port: int, api_base: str) -> None:
    """A bare PTB Application replying once to each update, behind a minimal webhook."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

    from tests.fakes.telegram_api import TOKEN

    builder = ApplicationBuilder().token(TOKEN).base_url(f"{api_base}/bot").updater(None)
    application = builder.build()

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None:
            await context.bot.send_message(chat.id, "ok")

    application.add_handler(TypeHandler(Update, reply))

    async def webhook(request: Request) -> Response:
        if request.headers.get(SECRET_HEADER) != SECRET:
            return Response(status_code=401)
        update = Update.de_json(await request.json(), application.bot)
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(_: Request) -> Response:
        return Response("ok")

    routes = [
        Route("/webhook/telegram", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    web = Starlette(routes=routes)
    config = uvicorn.Config(
        web, host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    async with application:
        await application.start()
        await uvicorn.Server(config).serve()
        await application.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the floor: a bare PTB webhook worker")
    parser.add_argument("role", nargs="?", choices=["floor"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--api")
    arguments = parser.parse_args()
    if arguments.role is None:  # `make bench` runs every script: this one only helps two
        print("helpers of bench/inbound.py and bench/webhooks.py: nothing to measure alone")
        sys.exit(0)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        asyncio.run(floor(arguments.port, arguments.api))
