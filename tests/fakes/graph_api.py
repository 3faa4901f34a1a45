"""A small fake WhatsApp Cloud (Graph) API on 127.0.0.1: records every message the bot sends
and answers like Meta does (a wamid per message), or with a chosen error."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import ThreadedServer

PHONE_ID = "106540352242922"
TOKEN = "graph-token"


class FakeGraphApi:
    """POST /v21.0/{phone-number-id}/messages, recorded; errors on demand."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.bodies: list[tuple[str, bytes]] = []  # (content type, body) as they arrived
        self.refuse_with: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/v21.0/{phone}/messages", self._messages, methods=["POST"]),
            ]
        )
        self.server = ThreadedServer(app, "fake-graph-api")

    @property
    def base(self) -> str:
        """What WHATSAPP_API_BASE should be set to."""
        return f"{self.server.base}/v21.0"

    def __enter__(self) -> FakeGraphApi:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()

    async def _messages(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": {"code": 190, "message": "bad token"}}, 401)
        if request.path_params["phone"] != PHONE_ID:
            return JSONResponse({"error": {"code": 100, "message": "unknown phone"}}, 400)
        body = await request.json()
        with self._lock:
            self.bodies.append((request.headers.get("content-type", ""), await request.body()))
        if self.refuse_with is not None:
            return JSONResponse({"error": self.refuse_with}, 400)
        with self._lock:
            self.sent.append(body)
            mid = f"wamid.fake{next(self._ids)}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": mid}],
            }
        )

    def to(self, wa_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for b in self.sent if b.get("to") == wa_id]

    async def wait_for(self, wa_id: str, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.to(wa_id)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} messages to {wa_id}, got {self.to(wa_id)}")


def text_of(body: dict[str, Any]) -> str:
    """The visible text of a message body, whatever its type."""
    if body["type"] == "text":
        return str(body["text"]["body"])
    if body["type"] == "interactive":
        return str(body["interactive"]["body"]["text"])
    return ""


def payloads(body: dict[str, Any]) -> list[str]:
    """The ids of a message's reply buttons or list rows."""
    if body["type"] != "interactive":
        return []
    action = body["interactive"]["action"]
    if "buttons" in action:
        return [b["reply"]["id"] for b in action["buttons"]]
    return [r["id"] for s in action["sections"] for r in s["rows"]]
