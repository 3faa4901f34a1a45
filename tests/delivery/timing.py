"""Virtual time for pacing tests: a monotonic clock and a sleep that moves it, no real waiting."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any


class VirtualTime:
    """`monotonic` and `sleep` for a RateLimiter; `run` drives concurrent sleepers in order.

    A lone task may simply await `sleep`: with nothing else scheduled, `run` is not needed when
    `solo` is set, and each sleep moves the clock at once.
    """

    def __init__(self, *, solo: bool = False) -> None:
        self.now = 0.0
        self.solo = solo
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.solo:
            self.now += max(0.0, seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *work: Awaitable[Any]) -> list[Any]:
        """Run `work` concurrently, waking sleepers one at a time in deadline order."""
        tasks = [asyncio.ensure_future(w) for w in work]
        while not all(t.done() for t in tasks):
            for _ in range(50):  # let everything runnable run before time moves
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                break
            if not self._sleepers:
                raise RuntimeError("every task waits, and no one sleeps: a deadlock")
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            future.set_result(None)
        return [t.result() for t in tasks]
