"""How long one update takes through the core with real SQLite storage (no network).

Prints per-update medians and p95 for: a member's free text (fallback menu), /mydata, a button
press in onboarding, and a redelivered (duplicate) update.
Run: `.venv/bin/python bench/bench_core.py`.

Medians on the 2-CPU dev machine (2026-11-25), before → after running SQLite statements inline
(storage/connection.py) instead of through aiosqlite's thread, with the member and her spheres
in one query, parsed survey definitions reused and hot statements built once:
free text 1.9–4.2 ms → 0.33 ms, /mydata 2.4–5.0 ms → 0.61 ms, onboarding button
1.6 ms → 0.23–0.40 ms, redelivered update 0.34–0.41 ms → 0.035 ms. Through the same core, 1,000
members answering a 10-question survey (~11,800 updates): 48–51 s → about 6 s
(tests/handlers/test_survey_scale.py).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.context import CoreConfig
from handlers import build_router
from storage.engine import make_engine, migrate
from storage.store import SqlStore
from tests.support.harness import Harness

N = 400


async def timed(label: str, calls: list) -> None:  # type: ignore[type-arg]
    samples = []
    for call in calls:
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95)]
    median = statistics.median(samples)
    print(f"{label:<34} median {median:8.0f} µs   p95 {p95:8.0f} µs   n={len(samples)}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        await migrate(engine)
        store = SqlStore(engine)
        h = Harness(store, build_router(), config=CoreConfig(open_join=True))
        people = [h.person(str(i)) for i in range(N)]
        for p in people:  # join them all
            await p.say("/start")
            for label in ("English", "I accept", "Iraq", "Youth deradicalisation", "Done"):
                await p.tap(label)
        await timed(
            "member free text (fallback menu)", [lambda p=p: p.say("hello") for p in people]
        )
        await timed("member /mydata", [lambda p=p: p.say("/mydata") for p in people])
        newcomers = [h.person(f"n{i}") for i in range(N)]
        for p in newcomers:
            await p.say("/start")
        await timed("onboarding button press", [lambda p=p: p.tap("Français") for p in newcomers])
        dup = people[0].inbound(text="hello", message_id="1")
        await people[0].deliver(dup)
        await timed("redelivered update (dropped)", [lambda: people[0].deliver(dup)] * N)
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
