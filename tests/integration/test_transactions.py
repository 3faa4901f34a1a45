"""Transactions behave like `engine.begin()` on both backends, and on SQLite they run inline:
one at a time, never nested, never blocking the loop on another process's lock."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3

import pytest
from sqlalchemy import Connection, delete, select

from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from storage.store import NestedTransactionError, SqlStore
from storage.tables import update_t

TG = ChannelName.TELEGRAM


async def test_an_exception_rolls_everything_back(store: SqlStore, clock: FixedClock) -> None:
    async def claim_then_fail() -> None:
        async with store.transaction() as tx:
            assert await tx.processed.claim(TG, "r1", clock.now())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await claim_then_fail()
    async with store.transaction() as tx:
        assert await tx.processed.claim(TG, "r1", clock.now()), "the first claim was rolled back"
    async with store.transaction() as tx:
        assert not await tx.processed.claim(TG, "r1", clock.now()), "the second one committed"


async def test_nesting_is_refused_instead_of_deadlocking(
    store: SqlStore, clock: FixedClock
) -> None:
    async with store.transaction():
        with pytest.raises(NestedTransactionError):
            async with store.transaction():
                pass

        async def inner() -> None:  # a task started inside the transaction, awaited by it
            async with store.transaction():
                pass

        with pytest.raises(NestedTransactionError):
            await asyncio.create_task(inner())
    async with store.transaction() as tx:  # the store is usable afterwards
        assert await tx.processed.claim(TG, "n1", clock.now())


async def test_results_are_buffered(store: SqlStore, clock: FixedClock) -> None:
    """Rows can be read after later statements and after the transaction, as with asyncpg."""
    async with store.transaction() as tx:
        for update_id in ("b1", "b2", "b3"):
            await tx.processed.claim(TG, update_id, clock.now())
        result = await tx.conn.execute(select(update_t.c.update_id).order_by(update_t.c.update_id))
        await tx.conn.execute(delete(update_t))
    assert list(result.scalars()) == ["b1", "b2", "b3"]


async def test_transactions_queue_on_sqlite(sqlite_store: SqlStore, clock: FixedClock) -> None:
    """Many updates at once: each transaction runs whole, one after the other."""
    inside = 0
    most = 0

    async def one(n: int) -> bool:
        nonlocal inside, most
        async with sqlite_store.transaction() as tx:
            inside += 1
            most = max(most, inside)
            claimed = await tx.processed.claim(TG, f"q{n % 10}", clock.now())
            await asyncio.sleep(0)  # something real awaited inside the transaction
            inside -= 1
            return claimed

    claims = await asyncio.gather(*(one(n) for n in range(50)))
    assert most == 1
    assert claims.count(True) == 10


async def test_another_process_holding_the_lock_does_not_block_the_loop(
    sqlite_store: SqlStore, clock: FixedClock
) -> None:
    """A CLI command writing to the same file: the update waits for it in a thread."""
    path = sqlite_store.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        started = loop.time()
        async with sqlite_store.transaction() as tx:
            assert await tx.processed.claim(TG, "l1", clock.now())
        waited = loop.time() - started
        ticker.cancel()
        assert waited >= 0.25, "it waited for the other process's commit"
        assert ticks >= 10, "the loop kept running meanwhile"
    finally:
        other.close()
    async with sqlite_store.transaction() as tx:
        assert not await tx.processed.claim(TG, "l1", clock.now())


async def test_run_sync_gets_the_transaction_connection(
    store: SqlStore, clock: FixedClock
) -> None:
    def claimed(connection: Connection) -> list[str]:
        return list(connection.execute(select(update_t.c.update_id)).scalars())

    async with store.transaction() as tx:
        await tx.processed.claim(TG, "s1", clock.now())
        assert await tx.conn.run_sync(claimed) == ["s1"], "sees the uncommitted row"


async def test_batched_work_of_the_moment_shares_one_commit(
    store: SqlStore, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: twenty writers at once take far fewer than twenty transactions, each
    gets its own result, and every write is there afterwards."""
    opened = 0
    real = store.transaction

    def counting() -> object:
        nonlocal opened
        opened += 1
        return real()

    async def claim(update_id: str) -> bool:
        return await store.batched(lambda tx: tx.processed.claim(TG, update_id, clock.now()))

    with monkeypatch.context() as patched:
        patched.setattr(store, "transaction", counting)
        results = await asyncio.gather(*(claim(f"g{n}") for n in range(20)))
    assert results == [True] * 20
    assert opened <= 3, f"{opened} transactions for 20 writes made at the same moment"
    async with store.transaction() as tx:
        stored = await tx.conn.execute(select(update_t.c.update_id))
    assert sorted(stored.scalars()) == sorted(f"g{n}" for n in range(20))


async def test_a_failing_batched_work_fails_alone(store: SqlStore, clock: FixedClock) -> None:
    """One work that raises rolls back the shared transaction; the others run again alone
    and commit, and only the bad one's caller sees the error."""

    async def good(update_id: str) -> bool:
        return await store.batched(lambda tx: tx.processed.claim(TG, update_id, clock.now()))

    async def bad() -> None:
        async def work(tx: object) -> None:
            await tx.processed.claim(TG, "bad", clock.now())  # type: ignore[attr-defined]
            raise ValueError("refused")

        await store.batched(work)

    outcomes = await asyncio.gather(good("ok1"), bad(), good("ok2"), return_exceptions=True)
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], ValueError)
    async with store.transaction() as tx:
        stored = await tx.conn.execute(select(update_t.c.update_id))
    assert sorted(stored.scalars()) == ["ok1", "ok2"], "the bad work's write was rolled back"


async def test_batched_inside_a_transaction_is_refused(store: SqlStore, clock: FixedClock) -> None:
    async with store.transaction():
        with pytest.raises(NestedTransactionError):
            await store.batched(lambda tx: tx.processed.claim(TG, "x", clock.now()))
    assert await store.batched(lambda tx: tx.processed.claim(TG, "x", clock.now()))


async def test_a_caller_cancelled_while_waiting_does_not_undo_the_batch(
    store: SqlStore, clock: FixedClock
) -> None:
    started = asyncio.Event()

    async def slow(tx: object) -> bool:
        started.set()
        await asyncio.sleep(0.05)
        return await tx.processed.claim(TG, "kept", clock.now())  # type: ignore[attr-defined]

    waiter = asyncio.create_task(store.batched(slow))
    await started.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    deadline = asyncio.get_running_loop().time() + 10.0
    while "kept" not in await _update_ids(store):  # the batch goes on without its caller
        assert asyncio.get_running_loop().time() < deadline, "the cancelled write never committed"
        await asyncio.sleep(0.02)


async def _update_ids(store: SqlStore) -> list[str]:
    async with store.engine.connect() as connection:
        return list((await connection.execute(select(update_t.c.update_id))).scalars())


async def test_work_queued_as_its_committer_finishes_is_still_committed(
    store: SqlStore, clock: FixedClock
) -> None:
    """A write queued in the instant between the committer finding the queue empty and its
    task being forgotten gets a committer of its own: it once waited forever, and with it
    the bot (found by a running bot that stopped answering after its seventh reply)."""
    later: list[asyncio.Task[bool]] = []

    async def first(tx: object) -> bool:
        # Ready to run before the committer's done-callback: it queues its work then.
        later.append(
            asyncio.create_task(
                store.batched(lambda tx2: tx2.processed.claim(TG, "after", clock.now())),
                context=contextvars.Context(),
            )
        )
        return await tx.processed.claim(TG, "first", clock.now())  # type: ignore[attr-defined]

    assert await store.batched(first)
    assert await asyncio.wait_for(later[0], timeout=5.0)


async def test_closing_lets_a_shared_transaction_in_progress_commit(
    store: SqlStore, clock: FixedClock
) -> None:
    """At shutdown the outcome of the last replies is still being written: closing waits
    for it instead of cutting it off (the rows would otherwise be sent again)."""
    started = asyncio.Event()

    async def slow(tx: object) -> bool:
        started.set()
        await asyncio.sleep(0.2)
        return await tx.processed.claim(TG, "last", clock.now())  # type: ignore[attr-defined]

    writer = asyncio.create_task(store.batched(slow))
    await started.wait()
    await store.close()
    # Committed by the time close() returns (a disposed engine opens new connections).
    async with store.engine.connect() as connection:
        kept = await connection.execute(select(update_t.c.update_id))
        assert list(kept.scalars()) == ["last"]
    assert await writer
    await store.engine.dispose()
