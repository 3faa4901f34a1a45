"""Promise 4: logs carry no person.

The attack: an operator turns on WASL_LOG_LEVEL=DEBUG (or someone reads the logs she shipped
somewhere). Before the filter, python-telegram-bot printed every update whole (her id, name,
username, text, the buttons she pressed) and httpx printed URLs holding the bot token.

Here `python -m bot run` runs as a subprocess at DEBUG, with Telegram (webhook), WhatsApp and
the dashboard, against the fake Bot API and the fake Graph API; a secretariat member joins with
an invitation, onboards with her name and username in every update, shares an update with a
unique text, answers a survey button, opens her dashboard link, reads /mydata and /forgets; a
WhatsApp member writes a phone number. Every line the process wrote, every logger at DEBUG, is
searched for each of those values and each secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import whatsapp_payloads as wa
from tests.e2e.conftest import ROOT, BotProcess, bot_env
from tests.e2e.conftest import launch as launch  # the fixture: bots as subprocesses
from tests.fakes.graph_api import PHONE_ID, FakeGraphApi
from tests.fakes.graph_api import TOKEN as GRAPH_TOKEN
from tests.fakes.telegram_api import Call, FakeBotApi, callback_update, running_api, text_update
from tests.support.net import free_port

pytestmark = pytest.mark.e2e

BOT_TOKEN = "7712345678:AAHk3vQx9-ZtP0wq_LmN8rT2yU5iO7pAs1d"
USER = 731_904_265
FIRST, LAST, USERNAME = "Zahraa-Qv", "Haddad-Wk", "zahraa_qv_91"
UNIQUE_TEXT = "Convoy-7Q9 seen near the old bridge of Sinjar at dawn"
WA_ID = "9647705551234"
WA_NAME = "Mariam-Xo"
WA_TEXT = "call me back on +964 770 555 9876 please"
WEBHOOK_SECRET = "wh-secret_Qz81kLm"
APP_SECRET = "app-secret-Pf93"
VERIFY_TOKEN = "verify-token-Hn27"
STEP = 20.0


def wasl(tmp_path: Path, *args: str, **settings: str) -> str:
    """A one-off `wasl` command with these settings; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=bot_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def as_her(update: dict[str, Any]) -> dict[str, Any]:
    """The update as Telegram sends it for her: her names and username on `from` and `chat`."""
    body = update.get("message") or update["callback_query"]
    people = [body["from"]]
    chat = body.get("chat") or body.get("message", {}).get("chat")
    if chat is not None:
        people.append(chat)
    for person in people:
        person.update(first_name=FIRST, last_name=LAST, username=USERNAME)
    return update


class TelegramMember:
    """Posts her updates to the bot's webhook as Telegram would; reads replies at the fake."""

    def __init__(self, api: FakeBotApi, client: httpx.AsyncClient) -> None:
        self.api = api
        self.client = client
        self.seen = 0

    async def deliver(self, update: dict[str, Any]) -> list[Call]:
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        response = await self.client.post(
            "/webhook/telegram", json=as_her(update), headers=headers
        )
        assert response.status_code == 200
        await self.api.wait_replies(USER, self.seen + 1, within=STEP)
        count = -1
        while count != len(self.api.replies(USER)):  # the rest of the burst
            count = len(self.api.replies(USER))
            await asyncio.sleep(0.3)
        new = self.api.replies(USER)[self.seen :]
        self.seen = count
        return new

    async def say(self, text: str) -> list[Call]:
        return await self.deliver(text_update(USER, text, language_code="en"))

    async def press(self, prefix: str, shown: list[Call]) -> list[Call]:
        """Press the first button whose payload starts with `prefix` among those shown."""
        found = [(p, c) for c in shown for p in c.payloads if p.startswith(prefix)]
        assert found, f"no {prefix!r} among {[c.payloads for c in shown]}"
        payload, on = found[0]
        return await self.deliver(callback_update(USER, payload, on.message_id))

    async def tap(self, label: str, shown: list[Call]) -> list[Call]:
        """Press the button labelled `label` (a tick mark aside) among those shown."""
        found = [
            (b["callback_data"], c)
            for c in shown
            for row in c.keyboard
            for b in row
            if b["text"].removeprefix("✅ ").removeprefix("▫️ ") == label
        ]
        assert found, f"no {label!r} among {[c.keyboard for c in shown]}"
        payload, on = found[0]
        return await self.deliver(callback_update(USER, payload, on.message_id))


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with running_api(BOT_TOKEN) as fake:  # shaped like BotFather's
        yield fake


async def wait_until_serving(client: httpx.AsyncClient, bot: BotProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert bot.process.poll() is None, bot.output
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"the web app did not start: {bot.output}")


async def post_whatsapp(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
    return (await client.post("/webhook/whatsapp", content=raw, headers=headers)).status_code


async def test_a_whole_day_at_debug_level_leaves_no_person_and_no_secret_in_the_logs(
    tmp_path: Path, api: FakeBotApi, launch: Callable[..., BotProcess]
) -> None:
    port = free_port()
    secret_key = wasl(tmp_path, "secret", "generate").strip()
    with FakeGraphApi() as graph:
        settings = {
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE": api.base,
            "TELEGRAM_WEBHOOK_URL": "https://wasl.example.org/webhook/telegram",
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WHATSAPP_ACCESS_TOKEN": GRAPH_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_BASE": graph.base,
            "WASL_OPEN_JOIN": "true",
            "WASL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WASL_PORT": str(port),
            "WASL_LOG_LEVEL": "DEBUG",
            "WASL_SECRET_KEY": secret_key,
        }
        loaded = wasl(
            tmp_path, "content", "load", str(ROOT / "content" / "surveys.yaml"), **settings
        )
        invited = wasl(tmp_path, "invite", "create", "--role", "secretariat", **settings)
        match = re.search(r"invite code: (\S+)", invited)
        assert match, invited
        code = match.group(1)

        bot = launch(["run"], **settings)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_serving(client, bot)
            her = TelegramMember(api, client)

            shown = await her.say(f"/start {code}")
            for label in ("English", "Skip", "I accept", "Iraq", "Youth deradicalisation"):
                shown = await her.tap(label, shown)
            shown = await her.tap("Done", shown)

            await her.say("/update")
            shown = await her.say(UNIQUE_TEXT)
            for label in ("Done", "Routine", "Yes, keep it", "No", "Send"):
                shown = await her.tap(label, shown)

            shown = await her.say("/survey")
            shown = await her.tap("Pulse: safety and community work", shown)  # the open one
            shown = await her.tap("3", shown)  # its first question, a scale

            [link] = [
                m for c in await her.say("/dashboard") for m in re.findall(r"\S+\?t=\S+", c.text)
            ]
            dashboard_token = link.rsplit("t=", 1)[1]
            opened = await client.get(link)
            assert opened.status_code == 200, "her dashboard link opens"

            assert await her.say("/mydata"), "what is kept about her, shown to her"
            shown = await her.say("/forget")
            await her.tap("Yes, delete all", shown)

            check = await client.get(
                "/webhook/whatsapp",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "8841",
                },
            )
            assert check.status_code == 200
            body = wa.text(WA_TEXT, wa_id=WA_ID, mid="wamid.log-attack-1")
            body["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = WA_NAME
            assert await post_whatsapp(client, body) == 200
            await graph.wait_for(WA_ID, 1, within=STEP)
        assert bot.stop(signal.SIGINT) == 0, bot.output

    logs = "\n".join((loaded, bot.output))
    # JSON lines (its output is not a terminal), each rewritten by the filter all the same
    assert '"level": "DEBUG"' in logs and '"logger": "telegram' in logs, "DEBUG really was on"
    # Every Bot API call went through httpx, whose request lines hold the token in the URL:
    # they were logged, through the filter. (Updates no longer pass through
    # python-telegram-bot's update queue, so it has no "Processing update" line to dump.)
    assert '"logger": "httpx"' in logs, "httpx logged its requests (without the token)"
    assert "Traceback" not in logs, logs
    never = {
        "the bot token": api.token,
        "the bot token's secret half": api.token.split(":", 1)[1],
        "her user and chat id": str(USER),
        "her first name": FIRST,
        "her last name": LAST,
        "her username": USERNAME,
        "the unique text": UNIQUE_TEXT,
        "a piece of the unique text": "Convoy-7Q9",
        "the dashboard token": dashboard_token,
        "the webhook secret": WEBHOOK_SECRET,
        "the WhatsApp number": WA_ID,
        "the WhatsApp number, local part": WA_ID[3:],
        "the WhatsApp name": WA_NAME,
        "the phone number she wrote": "555 9876",
        "the WhatsApp message": "call me back",
        "the WhatsApp access token": GRAPH_TOKEN,
        "the app secret": APP_SECRET,
        "the verify token": VERIFY_TOKEN,
        "the secret key": secret_key,
    }
    leaked = {what: value for what, value in never.items() if value in logs}
    assert leaked == {}, f"in the logs: {leaked}"
