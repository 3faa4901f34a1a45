"""End-to-end helpers: the bot as a subprocess with only the settings a test gives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.core import keys
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def bot_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without any Wasl or platform setting, a database in `tmp_path`, and
    only the given settings: what a fresh machine with just those would have."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "WASL_", "DATABASE_URL"))
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.db'}", PYTHONPATH=str(ROOT))
    env.update(WASL_SECRET_KEY=keys.generate())  # `run` and `serve` refuse to face people without
    # `run` serves /healthz on WASL_PORT in every mode: each bot on a port of its own
    env.update(WASL_PORT=str(free_port()))
    env.update(settings)
    return env


class BotProcess:
    """`python -m bot <command>` with only the given settings, its output in a log file."""

    def __init__(self, tmp_path: Path, command: list[str], **settings: str) -> None:
        env = bot_env(tmp_path, **settings)
        self.port = int(env["WASL_PORT"])  # where its /healthz, /readyz and /metrics answer
        self.log_path = tmp_path / "bot.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *command],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Stop it as Ctrl-C (or a container stop) would; kill it if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the bot did not stop on {sig.name}") from None
        return self.process.returncode

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """Start bot processes; whatever is still running at the end is stopped."""
    started: list[BotProcess] = []

    def start(command: list[str], **settings: str) -> BotProcess:
        started.append(BotProcess(tmp_path, command, **settings))
        return started[-1]

    yield start
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()
