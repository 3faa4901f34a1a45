"""A small fake Telegram Bot API server on 127.0.0.1, and real-shaped updates to feed it.

The server (Starlette under uvicorn, in a background thread with its own event loop) answers
the methods Wasl calls like Telegram does: it keeps the messages the bot sent so edits behave
("message is not modified", "message to edit not found"), refuses texts over 4096 characters,
serves injected updates through long-polled getUpdates honouring `offset`, and can be told to
fail a method (429 with retry_after, 403 blocked, 400 chat not found…). Every call is recorded.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import Bot

from bot.channels.telegram import WireRequest
from tests.fakes.server import ThreadedServer

TOKEN = "123:fake"
BOT_USER: dict[str, Any] = {
    "id": 123,
    "is_bot": True,
    "first_name": "Wasl",
    "username": "wasl_test_bot",
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# The errors Telegram answers with, as (status, description, parameters).
TOO_MANY_REQUESTS = (429, "Too Many Requests: retry after 3", {"retry_after": 3})
BLOCKED = (403, "Forbidden: bot was blocked by the user", None)
DEACTIVATED = (403, "Forbidden: user is deactivated", None)
CHAT_NOT_FOUND = (400, "Bad Request: chat not found", None)
QUERY_TOO_OLD = (
    400,
    "Bad Request: query is too old and response timeout expired or query ID is invalid",
    None,
)
NOT_MODIFIED = (
    400,
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message",
    None,
)

# Parameters PTB sends JSON-encoded (every other value arrives as the raw string).
_JSON_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "message_ids",
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "offset",
        "limit",
        "timeout",
        "link_preview_options",
        "drop_pending_updates",
        "max_connections",
        "show_alert",
        "cache_time",
        "disable_notification",
        "protect_content",
        "reply_parameters",
        "entities",
        "caption_entities",
    }
)
_MEDIA_METHODS = frozenset(
    {"senddocument", "sendphoto", "sendvoice", "sendaudio", "sendvideo", "sendsticker"}
)


@dataclass
class Call:
    """One request the bot made: the method as named by Telegram, its decoded params, and
    what the fake answered (`result`, None when it refused)."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    result: Any = None
    body: bytes = b""  # the request body as it arrived, to measure what the bot sends
    content_type: str = ""
    via_webhook: bool = False  # named in a webhook's HTTP answer, not requested

    @property
    def message_id(self) -> int:
        """The id of the message this call sent or edited."""
        assert isinstance(self.result, dict), f"{self.method} returned no message"
        return int(self.result["message_id"])

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def payloads(self) -> list[str]:
        """Every button's callback_data, row after row."""
        return [b["callback_data"] for row in self.keyboard for b in row]

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        markup = self.params.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))


class _Refusal(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


@dataclass
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None
    chat_id: int | None
    times: int | None  # None: every time


class FakeBotApi:
    """The fake server. Use as a context manager, or call start() and stop()."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.refused: list[str] = []  # non-local hosts the test transport refused
        self.webhook: dict[str, Any] | None = None
        self.messages: dict[tuple[Any, Any], dict[str, Any]] = {}  # (chat_id, message_id)
        self._updates: list[dict[str, Any]] = []
        self._redelivered: list[dict[str, Any]] = []  # served once, whatever the offset
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, list[float]] = {}  # answer late, after doing the work
        self._message_ids = itertools.count(10_000)
        self._lock = threading.Lock()
        self._closing = False
        self._web: ThreadedServer | None = None
        self.port = 0
        routes = [Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])]
        self.app = Starlette(routes=routes)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def base(self) -> str:
        """What TELEGRAM_API_BASE should be set to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeBotApi:
        self._web = ThreadedServer(self.app, "fake-bot-api")
        self._web.start()
        self.port = self._web.port
        return self

    def stop(self) -> None:
        self._closing = True
        if self._web is not None:
            self._web.stop()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- what a test does -----------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, messages, queued updates, failures and the webhook (between tests)."""
        with self._lock:
            self.calls.clear()
            self.refused.clear()
            self.messages.clear()
            self._updates.clear()
            self._redelivered.clear()
            self._failures.clear()
            self._delays.clear()
            self.webhook = None

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._lock:
            self._updates.append(update)
        return int(update["update_id"])

    def redeliver(self, update: dict[str, Any]) -> None:
        """Serve an update the bot already confirmed once more, as Telegram does when a bot
        crashed before confirming it (the bot's offset no longer filters it out)."""
        with self._lock:
            self._redelivered.append(update)

    def fail(
        self,
        method: str,
        error: tuple[int, str, dict[str, Any] | None],
        *,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> None:
        """Make `method` answer with `error` (`times` times, None for always; one chat only
        when `chat_id` is given)."""
        status, description, parameters = error
        with self._lock:
            self._failures.setdefault(method.lower(), []).append(
                _Failure(status, description, parameters, chat_id, times)
            )

    def answer_late(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Make `method` do its work (the message is delivered) but answer only after `seconds`,
        as a Bot API whose answer is lost or slow: a client that gives up first cannot know."""
        with self._lock:
            self._delays.setdefault(method.lower(), []).extend([seconds] * times)

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method.lower() == method.lower()
                and (chat_id is None or c.params.get("chat_id") == chat_id)
            ]

    def replies(self, chat_id: int | None = None) -> list[Call]:
        """What the bot said: sendMessage, sendDocument and editMessageText, in order."""
        said = {"sendmessage", "editmessagetext", *_MEDIA_METHODS}
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method.lower() in said
                and (chat_id is None or c.params.get("chat_id") == chat_id)
            ]

    async def wait_for(
        self,
        condition: Callable[[], Any],
        *,
        within: float = 10.0,
        what: str = "a condition",
    ) -> Any:
        """Poll until `condition()` is truthy and return its value; fail after `within` s."""
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.summary()}")
            await asyncio.sleep(0.02)

    async def wait_replies(self, chat_id: int, count: int, within: float = 10.0) -> list[Call]:
        """Wait until the bot has said at least `count` things to `chat_id`; return them all."""
        return list(
            await self.wait_for(
                lambda: (r := self.replies(chat_id)) and len(r) >= count and r,
                within=within,
                what=f"{count} replies to {chat_id}",
            )
        )

    def summary(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls if c.method != "getUpdates"]

    def request(self, **kwargs: Any) -> WireRequest:
        """The bot's request class (what production sends), through a transport that refuses
        any host but this machine."""
        transport = LocalOnlyTransport(self.refused)
        return WireRequest(httpx_kwargs={"transport": transport}, **kwargs)

    def bot(self) -> Bot:
        """A PTB Bot pointed at this server, through the local-only transport."""
        return Bot(
            self.token,
            base_url=f"{self.base}/bot",
            base_file_url=f"{self.base}/file/bot",
            request=self.request(),
            get_updates_request=self.request(),
        )

    # --- the server -----------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        name = request.path_params["method"]
        params, files = await _params(request)
        handler = getattr(self, f"_m_{name.lower()}", None)
        body, kind = await request.body(), request.headers.get("content-type", "")
        call = Call(name, params, files, body=body, content_type=kind)
        recorded = False
        try:
            if handler is None:
                return _error(404, "Not Found")
            self._maybe_fail(name, params)
            result = handler(params, files)
            if asyncio.iscoroutine(result):
                result = await result
            call.result = result
            with self._lock:
                delays = self._delays.get(name.lower())
                delay = delays.pop(0) if delays else 0.0
            if delay:
                with self._lock:  # delivered now, whether or not the client waits to hear it
                    self.calls.append(call)
                recorded = True
                await asyncio.sleep(delay)
                return JSONResponse({"ok": True, "result": result})
        except _Refusal as refusal:
            return _error(refusal.status, refusal.description, refusal.parameters)
        finally:
            if not recorded:
                with self._lock:  # recorded once answered, so a test never sees half a call
                    self.calls.append(call)
        return JSONResponse({"ok": True, "result": result})

    def webhook_answered(self, response: httpx.Response) -> Call | None:
        """What Telegram does with a webhook's HTTP answer that names a method: runs it (the
        bot never learns how it went) and, here, records it as a call `via_webhook`. Tests
        and benchmarks posting updates pass every answer through this, as Telegram would."""
        if response.status_code != 200 or not response.content:
            return None
        body = response.json()
        name = body.pop("method")
        handler = getattr(self, f"_m_{name.lower()}")
        call = Call(name, body, via_webhook=True, content_type="application/json")
        try:
            self._maybe_fail(name, body)
            call.result = handler(body, {})
        except _Refusal:
            pass  # as in Telegram: nobody hears of it
        with self._lock:
            self.calls.append(call)
        return call

    def _maybe_fail(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            for failure in self._failures.get(method.lower(), []):
                if failure.chat_id is not None and failure.chat_id != params.get("chat_id"):
                    continue
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                raise _Refusal(failure.status, failure.description, failure.parameters)

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = params["chat_id"]
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER,
            **content,
        }
        if params.get("reply_markup"):
            _check_markup(params["reply_markup"])
            message["reply_markup"] = params["reply_markup"]
        with self._lock:
            self.messages[(chat_id, message["message_id"])] = message
        return message

    def _m_getme(self, *_: Any) -> dict[str, Any]:
        return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False}

    async def _m_getupdates(self, params: dict[str, Any], _: Any) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _Refusal(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                # Updates before the offset are confirmed: Telegram forgets them.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = (self._redelivered + self._updates)[:limit]
                self._redelivered.clear()
            if pending or self._closing or time.monotonic() >= deadline:
                return pending
            await asyncio.sleep(0.02)

    def _m_sendmessage(self, params: dict[str, Any], _: Any) -> dict[str, Any]:
        text = str(params.get("text", ""))
        _check_text(text)
        return self._new_message(params, text=text)

    def _m_editmessagetext(self, params: dict[str, Any], _: Any) -> dict[str, Any]:
        message = self._stored(params, "Bad Request: message to edit not found")
        text = str(params.get("text", ""))
        _check_text(text)
        if "text" not in message:
            raise _Refusal(400, "Bad Request: there is no text in the message to edit")
        markup = params.get("reply_markup")
        if message["text"] == text and message.get("reply_markup") == markup:
            raise _Refusal(*NOT_MODIFIED)
        if markup:
            _check_markup(markup)
        message.update(text=text, edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    def _m_editmessagereplymarkup(self, params: dict[str, Any], _: Any) -> dict[str, Any]:
        message = self._stored(params, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if message.get("reply_markup") == markup:
            raise _Refusal(*NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return message

    def _stored(self, params: dict[str, Any], missing: str) -> dict[str, Any]:
        with self._lock:
            message = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise _Refusal(400, missing)
        return message

    def _m_answercallbackquery(self, *_: Any) -> bool:
        return True

    def _m_deletemessage(self, params: dict[str, Any], _: Any) -> bool:
        with self._lock:
            found = self.messages.pop((params.get("chat_id"), params.get("message_id")), None)
        if found is None:
            raise _Refusal(400, "Bad Request: message to delete not found")
        return True

    def _m_deletemessages(self, params: dict[str, Any], _: Any) -> bool:
        ids = params.get("message_ids") or []
        if not 1 <= len(ids) <= 100:
            raise _Refusal(400, "Bad Request: too many messages to delete")
        with self._lock:
            for message_id in ids:
                self.messages.pop((params.get("chat_id"), message_id), None)
        return True

    def _media(self, kind: str, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption")
        if caption is not None and len(str(caption).encode("utf-16-le")) // 2 > 1024:
            raise _Refusal(400, "Bad Request: message caption is too long")
        name, content = files.get(kind, (None, b""))
        attached = {
            "file_id": f"{kind}-{next(self._message_ids)}",
            "file_unique_id": f"u{kind}",
            "file_size": len(content),
        }
        if name:
            attached["file_name"] = name
        if kind == "photo":
            value: Any = [{**attached, "width": 90, "height": 90}]
        elif kind == "sticker":
            value = {**attached, "width": 512, "height": 512, "is_animated": False}
            value.update(is_video=False, type="regular")
        elif kind in ("voice", "audio"):
            value = {**attached, "duration": 1}
        elif kind == "video":
            value = {**attached, "duration": 1, "width": 90, "height": 90}
        else:
            value = attached
        content_fields: dict[str, Any] = {kind: value}
        if caption:
            content_fields["caption"] = caption
        return self._new_message(params, **content_fields)

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("document", params, files)

    def _m_sendphoto(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("photo", params, files)

    def _m_sendvoice(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("voice", params, files)

    def _m_sendaudio(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("audio", params, files)

    def _m_sendvideo(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("video", params, files)

    def _m_sendsticker(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return self._media("sticker", params, files)

    def _m_setmycommands(self, params: dict[str, Any], _: Any) -> bool:
        for command in params.get("commands") or []:
            if not 1 <= len(command.get("description", "")) <= 256:
                raise _Refusal(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            name = command.get("command", "")
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                raise _Refusal(400, "Bad Request: BOT_COMMAND_INVALID")
        return True

    def _m_deletemycommands(self, *_: Any) -> bool:
        return True

    def _m_setwebhook(self, params: dict[str, Any], _: Any) -> bool:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return True

    def _m_deletewebhook(self, params: dict[str, Any], _: Any) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _m_getwebhookinfo(self, *_: Any) -> dict[str, Any]:
        with self._lock:
            pending = len(self._updates)
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": pending}

    def _m_close(self, *_: Any) -> bool:
        return True

    def _m_logout(self, *_: Any) -> bool:
        return True


class LocalOnlyTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that refuses, and remembers, any host but this machine."""

    def __init__(self, refused: list[str]) -> None:
        super().__init__()
        self.refused = refused

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host not in LOCAL_HOSTS:
            self.refused.append(host)
            raise httpx.ConnectError(f"tests may not reach {host}", request=request)
        return await super().handle_async_request(request)


@contextmanager
def running_api(token: str = TOKEN) -> Iterator[FakeBotApi]:
    """A started fake server, stopped at the end; fails if anything tried to leave the host."""
    api = FakeBotApi(token).start()
    try:
        yield api
    finally:
        api.stop()
    assert not api.refused, f"requests to non-local hosts were refused: {api.refused}"


def _error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


def _check_text(text: str) -> None:
    if not text.strip():
        raise _Refusal(400, "Bad Request: message text is empty")
    if len(text.encode("utf-16-le")) // 2 > 4096:
        raise _Refusal(400, "Bad Request: message is too long")


def _check_markup(markup: dict[str, Any]) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise _Refusal(400, "Bad Request: BUTTON_DATA_INVALID")


def _chat(chat_id: int | str) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Test"}
    return {"id": chat_id, "type": "supergroup", "title": "A group"}


async def _params(request: Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Decode a Bot API request as PTB sends it: a JSON object, or form-encoded or multipart
    with JSON-encoded values."""
    raw: list[tuple[str, str]] = list(request.query_params.multi_items())
    files: dict[str, tuple[str, bytes]] = {}
    body = await request.body()
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json") and body:
        return dict(json.loads(body)), files
    if kind.startswith("application/x-www-form-urlencoded"):
        raw += parse_qsl(body.decode(), keep_blank_values=True)
    elif kind.startswith("multipart/form-data"):
        head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[str(name)] = (filename, content)
            else:
                raw.append((str(name), content.decode()))
    return {key: _decode(key, value) for key, value in raw}, files


def _decode(key: str, value: str) -> Any:
    if key not in _JSON_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# --- Real-shaped updates ------------------------------------------------------------------

_update_ids = itertools.count(500_000)
_user_message_ids = itertools.count(1)
_query_ids = itertools.count(9_000)


def _user(user_id: int, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "Amina"}
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _private(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Amina"}


def _message(
    user_id: int,
    language_code: str | None,
    chat: dict[str, Any] | None = None,
    **content: Any,
) -> dict[str, Any]:
    return {
        "message_id": next(_user_message_ids),
        "date": int(time.time()),
        "chat": chat or _private(user_id),
        "from": _user(user_id, language_code),
        **content,
    }


def _update(update_id: int | None, **body: Any) -> dict[str, Any]:
    return {"update_id": next(_update_ids) if update_id is None else update_id, **body}


def text_update(
    user_id: int,
    text: str,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
    chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A text message (a slash command gets its bot_command entity, as Telegram sends it)."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        length = len(text.split()[0])
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return _update(update_id, message=_message(user_id, language_code, chat, **content))


def group_text_update(user_id: int, text: str, *, group_id: int = -1001234) -> dict[str, Any]:
    """A text message in a supergroup (which Wasl does not serve)."""
    group = {"id": group_id, "type": "supergroup", "title": "Peace circle"}
    return text_update(user_id, text, chat=group)


def callback_update(
    user_id: int,
    data: str,
    message_id: int,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
) -> dict[str, Any]:
    """A button press on the bot's message `message_id`."""
    on = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": _private(user_id),
        "from": BOT_USER,
        "text": "…",
    }
    query = {
        "id": str(next(_query_ids)),
        "from": _user(user_id, language_code),
        "chat_instance": f"ci{user_id}",
        "data": data,
        "message": on,
    }
    return _update(update_id, callback_query=query)


def photo_update(
    user_id: int,
    caption: str | None = None,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
) -> dict[str, Any]:
    """A photo, in the three sizes Telegram sends, with an optional caption."""
    sizes = [
        {"file_id": f"photo-{side}", "file_unique_id": f"p{side}", "width": side, "height": side}
        for side in (90, 320, 1280)
    ]
    content: dict[str, Any] = {"photo": sizes}
    if caption is not None:
        content["caption"] = caption
    return _update(update_id, message=_message(user_id, language_code, **content))


def sticker_update(
    user_id: int, *, language_code: str | None = "en", update_id: int | None = None
) -> dict[str, Any]:
    sticker = {
        "file_id": "sticker-1",
        "file_unique_id": "s1",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
        "emoji": "🕊",
    }
    return _update(update_id, message=_message(user_id, language_code, sticker=sticker))


def voice_update(
    user_id: int, *, language_code: str | None = "en", update_id: int | None = None
) -> dict[str, Any]:
    voice = {"file_id": "voice-1", "file_unique_id": "v1", "duration": 4}
    return _update(update_id, message=_message(user_id, language_code, voice=voice))


def location_update(
    user_id: int, *, language_code: str | None = "en", update_id: int | None = None
) -> dict[str, Any]:
    location = {"latitude": 33.31, "longitude": 44.36}
    return _update(update_id, message=_message(user_id, language_code, location=location))


def edited_update(
    user_id: int,
    text: str,
    message_id: int = 1,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
) -> dict[str, Any]:
    """She edited her message `message_id` to say `text`."""
    message = _message(user_id, language_code, text=text)
    message.update(message_id=message_id, edit_date=int(time.time()))
    return _update(update_id, edited_message=message)


def my_chat_member_update(
    user_id: int,
    kicked: bool = True,
    *,
    language_code: str | None = "en",
    update_id: int | None = None,
) -> dict[str, Any]:
    """She blocked the bot (kicked) or unblocked it (member again), in her private chat."""
    old, new = ("member", "kicked") if kicked else ("kicked", "member")

    def member(status: str) -> dict[str, Any]:
        shown: dict[str, Any] = {"user": BOT_USER, "status": status}
        if status == "kicked":
            shown["until_date"] = 0  # Telegram always sends it for a ban: 0 means forever
        return shown

    changed = {
        "chat": _private(user_id),
        "from": _user(user_id, language_code),
        "date": int(time.time()),
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    }
    return _update(update_id, my_chat_member=changed)
