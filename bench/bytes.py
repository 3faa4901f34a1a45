"""Bytes on the wire per survey question: the worst question of each shipped survey, per language.

A member joins in English, Arabic and French through the real Telegram application (PTB with
the bot's own request class) against the fake Bot API on 127.0.0.1, opens each shipped survey
(content/surveys.yaml and the test surveys of tests/support/surveys.py) and answers every
question (tests/support/wire.py). Each request the bot made while a question was on screen is
measured as the fake received it: the whole HTTP body (text, keyboard and the other fields),
in bytes. The target is at most 1,024 bytes per question on a 2G link.

    python bench/bytes.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import running_api  # noqa: E402
from tests.support.wire import LANGUAGES, Sent, answer_every_question, shipped_surveys  # noqa: E402

LIMIT = 1024


async def measure() -> list[Sent]:
    from tests.support.wire import survey_bot

    sent: list[Sent] = []
    with running_api() as api, tempfile.TemporaryDirectory(prefix="wasl-bytes-") as folder:
        os.chdir(folder)
        async with survey_bot(api, Path(folder), os.environ.__setitem__) as (_, telegram):
            for data in shipped_surveys():
                for lang in LANGUAGES:
                    sent += await answer_every_question(telegram, api, data, lang)
    return sent


def main() -> None:
    logging.disable(logging.WARNING)
    sent = asyncio.run(measure())
    questions = [s for s in sent if s.key]
    kinds = sorted({s.content_type.split(";")[0] for s in questions})
    print(f"request bodies: {', '.join(kinds)}; limit {LIMIT} bytes per question")
    print(f"{'survey':<24}{'lang':<6}{'worst':>7}  {'question':<14}{'over':>6}{'asked':>7}")
    for slug in dict.fromkeys(s.survey for s in questions):
        for lang in LANGUAGES:
            mine = [s for s in questions if s.survey == slug and s.locale == lang]
            worst = max(mine, key=lambda s: len(s.body))
            shown = {s.key for s in mine}
            over = {s.key for s in mine if len(s.body) > LIMIT}
            print(
                f"{slug:<24}{lang:<6}{len(worst.body):>7}  {worst.key:<14}"
                f"{len(over):>6}{len(shown):>7}"
            )
    print("worst per language, all surveys:")
    for lang in LANGUAGES:
        worst = max((s for s in questions if s.locale == lang), key=lambda s: len(s.body))
        print(f"  {lang}: {len(worst.body)} bytes ({worst.survey}.{worst.key}, {worst.method})")
    others = [s for s in sent if not s.key]
    if others:
        worst = max(others, key=lambda s: len(s.body))
        print(f"other messages (intro, thanks): worst {len(worst.body)} bytes ({worst.locale})")


if __name__ == "__main__":
    main()
