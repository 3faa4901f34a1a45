"""The WhatsApp Cloud API adapter (httpx): webhook bodies → Inbound, Outbound → Graph API calls.

It only translates. Signature checks use the raw body bytes; statuses are handed back as
values for the delivery side to record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.channels.wire import JSON_CONTENT_TYPE, json_body
from bot.core.messages import (
    ChannelName,
    Inbound,
    InboundEvent,
    MediaKind,
    Outbound,
    SendResult,
    SendStatus,
)
from bot.core.ports import Channel
from bot.intake import NewItem, as_bytes, is_id, is_text, same_secret

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


def verify_signature(app_secret: str, raw_body: bytes, header: str | bytes | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body bytes.

    Compared as bytes: a header with any character at all is refused, never an error. An
    empty secret never verifies (anyone could sign with it).
    """
    given = as_bytes(header)
    if not app_secret or not given.startswith(b"sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, given.removeprefix(b"sha256="))


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status for a message we sent (sent, delivered, read, failed)."""

    message_id: str
    status: str
    error_code: int | None = None
    error_title: str | None = None


def _dicts(value: object) -> list[dict[str, Any]]:
    """The dicts of a list; anything else in it (or a non-list) counts for nothing."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _elements(body: object) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """("message" | "status", element, contacts) for every element of a body, whatever shape
    its other parts have: one bad entry, change or element never hides the others."""
    found: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        return found
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            contacts = [
                c
                for c in _dicts(value.get("contacts"))
                if is_text(c.get("wa_id"), limit=128) and is_text(c.get("user_id"), limit=128)
            ]
            messages = value.get("messages")
            statuses = value.get("statuses")
            for message in messages if isinstance(messages, list) else []:
                found.append(("message", message, contacts))
            for status in statuses if isinstance(statuses, list) else []:
                found.append(("status", status, []))
    return found


def _message(message: object, contacts: list[dict[str, Any]]) -> Inbound | None:
    """A checked message as an Inbound; None for a reaction. Raises ValueError when malformed."""
    if not isinstance(message, dict):
        raise ValueError("message")
    for key in ("id", "type"):
        if not is_text(message.get(key), optional=False, limit=160) or not message[key]:
            raise ValueError(key)
    for key in ("from", "from_user_id"):
        if not is_text(message.get(key), limit=128):
            raise ValueError(key)
    kind = message["type"]
    content = message.get(kind)
    if content is not None and not isinstance(content, dict):
        raise ValueError("content")
    for key in ("body", "caption", "id", "payload"):
        if content is not None and not is_text(content.get(key)):
            raise ValueError(key)
    if kind == "interactive" and content is not None:
        for key in ("button_reply", "list_reply"):
            reply = content.get(key)
            if reply is not None and not (isinstance(reply, dict) and is_text(reply.get("id"))):
                raise ValueError(key)
    return to_inbound(message, {c.get("wa_id") or c.get("user_id"): c for c in contacts})


def _status(status: object) -> StatusUpdate:
    """A checked status; raises ValueError when malformed."""
    if not isinstance(status, dict):
        raise ValueError("status")
    message_id, state = status.get("id"), status.get("status")
    if not (is_text(message_id, optional=False, limit=128) and is_text(state, optional=False)):
        raise ValueError("status")
    errors = _dicts(status.get("errors")) or [{}]
    code, title = errors[0].get("code"), errors[0].get("title")
    if not ((code is None or is_id(code)) and is_text(title, limit=1024)):
        raise ValueError("error")
    return StatusUpdate(
        message_id=str(message_id), status=str(state)[:32], error_code=code, error_title=title
    )


def parse_webhook(body: object) -> tuple[list[Inbound], list[StatusUpdate]]:
    """Every well-formed message and status in one webhook body (one body may hold several)."""
    inbounds: list[Inbound] = []
    statuses: list[StatusUpdate] = []
    for kind, element, contacts in _elements(body):
        try:
            if kind == "status":
                statuses.append(_status(element))
            elif (inbound := _message(element, contacts)) is not None:
                inbounds.append(inbound)
        except ValueError as error:
            log.warning("event=whatsapp_element_dropped kind=%s error=%s", kind, error)
    return inbounds, statuses


def inbox_items(body: object) -> list[NewItem]:
    """Every well-formed element of a body as an inbox row (malformed ones logged, dropped)."""
    items: list[NewItem] = []
    for kind, element, contacts in _elements(body):
        try:
            if kind == "status":
                status = _status(element)
                key = f"status:{status.message_id}:{status.status}"
                payload: dict[str, Any] = {"status": element}
                chat = f"status:{status.message_id}"
            else:
                inbound = _message(element, contacts)
                if inbound is None:
                    continue  # a reaction: nothing to answer
                key, chat = str(element["id"]), inbound.chat_id
                payload = {"message": element, "contacts": contacts}
            items.append(NewItem(key[:160], chat[:160], json.dumps(payload)))
        except (ValueError, TypeError, KeyError) as error:
            log.warning(
                "event=whatsapp_element_dropped kind=%s error=%s", kind, type(error).__name__
            )
    return items


def to_inbound(message: dict[str, Any], contacts: dict[Any, Any]) -> Inbound | None:
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
        # Compact UTF-8 JSON, whatever httpx's own json= would write (0.27 spaces and escapes).
        self.json_headers = {**self.headers, "Content-Type": JSON_CONTENT_TYPE}

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
                            {"type": "text", "text": template_text(p)}
                            for p in message.template.parameters
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
            response = await self.client.post(
                self.url, content=json_body(body), headers=self.json_headers
            )
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
    """The webhook's logic, independent of the web framework: verify, then process one kept
    element at a time (the web layer keeps them in the inbox in between)."""

    def __init__(
        self,
        channel: Channel,
        handle: Callable[[Inbound, Channel], Awaitable[None]],
        record_status: Callable[[StatusUpdate], Awaitable[None]],
        *,
        app_secret: str,
        verify_token: str,
    ) -> None:
        self.channel = channel
        self.handle = handle
        self.record_status = record_status
        self.app_secret = app_secret
        self.verify_token = verify_token.encode()

    def verify(self, mode: str | None, token: str | None, challenge: str | None) -> str | None:
        """Meta's subscription check: the challenge back when the token matches, else None."""
        if mode == "subscribe" and challenge is not None and same_secret(token, self.verify_token):
            return challenge
        return None

    def authentic(self, raw_body: bytes, signature: str | bytes | None) -> bool:
        return verify_signature(self.app_secret, raw_body, signature)

    async def process(self, payload: str) -> None:
        """Process one kept element: a message goes to the core, a status is recorded."""
        element = json.loads(payload)
        if "status" in element:
            try:
                await self.record_status(_status(element["status"]))
            except Exception:
                log.exception("event=whatsapp_status_failed")
            return
        inbound = _message(element["message"], _dicts(element.get("contacts")))
        if inbound is not None:
            await self.handle(inbound, self.channel)


_LINE_BREAKS = re.compile(r"\s*[\n\r\t]+\s*")
_SPACES = re.compile(r" {4,}")


def template_text(text: str) -> str:
    """A template parameter as WhatsApp takes it: no line break, no tab, never more than
    three spaces in a row (else error 132018, and the message is lost), at most 1,024
    characters. The lines of an alert ("⚠️ Alert", then the text) are joined with " · "."""
    flat = _SPACES.sub("   ", _LINE_BREAKS.sub(" · ", text.strip()))
    return flat[:1024]
