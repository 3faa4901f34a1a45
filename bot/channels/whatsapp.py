"""The WhatsApp Cloud API adapter (httpx): webhook bodies → Inbound, Outbound → Graph API calls.

It only translates. Signature checks use the raw body bytes; statuses are handed back as
values for the delivery side to record.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.core.messages import (
    ChannelName,
    Inbound,
    InboundEvent,
    MediaKind,
    Outbound,
    SendResult,
    SendStatus,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive message body
BUTTON_TITLE = 20
ROW_TITLE = 24
MAX_BUTTONS = 3
MAX_ROWS = 10

MEDIA_TYPES = {
    "image": MediaKind.PHOTO,
    "audio": MediaKind.VOICE,
    "voice": MediaKind.VOICE,
    "video": MediaKind.VIDEO,
    "document": MediaKind.DOCUMENT,
    "sticker": MediaKind.STICKER,
    "location": MediaKind.LOCATION,
    "contacts": MediaKind.CONTACT,
}
SEND_TYPES = {
    MediaKind.PHOTO: "image",
    MediaKind.VOICE: "audio",
    MediaKind.AUDIO: "audio",
    MediaKind.VIDEO: "video",
    MediaKind.DOCUMENT: "document",
    MediaKind.STICKER: "sticker",
}
RETRYABLE = {130429, 131056, 131000, 131016, 133004}  # throughput, pair rate, generic, service
UNREACHABLE = {131026, 131050, 131008}  # undeliverable, stopped marketing, (no wa account)
OUTSIDE_WINDOW = 131047


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body bytes."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status for a message we sent (sent, delivered, read, failed)."""

    message_id: str
    status: str
    error_code: int | None = None
    error_title: str | None = None


def parse_webhook(body: dict[str, Any]) -> tuple[list[Inbound], list[StatusUpdate]]:
    """Every message and status in one webhook body (one body may hold several)."""
    inbounds: list[Inbound] = []
    statuses: list[StatusUpdate] = []
    if body.get("object") != "whatsapp_business_account":
        return inbounds, statuses
    for entry in body.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            contacts = {c.get("wa_id") or c.get("user_id"): c for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                inbound = to_inbound(message, contacts)
                if inbound is not None:
                    inbounds.append(inbound)
            for status in value.get("statuses") or []:
                errors = status.get("errors") or [{}]
                statuses.append(
                    StatusUpdate(
                        message_id=str(status.get("id")),
                        status=str(status.get("status")),
                        error_code=errors[0].get("code"),
                        error_title=errors[0].get("title"),
                    )
                )
    return inbounds, statuses


def to_inbound(message: dict[str, Any], contacts: dict[str, Any]) -> Inbound | None:
    """One WhatsApp message → an Inbound; None for what needs no answer (reactions)."""
    kind = message.get("type")
    sender = message.get("from") or message.get("from_user_id")
    contact = contacts.get(str(sender)) or (next(iter(contacts.values())) if contacts else {})
    # Key people by the stable user id when WhatsApp gives one (usernames), else the wa_id.
    person = contact.get("user_id") or message.get("from_user_id") or sender
    chat = message.get("from") or contact.get("wa_id") or person
    if not person or not chat or kind == "reaction":
        return None
    base: dict[str, Any] = {
        "channel": ChannelName.WHATSAPP,
        "sender_id": str(person),
        "chat_id": str(chat),
        "update_id": str(message.get("id")),
        "message_id": str(message.get("id")),
    }
    if kind == "text":
        return Inbound(**base, text=str((message.get("text") or {}).get("body", "")))
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return Inbound(**base, event=InboundEvent.BUTTON, payload=str(reply.get("id", "")))
    if kind == "button":  # a template's quick-reply button
        button = message.get("button") or {}
        return Inbound(**base, event=InboundEvent.BUTTON, payload=str(button.get("payload") or ""))
    media = MEDIA_TYPES.get(str(kind), MediaKind.OTHER)
    content = message.get(str(kind)) or {}
    caption = content.get("caption") if isinstance(content, dict) else None
    ref = content.get("id") if isinstance(content, dict) else None
    # Locations are never kept: only the fact that one was sent reaches the core.
    return Inbound(
        **base, media=media, text=caption, media_ref=None if kind == "location" else ref
    )


def shorten(label: str, limit: int) -> str:
    """Fit a label in WhatsApp's limit, cutting at a word where possible."""
    label = label.strip()
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= limit // 2 else cut).rstrip() + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Split on paragraph, then line, then sentence boundaries, never mid-word if avoidable."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 3:
            sentences = [m.end() for m in re.finditer(r"[.!?؟。]\s", window)]
            cut = sentences[-1] if sentences else window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p]


class WhatsAppChannel:
    """Sends through the Graph API; implements the core's Channel protocol."""

    name = ChannelName.WHATSAPP
    choice_limit = MAX_ROWS  # past a list message's ten rows: a numbered menu

    def __init__(
        self, client: httpx.AsyncClient, api_base: str, phone_number_id: str, token: str
    ) -> None:
        self.client = client
        self.url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self.media_url = f"{api_base.rstrip('/')}/{phone_number_id}/media"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        """WhatsApp cannot edit a message: a replacement is sent as a new one. A file (a
        report) is uploaded first and sent as a document with the text as its caption."""
        if message.file is not None:
            return await self._send_file(chat_id, message)
        ids: list[str] = []
        for body in self.bodies(chat_id, message):
            result = await self._post(body)
            if result.status is not SendStatus.SENT:
                return result
            ids += result.all_ids
        return SendResult(SendStatus.SENT, ids[-1] if ids else None, message_ids=tuple(ids))

    def bodies(self, chat_id: str, message: Outbound) -> list[dict[str, Any]]:
        """The Graph API request bodies for one Outbound, in order (pure: easy to test)."""
        head = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": chat_id}
        if message.template is not None:
            template: dict[str, Any] = {
                "name": message.template.name,
                "language": {"code": message.template.language},
            }
            if message.template.parameters:
                template["components"] = [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": p[:1024]} for p in message.template.parameters
                        ],
                    }
                ]
            return [{**head, "type": "template", "template": template}]
        bodies: list[dict[str, Any]] = []
        if message.attachment is not None:
            kind = SEND_TYPES.get(message.attachment.kind, "document")
            bodies.append({**head, "type": kind, kind: {"id": message.attachment.ref}})
        buttons = message.buttons
        text = message.text
        if not buttons:
            bodies += [
                {**head, "type": "text", "text": {"body": part, "preview_url": False}}
                for part in split_text(text, TEXT_LIMIT)
            ]
            return bodies
        # Interactive bodies hold 1,024 characters: longer text goes first as plain text.
        parts = split_text(text, BODY_LIMIT)
        bodies += [{**head, "type": "text", "text": {"body": p}} for p in parts[:-1]]
        body_text = parts[-1] if parts else "…"
        if len(buttons) <= MAX_BUTTONS:
            bodies.append(
                {
                    **head,
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": {"text": body_text},
                        "action": {
                            "buttons": [
                                {
                                    "type": "reply",
                                    "reply": {
                                        "id": b.payload,
                                        "title": shorten(b.label, BUTTON_TITLE),
                                    },
                                }
                                for b in buttons
                            ]
                        },
                    },
                }
            )
        elif len(buttons) <= MAX_ROWS:
            bodies.append(
                {
                    **head,
                    "type": "interactive",
                    "interactive": {
                        "type": "list",
                        "body": {"text": body_text},
                        "action": {
                            "button": "☰",
                            "sections": [
                                {
                                    "rows": [
                                        {"id": b.payload, "title": shorten(b.label, ROW_TITLE)}
                                        for b in buttons
                                    ]
                                }
                            ],
                        },
                    },
                }
            )
        else:
            menu = "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, start=1))
            for part in split_text(f"{body_text}\n\n{menu}", TEXT_LIMIT):
                bodies.append({**head, "type": "text", "text": {"body": part}})
        return bodies

    async def _send_file(self, chat_id: str, message: Outbound) -> SendResult:
        assert message.file is not None
        media_id = await self.upload(
            message.file.filename, message.file.content, message.file.mime_type
        )
        if media_id is None:
            return SendResult(SendStatus.RETRY, reason="media upload failed")
        document = {"id": media_id, "filename": message.file.filename}
        if message.text:
            document["caption"] = message.text[:BODY_LIMIT]
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": chat_id,
            "type": "document",
            "document": document,
        }
        return await self._post(body)

    async def _post(self, body: dict[str, Any]) -> SendResult:
        try:
            response = await self.client.post(self.url, json=body, headers=self.headers)
        except httpx.TransportError as error:
            # Once the request was written, a timeout or a dropped connection leaves it unknown
            # whether Meta took the message; before that (connect, pool) it surely did not.
            unsent = isinstance(
                error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
            )
            reason = f"network: {type(error).__name__}"
            ambiguous = isinstance(error, httpx.TimeoutException) and not unsent
            return SendResult(SendStatus.RETRY, reason=reason, ambiguous=ambiguous)
        if response.status_code < 300:
            messages = response.json().get("messages") or [{}]
            return SendResult(SendStatus.SENT, message_id=messages[0].get("id"))
        return classify(response)

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        """The Cloud API cannot delete messages in her chat: nothing is deleted."""
        return 0

    async def upload(self, filename: str, content: bytes, mime_type: str) -> str | None:
        """Upload a file (reports) and return its media id."""
        try:
            response = await self.client.post(
                self.media_url,
                headers=self.headers,
                data={"messaging_product": "whatsapp", "type": mime_type},
                files={"file": (filename, content, mime_type)},
            )
        except httpx.TransportError:
            return None
        if response.status_code >= 300:
            return None
        media_id: str | None = response.json().get("id")
        return media_id


def classify(response: httpx.Response) -> SendResult:
    """A Graph API error as a SendResult: retry, unreachable, or failed with its reason."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    reason = f"whatsapp {code}: {error.get('message') or response.reason_phrase}"[:200]
    if code in RETRYABLE or response.status_code >= 500 or response.status_code == 429:
        return SendResult(SendStatus.RETRY, reason=reason)
    if code in UNREACHABLE:
        return SendResult(SendStatus.UNREACHABLE, reason=reason)
    if code == OUTSIDE_WINDOW:
        return SendResult(SendStatus.FAILED, reason="outside the 24-hour window")
    return SendResult(SendStatus.FAILED, reason=reason)


class WhatsAppWebhook:
    """The webhook's logic, independent of the web framework: verify, answer fast, process."""

    def __init__(
        self,
        channel: WhatsAppChannel,
        handle: Callable[[Inbound, WhatsAppChannel], Awaitable[None]],
        record_status: Callable[[StatusUpdate], Awaitable[None]],
        *,
        app_secret: str,
        verify_token: str,
    ) -> None:
        self.channel = channel
        self.handle = handle
        self.record_status = record_status
        self.app_secret = app_secret
        self.verify_token = verify_token
        self._tasks: set[asyncio.Task[None]] = set()

    def verify(self, mode: str | None, token: str | None, challenge: str | None) -> str | None:
        """Meta's subscription check: the challenge back when the token matches, else None."""
        if (
            mode == "subscribe"
            and token
            and challenge is not None
            and hmac.compare_digest(token, self.verify_token)
        ):
            return challenge
        return None

    def receive(self, raw_body: bytes, signature: str | None) -> int:
        """Check the signature on the raw bytes, then process in the background: the HTTP
        status to answer (401 for a bad signature, 400 for a body that is not JSON)."""
        if not verify_signature(self.app_secret, raw_body, signature):
            log.warning("event=whatsapp_bad_signature")
            return 401
        try:
            body = json.loads(raw_body)
        except ValueError:
            return 400
        task = asyncio.create_task(self.process(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 200

    async def process(self, body: dict[str, Any]) -> None:
        inbounds, statuses = parse_webhook(body)
        for inbound in inbounds:
            await self.handle(inbound, self.channel)
        for status in statuses:
            try:
                await self.record_status(status)
            except Exception:
                log.exception("event=whatsapp_status_failed")

    async def drain(self) -> None:
        """Wait for the background work started by earlier webhooks (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
