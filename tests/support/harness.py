"""Drive the real core and handlers through a recording channel and a real SQLite file."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.channels.whatsapp import WhatsAppChannel
from bot.core.clock import FixedClock
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
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
from bot.core.router import Core, Router
from storage.store import SqlStore


@dataclass
class Sent:
    chat_id: str
    message: Outbound
    message_id: str
    edited: bool


@dataclass
class RecordingChannel:
    """A Channel that records what the core sends, and can be told to refuse."""

    name: ChannelName = ChannelName.TELEGRAM
    choice_limit: int | None = None
    sent: list[Sent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    next_status: SendStatus = SendStatus.SENT
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        if self.next_status is not SendStatus.SENT:
            return SendResult(self.next_status, reason="test")
        message_id = edit_message_id or str(next(self._ids))
        self.sent.append(Sent(chat_id, message, message_id, edit_message_id is not None))
        return SendResult(SendStatus.SENT, message_id=message_id)

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        self.deleted.extend(message_ids)
        return len(message_ids)


class Harness:
    """One bot (core + store + channel) and helpers to speak to it as a person."""

    def __init__(
        self,
        store: SqlStore,
        router: Router,
        *,
        config: CoreConfig | None = None,
        channel: ChannelName = ChannelName.TELEGRAM,
        catalogs: Catalogs | None = None,
    ) -> None:
        self.store = store
        self.clock = FixedClock()
        self.catalogs = catalogs or Catalogs()
        self.config = config or CoreConfig()
        self.core = Core(store, router, self.catalogs, self.clock, self.config)
        limit = WhatsAppChannel.choice_limit if channel is ChannelName.WHATSAPP else None
        self.channel = RecordingChannel(name=channel, choice_limit=limit)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def person(self, user_id: str = "111", language: str | None = "en") -> Person:
        return Person(self, user_id, language)


class Person:
    """Someone writing to the bot; each call returns the messages the bot sent back."""

    def __init__(self, harness: Harness, user_id: str, language: str | None) -> None:
        self.h = harness
        self.user_id = user_id
        self.language = language

    @property
    def last(self) -> Outbound:
        """The last message she received."""
        return self.last_sent().message

    def last_sent(self) -> Sent:
        # From the end: with many people in one test, scanning everything made it quadratic.
        for sent in reversed(self.h.channel.sent):
            if sent.chat_id == self.user_id:
                return sent
        raise IndexError(f"nothing was sent to {self.user_id}")

    async def deliver(self, inbound: Inbound) -> list[Outbound]:
        before = len(self.h.channel.sent)
        await self.h.core.handle(inbound, self.h.channel)
        return [s.message for s in self.h.channel.sent[before:]]

    def inbound(self, **fields: object) -> Inbound:
        base: dict[str, object] = {
            "channel": self.h.channel.name,
            "sender_id": self.user_id,
            "chat_id": self.user_id,
            "language_hint": self.language,
            "update_id": str(next(self.h._update_ids)),
        }
        base.update(fields)
        return Inbound(**base)  # type: ignore[arg-type]

    async def say(self, text: str) -> list[Outbound]:
        return await self.deliver(
            self.inbound(text=text, message_id=str(next(self.h._message_ids)))
        )

    async def press(self, payload: str, message_id: str | None = None) -> list[Outbound]:
        """Press a button (by default on the last message she got)."""
        if message_id is None:
            message_id = self.last_sent().message_id
        return await self.deliver(
            self.inbound(event=InboundEvent.BUTTON, payload=payload, message_id=message_id)
        )

    async def tap(self, label: str, *, on: int = 1) -> list[Outbound]:
        """Press the button she sees labelled `label`, as she would: by what it says.

        The button is looked for on her last message first, then on earlier ones (`on=2` starts
        from the one before the last). An exact label wins; otherwise a label that contains
        `label` (case-insensitively), when only one does. An unknown or ambiguous label fails
        the test and lists what she could see.
        """
        # From the end, stopping at the button: with many people in one test, collecting all
        # her messages first made each tap scan everything ever sent.
        count, recent = 0, list[Sent]()
        for sent in reversed(self.h.channel.sent):
            if sent.chat_id != self.user_id:
                continue
            count += 1
            if len(recent) < 3:
                recent.append(sent)
            if count < on:
                continue
            button = _find_button(sent.message, label)
            if button is not None:
                return await self.press(button.payload, message_id=sent.message_id)
        if count < on:
            raise AssertionError(f"{self.user_id} has fewer than {on} messages")
        seen = [b.label for sent in reversed(recent) for b in sent.message.buttons]
        raise AssertionError(f"no button {label!r} on her messages; she could see {seen}")

    def labels(self) -> list[str]:
        """The labels of the buttons on her last message (as sent: `visible` for as seen)."""
        return [b.label for b in self.last.buttons]

    async def send_media(self, kind: MediaKind, caption: str | None = None) -> list[Outbound]:
        return await self.deliver(
            self.inbound(media=kind, text=caption, message_id=str(next(self.h._message_ids)))
        )

    async def edit(self, text: str) -> list[Outbound]:
        return await self.deliver(self.inbound(event=InboundEvent.EDITED, text=text))


def visible(text: str) -> str:
    """What she sees of a text: without the invisible bidi isolates and marks around values
    (`bot.core.i18n.isolate`)."""
    return text.translate(_INVISIBLE)


_INVISIBLE = str.maketrans(dict.fromkeys("\u2066\u2067\u2068\u2069\u200e\u200f"))


def _find_button(message: Outbound, label: str) -> Button | None:
    label = visible(label)
    exact = [b for b in message.buttons if visible(b.label) == label]
    if exact:
        return exact[0]
    wanted = label.casefold()
    near = [b for b in message.buttons if wanted in visible(b.label).casefold()]
    if len(near) > 1:
        raise AssertionError(f"{label!r} matches {[b.label for b in near]}: say which")
    return near[0] if near else None


def payloads(message: Outbound) -> list[str]:
    return [b.payload for b in message.buttons]
