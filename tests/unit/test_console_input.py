"""The terminal bot's input: lines as typed, from a descriptor or any text stream."""

from __future__ import annotations

import io
import os

import pytest

from bot.channels.console import read_lines


async def test_lines_from_a_text_stream() -> None:
    lines = [line async for line in read_lines(io.StringIO("1\nJ'accepte\nno newline"))]
    assert lines == ["1\n", "J'accepte\n", "no newline"]


async def test_lines_from_a_pipe_keep_letters_split_between_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read(fd, min(n, 3)))  # splits every letter
    read_end, write_end = os.pipe()
    os.write(write_end, "السودان\nSoudan\n".encode())
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as stdin:
        lines = [line async for line in read_lines(stdin)]
    assert lines == ["السودان\n", "Soudan\n"]
