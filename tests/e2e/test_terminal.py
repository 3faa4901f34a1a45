"""The terminal bot, as a newcomer meets it: `wasl run` with no token, at a terminal."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import ROOT, bot_env

SURVEYS = ROOT / "content" / "surveys.yaml"


def wasl(tmp_path: Path, *command: str, lines: str = "", **settings: str) -> str:
    """Run `python -m bot COMMAND` in a clean folder with only these settings; its output."""
    env = bot_env(tmp_path, **settings)
    done = subprocess.run(
        [sys.executable, "-m", "bot", *command],
        input=lines,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def at_a_terminal(tmp_path: Path, *command: str, lines: str, **settings: str) -> str:
    """`python -m bot COMMAND` with a terminal (a pseudo-terminal) as standard input, as
    `make run` has: `lines` typed on it, then Ctrl-D; its output."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *command],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=bot_env(tmp_path, **settings),
        )
        os.close(terminal)
        terminal = -1
        # Typed ahead, as fast typing is (the echo back to `controller` is far from filling it).
        os.write(controller, (lines + "\x04").encode())
        out, _ = process.communicate(timeout=120)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text
    return text


def test_run_without_a_token_opens_the_terminal_bot_and_she_can_join(tmp_path: Path) -> None:
    typed = "3\npasser\nJ'accepte\n1\n1\n5\nTerminé\n/mydata\n"  # by number and by label
    out = at_a_terminal(tmp_path, "run", lines=typed, WASL_OPEN_JOIN="true")
    assert "No TELEGRAM_BOT_TOKEN set: starting the terminal bot" in out
    assert "Welcome to Wasl" in out and "  1. English" in out
    assert "Bienvenue dans l’alliance" in out, "J'accepte typed with a plain apostrophe"
    # French puts a no-break space before a colon; the spheres come in the checklist's order.
    assert "Domaines\u00a0: Jeunes et radicalisation, Violences sexistes" in out
    assert "Ce que Wasl conserve sur vous" in out


def test_run_without_a_channel_and_without_a_terminal_stops_at_once_and_says_why(
    tmp_path: Path,
) -> None:
    """A service or a container that forgot its token: standard input is not a terminal. The
    terminal bot used to start there, read nothing and exit 0 after seconds, saying nothing."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env=bot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stderr.strip()
    assert said.count("\n") == 0 and "Traceback" not in said, said
    assert "TELEGRAM_BOT_TOKEN" in said and "WHATSAPP_ACCESS_TOKEN" in said
    assert "starting the terminal bot" not in done.stdout + done.stderr
    assert not (tmp_path / "e2e.db").exists(), "stopped before opening the database"
    print(f"wasl run without a channel nor a terminal stopped after {took:.2f}s")


def test_a_number_she_is_asked_to_type_is_not_taken_for_a_button(tmp_path: Path) -> None:
    wasl(tmp_path, "migrate")
    assert "1 created" in wasl(tmp_path, "content", "load", str(SURVEYS))
    typed = "\n".join(
        [
            "1",  # English
            "Skip",  # no second language
            "I accept",
            "1",  # Iraq
            "1",  # a sphere
            "Done",
            "/survey",
            "1",  # the pulse survey
            "3",  # how safe: 3
            "No",  # no threat: jumps to the number of days
            "2",  # two days, typed — not the second button
            "",
        ]
    )
    out = wasl(tmp_path, "chat", lines=typed, WASL_OPEN_JOIN="true")
    days = out.rindex("Question 5 of 8")
    after = out[days:]
    assert "  [Stop for now]" in after, "choices by label where a number is typed"
    assert "Question 6 of 8" in after, after
    assert "Paused" not in after


def test_ctrl_c_in_the_terminal_bot_stops_it_at_once_and_quietly(tmp_path: Path) -> None:
    """Ctrl-C while the bot waits for her next line: it stops within seconds, says so in one
    short line and prints no traceback (it used to wait for Enter, then print several)."""
    log = tmp_path / "chat.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat"],
            cwd=tmp_path,
            env=bot_env(tmp_path, WASL_OPEN_JOIN="true"),
            stdin=subprocess.PIPE,  # kept open: she has typed nothing yet
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Welcome to Wasl" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the bot never greeted her"
            time.sleep(0.1)
        before = len(log.read_bytes())
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdin is not None
        process.stdin.close()
    output = log.read_text(errors="replace")
    assert returncode in (0, 130), output
    assert "Traceback" not in output, output
    assert log.read_bytes()[before:].decode().strip() == "wasl: stopped", output
