"""What the adapters put on the wire, measured as the fake servers received it over HTTP.

Bot API and Graph API calls are compact UTF-8 JSON (no \\u escapes, no spaced separators),
and every question of every shipped survey, in every language, fits in a kilobyte as the
Telegram adapter sends it: text, keyboard and the rest of the request body.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot

from bot.bootstrap import build_application
from bot.channels.telegram import TelegramChannel, WireRequest
from bot.channels.whatsapp import WhatsAppChannel
from bot.core.messages import Button, Outbound, OutboundFile
from tests.fakes.graph_api import PHONE_ID, TOKEN, FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi, running_api
from tests.support.wire import LANGUAGES, answer_every_question, shipped_surveys, survey_bot

CHAT = 4343
LIMIT = 1024
ARABIC = "ما مدى شعوركِ بالأمان أثناء عملكِ المجتمعي هذا الشهر؟"
BUTTONS = (Button("غير آمنة إطلاقاً", "s:1"), Button("آمنة تماماً", "s:5"))


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
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with api.bot() as started:
        yield started


def assert_compact_utf8(body: bytes) -> None:
    text = body.decode("utf-8")  # raises if not UTF-8
    assert "\\u" not in text, "letters escaped as \\u"
    assert ", " not in text.replace(ARABIC, "") and '": ' not in text, "spaced separators"
    assert ARABIC in text, "the Arabic as itself"


async def test_a_message_with_a_keyboard_goes_out_as_compact_utf8_json(
    api: FakeBotApi, bot: Bot
) -> None:
    result = await TelegramChannel(bot).send(str(CHAT), Outbound(ARABIC, BUTTONS, columns=2))
    assert result.message_id is not None
    (call,) = api.calls_to("sendMessage", CHAT)
    assert call.content_type == "application/json"
    assert_compact_utf8(call.body)
    sent = json.loads(call.body)
    assert sent["text"] == ARABIC
    assert sent["chat_id"] == CHAT
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "غير آمنة إطلاقاً", "callback_data": "s:1"},
                {"text": "آمنة تماماً", "callback_data": "s:5"},
            ]
        ]
    }
    assert "link_preview_options" not in sent  # no link in it: nothing to turn off
    # An Arabic letter takes 2 bytes: the body is the text and keyboard, and little more.
    assert len(call.body) < 2 * len(json.dumps(sent, ensure_ascii=False))


async def test_an_upload_stays_multipart_with_compact_json_fields(
    api: FakeBotApi, bot: Bot
) -> None:
    report = OutboundFile("report.csv", "سؤال,عدد\n".encode(), "text/csv")
    await TelegramChannel(bot).send(str(CHAT), Outbound(ARABIC, BUTTONS, file=report))
    (call,) = api.calls_to("sendDocument", CHAT)
    assert call.content_type.startswith("multipart/form-data")
    assert call.files["document"][1] == "سؤال,عدد\n".encode()
    assert call.params["caption"] == ARABIC
    assert call.params["reply_markup"]["inline_keyboard"][1][0]["text"] == "آمنة تماماً"
    markup = '{"inline_keyboard":[[{"callback_data":"s:1","text":"غير آمنة إطلاقاً"}]'
    assert f'name="reply_markup"\r\n\r\n{markup}'.encode() in call.body


async def test_the_application_sends_through_wire_requests_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeBotApi
) -> None:
    from bot.app import build_app
    from bot.config import Settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", server.token)
    app = build_app(Settings())
    try:
        telegram = build_application(app)
        requests = telegram.bot._request  # (getUpdates, every other call)
        assert all(type(r) is WireRequest for r in requests)
    finally:
        await app.close()


async def test_whatsapp_bodies_are_compact_utf8_json() -> None:
    with FakeGraphApi() as graph:
        async with httpx.AsyncClient() as client:
            channel = WhatsAppChannel(client, graph.base, PHONE_ID, TOKEN)
            result = await channel.send("9647700000001", Outbound(ARABIC, BUTTONS))
        assert result.message_id is not None
        ((kind, body),) = graph.bodies
    assert kind == "application/json"
    assert_compact_utf8(body)
    sent: dict[str, Any] = json.loads(body)
    assert sent["interactive"]["body"]["text"] == ARABIC
    titles = [b["reply"]["title"] for b in sent["interactive"]["action"]["buttons"]]
    assert titles == ["غير آمنة إطلاقاً", "آمنة تماماً"]


async def test_every_question_of_every_shipped_survey_fits_in_a_kilobyte(
    server: FakeBotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.reset()
    monkeypatch.chdir(tmp_path)
    surveys = shipped_surveys()
    assert any(s["slug"].startswith("pulse-safety") for s in surveys), "content/surveys.yaml"
    measured: dict[tuple[str, str], int] = {}
    async with survey_bot(server, tmp_path, monkeypatch.setenv) as (_, telegram):
        for data in surveys:
            for lang in LANGUAGES:
                for sent in await answer_every_question(telegram, server, data, lang):
                    if not sent.key:
                        continue
                    assert sent.content_type == "application/json", sent.method
                    assert json.loads(sent.body)["chat_id"]  # still parses
                    where = (f"{sent.survey}.{sent.key}", lang)
                    measured[where] = max(measured.get(where, 0), len(sent.body))
    asked = {
        (f"{s['slug']}.{q['key']}", locale)
        for s in surveys
        for q in s["questions"]
        for locale in LANGUAGES
    }
    assert set(measured) == asked, "every question was shown in every language"
    over = {where: size for where, size in measured.items() if size > LIMIT}
    assert not over, f"questions over {LIMIT} bytes: {over}"
    assert os.environ["TELEGRAM_API_BASE"] == server.base  # measured against the fake
