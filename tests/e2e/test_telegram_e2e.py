"""`python -m bot run` as a subprocess against the fake Bot API: one member joins in Arabic.

Asserts on button payloads and on the replies being in Arabic, never on exact wording.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.i18n import SUPPORTED_LOCALES
from tests.e2e.conftest import BotProcess
from tests.fakes.telegram_api import (
    Call,
    FakeBotApi,
    callback_update,
    running_api,
    text_update,
)
from tests.support.net import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
USER = 5_550_123
ARABIC = re.compile(r"[\u0600-\u06FF]")
STEP = 15.0  # seconds each answer may take (the first includes start-up)


class Member:
    """A member pressing buttons and typing in her chat, reading what the bot answers."""

    def __init__(self, api: FakeBotApi, user_id: int, language_code: str) -> None:
        self.api = api
        self.user_id = user_id
        self.language_code = language_code
        self.seen = 0

    async def deliver(self, update: dict[str, Any], answers: int = 1) -> list[Call]:
        """Queue `update` for getUpdates; wait for `answers` new replies and return them."""
        self.api.push_update(update)
        return await self.expect(answers)

    async def expect(self, answers: int) -> list[Call]:
        replies = await self.api.wait_replies(self.user_id, self.seen + answers, within=STEP)
        new = replies[self.seen :]
        self.seen = len(replies)
        return new

    async def say(self, text: str, answers: int = 1) -> list[Call]:
        update = text_update(self.user_id, text, language_code=self.language_code)
        return await self.deliver(update, answers)

    async def press(self, payload: str, on: Call, answers: int = 1) -> list[Call]:
        assert payload in on.payloads, f"{payload} is not among {on.payloads}"
        update = callback_update(
            self.user_id, payload, on.message_id, language_code=self.language_code
        )
        return await self.deliver(update, answers)

    async def tap(self, label: str, on: Call, answers: int = 1) -> list[Call]:
        """Press the button labelled `label` on the message `on`, as she would."""
        return await self.press(payload_of(on, label), on, answers)


def labels(call: Call) -> list[str]:
    return [b["text"] for row in call.keyboard for b in row]


def payload_of(call: Call, label: str) -> str:
    found = [b["callback_data"] for row in call.keyboard for b in row if b["text"] == label]
    assert found, f"no {label!r} among {labels(call)}"
    return str(found[0])


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


async def test_a_member_joins_in_arabic_and_leaves(
    api: FakeBotApi, launch: Callable[..., BotProcess]
) -> None:
    bot = launch(
        ["run"], TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE=api.base, WASL_OPEN_JOIN="true"
    )
    her = Member(api, USER, "ar")  # her first message waits in getUpdates until the bot polls

    [choose_language] = await her.say("/start")
    assert labels(choose_language)[:2] == ["العربية", "English"], "hers first"

    [second] = await her.tap("العربية", on=choose_language)
    assert "English" in labels(second) and "العربية" not in labels(second)
    [values] = await her.tap("تخطي", on=second)
    assert {"أوافق", "لا، شكرًا"} <= set(labels(values))
    assert ARABIC.search(values.text), "the values and data notice are not in Arabic"

    [country] = await her.tap("أوافق", on=values)
    assert {"العراق", "بلد آخر"} <= set(labels(country))
    assert ARABIC.search(country.text)
    assert ARABIC.search(country.keyboard[0][0]["text"])  # country names in Arabic too

    [spheres] = await her.tap("العراق", on=country)
    assert "تم" in labels(spheres) and len(labels(spheres)) > 3

    first = labels(spheres)[0]
    assert first.startswith("▫️")
    [toggled] = await her.tap(first, on=spheres)
    assert toggled.method == "editMessageText", "a toggle edits the message in place"
    assert toggled.message_id == spheres.message_id
    assert "✅" in toggled.keyboard[0][0]["text"]

    done = callback_update(USER, payload_of(toggled, "تم"), toggled.message_id, language_code="ar")
    [welcome] = await her.deliver(done)
    assert welcome.method == "sendMessage"
    assert ARABIC.search(welcome.text)

    # Telegram delivers the same update again: it is handled once. Updates are handled in
    # order, so once /forget (sent after it) is answered, the repeat has been handled.
    api.redeliver(done)
    [confirm] = await her.say("/forget")
    assert labels(confirm) == ["نعم، احذف كل شيء", "لا، سأبقى عضوة"]
    assert ARABIC.search(confirm.text)

    [goodbye] = await her.tap("نعم، احذف كل شيء", on=confirm)
    assert ARABIC.search(goodbye.text)
    await api.wait_for(
        lambda: api.calls_to("deleteMessages", chat_id=USER), within=STEP, what="/forget wipe"
    )
    # Every press, the repeat too (each spinner is stopped beside its processing).
    await api.wait_for(
        lambda: len(api.calls_to("answerCallbackQuery")) >= 8, within=STEP, what="spinners"
    )
    assert len(api.calls_to("answerCallbackQuery")) == 8
    assert len(api.replies(USER)) == her.seen  # nothing more than what she read

    assert bot.stop(signal.SIGINT) == 0, bot.output
    output = bot.output
    assert "Traceback" not in output, output
    assert '"event": "update_duplicate"' in output  # the repeat reached the bot, was dropped
    assert api.token not in output  # the token never reaches a log
    assert str(USER) not in output  # nor her chat id
    menus = api.calls_to("setMyCommands")
    assert {m.params.get("language_code") for m in menus} == {None, *SUPPORTED_LOCALES}


async def wait_until_serving(client: httpx.AsyncClient, bot: BotProcess) -> None:
    for _ in range(300):
        assert bot.process.poll() is None, bot.output
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"the web app did not start: {bot.output}")


async def test_with_a_webhook_url_run_registers_it_and_serves_it(
    api: FakeBotApi, launch: Callable[..., BotProcess]
) -> None:
    port, secret = free_port(), "e2e-secret_1"
    bot = launch(
        ["run"],
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE=api.base,
        TELEGRAM_WEBHOOK_URL="https://wasl.example.org/webhook/telegram",
        TELEGRAM_WEBHOOK_SECRET=secret,
        WASL_OPEN_JOIN="true",
        WASL_PORT=str(port),
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await wait_until_serving(client, bot)
        [hook] = api.calls_to("setWebhook")
        assert hook.params["secret_token"] == secret
        assert hook.params["url"] == "https://wasl.example.org/webhook/telegram"

        update = text_update(USER, "/start", language_code="fr")
        refused = await client.post("/webhook/telegram", json=update)
        assert refused.status_code == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        accepted = await client.post("/webhook/telegram", json=update, headers=headers)
        assert accepted.status_code == 200
        [welcome] = await api.wait_replies(USER, 1, within=STEP)
        assert "Français" in labels(welcome)

        # A press: its spinner is stopped by the webhook's own answer, through uvicorn.
        press = callback_update(USER, payload_of(welcome, "Français"), welcome.message_id)
        pressed = await client.post("/webhook/telegram", json=press, headers=headers)
        assert pressed.status_code == 200
        assert pressed.json() == {
            "method": "answerCallbackQuery",
            "callback_query_id": press["callback_query"]["id"],
        }
        await api.wait_replies(USER, 2, within=STEP)
    assert bot.stop(signal.SIGTERM) == 0, bot.output
    assert api.calls_to("getUpdates") == []  # never both polling and a webhook
    assert api.calls_to("answerCallbackQuery") == []  # none requested: the answer carried it
    assert "Traceback" not in bot.output, bot.output


async def test_serve_without_a_token_still_answers_healthz(
    launch: Callable[..., BotProcess],
) -> None:
    port = free_port()
    bot = launch(["serve", "--port", str(port)])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await wait_until_serving(client, bot)
        assert (await client.post("/webhook/telegram", json={})).status_code == 404
    assert bot.stop(signal.SIGTERM) == 0, bot.output


async def test_polling_serves_health_readiness_and_metrics_on_its_port(
    api: FakeBotApi, launch: Callable[..., BotProcess]
) -> None:
    """The image's health check is right in every mode: a polling bot answers /healthz,
    /readyz (schema at head, the roles it leads) and /metrics (what it processed and sent,
    with no person in it) on WASL_PORT."""
    bot = launch(["run"], TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE=api.base)
    her = Member(api, 7_654_321_987, "en")
    await her.say("/start")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bot.port}") as client:
        await wait_until_serving(client, bot)
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["roles"] == {"telegram": "leader", "scheduler": "leader"}
        metrics = (await client.get("/metrics")).text
    assert 'wasl_updates_processed_total{channel="telegram",outcome="processed"} 1.0' in metrics
    assert 'wasl_messages_sent_total{channel="telegram",outcome="sent"} 1.0' in metrics
    assert 'wasl_leader{role="telegram"} 1.0' in metrics
    assert 'wasl_outbox_rows{status="pending"}' in metrics
    assert "7654321987" not in metrics and "/start" not in metrics
    assert bot.stop(signal.SIGTERM) == 0, bot.output
    assert api.calls_to("getUpdates"), "it polled"


def test_a_port_already_taken_stops_it_with_one_line_saying_what_to_do(
    launch: Callable[..., BotProcess],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = launch(["serve"], WASL_PORT=str(port))
        assert bot.process.wait(timeout=60) == 1
    last = bot.output.strip().splitlines()[-1]
    assert last == (
        f"wasl: the web server did not start on 127.0.0.1:{port} (the log above says why;"
        " a port in use: set WASL_PORT to a free one)"
    )
    assert "Traceback" not in bot.output


async def _joined(api: FakeBotApi, user_id: int, country: str, line: str) -> Member:
    """An English-speaking member of the youth sphere with her line for peers."""
    she = Member(api, user_id, "en")
    [language] = await she.say("/start")
    [second] = await she.tap("English", on=language)
    [values] = await she.tap("Skip", on=second)
    [countries] = await she.tap("I accept", on=values)
    [spheres] = await she.tap(country, on=countries)
    [ticked] = await she.tap("▫️ Youth deradicalisation", on=spheres)
    await she.tap("Done", on=ticked)
    [view] = await she.say("/peers")
    [ask] = await she.tap("✏️ My line", on=view)
    assert "120 characters" in ask.text
    [open_] = await she.say(line)
    await she.tap("Yes", on=open_, answers=2)
    return she


async def test_two_peers_are_introduced_by_a_running_bot_and_forget_ends_it(
    api: FakeBotApi, launch: Callable[..., BotProcess], tmp_path: Path
) -> None:
    """`wasl run`: its own delivery worker carries the request and the introduction."""
    bot = launch(
        ["run"], TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE=api.base, WASL_OPEN_JOIN="true"
    )
    amina = await _joined(api, 5_550_201, "Iraq", "Listening circles with mothers in Mosul.")
    grace = await _joined(api, 5_550_202, "Nigeria", "Mentoring girls who left armed groups.")

    [view] = await amina.say("/peers")
    assert "Nigeria — “Mentoring girls who left armed groups.”" in view.text
    assert "5550202" not in view.text and all("5550202" not in p for p in view.payloads)
    [ask] = await amina.tap("🤝 1", on=view)
    assert "@name" in ask.text
    [confirm] = await amina.say("@amina_iq")
    [sent] = await amina.tap("Send", on=confirm)
    assert "Request sent" in sent.text

    [card] = await grace.expect(1)  # through the outbox and the running worker
    assert "Iraq" in card.text and "Mosul" in card.text and "amina_iq" not in card.text
    [asked] = await grace.tap("Accept", on=card)
    assert "@name" in asked.text
    [introduced] = await grace.say("wa.me/2348012345678")
    assert "@amina_iq" in introduced.text
    [told] = await amina.expect(1)
    assert "https://wa.me/2348012345678" in told.text and "Nigeria" in told.text

    [leave] = await grace.say("/forget")
    await grace.tap("Yes, delete all", on=leave)
    [alone] = await amina.say("/peers")
    assert "Mentoring girls" not in alone.text
    assert bot.stop() == 0
    with sqlite3.connect(tmp_path / "e2e.db") as db:
        assert db.execute("SELECT count(*) FROM introduction").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM peer_line").fetchone() == (1,)
