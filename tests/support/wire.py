"""Every question of the shipped surveys as the Telegram adapter sends it, in bytes.

A member joins in her language (each shipped language, the shipped surveys with their
shipped translations) through the real PTB application (against the fake Bot API,
over HTTP), opens a survey and answers every question, taking the answers that reach every
question (no jump is taken) and ticking as many options as a checklist allows (its longest
keyboard). Each request the bot made to her chat meanwhile is kept with the question it
showed and its body exactly as the fake Bot API received it. Used by
tests/contract/test_wire_bytes.py and bench/bytes.py.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from telegram import Update

from bot.app import App, build_app
from bot.bootstrap import build_application
from bot.channels.telegram import TelegramApplication, running
from bot.config import Settings
from bot.content_translations import read_folder
from bot.core.clock import FixedClock
from bot.core.i18n import SUPPORTED_LOCALES, Catalogs, native_language_name
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.surveys import parse_definition
from tests.fakes.telegram_api import Call, FakeBotApi, callback_update, text_update
from tests.support.database import migrated_sqlite_file
from tests.support.surveys import pulse, pulse_ten

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = SUPPORTED_LOCALES  # every shipped language
SAID = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup"})
_update_ids = itertools.count(700_000)
_user_ids = itertools.count(7_000)


@dataclass(frozen=True)
class Sent:
    """One request to her chat while a question was on screen."""

    survey: str
    locale: str
    key: str  # the question shown, "" for anything else (the intro, the thanks…)
    method: str
    body: bytes
    content_type: str


def shipped_surveys() -> list[dict[str, Any]]:
    """The starter surveys of content/ and the test surveys, in the content-file form."""
    content = yaml.safe_load((ROOT / "content" / "surveys.yaml").read_text(encoding="utf-8"))
    default = content.get("default_locale", "en")
    surveys = [{"default_locale": default, **survey} for survey in content["surveys"]]
    # with their shipped translations (content/translations/LL.yaml), as `wasl content load`
    # opens them
    for translation in read_folder(ROOT / "content" / "translations", LANGUAGES):
        for survey in surveys:
            given = translation.surveys.get(survey["slug"])
            if given is None:
                continue
            survey["text"][translation.locale] = {"title": given.title, "intro": given.intro}
            for question in survey["questions"]:
                question["text"][translation.locale] = dict(given.questions[question["key"]])
    return [*surveys, pulse(), pulse_ten()]


def texts_in(item: dict[str, Any], lang: str, default: str = "en") -> dict[str, Any]:
    """An item's texts in `lang`, or in the default language it falls back to."""
    texts: dict[str, Any] = item["text"]
    return texts.get(lang) or texts[default]


@asynccontextmanager
async def survey_bot(
    api: FakeBotApi, folder: Path, setenv: Callable[[str, str], None]
) -> AsyncIterator[tuple[App, TelegramApplication]]:
    """Wasl on a fresh SQLite file in `folder`, its Telegram application talking to `api`
    through the bot's own request class, with every shipped survey open."""
    for name, value in {
        "DATABASE_URL": f"sqlite:///{folder / 'wire.db'}",
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base,
        "WASL_OPEN_JOIN": "true",
        # One member joins and answers ten questions within a second: not a flood to slow.
        "WASL_FLOOD_PER_MINUTE": "0",
    }.items():
        setenv(name, value)
    await asyncio.to_thread(migrated_sqlite_file, folder, "wire.db")
    app = build_app(Settings(), clock=FixedClock())
    await app.migrate()
    now = app.core.clock.now()
    async with app.store.transaction() as tx:
        for data in shipped_surveys():
            definition = parse_definition(data, LANGUAGES)
            await tx.surveys.upsert(definition, now, now + timedelta(days=14), now)
    telegram = build_application(app, request=api.request(), get_updates_request=api.request())
    try:
        async with running(telegram):
            yield app, telegram
    finally:
        await app.close()


class _Member:
    def __init__(self, telegram: TelegramApplication, api: FakeBotApi, lang: str) -> None:
        self.telegram, self.api, self.lang = telegram, api, lang
        self.uid = next(_user_ids)
        self._ = Catalogs().get(lang)

    async def feed(self, data: dict[str, Any]) -> None:
        await self.telegram.process_update(Update.de_json(data, self.telegram.bot))

    async def say(self, text: str) -> None:
        update = text_update(self.uid, text, language_code=self.lang, update_id=next(_update_ids))
        await self.feed(update)

    async def tap(self, label: str) -> None:
        """Press the button labelled `label` (a tick mark aside) on her latest keyboard."""
        for call in reversed(self.calls()):
            for row in call.keyboard:
                for button in row:
                    if button["text"].removeprefix("✅ ").removeprefix("▫️ ") == label:
                        update = callback_update(
                            self.uid,
                            button["callback_data"],
                            call.message_id,
                            language_code=self.lang,
                            update_id=next(_update_ids),
                        )
                        await self.feed(update)
                        return
        raise AssertionError(f"no button {label!r} was offered to {self.uid}")

    def calls(self) -> list[Call]:
        with self.api._lock:
            return [
                c
                for c in self.api.calls
                if c.method.lower() in SAID and c.params.get("chat_id") == self.uid
            ]

    async def join(self) -> None:
        _ = self._
        await self.say("/start")
        await self.tap(native_language_name(self.lang))
        await self.tap(_("Skip"))  # no second language
        await self.tap(_("I accept"))
        if any(b["text"] == _("Another country") for c in self.calls()[-1:] for b in _flat(c)):
            await self.tap(_.country_name("IQ"))
        await self.tap(_(SPHERE_BY_CODE["youth"].label))
        await self.tap(_("Done"))


def _flat(call: Call) -> list[dict[str, Any]]:
    return [button for row in call.keyboard for button in row]


async def answer_every_question(
    telegram: TelegramApplication, api: FakeBotApi, data: dict[str, Any], lang: str
) -> list[Sent]:
    """A new member in `lang` joins and answers every question of survey `data`: what the bot
    sent to her chat from /survey to the end, each attributed to the question it showed."""
    member = _Member(telegram, api, lang)
    await member.join()
    _ = member._
    before = len(member.calls())
    await member.say(f"/survey {data['slug']}")
    for question in data["questions"]:
        prompt = texts_in(question, lang)["prompt"]
        shown = member.calls()
        assert prompt in shown[-1].text, f"{data['slug']}.{question['key']} was not asked"
        jumps = {str(k).lower() for k in question.get("jumps", {})}
        kind = question["type"]
        if kind == "scale":
            await member.tap("3")
        elif kind == "yesno":
            await member.tap(_("No") if "yes" in jumps else _("Yes"))
        elif kind == "single":
            labels = texts_in(question, lang)["options"]
            pick = next(i for i, o in enumerate(question["options"]) if o not in jumps)
            await member.tap(labels[pick])
        elif kind == "multiple":
            labels = texts_in(question, lang)["options"]
            for label in labels[: question.get("max_choices") or len(labels)]:
                await member.tap(label)
            await member.tap(_("Done"))
        elif kind == "number":
            await member.say(str(int(question.get("min") or 1)))
        else:
            await member.say("ok")
    prompts = [(q["key"], texts_in(q, lang)["prompt"]) for q in data["questions"]]
    sent: list[Sent] = []
    current = ""
    for call in member.calls()[before:]:
        if call.method.lower() != "editmessagereplymarkup":  # a tick keeps the question
            current = next((key for key, prompt in prompts if prompt in call.text), "")
        sent.append(Sent(data["slug"], lang, current, call.method, call.body, call.content_type))
    return sent
