"""Webhook bodies are bounded before anything trusts them: size, nesting, number sizes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.intake import (
    MAX_DEPTH,
    OutOfBounds,
    TooLarge,
    Unparsable,
    depth,
    parse_json,
    read_limited,
    same_secret,
)


def test_depth_counts_nesting_and_ignores_brackets_inside_strings() -> None:
    assert depth(b'{"a": [1, {"b": []}]}') == 4
    assert depth(b'{"a": "[[[[{{{{", "b": "\\"[["}') == 1
    assert depth(b"12") == 0


def test_json_within_bounds_parses() -> None:
    body = {"update_id": 2**62, "x": [[[1.5, "وصل"]]], "neg": -(2**62)}
    assert parse_json(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'{"update_id": 9223372036854775808}',
        b'{"a": -9223372036854775808}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b'{"a": 1e999}',
        b'{"a": NaN}',
        b'{"a": -Infinity}',
    ],
    ids=["deep", "just-too-deep", "2**63", "-2**63", "digits", "inf", "nan", "-inf"],
)
def test_json_outside_bounds_is_refused_without_raising_anything_else(raw: bytes) -> None:
    with pytest.raises(OutOfBounds):
        parse_json(raw)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b'{"a": "\\ud800'])
def test_what_is_not_json_is_unparsable(raw: bytes) -> None:
    with pytest.raises(Unparsable):
        parse_json(raw)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_body_is_read_up_to_the_limit_only() -> None:
    assert await read_limited(chunks(b"ab", b"cd"), None, limit=4) == b"abcd"
    with pytest.raises(TooLarge):
        await read_limited(chunks(b"ab", b"cd", b"e"), None, limit=4)
    read: list[bytes] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            read.append(b"x" * 1000)
            yield read[-1]

    with pytest.raises(TooLarge):
        await read_limited(endless(), None, limit=10_000)
    assert len(read) == 11, "it stopped at the first chunk past the limit"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(b"x")
        yield b"x"

    with pytest.raises(TooLarge):
        await read_limited(body(), "5000", limit=4)
    assert read == []


def test_secrets_compare_as_bytes_and_never_raise() -> None:
    assert same_secret("s3cret", b"s3cret")
    assert same_secret(b"s3cret", b"s3cret")
    assert not same_secret("وصل", b"s3cret")
    assert not same_secret("\ud800", b"s3cret")
    assert not same_secret(None, b"s3cret")
    assert not same_secret("", b""), "an empty secret matches nothing"
