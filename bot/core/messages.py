"""Neutral messages between the channel adapters and the core."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.ids import plain


class ChannelName(StrEnum):
    """The channels Wasl speaks on."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"


class MediaKind(StrEnum):
    """What a non-text inbound message carried (never downloaded by the adapter)."""

    PHOTO = "photo"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACT = "contact"
    OTHER = "other"


class InboundEvent(StrEnum):
    """What happened, beyond a plain message."""

    MESSAGE = "message"
    BUTTON = "button"
    EDITED = "edited"
    BLOCKED = "blocked"  # she blocked the bot (Telegram my_chat_member → kicked)
    UNBLOCKED = "unblocked"


_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did, in channel-neutral terms.

    `sender_id` identifies the person on her channel; `chat_id` is where replies go (the same
    for private chats). `update_id` is the platform's id, used to handle a redelivery once.
    """

    channel: ChannelName
    sender_id: str
    chat_id: str
    event: InboundEvent = InboundEvent.MESSAGE
    text: str | None = None
    payload: str | None = None
    media: MediaKind | None = None
    media_ref: str | None = None  # the platform's file id: kept, never downloaded by the adapter
    language_hint: str | None = None
    update_id: str | None = None
    message_id: str | None = None

    @property
    def command(self) -> tuple[str, str] | None:
        """`("start", "abc")` for "/start abc" (invisible marks around it ignored: `plain`);
        None when the text is not a slash command."""
        if self.text is None or self.event is not InboundEvent.MESSAGE:
            return None
        match = _COMMAND.match(plain(self.text))
        if match is None:
            return None
        return match.group(1).lower(), (match.group(2) or "").strip()


@dataclass(frozen=True, slots=True)
class Button:
    """A choice shown under a message; `payload` comes back in `Inbound.payload`.

    Payloads are ASCII and at most 64 bytes (Telegram's callback_data limit).
    """

    label: str
    payload: str

    def __post_init__(self) -> None:
        if not self.payload.isascii() or not 1 <= len(self.payload) <= 64:
            raise ValueError(f"button payload must be 1-64 ASCII bytes: {self.payload!r}")


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A file sent with a message (reports); sent as a document."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file already on the platform (e.g. a photo a member sent), re-sent by its id."""

    kind: MediaKind
    ref: str


@dataclass(frozen=True, slots=True)
class Template:
    """A pre-approved WhatsApp template: the only way to write first outside the 24-hour
    window. `parameters` fill the body's {{1}}, {{2}}…"""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send: text, optional buttons (shown `columns` per row), optional file.

    `replace` asks the channel to edit the message whose button was pressed instead of sending
    a new one (fewer messages on a slow phone); channels that cannot edit send a new message.
    `typed` says she is asked to type her answer (a number of days, a remark): a channel that
    shows choices as a numbered list must then take "2" as what she typed, not as choice 2.
    `ack` is a one-line acknowledgement of a replacement (a checklist's tick: "✓ Education")
    that a channel printing every message anew (the terminal) shows instead of the whole one.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    columns: int = 1
    file: OutboundFile | None = None
    replace: bool = False
    attachment: MediaRef | None = None
    template: Template | None = None  # WhatsApp outside the 24-hour window
    typed: bool = False
    ack: str | None = None


class SendStatus(StrEnum):
    """How a send ended, classified so callers can branch on it."""

    SENT = "sent"
    RETRY = "retry"  # try again later (network, 5xx, rate limit: see retry_after)
    UNREACHABLE = "unreachable"  # blocked, deactivated: stop sending to her
    FAILED = "failed"  # permanent for this message (too long, chat not found…)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one send.

    `message_id` is the message that carries the buttons (the one to edit later);
    `message_ids` every message the send produced (a long text goes out in parts), for /wipe.
    """

    status: SendStatus
    message_id: str | None = None
    retry_after: float | None = None
    reason: str | None = None
    message_ids: tuple[str, ...] = ()
    # RETRY after the request may have reached the platform (it timed out waiting for the
    # answer): sending again may show her the message twice.
    ambiguous: bool = False

    @property
    def all_ids(self) -> tuple[str, ...]:
        """Every message id this send left in her chat."""
        if self.message_ids:
            return self.message_ids
        return (self.message_id,) if self.message_id else ()


@dataclass(frozen=True, slots=True)
class ReplyAttempt:
    """A reply row after the fast path: how its send ended (None: not tried, left for the
    delivery worker), and the message it edited in place, if any."""

    row_id: int
    result: SendResult | None
    edit_message_id: str | None = None


@dataclass(slots=True)
class Reply:
    """What the core asks a channel to do after an update is committed.

    `messages` are written to the outbox in the update's own transaction and sent right after
    its commit (what fails to go out is retried by the delivery worker); messages with a file,
    `later` messages and deletions are sent directly after the commit, without the outbox.

    `later` makes messages that are slow to produce (a chart, a spreadsheet) after the commit,
    so the work never holds the database: each returns the messages to send next.
    """

    messages: list[Outbound] = field(default_factory=list)
    delete_message_ids: list[str] = field(default_factory=list)
    later: list[Callable[[], Awaitable[list[Outbound]]]] = field(default_factory=list)
