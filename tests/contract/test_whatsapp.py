"""The WhatsApp adapter against Meta's documented formats: inbound mapping, signatures,
outbound request bodies (through httpx.MockTransport), and error classification."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from bot.channels.whatsapp import (
    WhatsAppChannel,
    WhatsAppWebhook,
    classify,
    inbox_items,
    parse_webhook,
    shorten,
    split_text,
    verify_signature,
)
from bot.core.messages import (
    Button,
    InboundEvent,
    MediaKind,
    MediaRef,
    Outbound,
    OutboundFile,
    SendStatus,
    Template,
)
from tests.contract import whatsapp_payloads as wa

SECRET = "app-secret"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (wa.text("مرحبا"), {"text": "مرحبا", "event": InboundEvent.MESSAGE}),
        (
            wa.button_reply("ob:1:values:yes"),
            {"payload": "ob:1:values:yes", "event": InboundEvent.BUTTON},
        ),
        (wa.list_reply("ob:1:country:IQ"), {"payload": "ob:1:country:IQ"}),
        (
            wa.message("image", {"id": "img-1", "caption": "school", "mime_type": "image/jpeg"}),
            {"media": MediaKind.PHOTO, "media_ref": "img-1", "text": "school"},
        ),
        (
            wa.message("audio", {"id": "aud-1", "voice": True}),
            {"media": MediaKind.VOICE, "media_ref": "aud-1"},
        ),
        (
            wa.message("location", {"latitude": 36.34, "longitude": 43.13}),
            {"media": MediaKind.LOCATION, "media_ref": None},
        ),
        (wa.message("sticker", {"id": "st-1"}), {"media": MediaKind.STICKER}),
        (wa.message("unsupported", {}), {"media": MediaKind.OTHER}),
        (
            wa.message("button", {"payload": "svy:s:1", "text": "Start"}),
            {"payload": "svy:s:1", "event": InboundEvent.BUTTON},
        ),
    ],
)
def test_inbound_mapping(body: dict[str, Any], expected: dict[str, Any]) -> None:
    inbounds, statuses = parse_webhook(body)
    assert statuses == []
    [inbound] = inbounds
    assert inbound.sender_id == "9647701234567"
    assert inbound.update_id and inbound.update_id.startswith("wamid.")
    for key, value in expected.items():
        assert getattr(inbound, key) == value, key


def test_reactions_are_ignored_and_user_ids_key_people() -> None:
    assert parse_webhook(wa.message("reaction", {"message_id": "x", "emoji": "👍"}))[0] == []
    [inbound], _ = parse_webhook(wa.text("hi", user_id="US.13491208655302741918"))
    assert inbound.sender_id == "US.13491208655302741918", "the stable user id, not the phone"
    assert inbound.chat_id == "9647701234567", "replies still go to her number"


def test_several_messages_and_statuses_in_one_body() -> None:
    body = wa.text("one")
    body["entry"][0]["changes"][0]["value"]["messages"].append(
        {"from": "9647701234567", "id": "wamid.two", "type": "text", "text": {"body": "two"}}
    )
    body["entry"][0]["changes"][0]["value"]["statuses"] = wa.status("wamid.x", "read")["entry"][0][
        "changes"
    ][0]["value"]["statuses"]
    inbounds, statuses = parse_webhook(body)
    assert [i.text for i in inbounds] == ["one", "two"]
    assert [(s.message_id, s.status) for s in statuses] == [("wamid.x", "read")]


def test_failed_status_carries_its_error_code() -> None:
    _, [status] = parse_webhook(wa.status("wamid.y", "failed", code=131047))
    assert (status.status, status.error_code) == ("failed", 131047)


def test_signatures() -> None:
    raw = json.dumps(wa.text("hi")).encode()
    assert verify_signature(SECRET, raw, sign(raw))
    assert not verify_signature(SECRET, raw, sign(raw, "other"))
    assert not verify_signature(SECRET, raw + b" ", sign(raw)), "re-serialised bodies fail"
    assert not verify_signature(SECRET, raw, None)
    assert not verify_signature(SECRET, raw, "md5=abc")


class GraphRecorder:
    """httpx.MockTransport handler that records request bodies and answers like Graph."""

    def __init__(self, error: dict[str, Any] | None = None, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.error = error
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "graph.test", "no request leaves for a real host"
        assert request.headers["Authorization"] == "Bearer token"
        self.bodies.append(json.loads(request.content))
        if self.error:
            return httpx.Response(self.status, json={"error": self.error})
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "messages": [{"id": f"wamid.{len(self.bodies)}"}],
            },
        )


def channel(recorder: GraphRecorder) -> WhatsAppChannel:
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return WhatsAppChannel(client, "https://graph.test/v21.0", wa.PHONE_ID, "token")


async def test_three_buttons_become_reply_buttons_with_short_titles() -> None:
    recorder = GraphRecorder()
    buttons = (
        Button("I accept the values", "ob:1:values:yes"),
        Button("No, thank you", "ob:1:values:no"),
    )
    result = await channel(recorder).send("9647701234567", Outbound("Do you accept?", buttons))
    assert result.status is SendStatus.SENT and result.message_id == "wamid.1"
    [body] = recorder.bodies
    assert body["type"] == "interactive" and body["to"] == "9647701234567"
    replies = body["interactive"]["action"]["buttons"]
    assert [r["reply"]["id"] for r in replies] == ["ob:1:values:yes", "ob:1:values:no"]
    assert all(len(r["reply"]["title"]) <= 20 for r in replies)


async def test_four_to_ten_choices_become_a_list_and_more_a_numbered_menu() -> None:
    recorder = GraphRecorder()
    ch = channel(recorder)
    nine = tuple(Button(f"Violence against women {n}", f"ob:1:spheres:{n}") for n in range(9))
    await ch.send("1", Outbound("Spheres?", nine))
    rows = recorder.bodies[-1]["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 9 and all(len(r["title"]) <= 24 for r in rows)
    twelve = tuple(Button(f"Country {n}", f"ob:1:country:{n}") for n in range(12))
    await ch.send("1", Outbound("Which country?", twelve))
    assert recorder.bodies[-1]["type"] == "text"
    assert "12. Country 11" in recorder.bodies[-1]["text"]["body"]
    assert len(twelve) > ch.choice_limit  # the core remembers such a menu (test_account.py)


async def test_long_text_is_split_and_long_bodies_precede_buttons() -> None:
    recorder = GraphRecorder()
    ch = channel(recorder)
    long = ("Paragraph. " * 300 + "\n\n") * 2
    await ch.send("1", Outbound(long))
    assert len(recorder.bodies) >= 2 and all(
        len(b["text"]["body"]) <= 4096 for b in recorder.bodies
    )
    recorder.bodies.clear()
    await ch.send("1", Outbound("values " * 300, (Button("Yes", "a"), Button("No", "b"))))
    assert recorder.bodies[0]["type"] == "text"
    assert len(recorder.bodies[-1]["interactive"]["body"]["text"]) <= 1024


async def test_templates_and_attachments() -> None:
    recorder = GraphRecorder()
    ch = channel(recorder)
    await ch.send("1", Outbound("x", template=Template("alliance_update", "ar", ("نص",))))
    template = recorder.bodies[-1]["template"]
    assert template["name"] == "alliance_update" and template["language"] == {"code": "ar"}
    assert template["components"][0]["parameters"] == [{"type": "text", "text": "نص"}]
    alert = "⚠️ Alert\n\nMeeting moved\tto  Sunday.      Stay safe"
    await ch.send("1", Outbound("x", template=Template("alliance_update", "en", (alert,))))
    [sent] = recorder.bodies[-1]["template"]["components"][0]["parameters"]
    assert sent["text"] == "⚠️ Alert · Meeting moved · to  Sunday.   Stay safe", "no line break"
    await ch.send("1", Outbound("photo", attachment=MediaRef(MediaKind.PHOTO, "img-1")))
    assert recorder.bodies[-2] == {
        **recorder.bodies[-2],
        "type": "image",
        "image": {"id": "img-1"},
    }


@pytest.mark.parametrize(
    ("code", "http", "status"),
    [
        (130429, 400, SendStatus.RETRY),
        (131056, 400, SendStatus.RETRY),
        (131047, 400, SendStatus.FAILED),
        (131026, 400, SendStatus.UNREACHABLE),
        (131050, 400, SendStatus.UNREACHABLE),
        (131051, 400, SendStatus.FAILED),
        (1, 500, SendStatus.RETRY),
    ],
)
async def test_errors_are_classified(code: int, http: int, status: SendStatus) -> None:
    recorder = GraphRecorder(error={"code": code, "message": "x"}, status=http)
    result = await channel(recorder).send("1", Outbound("hi"))
    assert result.status is status
    assert classify(httpx.Response(http, json={"error": {"code": code}})).status is status


@pytest.mark.parametrize(
    ("error", "ambiguous"),
    [
        (httpx.ReadTimeout("late"), True),  # Meta may have taken it: not resent blindly
        (httpx.WriteTimeout("late"), True),
        (httpx.ConnectTimeout("no route"), False),  # never reached Meta: safe to resend
        (httpx.ConnectError("refused"), False),
        (httpx.PoolTimeout("busy"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
async def test_network_failures_say_whether_the_message_may_have_arrived(
    error: httpx.TransportError, ambiguous: bool
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    client = httpx.AsyncClient(transport=httpx.MockTransport(fail))
    sender = WhatsAppChannel(client, "https://graph.test/v21.0", wa.PHONE_ID, "token")
    result = await sender.send("1", Outbound("hi"))
    assert result.status is SendStatus.RETRY and result.ambiguous is ambiguous
    await client.aclose()


def test_labels_are_shortened_at_a_word() -> None:
    assert shorten("Violence against women", 20) == "Violence against…"
    assert len(shorten("x" * 50, 20)) == 20
    assert split_text("a. b. c.", 100) == ["a. b. c."]


async def test_webhook_checks_signature_before_anything_reaches_a_handler() -> None:
    handled: list[object] = []

    async def handle(inbound: object, ch: object) -> None:
        handled.append(inbound)

    async def record(status: object) -> None:
        handled.append(status)

    webhook = WhatsAppWebhook(
        channel(GraphRecorder()),
        handle,
        record,  # type: ignore[arg-type]
        app_secret=SECRET,
        verify_token="verify-me",
    )
    raw = json.dumps(wa.text("hello")).encode()
    assert not webhook.authentic(raw, sign(raw, "forged"))
    assert not webhook.authentic(raw, None)
    assert not webhook.authentic(raw, "sha256=ü".encode())  # never an error, whatever the bytes
    assert webhook.authentic(raw, sign(raw))
    assert webhook.authentic(raw, sign(raw).encode())
    [item] = inbox_items(json.loads(raw))
    await webhook.process(item.payload)
    assert len(handled) == 1
    assert webhook.verify("subscribe", "verify-me", "1158201444") == "1158201444"
    assert webhook.verify("subscribe", "wrong", "1158201444") is None
    assert webhook.verify("subscribe", "وصل\ud800", "1158201444") is None


def test_an_empty_app_secret_verifies_nothing() -> None:
    raw = json.dumps(wa.text("hi")).encode()
    assert not verify_signature("", raw, sign(raw, ""))


def test_one_bad_element_does_not_hide_the_others() -> None:
    body = wa.text("one")
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] += [
        {"from": ["9647701234567"], "id": "wamid.bad", "type": "text", "text": {"body": "x"}},
        "not a message",
        {"from": "9647701234567", "id": "wamid.two", "type": "text", "text": {"body": "two"}},
        {"from": "9647701234567", "id": 12, "type": "text", "text": {"body": "three"}},
    ]
    value["statuses"] = [{"id": {"x": 1}, "status": "read"}, {"id": "wamid.s", "status": "read"}]
    body["entry"].append({"changes": "not a list"})
    first = value["messages"][0]["id"]
    items = inbox_items(body)
    assert [i.platform_id for i in items] == [first, "wamid.two", "status:wamid.s:read"]
    assert [i.chat_key for i in items][:2] == ["9647701234567"] * 2
    inbounds, statuses = parse_webhook(body)
    assert [i.text for i in inbounds] == ["one", "two"]
    assert [s.message_id for s in statuses] == ["wamid.s"]


async def test_a_report_file_is_uploaded_then_sent_as_a_document() -> None:
    requests: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("/media"):
            assert b"report.xlsx" in request.content, "the file goes up as multipart"
            return httpx.Response(200, json={"id": "media-7"})
        return httpx.Response(200, json={"messages": [{"id": "wamid.doc"}]})

    client = httpx.AsyncClient(transport=httpx.MockTransport(graph))
    ch = WhatsAppChannel(client, "https://graph.test/v21.0", wa.PHONE_ID, "token")
    sheet = OutboundFile("report.xlsx", b"PK\x03\x04data", "application/vnd.ms-excel")
    result = await ch.send("1", Outbound("Spreadsheet", file=sheet))
    assert result.message_id == "wamid.doc"
    body = json.loads(requests[-1].content)
    assert body["type"] == "document"
    assert body["document"] == {
        "id": "media-7",
        "filename": "report.xlsx",
        "caption": "Spreadsheet",
    }
    await client.aclose()
