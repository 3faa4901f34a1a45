"""`python -m bot run` on WhatsApp against a fake Graph API: a member joins in French, shares
an update, reads a good practice and answers a survey — all through signed webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import whatsapp_payloads as wa
from tests.e2e.conftest import ROOT, BotProcess
from tests.fakes.graph_api import PHONE_ID, TOKEN, FakeGraphApi, payloads, text_of
from tests.support.net import free_port

pytestmark = pytest.mark.e2e

SECRET = "e2e-app-secret"
WA_ID = "96170123456"
STEP = 15.0


class WhatsAppMember:
    """Sends signed webhooks as Meta would; reads what the bot sent her at the fake Graph API."""

    def __init__(self, graph: FakeGraphApi, port: int) -> None:
        self.graph = graph
        self.url = f"http://127.0.0.1:{port}/webhook/whatsapp"
        self.seen = 0
        self.ids = itertools.count(1)

    async def post(self, body: dict[str, Any], *, secret: str = SECRET) -> int:
        raw = json.dumps(body).encode()
        signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        async with httpx.AsyncClient() as client:
            for _ in range(300):  # the server may still be starting (slowly, on a busy machine)
                try:
                    response = await client.post(
                        self.url,
                        content=raw,
                        headers={
                            "X-Hub-Signature-256": signature,
                            "Content-Type": "application/json",
                        },
                    )
                    return response.status_code
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
        raise AssertionError("the bot's web server never answered")

    async def replies(self) -> list[dict[str, Any]]:
        """Wait for at least one new message, then for the rest of the burst."""
        await self.graph.wait_for(WA_ID, self.seen + 1, within=STEP)
        count = -1
        while count != len(self.graph.to(WA_ID)):
            count = len(self.graph.to(WA_ID))
            await asyncio.sleep(0.3)
        new = self.graph.to(WA_ID)[self.seen :]
        self.seen = count
        return new

    async def say(self, text: str) -> list[dict[str, Any]]:
        assert await self.post(wa.text(text, wa_id=WA_ID, mid=f"wamid.t{next(self.ids)}")) == 200
        return await self.replies()

    async def press(self, payload: str, shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
        offered = [p for body in shown for p in payloads(body)]
        assert payload in offered, f"{payload} not among {offered}"
        body = wa.button_reply(payload, wa_id=WA_ID, mid=f"wamid.b{next(self.ids)}")
        assert await self.post(body) == 200
        return await self.replies()

    async def tap(self, label: str, shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Choose the reply button or list row titled `label`, as she would."""
        found = [
            (title, payload)
            for body in shown
            for title, payload in choices(body)
            if title.removeprefix("✅ ").removeprefix("▫️ ") == label
        ]
        assert found, f"{label!r} not among {[c for body in shown for c in choices(body)]}"
        return await self.press(found[0][1], shown)


def choices(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, id) of a message's reply buttons or list rows."""
    if body["type"] != "interactive":
        return []
    action = body["interactive"]["action"]
    if "buttons" in action:
        return [(b["reply"]["title"], b["reply"]["id"]) for b in action["buttons"]]
    return [(r["title"], r["id"]) for s in action["sections"] for r in s["rows"]]


def offered(shown: list[dict[str, Any]], prefix: str) -> list[str]:
    return [p for body in shown for p in payloads(body) if p.startswith(prefix)]


async def test_join_update_tips_and_survey_in_french_over_whatsapp(
    tmp_path: Path, launch: Callable[..., BotProcess]
) -> None:
    port = free_port()
    with FakeGraphApi() as graph:
        settings = {
            "WHATSAPP_ACCESS_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_APP_SECRET": SECRET,
            "WHATSAPP_VERIFY_TOKEN": "verify-me",
            "WHATSAPP_API_BASE": graph.base,
            "WASL_OPEN_JOIN": "true",
            "WASL_PORT": str(port),
            # This script answers at machine speed (some 30 updates within a minute); the
            # flood limit is for people, and has its own tests.
            "WASL_FLOOD_PER_MINUTE": "100",
        }
        for name in ("tips.yaml", "surveys.yaml"):
            loader = launch(["content", "load", str(ROOT / "content" / name)], **settings)
            assert loader.process.wait(timeout=60) == 0, loader.output
        bot = launch(["run"], **settings)
        her = WhatsAppMember(graph, port)

        # A forged signature never reaches a handler.
        assert await her.post(wa.text("start", wa_id=WA_ID), secret="forged") == 401
        await asyncio.sleep(0.5)
        assert graph.to(WA_ID) == []

        languages = await her.say("start")  # no slash menu on WhatsApp: the word
        second = await her.tap("Français", languages)
        values = await her.tap("Passer", second)  # no second language
        assert any("violence" in text_of(b).lower() for b in values), "values in French"
        country = await her.tap("J’accepte", values)
        spheres = await her.tap("Liban", country)
        ticked = await her.tap("Femmes et médias", spheres)
        assert any("✅" in json.dumps(b, ensure_ascii=False) for b in ticked)
        welcome = await her.tap("Terminé", ticked)
        assert any("Bienvenue" in text_of(b) for b in welcome)

        prompt = await her.say("nouvelle")  # "update" in French
        limit = text_of(prompt[-1]).replace("\u202f", "").replace("\xa0", "")
        assert "1000" in limit, "the limit, formatted for French (1 000)"
        spheres = await her.say("Une radio locale a invité trois femmes imams à parler de paix.")
        urgency = await her.tap("Terminé", spheres)
        keep = await her.tap("Non urgente", urgency)
        quote = await her.tap("Oui, gardez-la", keep)
        confirm = await her.tap("Non", quote)  # not to be quoted in briefs
        received = await her.tap("Envoyer", confirm)
        assert any("Reçu" in text_of(b) or "reçu" in text_of(b) for b in received)

        choose = await her.say("pratiques")  # "tips"
        tip = await her.tap("Femmes et médias", choose)
        assert "👍 Utile" in [t for b in tip for t, _ in choices(b)], "a tip with rating buttons"

        listing = await her.say("sondage")  # "survey"
        # The survey's title, shortened to fit a WhatsApp button.
        [title] = [t for body in listing for t, _ in choices(body) if t.startswith("Baromètre")]
        question = await her.tap(title, listing)
        question = await her.tap("4", question)  # safe: a scale point
        question = await her.tap("Non", question)  # not threatened: on to the days
        question = await her.say("12")  # days: a number, typed
        question = await her.tap("À peu près pareil", question)  # recruitment
        question = await her.tap("Formation", question)  # support: ticked...
        question = await her.tap("Terminé", question)  # ...then done
        optin = await her.tap("Passer", question)  # the optional note, skipped
        assert "Oui, envoyez-les" in [t for b in optin for t, _ in choices(b)]

        assert bot.stop() == 0, bot.output
    with sqlite3.connect(tmp_path / "e2e.db") as db:
        (responses,) = db.execute("SELECT count(*) FROM survey_count").fetchone()
        (pooled,) = db.execute(
            "SELECT count(*) FROM conversation_state WHERE survey_pending IS NOT NULL"
        ).fetchone()
        (updates,) = db.execute("SELECT count(*) FROM field_update").fetchone()
        (channel,) = db.execute("SELECT channel FROM member").fetchone()
    # Her answers are kept in her state until counted with k others' (no survey table yet).
    assert (pooled, responses, updates, channel) == (1, 0, 1, "whatsapp")
