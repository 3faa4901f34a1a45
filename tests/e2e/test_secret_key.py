"""`wasl secret generate`, and `run`/`serve` refusing to face people without WASL_SECRET_KEY.

Promise 5: a database copy alone reverses nothing (the key lives outside the database, and a
server facing people never runs on a key it would forget at restart).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core import keys
from tests.e2e.conftest import BotProcess, bot_env

pytestmark = pytest.mark.e2e

TOKEN = "7712345678:AAHk3vQx9-ZtP0wq_LmN8rT2yU5iO7pAs1d"


def test_secret_generate_prints_a_fresh_usable_key(tmp_path: Path) -> None:
    printed = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "bot", "secret", "generate"],
            cwd=tmp_path,
            env=bot_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        printed.append(done.stdout.strip())
    assert printed[0] != printed[1]
    assert all(len(keys.decode(key)) == 32 for key in printed)


@pytest.mark.parametrize(
    ("command", "channel"),
    [
        (["run"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
        (["serve"], {"TELEGRAM_BOT_TOKEN": TOKEN}),
        (
            ["run"],
            {"WHATSAPP_ACCESS_TOKEN": "graph-token", "WHATSAPP_PHONE_NUMBER_ID": "1065403522"},
        ),
        (["serve"], {"WASL_PUBLIC_URL": "https://bot.example.org"}),
    ],
)
def test_run_and_serve_refuse_to_face_people_without_the_key(
    launch: Callable[..., BotProcess], command: list[str], channel: dict[str, str]
) -> None:
    bot = launch(command, WASL_SECRET_KEY="", **channel)  # empty: not set
    assert bot.process.wait(timeout=60) == 2, bot.output
    assert "WASL_SECRET_KEY" in bot.output and "wasl secret generate" in bot.output
    assert TOKEN not in bot.output and "Traceback" not in bot.output


def test_a_bad_key_is_refused_naming_the_variable(launch: Callable[..., BotProcess]) -> None:
    bot = launch(["serve"], WASL_SECRET_KEY="not-a-key", TELEGRAM_BOT_TOKEN=TOKEN)
    assert bot.process.wait(timeout=60) == 2, bot.output
    assert "WASL_SECRET_KEY" in bot.output and "not-a-key" not in bot.output


def test_the_terminal_bot_runs_on_a_key_made_for_the_run(
    launch: Callable[..., BotProcess], tmp_path: Path
) -> None:
    env = bot_env(tmp_path, WASL_SECRET_KEY="")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        cwd=tmp_path,
        env=env,
        input="/help\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # not a terminal: one JSON object per line
    said = (
        '"event": "secret_key_missing", "variable": "WASL_SECRET_KEY", "effect": "ephemeral_key"'
    )
    assert said in done.stderr
