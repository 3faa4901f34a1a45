"""`wasl run` (webhook) as a subprocess: killed with SIGKILL in the middle of a webhook burst,
it loses no update it acknowledged and no reply; it refuses to start without its secrets; a
huge body is refused with 413 without the process growing."""

from __future__ import annotations

import asyncio
import secrets
import select
import signal
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import BotProcess
from tests.fakes.telegram_api import FakeBotApi, running_api, text_update
from tests.support.net import free_port

pytestmark = pytest.mark.e2e

SECRET = "crash-test-SECRET"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
BURST = 200
CHATS = 40
KILL_AT = 100  # answers received before the SIGKILL
INBOX_CONCURRENCY = 8  # updates the inbox worker handles at once (bot/inbox.py)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


async def wait_healthy(port: int, bot: BotProcess, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert bot.process.poll() is None, bot.output
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"never healthy: {bot.output[-2000:]}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database for the subprocess: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    name = f"wasl_crash_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def processed_ids(url: str) -> list[str]:
    query = "SELECT update_id FROM processed_update WHERE channel = 'telegram'"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [row[0] for row in db.execute(query)]
    connection = await asyncpg.connect(url)
    try:
        return [row[0] for row in await connection.fetch(query)]
    finally:
        await connection.close()


async def inbox_rows(url: str) -> int:
    query = "SELECT count(*) FROM inbox"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return int(db.execute(query).fetchone()[0])
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def test_an_acknowledged_update_survives_a_sigkill_and_is_processed_once(
    api: FakeBotApi, database_url: str, launch: Callable[..., BotProcess]
) -> None:
    port = free_port()
    # `wasl run` with a webhook: the web server and, as the leader, the delivery worker, so the
    # replies the kill left in the outbox are sent by the restarted process.
    settings = {
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook/telegram",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "WASL_PORT": str(port),
        "WASL_INBOX_LEASE": "3",  # rows the killed process held are taken again after 3 s
    }
    bot = launch(["run"], **settings)
    await wait_healthy(port, bot)
    url = f"http://127.0.0.1:{port}/webhook/telegram"

    # How many messages one /help gets, measured once.
    async with httpx.AsyncClient() as client:
        probe = await client.post(url, json=text_update(1, "/help"), headers=HEADERS)
        assert probe.status_code == 200
    await api.wait_replies(1, 1)
    await asyncio.sleep(0.5)
    per_update = len(api.replies(1))

    users = [1000 + n for n in range(CHATS)]
    updates = [text_update(users[n % CHATS], "/help") for n in range(BURST)]
    accepted: list[dict[str, Any]] = []
    answered = 0
    killed = asyncio.Event()

    async def send(client: httpx.AsyncClient, update: dict[str, Any]) -> None:
        nonlocal answered
        try:
            response = await client.post(url, json=update, headers=HEADERS)
        except httpx.TransportError:
            return  # cut by the kill: Telegram would send it again
        answered += 1
        if 200 <= response.status_code < 300:
            accepted.append(update)
        if answered >= KILL_AT and not killed.is_set():
            killed.set()
            bot.process.send_signal(signal.SIGKILL)

    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(send(client, u) for u in updates))
    bot.process.wait(timeout=10)
    assert killed.is_set() and bot.process.returncode == -signal.SIGKILL
    assert KILL_AT <= len(accepted) < BURST, "the kill came in the middle of the burst"

    restarted = launch(["run"], **settings)
    await wait_healthy(port, restarted)
    wanted = {str(u["update_id"]) for u in accepted}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = set(await processed_ids(database_url))
        if wanted <= done and await inbox_rows(database_url) == 0:
            break
        await asyncio.sleep(0.3)
    done = set(await processed_ids(database_url))
    await asyncio.sleep(1.0)  # replies still on their way
    assert restarted.stop() == 0

    missing = wanted - done
    sent_ids = {str(u["update_id"]) for u in updates}
    processed = done & sent_ids
    by_chat = Counter(
        str(u["message"]["chat"]["id"]) for u in updates if str(u["update_id"]) in processed
    )
    replies = Counter(str(c.params["chat_id"]) for c in api.replies() if c.params["chat_id"] != 1)
    duplicates = sum(max(0, replies[chat] - per_update * n) for chat, n in by_chat.items())
    lost_replies = sum(max(0, per_update * n - replies[chat]) for chat, n in by_chat.items())
    print(
        f"\ncrash test ({database_url.split(':')[0]}): sent={BURST} accepted={len(accepted)} "
        f"processed={len(processed)} accepted_not_processed={len(missing)} "
        f"duplicates={duplicates} replies_lost_in_flight={lost_replies}"
    )
    assert not missing, f"{len(missing)} acknowledged updates were never processed"
    # Every reply of every processed update arrives: those the kill left in the outbox are sent
    # by the restarted leader. Only a send in flight at the kill may come twice (the inbox
    # worker has at most INBOX_CONCURRENCY updates, each with one reply, in the air).
    assert lost_replies == 0, f"{lost_replies} replies never reached her"
    assert duplicates <= INBOX_CONCURRENCY
    assert await inbox_rows(database_url) == 0


def test_whatsapp_without_its_app_secret_does_not_start(
    launch: Callable[..., BotProcess], tmp_path: Path
) -> None:
    whatsapp = {
        "WHATSAPP_ACCESS_TOKEN": "token",
        "WHATSAPP_PHONE_NUMBER_ID": "1065",
        "WASL_PORT": str(free_port()),
    }
    for command in (["serve"], ["run"]):
        bot = launch(command, **whatsapp, WHATSAPP_VERIFY_TOKEN="verify-me")
        assert bot.process.wait(timeout=60) != 0
        assert "WHATSAPP_APP_SECRET" in bot.output
    bot = launch(["serve"], **whatsapp, WHATSAPP_APP_SECRET="s")
    assert bot.process.wait(timeout=60) != 0
    assert "WHATSAPP_VERIFY_TOKEN" in bot.output
    bot = launch(["serve"], TELEGRAM_BOT_TOKEN="1:x", WASL_PORT=str(free_port()))
    assert bot.process.wait(timeout=60) != 0
    assert "TELEGRAM_WEBHOOK_SECRET" in bot.output
    assert not (tmp_path / "e2e.db").exists(), "refused before opening the database"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stream_huge_body(port: int, path: str, headers: dict[str, str], total: int) -> tuple[int, int]:
    """POST a chunked body of `total` bytes, stopping as soon as the server answers.

    Returns (status, bytes sent)."""
    chunk = b"[" * (1024 * 1024)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = sock.recv(4096)
    return int(answer.split()[1]), sent


async def test_a_300_mb_body_is_refused_without_the_process_growing(
    launch: Callable[..., BotProcess],
) -> None:
    port = free_port()
    bot = launch(
        ["serve", "--port", str(port)],
        WHATSAPP_ACCESS_TOKEN="token",
        WHATSAPP_PHONE_NUMBER_ID="1065",
        WHATSAPP_APP_SECRET="app-secret",
        WHATSAPP_VERIFY_TOKEN="verify-me",
    )
    await wait_healthy(port, bot)
    before = rss_kb(bot.process.pid)
    total = 300 * 1024 * 1024
    for _ in range(4):  # the attack that took the process from 105 MB to 1.9 GB
        forged = {"X-Hub-Signature-256": "sha256=00"}
        status, sent = await asyncio.to_thread(
            stream_huge_body, port, "/webhook/whatsapp", forged, total
        )
        assert status == 413
        assert sent < total
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # Only the headers: a declared length over the limit is refused before any byte.
        sock.sendall(
            f"POST /webhook/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {total}\r\n\r\n".encode()
        )
        assert sock.recv(4096).split()[1] == b"413"
    growth = rss_kb(bot.process.pid) - before
    print(f"\nRSS before={before} kB growth={growth} kB after 4 refused 300 MB bodies")
    assert growth < 50 * 1024
    assert bot.stop() == 0
