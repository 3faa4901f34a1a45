"""What every webhook body goes through before anything trusts it: a size limit enforced while
streaming, a bounded JSON parse, and byte comparisons of secrets that never raise."""

from __future__ import annotations

import hmac
import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

MAX_BODY = 1024 * 1024  # bytes; platforms send a few kilobytes
MAX_DEPTH = 64  # nesting of objects and arrays
MAX_INT = 2**63  # integers at or beyond this (in absolute value) are refused
MAX_NUMBER_CHARS = 40  # digits of one number, before it is even converted

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


@dataclass(frozen=True, slots=True)
class NewItem:
    """One checked update for the inbox: `platform_id` is unique per channel, `chat_key` keeps
    one chat's updates in order, `payload` is the update as JSON text."""

    platform_id: str
    chat_key: str
    payload: str
    # A Bot API call for the webhook's own HTTP answer, which the platform makes for us once
    # the update is kept (Telegram: stopping a button's spinner), or None.
    answer: dict[str, Any] | None = None


class InboxWriter(Protocol):
    """Where checked updates are kept before they are processed (storage/inbox.py)."""

    async def add(self, channel: str, items: Sequence[NewItem], now: datetime) -> int: ...


class TooLarge(Exception):
    """The body is larger than the limit (answered 413)."""


class Unparsable(ValueError):
    """Not JSON at all (a broken client: answered 400)."""


class OutOfBounds(Unparsable):
    """JSON outside the bounds: too deep, numbers too large (dropped, answered 200 when it
    came with the platform's secret, so that the platform does not retry it for a day)."""


def as_bytes(value: str | bytes | None) -> bytes:
    """A header or query value as bytes: any str encodes (lone surrogates too)."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogatepass")


def same_secret(given: str | bytes | None, expected: bytes) -> bool:
    """Constant-time comparison of bytes; False for a missing value or an empty secret."""
    return bool(expected) and given is not None and hmac.compare_digest(as_bytes(given), expected)


async def read_limited(
    chunks: AsyncIterator[bytes], declared: str | None, limit: int = MAX_BODY
) -> bytes:
    """The body, read chunk by chunk and abandoned as soon as it passes `limit`.

    A declared Content-Length over the limit is refused before anything is read.
    """
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length > limit:
            raise TooLarge
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in `raw` (strings ignored), without parsing it."""
    brackets = _STRINGS.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(itertools.accumulate(_STEP[b] for b in brackets))


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise OutOfBounds("integer too long")
    value = int(text)
    if not -MAX_INT < value < MAX_INT:
        raise OutOfBounds("integer too large")
    return value


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise OutOfBounds("number too long")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise OutOfBounds("number too large")
    return value


def _constant(name: str) -> Any:
    raise OutOfBounds(f"{name} is not a number")


def parse_json(raw: bytes) -> Any:
    """Parse `raw` within the bounds; raises OutOfBounds outside them, Unparsable for what is
    not JSON."""
    if depth(raw) > MAX_DEPTH:
        raise OutOfBounds("nested too deeply")
    try:
        return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except Unparsable:
        raise
    except RecursionError as error:  # the pre-scan should have caught it
        raise OutOfBounds("nested too deeply") from error
    except ValueError as error:  # also UnicodeDecodeError
        raise Unparsable(type(error).__name__) from error


def is_id(value: object, *, low: int = -(2**52), high: int = 2**52) -> bool:
    """An integer (not a bool) within [low, high]."""
    return type(value) is int and low <= value <= high


def is_text(value: object, *, optional: bool = True, limit: int = 65536) -> bool:
    if value is None:
        return optional
    return isinstance(value, str) and len(value) <= limit
