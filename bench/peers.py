"""How long /peers takes to build its view of a sphere as the alliance grows: the counts by
country (the all-time membership aggregate) and the listing of peers open to requests.

Members are inserted in bulk (one `create_many`), a tenth of them with a line, then the
service calls behind one /peers view are timed on SQLite. Prints medians per member count.
Run: `.venv/bin/python bench/peers.py [members ...]` (default 1000 10000 50000).

Medians on the 2-CPU dev machine (2026-12-03), members 1,000 / 10,000 / 50,000 (a tenth
listed in the sphere): counts by country from the whole all-time membership table, 18.7 /
152 / 448 ms → counted for her sphere alone (the same cells), 6–10 / 10–14 / 106–114 ms;
listing, the token key derived per peer 2.6 / 56 / 228 ms → once per listing 6.8 / 22.6 /
167 ms (5,000 lines read at 50,000 members).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.actors import Actor
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.services import peers
from storage.engine import make_engine, migrate
from storage.store import SqlStore

COUNTRIES = ("IQ", "SY", "LB", "JO", "YE", "LY", "NG", "PK", "SO")
SPHERES = ("youth", "pluralism", "religion", "rights", "vaw", "narratives", "media", "advocacy")


async def run(members: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        await migrate(engine)
        store = SqlStore(engine)
        joined = datetime(2026, 11, 2, tzinfo=UTC)
        news = [
            NewMember(
                channel=ChannelName.TELEGRAM,
                platform_id=str(10_000_000 + i),
                chat_id=str(10_000_000 + i),
                locale="en",
                country=COUNTRIES[i % len(COUNTRIES)],
                spheres=[SPHERES[i % 8], SPHERES[(i * 7) % 8]],
                role=Role.MEMBER,
                consent_version="bench",
                consented_at=joined,
            )
            for i in range(members)
        ]
        async with store.transaction() as tx:
            ids = await tx.members.create_many(news, joined)
        async with store.transaction() as tx:
            for member_id in ids[::10]:
                await tx.peers.save_line(member_id, "vaw", "a line about the work", True, joined)
            she = await tx.members.by_id(ids[4])
        assert she is not None and "vaw" in she.spheres
        now = joined + timedelta(days=30)
        _ = Catalogs().get("en")
        counts, listing = [], []
        for _round in range(7):
            async with store.transaction() as tx:
                start = time.perf_counter()
                await peers.countries_in_sphere(tx, Actor.of(she), "vaw", now, 5)
                middle = time.perf_counter()
                await peers.listing(tx, Actor.of(she), "vaw", b"k" * 32)
                counts.append(middle - start)
                listing.append(time.perf_counter() - middle)
        await store.close()
    return statistics.median(counts) * 1000, statistics.median(listing) * 1000


async def main(sizes: list[int]) -> None:
    print("members  counts by country (ms)  listing (ms)")
    for size in sizes:
        counts, listing = await run(size)
        print(f"{size:>7}  {counts:>22.1f}  {listing:>12.1f}")


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1000, 10000, 50000]))
