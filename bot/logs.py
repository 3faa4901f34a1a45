"""Logging that carries no person: one filter on every handler rewrites each record.

Our own lines are key=value with no id, name, number, text or token. Other libraries' are not:
at DEBUG python-telegram-bot prints every update whole and httpx prints URLs holding the bot
token. So a record from another library below WARNING keeps only its logger, its level and the
fixed text of its message (its arguments, where updates and URLs hide, are dropped); the HTTP
request lines of httpx and uvicorn keep only the method, the API method and the status. Its
warnings and errors keep plain arguments (strings, numbers), errors and objects showing only
their type. Every
record, ours included, then loses bot tokens, configured secrets, query strings and long runs
of digits (phone numbers, chat ids), in its message and in its traceback. A traceback keeps
its frames and its exceptions' types; the exceptions' messages, which repeat whatever the code
held (an update, SQL parameters), are withheld.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

OWN = ("bot", "handlers", "storage", "__main__")  # our loggers: `logging.getLogger(__name__)`
THIRD_PARTY = (
    "telegram",
    "httpx",
    "httpcore",
    "hpack",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "starlette",
    "apscheduler",
    "sqlalchemy",
    "alembic",
    "asyncio",
    "aiosqlite",
    "asyncpg",
)
MASK = "<redacted>"

# A Telegram bot token (numeric bot id, colon, 35 characters), also inside /bot<token>/ paths.
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
_BOT_PATH = re.compile(r"/bot[^/\s'\"]+")
# Anything after "?" in a URL or request line: dashboard tokens, hub.verify_token, ids.
_QUERY = re.compile(r"\?[^\s'\"]*")
# Seven or more digits, possibly spaced like a phone number (+964 770 123 4567): phone
# numbers, chat and user ids. The update id of our own lines is a platform counter, not a
# person: kept so an error can be found again.
_DIGITS = re.compile(r"(?<!update_id=)(?<![\w.])\+?\d(?:[ \-]?\d){6,}")
_PLACEHOLDER = re.compile(
    r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]"
)
_API_METHOD = re.compile(r"[A-Za-z]{2,40}")


class Redactor:
    """Masks tokens, configured secrets, query strings and digit runs in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets |= {s for s in secrets if s and len(s) >= 4}
        self._secret = (
            re.compile("|".join(re.escape(s) for s in sorted(self.secrets, key=len, reverse=True)))
            if self.secrets
            else None
        )

    def __call__(self, text: str) -> str:
        if self._secret is not None:
            text = self._secret.sub(MASK, text)
        text = _BOT_TOKEN.sub(MASK, text)
        text = _BOT_PATH.sub("/bot" + MASK, text)
        text = _QUERY.sub("?" + MASK, text)
        return _DIGITS.sub(MASK, text)


def _own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN)


def _api_method(url: object) -> str:
    """The last segment of a URL's path when it is a plain word (sendMessage, messages)."""
    last = urlsplit(str(url)).path.rstrip("/").rsplit("/", 1)[-1]
    return last if _API_METHOD.fullmatch(last) else "-"


def _fixed(template: object) -> str:
    """A message's own text with every placeholder blanked: what the code says, never what
    it was given."""
    return _PLACEHOLDER.sub("…", str(template))


def _plain(arg: object) -> object:
    """A library's warning argument as it may be printed: strings and numbers stay (then
    redacted); an error, an object or a container, which may hold a whole update or SQL
    parameters, shows its type only."""
    if arg is None or isinstance(arg, str | int | float):
        return arg
    return f"<{type(arg).__name__}>"


def summary(record: logging.LogRecord) -> str:
    """What a third-party record below WARNING may say."""
    args = record.args if isinstance(record.args, tuple) else ()
    if record.name.startswith("httpcore"):  # its trace lines are pre-formatted: the event only
        return f"event=library_log text={str(record.msg).split(' ', 1)[0][:60]!r}"
    if record.name.startswith("httpx") and len(args) >= 2:
        status = args[3] if len(args) >= 4 else "-"
        return f"event=http_request method={args[0]} api_method={_api_method(args[1])} " + (
            f"status={status}"
        )
    if record.name == "uvicorn.access" and len(args) >= 5:
        return f"event=http_served method={args[1]} status={args[4]}"
    return f"event=library_log text={_fixed(record.msg)[:160]!r}"


_ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


def safe_traceback(exc_info: _ExcInfo) -> str:
    """The traceback as Python prints it, but every exception's message withheld."""
    error = exc_info[1]
    chain: list[BaseException] = []
    while error is not None and all(error is not e for e in chain):
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    parts = []
    for error in reversed(chain):
        kind = type(error)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}."
        name = name if kind.__module__ == "builtins" else name + kind.__qualname__
        frames = "".join(traceback.format_tb(error.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{name}: <message withheld>")
    return "\n\nDuring handling of the above, another exception occurred:\n\n".join(parts)


class RedactingFilter(logging.Filter):
    """Rewrites every record so that it names no one and holds no secret (never drops one)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor
        done_by = getattr(record, "_wasl_redacted", None)
        if done_by is self:
            return True  # already rewritten for another handler
        if done_by is not None:  # rewritten by another filter: mask this one's secrets too
            record.msg = redact(str(record.msg))
            record.exc_text = redact(record.exc_text) if record.exc_text else record.exc_text
            record._wasl_redacted = self
            return True
        if not _own(record.name) and record.levelno < logging.WARNING:
            message = summary(record)
            if record.exc_info or record.exc_text:
                kind = (
                    record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else "-"
                )
                message += f" error={kind}"
        else:
            if not _own(record.name) and isinstance(record.args, tuple):
                record.args = tuple(_plain(arg) for arg in record.args)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: the template alone
                message = _fixed(record.msg)
            if not _own(record.name) and not record.args:
                # Formatted before logging (asyncio's "Task exception was never retrieved",
                # then the task's repr with its error): the first line says what happened.
                message = message.split("\n", 1)[0]
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = safe_traceback(record.exc_info)  # whatever another handler made
        elif record.exc_text:
            record.exc_text = "<traceback withheld>"
        record.msg, record.args = redact(message), None
        record.exc_info = None  # its traceback lives on only as the redacted exc_text
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._wasl_redacted = self
        return True


_installed: RedactingFilter | None = None


def install(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Put the filter on every handler of the root logger and of the libraries we use (once;
    a second call only learns more secrets)."""
    global _installed
    if _installed is None:
        _installed = RedactingFilter(Redactor(secrets))
    else:
        _installed.redactor.add(secrets)
    for name in ("", *THIRD_PARTY):
        for handler in logging.getLogger(name).handlers:
            if _installed not in handler.filters:
                handler.addFilter(_installed)
    return _installed


# key=value in our lines; a value is a word, or quoted as repr() quotes it
_FIELD = re.compile(r"(?:^|(?<=\s))([a-z_]+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S*)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for a log collector: time (UTC), level, logger, then the
    record's key=value pairs as fields ("event": "update_duplicate"), any other text as
    "message", and the traceback. It formats what the filter already rewrote, so it shows
    nothing a text line would not."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "time": created.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        message = record.getMessage()
        for key, value in _FIELD.findall(message):
            entry.setdefault(key, _unquoted(value))
        rest = _FIELD.sub("", message).strip()
        if rest:
            entry["message"] = rest
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        try:
            return str(ast.literal_eval(value))
        except (ValueError, SyntaxError):
            return value[1:-1]
    return value
