"""The inbox keeps accepted updates until processed: once per platform id, in order per chat,
chats in parallel, and rows of a worker that died are taken again once their lease expires."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta

from bot.core.clock import FixedClock
from bot.inbox import InboxWorker
from bot.intake import NewItem
from storage.inbox import InboxStore
from storage.store import SqlStore

LEASE = timedelta(seconds=30)


def item(platform_id: str, chat: str) -> NewItem:
    return NewItem(platform_id, chat, f'{{"id": "{platform_id}"}}')


async def test_a_platform_id_is_kept_once(store: SqlStore, clock: FixedClock) -> None:
    inbox = InboxStore(store)
    assert await inbox.add("telegram", [item("1", "a"), item("2", "a")], clock.now()) == 2
    assert await inbox.add("telegram", [item("1", "a")], clock.now()) == 0
    assert await inbox.add("whatsapp", [item("1", "a")], clock.now()) == 1, "per channel"
    assert await inbox.count() == 3


async def test_one_row_per_chat_at_a_time_in_order(store: SqlStore, clock: FixedClock) -> None:
    inbox = InboxStore(store)
    await inbox.add("telegram", [item("1", "a"), item("2", "b"), item("3", "a")], clock.now())
    first = await inbox.claim(clock.now(), LEASE, 10)
    assert [i.platform_id for i in first] == ["1", "2"], "the head of each chat, not a's second"
    assert await inbox.claim(clock.now(), LEASE, 10) == [], "a's head is still in progress"
    await inbox.done(first[0].id)
    [nxt] = await inbox.claim(clock.now(), LEASE, 10)
    assert nxt.platform_id == "3"
    assert await inbox.count() == 2


async def test_a_dead_workers_rows_are_taken_again_after_the_lease(
    store: SqlStore, clock: FixedClock
) -> None:
    inbox = InboxStore(store)
    await inbox.add("telegram", [item("1", "a")], clock.now())
    [taken] = await inbox.claim(clock.now(), LEASE, 10)
    assert await inbox.claim(clock.now() + LEASE - timedelta(seconds=1), LEASE, 10) == []
    [again] = await inbox.claim(clock.now() + LEASE + timedelta(seconds=1), LEASE, 10)
    assert (again.id, again.attempts) == (taken.id, 2)


async def test_claimers_in_parallel_never_share_a_row(store: SqlStore, clock: FixedClock) -> None:
    inbox = InboxStore(store)
    await inbox.add("telegram", [item(str(n), f"c{n % 7}") for n in range(40)], clock.now())
    claims = await asyncio.gather(*(inbox.claim(clock.now(), LEASE, 3) for _ in range(6)))
    ids = [i.id for claim in claims for i in claim]
    assert len(ids) == len(set(ids)) == 7, "one head per chat, each taken once"


async def test_the_worker_processes_chats_in_parallel_each_in_order(
    store: SqlStore, clock: FixedClock
) -> None:
    inbox = InboxStore(store)
    seen: dict[str, list[int]] = defaultdict(list)
    busy: set[str] = set()
    overlap: list[str] = []
    most = 0

    async def process(payload: str) -> None:
        nonlocal most
        chat, n = payload.split(":")
        if chat in busy:
            overlap.append(chat)
        busy.add(chat)
        most = max(most, len(busy))
        await asyncio.sleep(0.01)
        seen[chat].append(int(n))
        busy.discard(chat)

    rows = [NewItem(str(n), f"c{n % 4}", f"c{n % 4}:{n}") for n in range(40)]
    await inbox.add("telegram", rows, clock.now())
    worker = InboxWorker(inbox, {"telegram": process}, clock, concurrency=4)
    await worker.start()
    try:
        await worker.drain(within=30)
    finally:
        await worker.stop()
    assert overlap == []
    assert most > 1, "chats ran in parallel"
    assert {c: v for c, v in seen.items()} == {
        f"c{k}": [n for n in range(40) if n % 4 == k] for k in range(4)
    }
    assert worker.processed == 40 and await inbox.count() == 0


async def test_a_failing_row_is_retried_then_dropped(store: SqlStore, clock: FixedClock) -> None:
    inbox = InboxStore(store)
    calls: list[str] = []

    async def broken(payload: str) -> None:
        calls.append(payload)
        raise RuntimeError("boom")

    await inbox.add("telegram", [item("1", "a")], clock.now())
    worker = InboxWorker(inbox, {"telegram": broken}, clock, lease=0.05, poll=0.02)
    await worker.start()
    try:
        for _ in range(200):
            if await inbox.count() == 0:
                break
            clock.advance(timedelta(seconds=1))
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert await inbox.count() == 0
    assert len(calls) == 5, "tried MAX_ATTEMPTS times, then dropped"


async def test_processed_rows_go_with_the_next_claim(store: SqlStore, clock: FixedClock) -> None:
    inbox = InboxStore(store)
    await inbox.add("telegram", [item("1", "a"), item("2", "b"), item("3", "a")], clock.now())
    first = await inbox.claim(clock.now(), LEASE, 10)
    assert [i.platform_id for i in first] == ["1", "2"]
    # "1" done: deleted in the claim's own transaction, so a's next row is taken at once.
    nxt = await inbox.claim(clock.now(), LEASE, 10, done=[first[0].id])
    assert [i.platform_id for i in nxt] == ["3"]
    assert await inbox.count() == 2
    await inbox.done(first[1].id, nxt[0].id)
    assert await inbox.count() == 0


async def test_rows_processed_before_a_stop_are_deleted_at_the_stop(
    store: SqlStore, clock: FixedClock
) -> None:
    inbox = InboxStore(store)
    release = asyncio.Event()
    started: list[str] = []

    async def slow(payload: str) -> None:
        started.append(payload)
        await release.wait()

    await inbox.add("telegram", [item("1", "a"), item("2", "b")], clock.now())
    worker = InboxWorker(inbox, {"telegram": slow}, clock, poll=0.02)
    await worker.start()
    for _ in range(500):
        if len(started) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(started) == 2
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(0.05)  # the claim loop is stopped: no later claim will delete them
    release.set()
    await stopping
    assert worker.processed == 2
    assert await inbox.count() == 0, "deleted by the stop itself"
