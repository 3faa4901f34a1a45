"""The terminal channel: the same bot on standard input and output, no network.

Buttons are shown as numbered choices and answered by number or by label. A line such as
`[photo]` or `[sticker]` stands for a media message, so scripts can try bad input too.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import itertools
import os
import re
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from functools import partial
from typing import TextIO

from bot.core.i18n import fold
from bot.core.ids import plain
from bot.core.messages import (
    Button,
    ChannelName,
    Inbound,
    InboundEvent,
    MediaKind,
    Outbound,
    SendResult,
    SendStatus,
)
from bot.core.router import Core

CHAT_ID = "console"


class ConsoleChannel:
    """Prints the bot's messages and turns typed lines into Inbounds."""

    name = ChannelName.CONSOLE
    choice_limit = None  # one person, one process: numbers are read here, by label too

    def __init__(self, out: TextIO = sys.stdout, language: str | None = None) -> None:
        self.out = out
        self.language = language
        self._ids = itertools.count(1)
        self._buttons: tuple[Button, ...] = ()
        self._buttons_message = ""
        self._numbered = True

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        message_id = edit_message_id or str(next(self._ids))
        if message.ack and edit_message_id == self._buttons_message:
            # A checklist ticked in place: one line, not the whole menu again (its numbers
            # stay as they were shown).
            self.out.write(f"{message.ack}\n\n")
            self.out.flush()
            self._buttons = message.buttons or self._buttons
            return SendResult(SendStatus.SENT, message_id=message_id)
        lines = [message.text]
        if message.file is not None:
            lines.append(f"[file: {message.file.filename}, {len(message.file.content)} bytes]")
        if message.typed:  # she types her answer: numbers are hers, buttons go by their label
            lines += [f"  [{b.label}]" for b in message.buttons]
        else:
            lines += [f"  {n}. {b.label}" for n, b in enumerate(message.buttons, start=1)]
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()
        if message.buttons:
            self._buttons, self._buttons_message = message.buttons, message_id
            self._numbered = not message.typed
        return SendResult(SendStatus.SENT, message_id=message_id)

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        self.out.write(f"[{len(message_ids)} messages deleted]\n\n")
        return len(message_ids)

    def to_inbound(self, line: str) -> Inbound:
        """Map a typed line: a button number or label, a `[media]` marker, or text."""
        text = line.strip()
        common = partial(
            Inbound,
            channel=ChannelName.CONSOLE,
            sender_id=CHAT_ID,
            chat_id=CHAT_ID,
            language_hint=self.language,
        )
        button = self._button_for(text)
        if button is not None:
            return common(
                event=InboundEvent.BUTTON,
                payload=button.payload,
                message_id=self._buttons_message,
            )
        if text.startswith("[") and text.endswith("]"):
            kind = text[1:-1].strip().lower()
            media = MediaKind(kind) if kind in MediaKind.__members__.values() else MediaKind.OTHER
            return common(media=media, message_id=str(next(self._ids)))
        return common(text=text, message_id=str(next(self._ids)))

    def _button_for(self, text: str) -> Button | None:
        wrapped = text.startswith("[") and text.endswith("]")
        if wrapped and self._buttons:  # "[Skip]", as the choice was shown
            text = text[1:-1].strip()
        number = plain(text)  # "\u200f2" from a right-to-left keyboard is 2; "²" is no number
        count = len(self._buttons)
        if self._numbered and number.isdecimal() and len(number) < 6 and 1 <= int(number) <= count:
            return self._buttons[int(number) - 1]
        wanted = fold(text).strip("✅▫️ ")
        if not wanted:
            return None
        labels = [(fold(b.label).strip("✅▫️ "), b) for b in self._buttons]
        for label, button in labels:
            if label == wanted:
                return button
        if not self._numbered:  # she is typing an answer: only a whole label is a choice
            return None
        # "Yes" for "Yes, keep it": the first words of exactly one label.
        starts = [b for label, b in labels if re.match(rf"{re.escape(wanted)}(?!\w)", label)]
        return starts[0] if len(starts) == 1 else None

    async def run(self, core: Core, stdin: TextIO = sys.stdin, greet: bool = True) -> None:
        """Read lines until end of input, answering each."""
        if greet:
            await core.handle(self.to_inbound("/start"), self)
        async for line in read_lines(stdin):
            if line.strip():
                await core.handle(self.to_inbound(line), self)


async def read_lines(stdin: TextIO) -> AsyncIterator[str]:
    """The lines typed on `stdin`, as they come, without holding up the event loop.

    A daemon thread reads the file descriptor itself: Ctrl-C (the main task cancelled) stops
    at once, where a read in the loop's executor would be waited for at shutdown until she
    pressed Enter, and no lock of sys.stdin is left held by a thread when the process exits.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody reads any more
            loop.call_soon_threadsafe(queue.put_nowait, line)

    def pump() -> None:
        for line in _raw_lines(stdin):
            put(line)
        put(None)

    threading.Thread(target=pump, name="console-input", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _raw_lines(stdin: TextIO) -> Iterator[str]:
    """Lines from the descriptor under `stdin` when it has one (decoded as it is), else from
    the object itself (a StringIO in tests)."""
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        yield from iter(stdin.readline, "")
        return
    decoder = codecs.getincrementaldecoder(getattr(stdin, "encoding", None) or "utf-8")(
        errors="replace"
    )
    pending = ""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        pending += decoder.decode(chunk, final=not chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line + "\n"
        if not chunk:
            break
    if pending:
        yield pending
