"""`wasl --help` and every command start fast: importing the command line loads no database,
web, chart or bot library (each command imports what it needs when it runs). Figures:
bench/cli_startup.py."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "telegram", "starlette", "uvicorn", "matplotlib")


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    probe = (
        f"import sys, bot.cli; print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "", f"import bot.cli loaded {loaded}: import it inside the command"
