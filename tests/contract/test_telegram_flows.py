"""Field updates, moderation, the digest, tips and a pulse survey through the real Telegram
adapter (python-telegram-bot against the fake Bot API), for members in three languages.

Updates are fed to the PTB application as Telegram would send them; broadcasts (notices, the
digest, survey invitations and reminders) go through the real delivery worker.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update

from bot.app import App, build_app
from bot.bootstrap import build_application
from bot.channels.telegram import TelegramApplication, TelegramChannel, running
from bot.cli_content import load_file
from bot.config import Settings
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs, native_language_name
from bot.core.messages import ChannelName
from bot.core.models import Role
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.surveys import parse_definition
from bot.runtime import Runtime
from bot.services.moderation import send_digest
from bot.services.surveys import close_due_surveys, push_open_surveys, send_reminders
from storage.tables import update_row_t
from tests.fakes.telegram_api import Call, FakeBotApi, callback_update, running_api, text_update
from tests.support.database import migrated_sqlite_file
from tests.support.surveys import pulse

ROOT = Path(__file__).resolve().parents[2]
ARABIC = re.compile(r"[\u0600-\u06FF]")
UPDATE_IDS = itertools.count(50_000)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotApi]:
    with running_api() as fake:
        yield fake


@pytest.fixture
async def bot(
    server: FakeBotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[App, TelegramApplication, FakeBotApi]]:
    server.reset()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'flows.db'}",
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE": server.base,
        "WASL_OPEN_JOIN": "true",
    }.items():
        monkeypatch.setenv(name, value)
    # The schema migrated once per session, copied: `migrate` below finds nothing to do.
    await asyncio.to_thread(migrated_sqlite_file, tmp_path, "flows.db")
    app = build_app(Settings(), clock=FixedClock())
    await app.migrate()
    telegram = build_application(app, request=server.request())
    async with running(telegram):
        yield app, telegram, server
    await app.close()
    assert not server.refused


class Member:
    def __init__(self, telegram: TelegramApplication, api: FakeBotApi, uid: int, lang: str):
        self.telegram, self.api, self.uid, self.lang = telegram, api, uid, lang

    async def feed(self, data: dict[str, Any]) -> list[Call]:
        before = len(self.api.replies(self.uid))
        await self.telegram.process_update(Update.de_json(data, self.telegram.bot))
        return self.api.replies(self.uid)[before:]

    async def say(self, text: str) -> list[Call]:
        return await self.feed(
            text_update(self.uid, text, language_code=self.lang, update_id=next(UPDATE_IDS))
        )

    async def press(self, payload: str) -> list[Call]:
        shown = [c for c in self.api.replies(self.uid) if payload in c.payloads]
        assert shown, f"{payload} was never offered to {self.uid}"
        return await self.feed(
            callback_update(
                self.uid,
                payload,
                shown[-1].message_id,
                language_code=self.lang,
                update_id=next(UPDATE_IDS),
            )
        )

    async def tap(self, label: str) -> list[Call]:
        """Press the button labelled `label` (a checklist's tick mark aside) on the last
        message that shows one."""
        for call in reversed(self.api.replies(self.uid)):
            for row in call.keyboard:
                for button in row:
                    if button["text"].removeprefix("✅ ").removeprefix("▫️ ") == label:
                        return await self.feed(
                            callback_update(
                                self.uid,
                                button["callback_data"],
                                call.message_id,
                                language_code=self.lang,
                                update_id=next(UPDATE_IDS),
                            )
                        )
        raise AssertionError(f"no button {label!r} was offered to {self.uid}")

    @property
    def last(self) -> Call:
        return self.api.replies(self.uid)[-1]


async def join(m: Member, country: str, sphere: str, code: str = "") -> Member:
    _ = Catalogs().get(m.lang)
    await m.say(f"/start {code}".strip())
    await m.tap(native_language_name(m.lang))
    await m.tap(_("Skip"))  # no second language
    await m.tap(_("I accept"))
    if _("Another country") in [b["text"] for row in m.last.keyboard for b in row]:
        await m.tap(_.country_name(country))
    await m.tap(_(SPHERE_BY_CODE[sphere].label))
    await m.tap(_("Done"))
    return m


async def deliver_broadcasts(app: App, telegram: TelegramApplication) -> None:
    """What the delivery worker would do next: drain the outbox through Telegram."""
    runtime = Runtime(app, {ChannelName.TELEGRAM: TelegramChannel(telegram.bot)})
    while await runtime.worker.drain_once():
        pass


async def coordinator(app: App, telegram: TelegramApplication, api: FakeBotApi) -> Member:
    now = app.core.clock.now()
    async with app.store.transaction() as tx:
        await tx.invites.create(
            code="coord-iq",
            role=Role.COORDINATOR,
            country="IQ",
            uses=1,
            expires_at=None,
            created_by="test",
            now=now,
        )
    return await join(Member(telegram, api, 900, "en"), "IQ", "advocacy", "coord-iq")


async def test_updates_moderation_digest_and_tips_in_three_languages(bot) -> None:  # type: ignore[no-untyped-def]
    app, telegram, api = bot
    coord = await coordinator(app, telegram, api)
    amina = await join(Member(telegram, api, 101, "ar"), "IQ", "youth")
    claire = await join(Member(telegram, api, 102, "fr"), "NG", "youth")
    grace = await join(Member(telegram, api, 103, "en"), "IQ", "vaw")

    # A routine update and an urgent one, each confirmed before "received".
    await amina.say("/update")
    await amina.say("عادت ثلاث فتيات إلى المدرسة بعد جلسات الحوار مع الأمهات.")
    arabic = app.catalogs.get("ar")
    await amina.tap(arabic("Done"))
    await amina.tap(arabic("Routine"))
    await amina.tap(arabic("Yes, keep it"))
    await amina.tap(arabic("No"))  # not quoted in briefs
    received = await amina.tap(arabic("Send"))
    assert ARABIC.search(received[-1].text)
    await grace.say("/update")
    await grace.say("Armed men questioned women at the clinic in Kirkuk this morning.")
    await grace.tap("Done")
    await grace.tap("Urgent")
    await grace.tap("No")
    await grace.tap("No")  # not quoted in briefs
    await grace.tap("Send")
    async with app.store.transaction() as tx:
        stored = (await tx.conn.execute(select(func.count()).select_from(update_row_t))).scalar()
    assert stored == 2

    # The coordinator for Iraq is alerted at once (through the outbox), then moderates.
    await deliver_broadcasts(app, telegram)
    assert any("Kirkuk" in c.text and "cmd:moderate" in c.payloads for c in api.replies(900))
    card = (await coord.say("/moderate"))[-1]
    assert "Kirkuk" in card.text, "urgent first"
    await coord.tap("Keep internal")
    card = coord.last
    assert "المدرسة" in card.text
    await coord.tap("Approve for sharing")

    # The weekly digest reaches Claire: same sphere, another country, framed in French.
    shared, reached = await send_digest(app.store, app.catalogs, app.core.clock.now())
    assert (shared, reached) == (1, 1)
    await deliver_broadcasts(app, telegram)
    digest = claire.last.text
    assert "المدرسة" in digest and "Irak" in digest, "original language, country in hers"
    assert all("المدرسة" not in c.text for c in api.replies(103)), "not to the same country"

    # The starter tips, in three languages.
    assert await load_file(app.store, ROOT / "content" / "tips.yaml", app.core.clock.now()) == 0
    for member, check in (
        (amina, ARABIC.search),
        (claire, re.compile("[éèà]").search),
        (grace, re.compile("[A-Za-z]").search),
    ):
        await member.say("/tips")
        _ = app.catalogs.get(member.lang)
        tip = (await member.tap(_("Youth deradicalisation")))[-1]
        labels = [button["text"] for row in tip.keyboard for button in row]
        assert check(tip.text) and _("👍 Helpful") in labels, member.lang


async def test_pulse_survey_with_resume_skip_logic_reminders_and_close(bot) -> None:  # type: ignore[no-untyped-def]
    app, telegram, api = bot
    clock: FixedClock = app.core.clock  # type: ignore[assignment]
    members = [
        await join(Member(telegram, api, 201, "ar"), "IQ", "youth"),
        await join(Member(telegram, api, 202, "fr"), "LB", "media"),
        await join(Member(telegram, api, 203, "en"), "YE", "rights"),
    ]
    data = pulse("pulse-flows")
    data["reminders"] = 1
    now = clock.now()
    async with app.store.transaction() as tx:
        sid, _ = await tx.surveys.upsert(
            parse_definition(data, ("en", "ar", "fr")), now, now + timedelta(days=4), now
        )
    assert await push_open_surveys(app.store, app.catalogs, now) == 1
    await deliver_broadcasts(app, telegram)
    for m in members:
        _ = app.catalogs.get(m.lang)
        labels = [button["text"] for row in m.last.keyboard for button in row]
        assert labels == [_("Start"), _("Not now")], "each got the invitation in her language"

    amina, claire, grace = members
    arabic, french = app.catalogs.get("ar"), app.catalogs.get("fr")
    # Amina: "no" jumps past "who"; she skips the optional note.
    await amina.tap(arabic("Start"))
    await amina.tap("2")
    await amina.tap(arabic("No"))
    await amina.say("9")
    await amina.tap(arabic("Skip"))
    assert arabic("Yes, send results") in [b["text"] for row in amina.last.keyboard for b in row]
    # Claire stops half-way and resumes later with /survey.
    await claire.tap(french("Start"))
    await claire.tap("4")
    await claire.tap(french("Stop for now"))
    resumed = await claire.say("/survey")
    assert "Avez-vous été menacée ?" in resumed[-1].text, "at the question where she stopped"
    await claire.tap(french("Yes"))
    await claire.tap("En ligne")
    await claire.tap(french("Done"))
    await claire.say("20")
    await claire.say("Les menaces en ligne augmentent.")
    # Grace does not answer: one reminder, outside her quiet hours (Aden is UTC+3).
    clock.advance(timedelta(days=2, hours=1))
    assert await send_reminders(app.store, app.catalogs, clock.now()) == 1
    await deliver_broadcasts(app, telegram)
    assert "survey" in grace.last.text.lower()
    clock.advance(timedelta(days=3))
    # k = 2 here: two respondents are enough to be counted together (with k = 5 they would
    # be dropped at the close, fewer than k).
    assert await close_due_surveys(app.store, clock.now(), 2) == [sid]
    late = await grace.tap("Start")
    assert "closed" in late[-1].text
    async with app.store.transaction() as tx:
        total = await tx.reports.survey_responses(sid)
        started, completed = await tx.surveys.counts(sid)
    assert (total, completed) == (2, 2)
    assert started == 2
