"""The Starlette app in-process (httpx ASGITransport): /healthz, /readyz, /metrics and the
Telegram webhook."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot

from bot.app import App, build_app
from bot.bootstrap import build_application
from bot.channels.telegram import TelegramApplication, TelegramChannel, inbox_item
from bot.config import Settings
from bot.core.i18n import SUPPORTED_LOCALES, Catalogs
from bot.core.messages import ChannelName
from bot.runtime import Runtime
from bot.web import SECRET_HEADER, build_web
from storage.engine import HEAD, downgrade
from storage.inbox import InboxStore
from tests.fakes.telegram_api import (
    QUERY_TOO_OLD,
    FakeBotApi,
    callback_update,
    group_text_update,
    running_api,
    text_update,
)
from tests.support.database import migrated_sqlite_file
from tests.support.net import free_port

SECRET = "s3cret_-TOKEN"
USER = 777
WEBHOOK_URL = "https://wasl.example.org/webhook/telegram"
HEADER = SECRET_HEADER.encode()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


@pytest.fixture
def api(server: FakeBotApi) -> Iterator[FakeBotApi]:
    server.reset()
    yield server
    assert not server.refused


@pytest.fixture
async def app(
    api: FakeBotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[App]:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "WASL_OPEN_JOIN": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The schema migrated once per session, copied: `migrate` below finds nothing to do.
    await asyncio.to_thread(migrated_sqlite_file, tmp_path, "web.db")
    built = build_app(Settings())
    await built.migrate()
    yield built
    await built.close()


def telegram_for(app: App, api: FakeBotApi) -> TelegramApplication:
    return build_application(app, request=api.request(), get_updates_request=api.request())


@asynccontextmanager
async def client_for(
    app: App, telegram: TelegramApplication | None, *, register: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """The web app with its lifespan running, and an httpx client speaking to it in-process."""
    web = build_web(app, telegram, register=register)
    async with web.router.lifespan_context(web):
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://wasl.test") as client:
            yield client


@pytest.fixture
async def client(app: App, api: FakeBotApi) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, telegram_for(app, api)) as started:
        yield started


async def post_update(client: httpx.AsyncClient, update: dict[str, Any]) -> httpx.Response:
    return await client.post("/webhook/telegram", json=update, headers={SECRET_HEADER: SECRET})


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_is_unavailable_when_the_database_is_down(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'folder' / 'x.db'}")
    broken = build_app(Settings())
    try:
        async with client_for(broken, None) as client:
            response = await client.get("/healthz")
    finally:
        await broken.close()
    assert response.status_code == 503
    assert response.json()["status"] != "ok"


async def test_webhook_is_not_found_without_telegram(app: App) -> None:
    async with client_for(app, None) as client:
        response = await post_update(client, text_update(USER, "hi"))
        assert response.status_code == 404
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {HEADER: b"wrong"}, {HEADER: SECRET.encode() + b"x"}, {HEADER: "وصل".encode()}],
    ids=["missing", "wrong", "longer", "non-ascii"],
)
async def test_webhook_refuses_a_wrong_or_missing_secret(
    api: FakeBotApi, client: httpx.AsyncClient, headers: dict[bytes, bytes]
) -> None:
    update = text_update(USER, "/start")
    response = await client.post("/webhook/telegram", json=update, headers=headers)
    assert response.status_code == 401
    assert api.replies() == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""], ids=repr)
async def test_webhook_refuses_what_is_not_json(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/webhook/telegram",
        content=body,
        headers={SECRET_HEADER: SECRET, "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_an_update_it_cannot_parse_is_accepted_and_dropped(
    api: FakeBotApi, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram would retry a refusal for a day and hold back her later updates meanwhile.
    response = await post_update(client, {"update_id": 31, "message": {"text": "no chat"}})
    assert response.status_code == 200
    assert "event=update_unparsed update_id=31" in caplog.text
    assert "no chat" not in caplog.text
    await post_update(client, text_update(USER, "/start"))
    await api.wait_replies(USER, 1)


async def test_an_update_is_answered_through_the_bot_api(
    api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    response = await post_update(client, text_update(USER, "/start", language_code="ar"))
    assert response.status_code == 200
    [welcome] = await api.wait_replies(USER, 1)
    labels = [b["text"] for row in welcome.keyboard for b in row]
    assert labels[:2] == ["العربية", "English"], "the languages, hers first"
    assert labels[-1] == Catalogs().get("ar")("More languages"), "the rest behind one button"


async def test_a_redelivered_update_is_handled_once(
    api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    update = text_update(USER, "/start")
    for _ in range(2):
        assert (await post_update(client, update)).status_code == 200
    # Updates are handled in order: once a later one is answered, the repeat was handled too.
    assert (await post_update(client, text_update(USER + 1, "/start"))).status_code == 200
    await api.wait_replies(USER + 1, 1)
    assert len(api.replies(USER)) == 1


async def test_a_press_is_answered_in_the_webhooks_own_reply(
    api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    """The spinner is stopped by the webhook's HTTP answer (Telegram runs the method named
    there) the moment the press is kept: the bot makes no answerCallbackQuery request, and
    the press is still handled."""
    press = callback_update(USER, "ob:1:lang:ar", message_id=1)
    response = await post_update(client, press)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": press["callback_query"]["id"],
    }
    await api.wait_replies(USER, 1)
    assert api.calls_to("answerCallbackQuery") == [], "no request of the bot's own"
    call = api.webhook_answered(response)
    assert call is not None and call.via_webhook and call.result is True
    # A message carries no call in its answer: a plain 200.
    said = await post_update(client, text_update(USER + 1, "/start"))
    assert said.status_code == 200 and said.content == b""


async def keep_polled(app: App, api: FakeBotApi, update: dict[str, Any]) -> None:
    """Keep `update` as the poller does (no webhook answer stopped its spinner)."""
    item = inbox_item(update, Bot(api.token))
    assert item is not None and item.answer is None
    await InboxStore(app.store).add("telegram", [item], app.core.clock.now())


async def test_a_polled_stale_button_is_answered_and_still_handled(
    app: App, api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    api.fail("answerCallbackQuery", QUERY_TOO_OLD)
    await keep_polled(app, api, callback_update(USER, "ob:1:lang:ar", message_id=1))
    await api.wait_replies(USER, 1)
    # The spinner is stopped beside the processing: its call may end after the answer.
    await api.wait_for(lambda: api.calls_to("answerCallbackQuery"), what="the spinner call")
    assert len(api.calls_to("answerCallbackQuery")) == 1


async def test_a_polled_press_is_answered_without_waiting_for_the_spinner(
    app: App, api: FakeBotApi, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """For a polled press, answerCallbackQuery goes beside the processing: her answer does
    not wait for its round trip (6 s here: longer than the client waits, so it also fails),
    and its failure is still logged."""
    caplog.set_level(logging.INFO, logger="bot.channels.telegram")
    await post_update(client, text_update(USER, "/start"))
    [welcome] = await api.wait_replies(USER, 1)
    api.answer_late("answerCallbackQuery", 6.0)
    started = time.monotonic()
    await keep_polled(app, api, callback_update(USER, "ob:1:lang:ar", welcome.message_id))
    await api.wait_for(lambda: len(api.replies(USER)) >= 2, within=4.0, what="her answer")
    assert time.monotonic() - started < 4.0, "her answer came before the spinner's"
    await api.wait_for(
        lambda: "event=callback_answer_failed" in caplog.text, what="the late answer logged"
    )

    other = USER + 5
    await post_update(client, text_update(other, "/start"))
    [hello] = await api.wait_replies(other, 1)
    api.fail("answerCallbackQuery", QUERY_TOO_OLD)
    caplog.clear()
    await keep_polled(app, api, callback_update(other, "cmd:help", hello.message_id))
    await api.wait_replies(other, 2)
    await api.wait_for(
        lambda: "event=callback_answer_failed" in caplog.text, what="the failure logged"
    )


async def test_group_messages_are_ignored(api: FakeBotApi, client: httpx.AsyncClient) -> None:
    assert (await post_update(client, group_text_update(USER, "/start"))).status_code == 200
    await post_update(client, text_update(USER + 2, "/start"))
    await api.wait_replies(USER + 2, 1)
    assert api.replies(-1001234) == []


async def test_start_publishes_the_menu_in_every_language(
    api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    menus = api.calls_to("setMyCommands")
    assert sorted(str(m.params.get("language_code")) for m in menus) == sorted(
        ["None", *SUPPORTED_LOCALES]
    )
    for menu in menus:
        names = [c["command"] for c in menu.params["commands"]]
        assert {"help", "forget"} <= set(names) and "start" not in names
        assert all(re.fullmatch(r"[a-z0-9_]{1,32}", name) for name in names)
    [arabic] = [m for m in menus if m.params.get("language_code") == "ar"]
    assert all(re.search(r"[\u0600-\u06FF]", c["description"]) for c in arabic.params["commands"])


async def test_invitation_links_use_the_username_telegram_gave_at_start(
    app: App, client: httpx.AsyncClient
) -> None:
    assert app.core.config.invite_links.links("abc") == ["https://t.me/wasl_test_bot?start=abc"]


async def test_register_sets_the_webhook_with_its_secret(app: App, api: FakeBotApi) -> None:
    async with client_for(app, telegram_for(app, api), register=True):
        [call] = api.calls_to("setWebhook")
    assert call.params["url"] == WEBHOOK_URL
    assert call.params["secret_token"] == SECRET
    assert "callback_query" in call.params["allowed_updates"]


async def test_readyz_says_the_schema_is_the_codes_and_which_roles_it_leads(
    app: App, api: FakeBotApi
) -> None:
    async with client_for(app, telegram_for(app, api)) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "schema": HEAD, "roles": {}}, "serve: no role"
    web = build_web(
        app, None, runtime=Runtime(app, {ChannelName.TELEGRAM: TelegramChannel(Bot("1:x"))})
    )
    async with web.router.lifespan_context(web):
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://wasl.test") as client:
            roles = (await client.get("/readyz")).json()["roles"]
    assert roles == {"telegram": "leader", "scheduler": "leader"}


async def test_readyz_is_unavailable_while_the_schema_is_behind_the_code(app: App) -> None:
    previous = f"{int(HEAD) - 1:04d}"
    await downgrade(app.store.engine, previous)
    async with client_for(app, None) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["schema"] == previous and ready.json()["needs"] == HEAD
    assert alive.status_code == 200, "alive all the same: a migration is on its way"


async def test_readyz_is_unavailable_when_the_database_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    # A PostgreSQL server that is not there: refused at once, with no SQLite worker thread
    # left to answer after the test's event loop has closed.
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    broken = build_app(Settings())
    try:
        async with client_for(broken, None) as client:
            response = await client.get("/readyz")
            metrics = await client.get("/metrics")
    finally:
        await broken.close()
    assert response.status_code == 503 and response.json()["database"] == "down"
    assert metrics.status_code == 200, "the counters still say what this process did"


async def test_metrics_count_updates_and_sends_and_name_nobody(
    api: FakeBotApi, client: httpx.AsyncClient
) -> None:
    def value(text: str, line: str) -> float:
        found = re.search(re.escape(line) + r" ([0-9.e+]+)\n", text)
        return float(found.group(1)) if found else 0.0

    processed = 'wasl_updates_processed_total{channel="telegram",outcome="processed"}'
    sent = 'wasl_messages_sent_total{channel="telegram",outcome="sent"}'
    before = (await client.get("/metrics")).text
    someone = 4_915_123_456_789
    assert (await post_update(client, text_update(someone, "/start"))).status_code == 200
    await api.wait_replies(someone, 1)
    async with asyncio.timeout(10):
        while value(after := (await client.get("/metrics")).text, processed) == value(  # noqa: ASYNC110 - polls
            before, processed
        ):
            await asyncio.sleep(0.02)
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(after, processed) == value(before, processed) + 1
    assert value(after, sent) == value(before, sent) + 1
    assert 'wasl_send_seconds_bucket{channel="telegram",le="+Inf"}' in after
    for status in ("pending", "claimed", "sending"):
        assert f'wasl_outbox_rows{{status="{status}"}}' in after
    assert "wasl_inbox_rows 0.0" in after
    assert str(someone) not in after and api.token not in after and "/start" not in after
