"""How long the `wasl` command takes to answer when it needs no database.

Prints, for `wasl --help` and `wasl secret generate`, the median and best wall time of a fresh
process, the import time of `bot.cli` (`python -X importtime`), and whether the database
driver, migrations or services were loaded (they should not be).
Run: `.venv/bin/python bench/cli_startup.py`.

On the 2-CPU dev machine shared with other work (load about 3.5, 2026-12-03), before → after
importing the database, migrations and services only in the commands that use them, 7 runs:
`wasl --help` median 3.04 s (best 2.07) → 0.53 s (best 0.50), `wasl secret generate` 3.03 s
(best 2.58) → 0.45 s (best 0.42); `import bot.cli` 1.1–3.5 s → 0.42 s. sqlalchemy, alembic,
pydantic, httpx and the handlers are no longer loaded for them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
HEAVY = ("sqlalchemy", "alembic", "pydantic", "httpx", "aiosqlite", "asyncpg", "handlers")


def wall(*command: str) -> list[float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "bot", *command], cwd=ROOT, capture_output=True, check=True
        )
        times.append(time.perf_counter() - started)
    return times


def import_time() -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import bot.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    last = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| bot.cli")]
    return int(last[-1].split("|")[1]) / 1e6


def loaded() -> list[str]:
    probe = (
        f"import sys, bot.cli; print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def main() -> None:
    for command in (["--help"], ["secret", "generate"]):
        times = wall(*command)
        print(
            f"wasl {' '.join(command):<16} median {statistics.median(times):.2f} s, "
            f"best {min(times):.2f} s ({RUNS} runs)"
        )
    print(f"import bot.cli: {import_time():.2f} s (-X importtime, cumulative)")
    heavy = loaded()
    print(f"loaded by import bot.cli: {', '.join(heavy) if heavy else 'none of ' + str(HEAVY)}")


if __name__ == "__main__":
    main()
