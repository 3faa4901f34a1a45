"""Promise 4: logs carry no person. The redacting filter, record by record.

Each case logs what a library or our own code really logs (a real python-telegram-bot Update,
an httpx request line with a real httpx.URL, a traceback holding an update) through a handler
carrying the filter, and reads the text that handler wrote.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot, Update

from bot import logs

TOKEN = "7712345678:AAHk3vQx9-ZtP0wq_LmN8rT2yU5iO7pAs1d"
USER_ID = 48_213_577
NAME, USERNAME, TEXT = "Zainab-Qx", "zainab_qx_77", "the convoy left Tal Afar at dawn"
PHONE = "+964 770 123 4567"
SECRETS = ("verify-token-Qz8", "app-secret-Wm3", "webhook-secret-Kd5")
FORMAT = "level=%(levelname)s logger=%(name)s %(message)s"


def update_dict() -> dict[str, object]:
    return {
        "update_id": 801,
        "message": {
            "message_id": 5,
            "date": 1764061200,
            "chat": {"id": USER_ID, "type": "private", "first_name": NAME, "username": USERNAME},
            "from": {"id": USER_ID, "is_bot": False, "first_name": NAME, "username": USERNAME},
            "text": TEXT,
        },
    }


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """A handler with the filter on the root logger, everything at DEBUG; what it wrote."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(logs.RedactingFilter(logs.Redactor([TOKEN, *SECRETS])))
    root = logging.getLogger()
    root.addHandler(handler)
    # Other tests' servers (uvicorn) set their loggers' levels and propagation: undone here.
    loggers = [root, *(logging.getLogger(name) for name in logs.THIRD_PARTY)]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = True
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.propagate = propagate


def assert_no_person(text: str) -> None:
    for value in (TOKEN, str(USER_ID), NAME, USERNAME, TEXT, PHONE, "7701234567", *SECRETS):
        assert value not in text, f"{value!r} reached the log:\n{text}"


def test_a_telegram_update_dumped_at_debug_keeps_only_the_fixed_text(
    written: io.StringIO,
) -> None:
    update = Update.de_json(update_dict(), Bot(TOKEN))
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
    logging.getLogger("telegram.Bot").debug(
        "Calling Bot API endpoint `%s` with parameters `%s`",
        "sendMessage",
        {"chat_id": USER_ID, "text": TEXT},
    )
    text = written.getvalue()
    assert_no_person(text)
    assert "logger=telegram.ext.Application" in text and "Processing update" in text
    assert "level=DEBUG" in text


def test_the_token_in_a_request_url_never_reaches_the_log(written: io.StringIO) -> None:
    url = httpx.URL(f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK"
    )
    logging.getLogger("httpcore.http11").debug("send_request_headers.started request=%r", url)
    # A library's warning keeps its arguments, redacted: the token inside a URL path, alone.
    logging.getLogger("telegram.ext.Updater").warning("Error on %s: %s", str(url), f"bad {TOKEN}")
    text = written.getvalue()
    assert_no_person(text)
    assert "event=http_request method=POST api_method=sendMessage status=200" in text
    assert "/bot<redacted>/sendMessage" in text


def test_tracebacks_holding_an_update_are_redacted(written: io.StringIO) -> None:
    for name in ("telegram.ext.Application", "bot.channels.telegram"):
        try:
            raise ValueError(f"cannot handle {update_dict()} from {PHONE}")
        except ValueError:
            logging.getLogger(name).exception("event=update_error update_id=%s", 801)
    try:
        raise RuntimeError(str(update_dict()))
    except RuntimeError as error:
        logging.getLogger("apscheduler.executors").debug("job failed", exc_info=error)
    text = written.getvalue()
    assert_no_person(text)
    assert text.count("Traceback") == 3, "errors keep their frames, their messages withheld"
    assert text.count("<message withheld>") == 3
    assert "event=update_error update_id=801" in text  # the update id: kept, to find it again
    assert "error=RuntimeError" in text


def test_query_strings_and_configured_secrets_are_masked(written: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/dashboard?t=s3cr3t-dashboard-token",
        "1.1",
        200,
    )
    logging.getLogger("uvicorn.error").warning(
        "Invalid HTTP request: /webhook/whatsapp?hub.verify_token=%s", SECRETS[0]
    )
    logging.getLogger("bot.web").warning("event=refused url=/dashboard?t=s3cr3t-dashboard-token")
    logging.getLogger("bot.web").error("event=config secret=%s hook=%s", SECRETS[1], SECRETS[2])
    text = written.getvalue()
    assert_no_person(text)
    assert "s3cr3t-dashboard-token" not in text
    assert "event=http_served method=GET status=200" in text
    assert "/dashboard?<redacted>" in text


def test_a_library_warning_shows_objects_and_errors_by_type_only(written: io.StringIO) -> None:
    update = Update.de_json(update_dict(), Bot(TOKEN))
    error = ValueError(f"bad update from {NAME}")
    logging.getLogger("telegram.ext.Application").warning("Dropped %s: %s", update, error)
    text = written.getvalue()
    assert_no_person(text)
    assert "Dropped <Update>: <ValueError>" in text
    logging.getLogger("asyncio").error(
        f"Task exception was never retrieved\nfuture: <Task exception=ValueError({TEXT!r})>"
    )
    text = written.getvalue()
    assert_no_person(text)
    assert "Task exception was never retrieved" in text


def test_phone_numbers_and_chat_ids_in_any_message_are_masked(written: io.StringIO) -> None:
    logging.getLogger("httpx").warning("refused for %s and chat %s", PHONE, USER_ID)
    logging.getLogger("bot.channels.whatsapp").warning("event=oops from=%s", "9647701234567")
    text = written.getvalue()
    assert_no_person(text)
    assert "9647701234567" not in text


def test_install_puts_one_filter_on_every_root_handler_and_learns_secrets() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        first = logs.install(["first-secret-AA"])
        again = logs.install(["second-secret-BB"])
        assert first is again and handler.filters.count(first) == 1
        secrets = ("first-secret-AA", "second-secret-BB")
        logging.getLogger("bot.x").warning("event=x a=%s b=%s", *secrets)
        assert "secret-AA" not in out.getvalue() and "secret-BB" not in out.getvalue()
    finally:
        root.removeHandler(handler)


FORBIDDEN_KEYS = {
    "chat_id",
    "user_id",
    "sender_id",
    "member_id",
    "member",
    "name",
    "username",
    "first_name",
    "phone",
    "number",
    "text",
    "body",
    "token",
    "secret",
    "url",
    "link",
    "code",
}


def test_our_own_log_lines_name_no_person_and_no_secret() -> None:
    """Every `log.<level>(...)` in bot/, handlers/ and storage/ is key=value with no key that
    would carry a person or a secret (the filter is the second line of defence, not the first)."""
    root = Path(__file__).resolve().parents[2]
    found: list[str] = []
    calls = 0
    for path in [p for d in ("bot", "handlers", "storage") for p in (root / d).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "log"
                and node.args
            ):
                continue
            calls += 1
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                found.append(f"{path.name}:{node.lineno} not a constant key=value line")
                continue
            assert first.value.startswith("event="), f"{path.name}:{node.lineno}"
            keys = set(re.findall(r"(\w+)=", first.value))
            if keys & FORBIDDEN_KEYS:
                found.append(f"{path.name}:{node.lineno} {sorted(keys & FORBIDDEN_KEYS)}")
    assert calls > 30, "the scan found our log calls"
    assert found == []


def test_json_lines_carry_the_same_redacted_record_as_fields(written: io.StringIO) -> None:
    """WASL_LOG_FORMAT=json (the default off a terminal): one object per line, built from the
    record the filter rewrote, so it holds no more than a text line would."""
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is written
    ]
    handler.setFormatter(logs.JsonFormatter())
    update = Update.de_json(update_dict(), Bot(TOKEN))
    logging.getLogger("telegram.ext.Application").debug("Processing update %s", update)
    url = httpx.URL(f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK"
    )
    try:
        raise ValueError(f"cannot handle {update_dict()} from {PHONE}")
    except ValueError:
        logging.getLogger("bot.channels.telegram").exception(
            "event=update_error update_id=%s reason=%r", 801, f"it's {SECRETS[0]}"
        )
    text = written.getvalue()
    assert_no_person(text)
    entries = {e["logger"]: e for e in map(json.loads, text.splitlines())}  # each line: JSON
    library, request, error = (
        entries[name] for name in ("telegram.ext.Application", "httpx", "bot.channels.telegram")
    )
    assert library["level"] == "DEBUG" and library["event"] == "library_log"
    assert request["event"] == "http_request" and request["api_method"] == "sendMessage"
    assert request["status"] == "200"
    assert error["event"] == "update_error" and error["update_id"] == "801"
    assert error["reason"] == "it's <redacted>", "a quoted value is one field, unquoted"
    assert error["traceback"].endswith("ValueError: <message withheld>")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", error["time"])
