"""Campaign fire benchmark: one campaign to N members, its memory, time and event-loop stalls.

N members (100,000 by default) are written straight into a fresh database (a SQLite file,
migrated by Alembic; PostgreSQL too when its URL answers, in a schema of its own dropped after),
with languages, countries and spheres spread over them. A campaign in three languages with a
button is created, then fired (`tx.campaigns.fire`, the port method every service calls) while

- a thread samples the process's resident memory every 2 ms, and the kernel's own peak
  (VmHWM, reset just before the fire) is read after it;
- a ticker task sleeps 1 ms at a time on the event loop and records the longest gap: how long
  nothing else on the loop could run (no update answered, no message sent);
- a "delivery" task opens a small transaction every 20 ms (reading the due outbox rows, as the
  delivery worker's claim does) and records the longest time between two of them: how long
  the bot could not send, and any "database is locked".

    python bench/campaign_fire.py [--members 100000] [--postgres URL | --no-postgres]
                                  [--code /path/to/other/checkout]

`--code` imports the project from another checkout (e.g. the main branch's worktree) to
measure its fire with this same script: the before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_root() -> Path:
    """The checkout whose code is measured: --code, else this one."""
    argv = sys.argv[1:]
    if "--code" in argv:
        return Path(argv[argv.index("--code") + 1]).resolve()
    return ROOT


sys.path.insert(0, str(_import_root()))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.core.campaigns import (  # noqa: E402
    Audience,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
)
from bot.core.outbox import OutboxStatus  # noqa: E402
from storage.engine import make_engine, migrate  # noqa: E402
from storage.store import SqlStore  # noqa: E402
from storage.tables import member_t, outbox_t, sphere_t  # noqa: E402

DEFAULT_PG = os.environ.get("WASL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOCALES = ("ar", "en", "fr")
COUNTRIES = ("IQ", "SY", "YE", "LY", "SD", "PS")
SPHERES = ("youth", "media", "mediation", "health", "legal")
BATCH = 5000


def rss_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process, in KiB."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount, _unit = line.split()
                values[name] = int(amount)
    return values["VmRSS:"], values["VmHWM:"]


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class Sampler(threading.Thread):
    """The highest RSS seen, sampled off the loop so a blocked loop still gets sampled."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib()[0])
            time.sleep(0.002)


async def ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last - 0.001)
        last = now


async def delivery(
    store: SqlStore, waits: list[float], errors: list[str], stop: asyncio.Event
) -> None:
    """A delivery worker's small claim-like transaction every 20 ms; `waits` gets the time
    between the ends of two successive ones, less the 20 ms pause: how long it could not send.
    """
    last = time.perf_counter()
    while not stop.is_set():
        try:
            async with store.transaction() as tx:
                await tx.conn.execute(
                    select(outbox_t.c.id)
                    .where(outbox_t.c.status == OutboxStatus.PENDING)
                    .order_by(outbox_t.c.priority, outbox_t.c.next_attempt_at)
                    .limit(30)
                )
        except Exception as error:
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
        now = time.perf_counter()
        waits.append(now - last)
        last = now
        await asyncio.sleep(0.02)


async def seed(store: SqlStore, members: int, now: datetime) -> None:
    """Members straight into the tables (the same on every checkout), in batches."""
    rng = random.Random(20261203)
    for start in range(0, members, BATCH):
        count = min(BATCH, members - start)
        rows = [
            {
                "id": start + i + 1,
                "channel": "telegram",
                "platform_id": str(7_000_000_000 + start + i),
                "chat_id": str(7_000_000_000 + start + i),
                "locale": rng.choice(LOCALES),
                "country": rng.choice(COUNTRIES),
                "role": "member",
                "status": "active" if rng.random() < 0.97 else "paused",
                "consent_version": "bench",
                "consented_at": now,
                "joined_at": now,
                "last_seen_at": now,
                "record_key": rng.randrange(1 << 40),
            }
            for i in range(count)
        ]
        spheres = [
            {"member_id": row["id"], "sphere": sphere}
            for row in rows
            for sphere in rng.sample(SPHERES, k=rng.randint(1, 3))
        ]
        async with store.transaction() as tx:
            await tx.conn.execute(insert(member_t), rows)
            await tx.conn.execute(insert(sphere_t), spheres)


async def measure(store: SqlStore, label: str, members: int) -> None:
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    began = time.perf_counter()
    await seed(store, members, now)
    seeded = time.perf_counter() - began
    async with store.transaction() as tx:
        campaign = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.CAMPAIGN,
                status=CampaignStatus.SCHEDULED,
                title="bench",
                texts={
                    "ar": "ورشة يوم الاثنين",
                    "en": "Workshop on Monday",
                    "fr": "Atelier lundi",
                },
                default_locale="en",
                audience=Audience(),
                schedule="now",
                buttons=[CampaignButton({"ar": "نعم", "en": "Yes", "fr": "Oui"}, "yes")],
            ),
            now,
        )
    gc.collect()
    before, _ = rss_kib()
    exact = reset_peak()
    sampler = Sampler()
    sampler.start()
    stop = asyncio.Event()
    gaps: list[float] = []
    waits: list[float] = []
    errors: list[str] = []
    tasks = [
        asyncio.create_task(ticker(gaps, stop)),
        asyncio.create_task(delivery(store, waits, errors, stop)),
    ]
    await asyncio.sleep(0.1)  # both running before the fire
    gaps.clear()
    waits.clear()
    began = time.perf_counter()
    async with store.transaction() as tx:
        fired = await tx.campaigns.fire(campaign, "once", now)
    took = time.perf_counter() - began
    await asyncio.sleep(0.1)  # the delivery task's wait that the fire ended
    stop.set()
    await asyncio.gather(*tasks)
    sampler.stop.set()
    sampler.join()
    _, hwm = rss_kib()
    peak = hwm if exact else sampler.peak
    async with store.transaction() as tx:
        rows = (await tx.conn.execute(select(func.count()).select_from(outbox_t))).scalar()
    assert fired is not None and fired[1] == rows, (fired, rows)
    print(
        f"{label}: {members:,} members seeded in {seeded:.1f} s; fire wrote {rows:,} rows in "
        f"{took:.2f} s\n"
        f"  RSS before the fire {before / 1024:.0f} MiB, peak during it {peak / 1024:.0f} MiB "
        f"(+{(peak - before) / 1024:.0f} MiB)\n"
        f"  longest event-loop stall {max(gaps, default=0) * 1000:.0f} ms; longest time "
        f"between two delivery transactions {max(waits, default=0) * 1000:.0f} ms; "
        f"errors: {len(errors)}{' (' + errors[0] + ')' if errors else ''}",
        flush=True,
    )


async def sqlite(members: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(make_engine(f"sqlite:///{folder}/bench.db"))
        try:
            await migrate(store.engine)
            await measure(store, "SQLite", members)
        finally:
            await store.close()


async def postgres(url: str, members: int) -> None:
    admin = make_engine(url)
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        try:
            async with admin.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as error:
            print(f"PostgreSQL: skipped ({type(error).__name__}: {error})")
            return
        store = SqlStore(make_engine(url, schema=schema))
        try:
            await migrate(store.engine)
            await measure(store, "PostgreSQL", members)
        finally:
            await store.close()
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--sqlite-only", action="store_true", help="same as --no-postgres")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to measure")
    args = parser.parse_args()
    print(f"code measured: {_import_root()}")
    asyncio.run(sqlite(args.members))
    if not (args.no_postgres or args.sqlite_only):
        asyncio.run(postgres(args.postgres, args.members))


if __name__ == "__main__":
    main()
