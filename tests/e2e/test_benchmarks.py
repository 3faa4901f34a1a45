"""The inbound benchmarks' people (bench/traffic.py, used by bench/inbound.py and
bench/webhooks.py) do not rot: they join through the keyboards the real onboarding sends, the
consistency check they report catches a lost tick, and a short closed and steady run against
the bare floor worker answers every update."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.traffic import Database, Front, ReplyClock, Traffic, Worker
from bot.core.context import CoreConfig
from bot.core.messages import Outbound
from handlers import build_router
from storage.engine import make_engine, migrate
from storage.store import SqlStore
from tests.support.harness import Harness

pytestmark = pytest.mark.e2e


def markup(message: Outbound) -> dict[str, Any]:
    """The reply_markup Telegram would carry for this message's buttons."""
    return {"inline_keyboard": [[{"callback_data": b.payload}] for b in message.buttons]}


async def test_people_join_by_the_buttons_the_onboarding_sends(tmp_path: Path) -> None:
    db = Database("sqlite", tmp_path)
    store = SqlStore(make_engine(db.url))
    await migrate(store.engine)
    h = Harness(store, build_router(), config=CoreConfig(open_join=True))
    traffic = Traffic(ReplyClock(), [], seed=7)
    try:
        for _ in range(80):
            person, updates = traffic.next_action()
            person.sent += len(updates)
            who = h.person(str(person.chat))
            for update in updates:
                before = len(h.channel.sent)
                query = update.get("callback_query")
                if query is not None:
                    await who.press(query["data"], str(query["message"]["message_id"]))
                else:
                    await who.say(update["message"]["text"])
                for sent in h.channel.sent[before:]:
                    traffic._reply(person.chat, 0.0, markup(sent.message), int(sent.message_id))
            traffic.free(person)
    finally:
        await store.close()

    assert traffic.joined() >= 3
    assert (traffic.unexpected, traffic.lost(), traffic.duplicated()) == (0, 0, 0)
    assert await traffic.wrong_members(db) == 0
    # One tick the bot did not keep (the race two workers can lose): the check sees it.
    done = next(p for p in traffic.people.values() if p.finished)
    done.spheres.add("advocacy" if "advocacy" not in done.spheres else "media")
    assert await traffic.wrong_members(db) == 1


@pytest.fixture
def api() -> Iterator[ReplyClock]:
    clock = ReplyClock().start()
    yield clock
    clock.stop()


async def test_a_short_run_against_the_floor_answers_every_update(
    api: ReplyClock, tmp_path: Path
) -> None:
    worker = Worker.floor(api, tmp_path, 0)
    try:
        await worker.healthy()
        front = Front([worker.url], api)
        traffic = Traffic(api, [1, 2, 3, 4], seed=1)
        try:
            closed = await traffic.closed(front, 4, 1.0, warmup=0.2, workers=[worker])
            steady = await traffic.steady(front, 20, 1.0, warmup=0.2)
            await traffic.settle(quiet=2.0)
        finally:
            await front.close()
    finally:
        worker.stop()

    assert closed.replies > 0 and closed.cpu_per_update > 0
    assert steady.latencies and steady.p50 <= steady.p99
    assert 10 <= steady.posted <= 30  # about 20 offered in the second measured
    assert (traffic.lost(), traffic.duplicated(), traffic.failed_posts) == (0, 0, 0)
