"""Telegram updates, shaped as the Bot API sends them, map to the right Inbound (or to none)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram import to_inbound
from bot.core.messages import ChannelName, InboundEvent, MediaKind
from tests.fakes.telegram_api import (
    TOKEN,
    callback_update,
    edited_update,
    group_text_update,
    location_update,
    my_chat_member_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

USER = 4242

CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    (
        "text",
        text_update(USER, "Hello", update_id=1),
        {
            "event": InboundEvent.MESSAGE,
            "text": "Hello",
            "media": None,
            "payload": None,
            "language_hint": "en",
            "update_id": "1",
        },
    ),
    (
        "start with invite",
        text_update(USER, "/start abc_DEF-1", language_code="ar", update_id=2),
        {"text": "/start abc_DEF-1", "language_hint": "ar", "update_id": "2"},
    ),
    (
        "regional language code",
        text_update(USER, "Olá", language_code="pt-br"),
        {"text": "Olá", "language_hint": "pt-br"},
    ),
    ("no language code", text_update(USER, "hi", language_code=None), {"language_hint": None}),
    (
        "photo with caption",
        photo_update(USER, caption="Our workshop in Mosul"),
        {
            "event": InboundEvent.MESSAGE,
            "text": "Our workshop in Mosul",
            "media": MediaKind.PHOTO,
            "media_ref": "photo-1280",  # the largest size
        },
    ),
    (
        "photo without caption",
        photo_update(USER),
        {"text": None, "media": MediaKind.PHOTO},
    ),
    (
        "sticker",
        sticker_update(USER),
        {"text": None, "media": MediaKind.STICKER, "media_ref": "sticker-1"},
    ),
    ("voice", voice_update(USER), {"media": MediaKind.VOICE, "media_ref": "voice-1"}),
    ("location", location_update(USER), {"media": MediaKind.LOCATION, "media_ref": None}),
    (
        "edited message",
        edited_update(USER, "Corrected text", message_id=77),
        {"event": InboundEvent.EDITED, "text": "Corrected text", "message_id": "77"},
    ),
    (
        "button press",
        callback_update(USER, "ob:1:lang:ar", message_id=10_001, update_id=3),
        {
            "event": InboundEvent.BUTTON,
            "payload": "ob:1:lang:ar",
            "text": None,
            "message_id": "10001",
            "update_id": "3",
        },
    ),
    (
        "she blocked the bot",
        my_chat_member_update(USER, kicked=True),
        {"event": InboundEvent.BLOCKED, "text": None, "message_id": None},
    ),
    (
        "she unblocked the bot",
        my_chat_member_update(USER, kicked=False),
        {"event": InboundEvent.UNBLOCKED},
    ),
    ("group message", group_text_update(USER, "hello group"), None),
]


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot(TOKEN)  # never initialised: parsing needs no network


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_update_maps_to_inbound(
    bot: Bot, data: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    inbound = to_inbound(Update.de_json(data, bot))
    if expected is None:
        assert inbound is None
        return
    assert inbound is not None
    assert inbound.channel is ChannelName.TELEGRAM
    assert inbound.sender_id == inbound.chat_id == str(USER)
    assert {field: getattr(inbound, field) for field in expected} == expected


def test_message_ids_and_update_ids_are_kept_as_strings(bot: Bot) -> None:
    data = text_update(USER, "hi", update_id=123456)
    inbound = to_inbound(Update.de_json(data, bot))
    assert inbound is not None
    assert inbound.update_id == "123456"
    assert inbound.message_id == str(data["message"]["message_id"])


def test_slash_command_is_recognised_by_the_core(bot: Bot) -> None:
    inbound = to_inbound(Update.de_json(text_update(USER, "/start abc"), bot))
    assert inbound is not None and inbound.command == ("start", "abc")


def test_button_press_in_a_group_is_ignored(bot: Bot) -> None:
    data = callback_update(USER, "ob:1:lang:en", message_id=5)
    data["callback_query"]["message"]["chat"] = {"id": -100, "type": "group", "title": "G"}
    assert to_inbound(Update.de_json(data, bot)) is None


@pytest.mark.parametrize(
    "data",
    [
        # a service message in her chat: nothing she said
        {
            "update_id": 9,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "A"},
                "write_access_allowed": {"from_request": True},
            },
        },
        # a poll answer has no chat
        {
            "update_id": 10,
            "poll_answer": {
                "poll_id": "1",
                "option_ids": [0],
                "option_persistent_ids": ["o1"],
                "user": {"id": USER, "is_bot": False, "first_name": "A"},
            },
        },
        # a channel post has no user
        {
            "update_id": 11,
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -1001, "type": "channel", "title": "News"},
                "text": "hello",
            },
        },
    ],
    ids=["service message", "poll answer", "channel post"],
)
def test_updates_without_a_person_speaking_are_ignored(bot: Bot, data: dict[str, Any]) -> None:
    assert to_inbound(Update.de_json(data, bot)) is None
