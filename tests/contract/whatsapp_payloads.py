"""Webhook bodies written from Meta's documented format (messages and statuses)."""

from __future__ import annotations

from typing import Any

PHONE_ID = "106540352242922"


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def contact(wa_id: str = "9647701234567", user_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"profile": {"name": "Amina"}, "wa_id": wa_id}
    if user_id:
        found["user_id"] = user_id
    return found


def message(
    kind: str,
    body: dict[str, Any],
    *,
    wa_id: str = "9647701234567",
    mid: str = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTdBNTg5RjY1MEM2M0YxQkY4OQA=",
    user_id: str | None = None,
) -> dict[str, Any]:
    return envelope(
        {
            "contacts": [contact(wa_id, user_id)],
            "messages": [
                {"from": wa_id, "id": mid, "timestamp": "1764061200", "type": kind, kind: body}
            ],
        }
    )


def text(body: str, **kw: Any) -> dict[str, Any]:
    return message("text", {"body": body}, **kw)


def button_reply(payload: str, title: str = "Yes", **kw: Any) -> dict[str, Any]:
    return message(
        "interactive",
        {"type": "button_reply", "button_reply": {"id": payload, "title": title}},
        **kw,
    )


def list_reply(payload: str, **kw: Any) -> dict[str, Any]:
    return message(
        "interactive", {"type": "list_reply", "list_reply": {"id": payload, "title": "Iraq"}}, **kw
    )


def status(mid: str, state: str, code: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": mid,
        "status": state,
        "timestamp": "1764061300",
        "recipient_id": "9647701234567",
    }
    if code is not None:
        item["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return envelope({"statuses": [item]})
