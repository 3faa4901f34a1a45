"""The Telegram channel: python-telegram-bot 22 updates → Inbound, Outbound → Bot API calls.

This is the only module that imports `telegram`. It translates and nothing else: every
decision about what to say lives in the core and the handlers, and what runs with it (the
inbox, the delivery worker, the scheduler) is wired by bot/bootstrap.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeAlias

import httpx
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.channels.wire import JSON_CONTENT_TYPE, compact_json, json_body
from bot.core.clock import Clock
from bot.core.i18n import Catalogs
from bot.core.messages import (
    Button,
    ChannelName,
    Inbound,
    InboundEvent,
    MediaKind,
    MediaRef,
    Outbound,
    SendResult,
    SendStatus,
)
from bot.core.models import Role
from bot.core.ports import Channel
from bot.core.router import Router
from bot.intake import InboxWriter, NewItem, is_id, is_text

log = logging.getLogger(__name__)

TelegramApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
# The core's entry point for one message (Core.handle): the adapter hands every update to it.
Handle: TypeAlias = Callable[[Inbound, Channel], Awaitable[None]]
Hook: TypeAlias = Callable[[TelegramApplication], Coroutine[Any, Any, None]]
ApiRequest: TypeAlias = BaseRequest  # PTB's HTTP layer, replaced in tests

DEFAULT_API_BASE = "https://api.telegram.org"
TEXT_LIMIT = 4096  # characters of a message, counted in UTF-16 units like entity offsets
CAPTION_LIMIT = 1024
MAX_COLUMNS = 8  # Telegram shows at most 8 buttons in a row
DELETE_CHUNK = 100  # deleteMessages takes at most 100 ids
_NO_PREVIEW = {"is_disabled": True}  # low bandwidth: no link previews
Sent: TypeAlias = Message | dict[str, Any]  # what a send returns: PTB's object or the raw JSON
# Bot.do_api_request warns when a method has its own shortcut. Text sends and edits skip the
# shortcuts' parsing of the answer (TelegramChannel._call); so does the poller, which needs
# the updates raw (checked one by one, kept as sent).
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)
# What Telegram could turn into a link with a preview: a URL, or a domain ("musawah.org").
_LINKABLE = re.compile(r"://|[\w-]\.[^\W\d_]{2,}")


def no_preview(text: str) -> dict[str, bool] | None:
    """Turn previews off where the text holds something that could have one; else say
    nothing (37 bytes fewer on every other message: a survey question in Bengali stays
    under 1 KB). As the Bot API's JSON."""
    return _NO_PREVIEW if _LINKABLE.search(text) else None


# --- Updates → Inbound --------------------------------------------------------------------


def to_inbound(update: Update) -> Inbound | None:
    """Map one update to an Inbound; None for what Wasl does not serve (groups, channels…)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return None
    common: dict[str, Any] = {
        "channel": ChannelName.TELEGRAM,
        "sender_id": str(user.id),
        "chat_id": str(chat.id),
        "language_hint": user.language_code,
        "update_id": str(update.update_id),
    }
    if update.callback_query is not None:
        return _button(update.callback_query, common)
    if update.message is not None:
        return _message(update.message, common, InboundEvent.MESSAGE)
    if update.edited_message is not None:
        return _message(update.edited_message, common, InboundEvent.EDITED)
    if update.my_chat_member is not None:
        status = update.my_chat_member.new_chat_member.status
        if status == ChatMember.BANNED:  # "kicked": she blocked the bot
            return Inbound(event=InboundEvent.BLOCKED, **common)
        if status == ChatMember.MEMBER:  # she unblocked it (or started it again)
            return Inbound(event=InboundEvent.UNBLOCKED, **common)
    return None


def _button(query: CallbackQuery, common: dict[str, Any]) -> Inbound | None:
    if query.data is None:  # a game button: nothing of ours
        return None
    message_id = str(query.message.message_id) if query.message is not None else None
    return Inbound(event=InboundEvent.BUTTON, payload=query.data, message_id=message_id, **common)


def _message(message: Message, common: dict[str, Any], event: InboundEvent) -> Inbound | None:
    media, ref = _media(message)
    text = message.text if message.text is not None else message.caption
    if text is None and media is None:
        return None  # a service message (pinned, write access allowed…): nothing she said
    return Inbound(
        event=event,
        text=text,
        media=media,
        media_ref=ref,
        message_id=str(message.message_id),
        **common,
    )


def _media(message: Message) -> tuple[MediaKind | None, str | None]:
    """What the message carried, and the platform's file id when it is a file."""
    if message.photo:
        return MediaKind.PHOTO, message.photo[-1].file_id  # the largest size
    files: tuple[tuple[MediaKind, Any], ...] = (
        (MediaKind.VOICE, message.voice),
        (MediaKind.AUDIO, message.audio),
        (MediaKind.VIDEO, message.video),
        (MediaKind.STICKER, message.sticker),
    )
    for kind, file in files:
        if file is not None:
            return kind, file.file_id
    if message.animation is not None or message.video_note is not None:
        # A GIF also carries `document`, and a round video note cannot be sent on as a video.
        return MediaKind.OTHER, None
    if message.document is not None:
        return MediaKind.DOCUMENT, message.document.file_id
    if message.location is not None:  # venues too; a place is not kept as a file reference
        return MediaKind.LOCATION, None
    if message.contact is not None:
        return MediaKind.CONTACT, None
    if message.effective_attachment is not None:  # polls, dice, stories, games…
        return MediaKind.OTHER, None
    return None, None


# --- Outbound → Bot API -------------------------------------------------------------------


class TelegramChannel:
    """Sends Outbounds through a PTB Bot; platform errors come back as SendResults."""

    name = ChannelName.TELEGRAM
    choice_limit = None  # inline keyboards take them all

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        """Send (or edit in place) one message, split when longer than Telegram allows."""
        chat = _chat(chat_id)
        try:
            if message.file is not None:
                sent = await self._send_file(chat, message)
            elif message.attachment is not None and _resendable(message.attachment):
                sent = await self._send_attachment(chat, message, message.attachment)
            else:
                parts = split_text(message.text)
                if not parts:
                    return SendResult(SendStatus.FAILED, reason="empty message")
                markup = raw_keyboard(message.buttons, message.columns)
                one_part = len(parts) == 1
                if (
                    edit_message_id
                    and one_part
                    and await self._edit(chat, edit_message_id, parts[0], markup)
                ):
                    return SendResult(SendStatus.SENT, message_id=edit_message_id)
                sent = await self._send_texts(chat, parts, markup)
        except TelegramError as error:
            result = classify(error)
            log.debug("event=send_failed status=%s reason=%s", result.status, result.reason)
            return result
        ids = tuple(str(_message_id(m)) for m in sent)
        return SendResult(SendStatus.SENT, message_id=ids[-1], message_ids=ids)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        """A Bot API call whose answer is used as it comes (a dict or True), not turned into
        PTB objects: a sent message is only needed for its id, and parsing it (with the
        keyboard it echoes) cost more than building the call. Errors are PTB's, as with its
        own methods."""
        return await self.bot.do_api_request(
            method, api_kwargs={k: v for k, v in params.items() if v is not None}
        )

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        """Delete the bot's messages (and hers) in a private chat; returns how many went."""
        ids = [int(m) for m in message_ids if m.isdigit()]
        deleted = 0
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            try:
                if await self.bot.delete_messages(_chat(chat_id), chunk):
                    deleted += len(chunk)
            except TelegramError as error:  # older than 48 h, already gone, blocked…
                log.info("event=delete_failed count=%s reason=%s", len(chunk), _reason(error))
        return deleted

    async def _edit(
        self, chat: int | str, message_id: str, text: str, markup: dict[str, Any] | None
    ) -> bool:
        """Edit in place; False when Telegram refuses, so a new message is sent instead."""
        if not message_id.isdigit():
            return False
        try:
            await self._call(
                "editMessageText",
                {
                    "chat_id": chat,
                    "message_id": int(message_id),
                    "text": text,
                    "reply_markup": markup,
                    "link_preview_options": no_preview(text),
                },
            )
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return True  # a double tap: the message already says this
            log.info("event=edit_refused reason=%s", _reason(error))
            return False
        return True

    async def _send_texts(
        self, chat: int | str, parts: Sequence[str], markup: dict[str, Any] | None
    ) -> list[Sent]:
        """Send the parts in order; the buttons go under the last one.

        Every message sent is returned, not just the last, so /wipe can delete them all.
        """
        sent: list[Sent] = []
        for n, part in enumerate(parts, start=1):
            sent.append(
                await self._call(
                    "sendMessage",
                    {
                        "chat_id": chat,
                        "text": part,
                        "reply_markup": markup if n == len(parts) else None,
                        "link_preview_options": no_preview(part),
                    },
                )
            )
        assert sent, "no parts to send"
        return sent

    async def _text_before(self, chat: int | str, text: str) -> tuple[str | None, list[Sent]]:
        """Send text too long for a caption on its own first.

        Returns the caption to use and the messages already sent.
        """
        if not text.strip():
            return None, []
        if utf16_len(text) <= CAPTION_LIMIT:
            return text, []
        return None, await self._send_texts(chat, split_text(text), None)

    async def _send_file(self, chat: int | str, message: Outbound) -> list[Sent]:
        assert message.file is not None
        caption, before = await self._text_before(chat, message.text)
        document = await self.bot.send_document(
            chat,
            message.file.content,
            filename=message.file.filename,
            caption=caption,
            reply_markup=keyboard(message.buttons, message.columns),
        )
        return [*before, document]

    async def _send_attachment(
        self, chat: int | str, message: Outbound, attachment: MediaRef
    ) -> list[Sent]:
        markup = keyboard(message.buttons, message.columns)
        if attachment.kind is MediaKind.STICKER:  # a sticker takes no caption
            before = (
                await self._send_texts(chat, split_text(message.text), None)
                if message.text.strip()
                else []
            )
            sticker = await self.bot.send_sticker(chat, attachment.ref, reply_markup=markup)
            return [*before, sticker]
        caption, before = await self._text_before(chat, message.text)
        ref = attachment.ref
        match attachment.kind:
            case MediaKind.PHOTO:
                last = await self.bot.send_photo(chat, ref, caption=caption, reply_markup=markup)
            case MediaKind.VOICE:
                last = await self.bot.send_voice(chat, ref, caption=caption, reply_markup=markup)
            case MediaKind.AUDIO:
                last = await self.bot.send_audio(chat, ref, caption=caption, reply_markup=markup)
            case MediaKind.VIDEO:
                last = await self.bot.send_video(chat, ref, caption=caption, reply_markup=markup)
            case _:
                last = await self.bot.send_document(
                    chat, ref, caption=caption, reply_markup=markup
                )
        return [*before, last]


_RESENDABLE = frozenset(
    {
        MediaKind.PHOTO,
        MediaKind.VOICE,
        MediaKind.AUDIO,
        MediaKind.VIDEO,
        MediaKind.DOCUMENT,
        MediaKind.STICKER,
    }
)


def _resendable(attachment: MediaRef) -> bool:
    """Files can be sent again by their id; locations and contacts were never kept."""
    return attachment.kind in _RESENDABLE and bool(attachment.ref)


def keyboard(buttons: Sequence[Button], columns: int = 1) -> InlineKeyboardMarkup | None:
    """`raw_keyboard` as PTB's object, for the media sends made through its methods."""
    raw = raw_keyboard(buttons, columns)
    if raw is None:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in raw["inline_keyboard"]
        ]
    )


def raw_keyboard(buttons: Sequence[Button], columns: int = 1) -> dict[str, Any] | None:
    """Buttons as an inline keyboard in the Bot API's JSON, `columns` per row; None when
    there are none."""
    if not buttons:
        return None
    width = max(1, min(columns, MAX_COLUMNS))
    keys = [{"text": b.label, "callback_data": b.payload} for b in buttons]
    return {"inline_keyboard": [keys[i : i + width] for i in range(0, len(keys), width)]}


def _message_id(message: Sent) -> int:
    return message["message_id"] if isinstance(message, dict) else message.message_id


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split text into parts of at most `limit`, at a paragraph, line or word boundary."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        window = rest[: _fit(rest, limit)]
        cut = _boundary(window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts


def _fit(text: str, limit: int) -> int:
    """The most characters from the start of `text` that fit in `limit` UTF-16 units."""
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def _boundary(window: str) -> int:
    """Where to cut: the last paragraph or line break in the second half, else a space."""
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at >= len(window) // 2:
            return at
    at = window.rfind(" ")
    return at if at > 0 else len(window)


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def classify(error: TelegramError) -> SendResult:
    """A Bot API error as a SendResult the core and the delivery worker can branch on."""
    if isinstance(error, RetryAfter):
        return SendResult(
            SendStatus.RETRY, retry_after=_retry_after(error), reason="too many requests"
        )
    if isinstance(error, Forbidden):  # blocked, deactivated, never started the bot
        return SendResult(SendStatus.UNREACHABLE, reason=_reason(error))
    if isinstance(error, ChatMigrated):  # groups only; Wasl serves private chats
        return SendResult(SendStatus.FAILED, reason="chat migrated")
    if isinstance(error, (BadRequest, Conflict)):  # BadRequest before its base NetworkError
        return SendResult(SendStatus.FAILED, reason=_reason(error))
    if isinstance(error, TimedOut):
        # Waiting for the answer timed out: the Bot API may have sent the message already.
        # A connect or pool timeout never sent the request: safe to send again.
        unsent = isinstance(error.__cause__, (httpx.ConnectTimeout, httpx.PoolTimeout))
        return SendResult(SendStatus.RETRY, reason="timed out", ambiguous=not unsent)
    if isinstance(error, NetworkError):
        return SendResult(SendStatus.RETRY, reason=_reason(error) or "network error")
    return SendResult(SendStatus.RETRY, reason=_reason(error))


def _retry_after(error: RetryAfter) -> float:
    # PTB 22 warns that `retry_after` will become a timedelta; accept both shapes quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _reason(error: TelegramError) -> str:
    """A short, stable reason: "chat not found", "bot was blocked by the user"."""
    text = error.message.removeprefix("Forbidden: ").strip()
    return text.split(": ", 1)[0].lower()[:120]


# --- The running bot ----------------------------------------------------------------------


async def set_commands(bot: Bot, router: Router, catalogs: Catalogs) -> None:
    """Publish the member menu in every supported language, and a default one."""
    commands = router.menu(Role.MEMBER)

    def translated(locale: str) -> list[BotCommand]:
        _ = catalogs.get(locale)
        return [BotCommand(c.name, _(c.description)[:256]) for c in commands]

    try:
        await bot.set_my_commands(translated(catalogs.default))
        for locale in catalogs.supported:
            code = locale.replace("-", "_").split("_")[0].lower()
            await bot.set_my_commands(translated(locale), language_code=code)
    except TelegramError as error:  # a menu is a convenience: never a reason not to start
        log.warning("event=set_commands_failed reason=%s", _reason(error))


async def answer_query(query: CallbackQuery, update_id: int) -> None:
    """Stop the button's spinner; a late or stale press ("query is too old") is harmless."""
    try:
        await query.answer()
    except TelegramError as error:
        log.info("event=callback_answer_failed update_id=%s reason=%s", update_id, _reason(error))


class WireRequest(HTTPXRequest):
    """PTB's HTTP layer sending smaller bodies: compact UTF-8 JSON.

    PTB form-encodes every call, its values JSON-encoded with ASCII escapes and spaced
    separators: an Arabic letter costs 6 bytes in a text (percent-encoded UTF-8) and 18 in a
    keyboard (a percent-encoded \\u escape). Here a call without files is one compact JSON
    object in UTF-8 (application/json, which the Bot API accepts): 2 bytes an Arabic letter.
    An upload stays multipart, its JSON-valued fields compact. Timeouts and errors are PTB's.
    """

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        client = self._client
        if client.is_closed:
            raise RuntimeError("This HTTPXRequest is not initialized!")
        headers = {"User-Agent": self.USER_AGENT}
        content: bytes | None = None
        data: dict[str, str] | None = None
        files = None
        if request_data is not None and request_data.contains_files:
            files = request_data.multipart_data
            data = {
                name: value if isinstance(value, str) else compact_json(value)
                for name, value in request_data.parameters.items()
            }
        elif request_data is not None:
            content = json_body(request_data.parameters)
            headers["Content-Type"] = JSON_CONTENT_TYPE
        default = client.timeout
        write_default = default.write if files is None else self._media_write_timeout
        timeout = httpx.Timeout(
            connect=_timeout(connect_timeout, default.connect),
            read=_timeout(read_timeout, default.read),
            write=_timeout(write_timeout, write_default),
            pool=_timeout(pool_timeout, default.pool),
        )
        try:
            response = await client.request(
                method=method,
                url=url,
                headers=headers,
                timeout=timeout,
                content=content,
                data=data,
                files=files,
            )
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.PoolTimeout):
                raise TimedOut(
                    message="Pool timeout: All connections in the connection pool are "
                    "occupied. Request was *not* sent to Telegram."
                ) from error
            raise TimedOut from error
        except httpx.HTTPError as error:
            raise NetworkError(f"httpx.{error.__class__.__name__}: {error}") from error
        return response.status_code, response.content


def _timeout(given: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(given, DefaultValue) else given


def make_application(
    token: str,
    handle: Handle,
    *,
    api_base: str = DEFAULT_API_BASE,
    post_init: Hook | None = None,
    post_stop: Hook | None = None,
    request: ApiRequest | None = None,
    get_updates_request: ApiRequest | None = None,
) -> TelegramApplication:
    """A PTB Application whose every update goes to `handle` (the core).

    `post_init` runs once the bot is known (getMe), `post_stop` before it shuts down.
    `request`s replace the bot's HTTP layer (tests); by default both are WireRequests, with
    PTB's pool sizes (256, and 1 for getUpdates).
    """
    builder = ApplicationBuilder().token(token).job_queue(None)
    api_base = api_base.rstrip("/")
    if api_base != DEFAULT_API_BASE:
        builder = builder.base_url(f"{api_base}/bot").base_file_url(f"{api_base}/file/bot")
    builder = builder.request(request or WireRequest(connection_pool_size=256))
    builder = builder.get_updates_request(
        get_updates_request or WireRequest(connection_pool_size=1)
    )
    if post_init is not None:
        builder = builder.post_init(post_init)
    if post_stop is not None:
        builder = builder.post_stop(post_stop)
    application: TelegramApplication = builder.build()
    channel = TelegramChannel(application.bot)

    async def on_update(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        await handle_update(handle, channel, update)

    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what went wrong, with the update id: never its text, chat id or the token."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if update is None and isinstance(error, NetworkError):  # polling on a flaky link
        log.warning("event=polling_error error=%s", type(error).__name__)
        return
    log.error(
        "event=update_error update_id=%s error=%s",
        update_id,
        type(error).__name__,
        exc_info=error,
    )


@asynccontextmanager
async def running(
    application: TelegramApplication, *, webhook_url: str | None = None, secret: str | None = None
) -> AsyncIterator[None]:
    """Run the application without PTB's own web server (for our Starlette app).

    Calls the hooks in the order `run_polling` does; registers the webhook when given.
    """
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        if webhook_url is not None:
            await application.bot.set_webhook(
                webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
            )
            log.info("event=webhook_registered")
        await application.start()
        try:
            yield
        finally:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


POLL_TIMEOUT = 10  # seconds getUpdates waits for an update


@asynccontextmanager
async def polling(
    application: TelegramApplication,
    inbox: InboxWriter,
    clock: Clock,
    wake: Callable[[], None],
) -> AsyncIterator[None]:
    """Long-poll Telegram into the inbox while the block runs.

    PTB's own Updater confirms an update (moves the offset past it) at the next getUpdates,
    whether or not its handler has run: a crash in between loses the update. Here the offset
    moves only once the updates are committed to the inbox; the inbox worker processes them.
    """
    try:
        await application.bot.delete_webhook()
    except TelegramError as error:
        log.warning("event=polling_error error=%s", type(error).__name__)
    task = asyncio.create_task(_poll(application.bot, inbox, clock, wake), name="polling")
    log.info("event=polling_started")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _poll(bot: Bot, inbox: InboxWriter, clock: Clock, wake: Callable[[], None]) -> None:
    offset = 0
    while True:
        try:
            raw = await bot.do_api_request(
                "getUpdates",
                api_kwargs={
                    "offset": offset,
                    "timeout": POLL_TIMEOUT,
                    "allowed_updates": list(Update.ALL_TYPES),
                },
                read_timeout=POLL_TIMEOUT + 10,
            )
        except TelegramError as error:  # a flaky link, or Telegram busy: ask again
            log.warning("event=polling_error error=%s", type(error).__name__)
            await asyncio.sleep(1.0)
            continue
        updates = raw if isinstance(raw, list) else []
        ids = [u.get("update_id") for u in updates if isinstance(u, dict)]
        valid = [i for i in ids if isinstance(i, int) and is_id(i, low=0, high=MAX_UPDATE_ID)]
        items = [item for u in updates if (item := inbox_item(u, bot)) is not None]
        try:
            await inbox.add(ChannelName.TELEGRAM.value, items, clock.now())
        except Exception as error:  # not kept: the offset stays, Telegram sends them again
            log.error("event=inbox_store_failed channel=telegram error=%s", type(error).__name__)
            await asyncio.sleep(1.0)
            continue
        if valid:
            offset = max(offset, max(valid) + 1)
        if items:
            wake()


async def handle_update(
    handle: Handle, channel: Channel, update: Update, *, answered: bool = False
) -> None:
    """What every update goes through: stop a button's spinner, map it, hand it to the core.

    The spinner is stopped beside the processing, not before it: her answer does not wait for
    that round trip. Its errors surface once the update is done (answer_query logs Telegram's).
    `answered`: the webhook's answer stopped it already.
    """
    answering: asyncio.Task[None] | None = None
    if update.callback_query is not None and not answered:
        answering = asyncio.create_task(
            answer_query(update.callback_query, update.update_id), name="answer-callback"
        )
    try:
        inbound = to_inbound(update)
        if inbound is None:
            log.debug("event=update_ignored update_id=%s", update.update_id)
        else:
            await handle(inbound, channel)
    finally:
        if answering is not None:
            await answering


# --- The inbox: validated before it is kept, processed from it ----------------------------

MAX_UPDATE_ID = 2**53


# Marks a kept update whose button spinner the webhook's answer already stopped: the last
# key of the kept JSON, so its end says so (nothing she writes can end the object).
ANSWERED = "wasl_answered"
_ANSWERED_END = f', "{ANSWERED}": true}}'


def inbox_item(data: object, bot: Bot, *, webhook: bool = False) -> NewItem | None:
    """One webhook update, checked, as an inbox row; None (logged) for what is malformed or
    not ours. Only the update id is logged, never what it says.

    `webhook`: a button press's spinner is stopped in the webhook's own HTTP answer (the Bot
    API runs a method given there), the moment the press is kept: no call of ours, no round
    trip, and her phone stops spinning before the bot has even processed it. The kept row
    says so, so its processing does not answer again. Polled updates are answered as before.

    It came with the right secret, so it is Telegram's: refusing it would only make Telegram
    retry it for a day and hold back her later updates. Malformed ones are dropped.
    """
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not is_id(update_id, low=0, high=MAX_UPDATE_ID):
        log.warning("event=update_unparsed update_id=None error=update_id")
        return None
    try:
        payload = json.dumps(data)
        update = Update.de_json(data, bot)
        problem = _malformed(update)
        inbound = to_inbound(update) if problem is None else None
    except Exception as error:  # PTB checks no types: anything can break on garbage
        problem = type(error).__name__
    if problem is not None:
        log.warning("event=update_unparsed update_id=%s error=%s", update_id, problem)
        return None
    if inbound is None and update.callback_query is None:
        log.debug("event=update_ignored update_id=%s", update_id)
        return None
    chat_key = inbound.chat_id if inbound is not None else f"q{update_id}"
    answer = None
    if webhook and update.callback_query is not None:
        answer = {"method": "answerCallbackQuery", "callback_query_id": update.callback_query.id}
        payload = json.dumps({**data, ANSWERED: True})
    _parsed.keep(payload, bot, update)
    return NewItem(str(update_id), chat_key, payload, answer)


class _ParsedUpdates:
    """Updates this process's webhook parsed, by their payload, for its inbox worker: most
    are processed here a moment later, and parsing one again costs as much as the rest of
    the adapter's work. Bounded (the oldest go first); a miss parses the payload again."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: dict[str, tuple[Bot, Update]] = {}

    def keep(self, payload: str, bot: Bot, update: Update) -> None:
        self._kept[payload] = (bot, update)
        if len(self._kept) > self.size:
            del self._kept[next(iter(self._kept))]

    def take(self, payload: str, bot: Bot) -> Update | None:
        kept = self._kept.pop(payload, None)
        return kept[1] if kept is not None and kept[0] is bot else None


_parsed = _ParsedUpdates(512)


def _malformed(update: Update) -> str | None:
    """The first field Wasl reads that has the wrong shape, or None when all are right."""
    user, chat = update.effective_user, update.effective_chat
    if user is not None and not (is_id(user.id) and is_text(user.language_code, limit=35)):
        return "user"
    if chat is not None and not (is_id(chat.id) and is_text(chat.type, optional=False)):
        return "chat"
    query = update.callback_query
    if query is not None:
        if not (is_text(query.id, optional=False) and is_text(query.data, limit=256)):
            return "callback_query"
        if query.message is not None and not is_id(query.message.message_id, low=0):
            return "callback_message"
    for message in (update.message, update.edited_message):
        if message is None:
            continue
        if not is_id(message.message_id, low=0):
            return "message_id"
        if not (is_text(message.text) and is_text(message.caption)):
            return "text"
        files = [
            message.voice,
            message.audio,
            message.video,
            message.sticker,
            message.document,
            *(message.photo or ()),
        ]
        if not isinstance(message.photo, (tuple, list)):
            return "photo"
        if any(
            f is not None and not is_text(getattr(f, "file_id", None), optional=False)
            for f in files
        ):
            return "file"
    member = update.my_chat_member
    if member is not None and not is_text(member.new_chat_member.status, optional=False):
        return "chat_member"
    return None


async def process_item(handle: Handle, bot: Bot, channel: Channel, payload: str) -> None:
    """Process one kept update (checked when it was accepted) through the normal path."""
    update = _parsed.take(payload, bot)
    if update is None:
        data = json.loads(payload)
        data.pop(ANSWERED, None)
        update = Update.de_json(data, bot)
    await handle_update(handle, channel, update, answered=payload.endswith(_ANSWERED_END))
