"""Every shipped language, end to end through the real Telegram adapter (python-telegram-bot
against the fake Bot API): she joins with her phone in that language, sends an update, reads a
starter tip and answers the starter survey. Each step is reached by tapping labels in her
language, so an English fallback anywhere on the way fails the test.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.channels.telegram import TelegramApplication
from bot.cli_content import load_file
from bot.content_translations import parse_yaml
from bot.core.i18n import SUPPORTED_LOCALES, Translator
from bot.core.messages import ChannelName
from bot.core.surveys import QuestionType, SurveyDefinition
from tests.contract.test_telegram_flows import Member, bot, join, server
from tests.fakes.telegram_api import Call, FakeBotApi

__all__ = ["bot", "server"]  # the fixtures, shared with the flows' tests

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
STARTER_SURVEY = "pulse-safety-2026-12"


class Paced(Member):
    """A member who taps at a human pace (an input every 4 s of the bot's clock), under the
    flood limit of 20 a minute that a burst of taps from a test would reach."""

    def __init__(self, app: App, telegram: TelegramApplication, api: FakeBotApi, lang: str):
        super().__init__(telegram, api, 700, lang)
        self.clock = app.core.clock

    async def feed(self, data: dict[str, Any]) -> list[Call]:
        self.clock.advance(timedelta(seconds=4))  # type: ignore[attr-defined]
        return await super().feed(data)


def tip_titles(lang: str) -> list[str]:
    """The starter tips' titles in `lang`, from the content file or its translation."""
    _, source = parse_yaml((CONTENT / "tips.yaml").read_text(encoding="utf-8"))
    inline = [t["text"][lang]["title"] for t in source["tips"] if lang in t["text"]]
    if inline:
        return inline
    _, translated = parse_yaml(
        (CONTENT / "translations" / f"{lang}.yaml").read_text(encoding="utf-8")
    )
    return [t["title"] for t in translated["tips"].values()]


async def answer_the_survey(she: Member, _: Translator, definition: SurveyDefinition) -> None:
    """Answer every question she is asked, checking each prompt is in her language: the first
    choice of each choice question, 3 on a scale, "No" to yes/no (it may jump), 2 for a number,
    Skip for an optional text."""
    key: str | None = definition.questions[0].key
    while key is not None:
        question = definition.question(key)
        text = question.texts[she.lang]
        assert text["prompt"] in she.last.text, (she.lang, key, she.last.text)
        if question.type is QuestionType.SCALE:
            answer = "3"
            await she.tap("3")
        elif question.type is QuestionType.YES_NO:
            answer = "no"
            await she.tap(_("No"))
        elif question.type is QuestionType.NUMBER:
            answer = "2"
            await she.say("2")
        elif question.type is QuestionType.TEXT:
            answer = ""
            await she.tap(_("Skip"))
        else:
            answer = question.options[0]
            await she.tap(text["options"][0])
            if question.type is QuestionType.MULTIPLE:
                await she.tap(_("Done"))
        key = definition.next_key(key, answer)


@pytest.mark.parametrize("lang", SUPPORTED_LOCALES)
async def test_she_joins_updates_reads_a_tip_and_answers_the_survey_in_her_language(
    bot: tuple[App, TelegramApplication, FakeBotApi], lang: str
) -> None:
    app, telegram, api = bot
    now = app.core.clock.now()
    for name in ("tips.yaml", "surveys.yaml"):
        assert await load_file(app.store, CONTENT / name, now) == 0, name
    _ = app.catalogs.get(lang)
    she = await join(Paced(app, telegram, api, lang), "IQ", "youth")
    async with app.store.transaction() as tx:
        member = await tx.members.get(ChannelName.TELEGRAM, "700")
    assert member is not None and member.locale == lang

    await she.say("/update")
    await she.say("Twelve women met at the library to plan the school dialogue. 12/05 #3")
    await she.tap(_("Done"))
    await she.tap(_("Routine"))
    await she.tap(_("Yes, keep it"))
    await she.tap(_("No"))  # not quoted in briefs
    received = await she.tap(_("Send"))
    assert received, "she is told her update was received"
    async with app.store.transaction() as tx:
        assert await tx.updates.queue_size(None) == 1, "waiting for a coordinator"

    await she.say("/tips")
    tip = (await she.tap(_("Youth deradicalisation")))[-1]
    assert any(title in tip.text for title in tip_titles(lang)), tip.text
    assert _("👍 Helpful") in [b["text"] for row in tip.keyboard for b in row]

    async with app.store.transaction() as tx:
        survey = await tx.surveys.by_slug(STARTER_SURVEY)
    assert survey is not None
    definition = survey.definition
    await she.say("/survey")
    await she.tap(definition.title(lang)[:60])
    assert definition.texts[lang]["title"] == definition.title(lang), "no fallback title"
    await answer_the_survey(she, _, definition)
    labels = [b["text"] for row in she.last.keyboard for b in row]
    assert labels == [_("Yes, send results"), _("No, thanks")], she.last.text
