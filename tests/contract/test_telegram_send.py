"""TelegramChannel against the fake Bot API: what goes out, and how failures come back."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.telegram import TelegramChannel, classify, split_text, utf16_len
from bot.core.messages import (
    Button,
    MediaKind,
    MediaRef,
    Outbound,
    OutboundFile,
    SendStatus,
)
from tests.fakes.telegram_api import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    TOO_MANY_REQUESTS,
    FakeBotApi,
    running_api,
)

CHAT = 4242


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


@pytest.fixture
def channel(bot: Bot) -> TelegramChannel:
    return TelegramChannel(bot)


async def test_plain_text_is_sent_without_link_previews(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    result = await channel.send(str(CHAT), Outbound("Salam"))
    assert result.status is SendStatus.SENT
    [call] = api.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT and call.params["text"] == "Salam"
    assert "link_preview_options" not in call.params, "nothing to preview: not a byte on it"
    assert "reply_markup" not in call.params
    assert result.message_id == str(call_message_id(api))


@pytest.mark.parametrize(
    "text",
    ["Read https://example.org/guide", "Musawah publishes studies: musawah.org", "t.me/wasl"],
)
async def test_text_that_could_show_a_link_preview_turns_it_off(
    api: FakeBotApi, channel: TelegramChannel, text: str
) -> None:
    await channel.send(str(CHAT), Outbound(text))
    [call] = api.calls_to("sendMessage")
    assert call.params["link_preview_options"] == {"is_disabled": True}


async def test_buttons_become_an_inline_keyboard_in_columns(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    buttons = tuple(Button(f"Sphere {n}", f"ob:1:spheres:{n}") for n in range(5))
    await channel.send(str(CHAT), Outbound("Which spheres?", buttons, columns=2))
    [call] = api.calls_to("sendMessage")
    assert [len(row) for row in call.keyboard] == [2, 2, 1]
    assert call.payloads == [f"ob:1:spheres:{n}" for n in range(5)]
    assert call.keyboard[0][0]["text"] == "Sphere 0"


async def test_one_column_by_default_and_at_most_eight(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    buttons = tuple(Button(str(n), f"n:{n}") for n in range(10))
    await channel.send(str(CHAT), Outbound("pick", buttons[:3]))
    await channel.send(str(CHAT), Outbound("pick", buttons, columns=20))
    one, wide = api.calls_to("sendMessage")
    assert [len(row) for row in one.keyboard] == [1, 1, 1]
    assert [len(row) for row in wide.keyboard] == [8, 2]


async def test_long_text_is_split_at_paragraphs_with_buttons_on_the_last_part(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    paragraph = "وصل " * 250  # 1000 Arabic characters
    text = "\n\n".join(paragraph.strip() for _ in range(6))  # about 6000 characters
    result = await channel.send(str(CHAT), Outbound(text, (Button("OK", "ok"),)))
    assert result.status is SendStatus.SENT
    parts = api.calls_to("sendMessage")
    assert len(parts) == 2
    assert all(utf16_len(p.text) <= 4096 for p in parts)
    assert [p.payloads for p in parts] == [[], ["ok"]]
    assert parts[0].text.endswith("وصل") and "\n\n" not in parts[0].text[-2:]
    assert "".join(p.text for p in parts).replace("\n", "") == text.replace("\n", "")
    assert result.message_id == str(call_message_id(api))  # the part with the buttons
    assert result.all_ids == tuple(str(p.message_id) for p in parts)  # /wipe needs both


async def test_rate_limit_comes_back_as_retry_with_retry_after(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail("sendMessage", TOO_MANY_REQUESTS)
    result = await channel.send(str(CHAT), Outbound("hello"))
    assert result.status is SendStatus.RETRY
    assert result.retry_after == 3


@pytest.mark.parametrize(
    ("error", "reason"),
    [(BLOCKED, "bot was blocked by the user"), (DEACTIVATED, "user is deactivated")],
)
async def test_blocked_or_deactivated_means_unreachable(
    api: FakeBotApi,
    channel: TelegramChannel,
    error: tuple[int, str, None],
    reason: str,
) -> None:
    api.fail("sendMessage", error, chat_id=CHAT)
    result = await channel.send(str(CHAT), Outbound("hello"))
    assert result.status is SendStatus.UNREACHABLE
    assert result.reason == reason
    other = await channel.send("5151", Outbound("hello"))  # only her chat refuses
    assert other.status is SendStatus.SENT


async def test_chat_not_found_is_a_permanent_failure(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail("sendMessage", CHAT_NOT_FOUND)
    result = await channel.send(str(CHAT), Outbound("hello"))
    assert result.status is SendStatus.FAILED
    assert result.reason == "chat not found"


async def test_a_server_error_is_retried_later(api: FakeBotApi, channel: TelegramChannel) -> None:
    api.fail("sendMessage", (502, "Bad Gateway", None))
    result = await channel.send(str(CHAT), Outbound("hello"))
    assert result.status is SendStatus.RETRY and result.retry_after is None


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RetryAfter(7), SendStatus.RETRY),
        (TimedOut(), SendStatus.RETRY),
        (NetworkError("httpx.ReadError: "), SendStatus.RETRY),
        (
            Forbidden("Forbidden: bot can't initiate conversation with a user"),
            SendStatus.UNREACHABLE,
        ),
        (BadRequest("Bad Request: message is too long"), SendStatus.FAILED),
        (ChatMigrated(-1001), SendStatus.FAILED),
        (Conflict("Conflict: terminated by other getUpdates request"), SendStatus.FAILED),
        (InvalidToken(), SendStatus.RETRY),  # an operator's mistake: retried (bounded) once fixed
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_errors_are_classified(error: TelegramError, status: SendStatus) -> None:
    result = classify(error)
    assert result.status is status
    if isinstance(error, RetryAfter):
        assert result.retry_after == 7
    if isinstance(error, BadRequest):
        assert result.reason == "message is too long"


def test_only_a_timeout_after_sending_is_ambiguous() -> None:
    def timed_out(cause: Exception) -> TimedOut:
        error = TimedOut()
        error.__cause__ = cause
        return error

    assert classify(timed_out(httpx.ReadTimeout("late"))).ambiguous, "it may have arrived"
    assert not classify(timed_out(httpx.ConnectTimeout("no route"))).ambiguous
    assert not classify(timed_out(httpx.PoolTimeout("busy"))).ambiguous
    assert not classify(NetworkError("Bad Gateway")).ambiguous, "an answer: not delivered"


async def test_a_reply_answered_after_the_timeout_comes_back_ambiguous(
    api: FakeBotApi,
) -> None:
    api.answer_late("sendMessage", 2.0)
    async with Bot(
        api.token, base_url=f"{api.base}/bot", request=api.request(read_timeout=0.5)
    ) as b:
        result = await TelegramChannel(b).send(str(CHAT), Outbound("late"))
    assert result.status is SendStatus.RETRY and result.ambiguous
    assert api.calls_to("sendMessage")[0].result, "the Bot API did deliver it"


async def test_a_network_failure_is_retried_later() -> None:
    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeBotApi()
    bot = Bot(fake.token, base_url=f"http://127.0.0.1:{port}/bot", request=fake.request())
    result = await TelegramChannel(bot).send(str(CHAT), Outbound("hello"))
    assert result.status is SendStatus.RETRY
    await bot.shutdown()


async def test_empty_text_is_not_sent(api: FakeBotApi, channel: TelegramChannel) -> None:
    result = await channel.send(str(CHAT), Outbound("  "))
    assert result.status is SendStatus.FAILED
    assert api.calls_to("sendMessage") == []


async def test_edit_changes_the_message_in_place(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    first = await channel.send(str(CHAT), Outbound("▫️ Peace", (Button("▫️", "ob:1:spheres:p"),)))
    assert first.message_id is not None
    edited = await channel.send(
        str(CHAT),
        Outbound("✅ Peace", (Button("✅", "ob:1:spheres:p"),), replace=True),
        edit_message_id=first.message_id,
    )
    assert edited.status is SendStatus.SENT and edited.message_id == first.message_id
    [edit] = api.calls_to("editMessageText")
    assert edit.params["message_id"] == int(first.message_id)
    assert edit.payloads == ["ob:1:spheres:p"] and edit.params["text"] == "✅ Peace"
    assert len(api.calls_to("sendMessage")) == 1


async def test_message_not_modified_on_a_double_tap_counts_as_sent(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    message = Outbound("Same", (Button("A", "a"),))
    first = await channel.send(str(CHAT), message)
    assert first.message_id is not None
    again = await channel.send(str(CHAT), message, edit_message_id=first.message_id)
    assert again.status is SendStatus.SENT and again.message_id == first.message_id
    assert len(api.calls_to("editMessageText")) == 1
    assert len(api.calls_to("sendMessage")) == 1  # no new message for a double tap


async def test_an_edit_telegram_refuses_falls_back_to_a_new_message(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    result = await channel.send(str(CHAT), Outbound("Progress: 50%"), edit_message_id="999")
    assert result.status is SendStatus.SENT
    assert len(api.calls_to("editMessageText")) == 1
    [sent] = api.calls_to("sendMessage")
    assert result.message_id == str(call_message_id(api)) != "999"
    assert sent.text == "Progress: 50%"


async def test_an_edit_rate_limited_is_not_repeated_as_a_new_message(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    first = await channel.send(str(CHAT), Outbound("one"))
    assert first.message_id is not None
    api.fail("editMessageText", TOO_MANY_REQUESTS)
    result = await channel.send(str(CHAT), Outbound("two"), edit_message_id=first.message_id)
    assert result.status is SendStatus.RETRY
    assert len(api.calls_to("sendMessage")) == 1


async def test_file_with_a_short_text_goes_as_a_captioned_document(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    report = OutboundFile("report.csv", b"country,updates\nIQ,12\n", "text/csv")
    result = await channel.send(str(CHAT), Outbound("Your report", file=report))
    assert result.status is SendStatus.SENT
    [call] = api.calls_to("sendDocument")
    assert call.params["caption"] == "Your report"
    assert call.files["document"] == ("report.csv", report.content)
    assert api.calls_to("sendMessage") == []


async def test_file_with_a_long_text_sends_the_text_first(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    report = OutboundFile("report.csv", b"a,b\n")
    text = "Totals by country. " * 100  # over the 1024-character caption limit
    buttons = (Button("Again", "report:again"),)
    result = await channel.send(str(CHAT), Outbound(text, buttons, file=report))
    assert [c.method for c in api.replies(CHAT)] == ["sendMessage", "sendDocument"]
    text_call, document = api.replies(CHAT)
    assert text_call.text == text.strip() and "caption" not in document.params
    assert document.payloads == ["report:again"]
    assert result.message_id == str(document.message_id)
    assert result.all_ids == (str(text_call.message_id), str(document.message_id))


async def test_an_attachment_is_sent_again_by_its_file_id(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    outbound = Outbound("Attachment of update #3", attachment=MediaRef(MediaKind.PHOTO, "ph-1"))
    result = await channel.send(str(CHAT), outbound)
    assert result.status is SendStatus.SENT
    [call] = api.calls_to("sendPhoto")
    assert call.params["photo"] == "ph-1" and call.params["caption"] == outbound.text


async def test_delete_sends_chunks_of_one_hundred(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    ids = [str(n) for n in range(1, 151)]
    assert await channel.delete(str(CHAT), ids) == 150
    chunks = api.calls_to("deleteMessages")
    assert [len(c.params["message_ids"]) for c in chunks] == [100, 50]
    assert chunks[0].params["chat_id"] == CHAT


async def test_delete_tolerates_messages_telegram_will_not_delete(
    api: FakeBotApi, channel: TelegramChannel
) -> None:
    api.fail("deleteMessages", (400, "Bad Request: message can't be deleted", None))
    assert await channel.delete(str(CHAT), ["1", "2"]) == 0
    assert await channel.delete(str(CHAT), []) == 0
    assert len(api.calls_to("deleteMessages")) == 1


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, ["short"]),
        ("", 10, []),
        ("aaaa\n\nbbbb\n\ncccc", 11, ["aaaa\n\nbbbb", "cccc"]),
        ("aaaa bbbb\ncccc", 10, ["aaaa bbbb", "cccc"]),
        ("one two three four", 9, ["one two", "three", "four"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        ("🕊" * 6, 4, ["🕊🕊", "🕊🕊", "🕊🕊"]),  # each dove is two UTF-16 units
    ],
)
def test_split_text(text: str, limit: int, expected: list[str]) -> None:
    parts = split_text(text, limit)
    assert parts == expected
    assert all(utf16_len(p) <= limit for p in parts)


def call_message_id(api: FakeBotApi) -> int:
    """The id the fake gave the last message the bot sent."""
    return api.replies()[-1].message_id
