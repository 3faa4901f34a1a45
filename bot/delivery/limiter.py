"""Pacing that mirrors the platform's own rule, so limits are obeyed, not discovered.

Measured (docs/architecture.md): a sliding window — at most N sends in any window of
~1.02 s — reaches the limit with no 429s, where a token bucket with a burst overshoots and one
without falls behind.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be ≥ 1 and window > 0")
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait before one more event is allowed (0 when allowed now)."""
        events = self._events
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return events[0] + self.window - now

    def record(self, now: float) -> None:
        self._events.append(now)

    @property
    def last(self) -> float | None:
        return self._events[-1] if self._events else None


class RateLimiter:
    """One channel's pacing: overall per second, per chat, and a pause after a 429."""

    def __init__(
        self,
        per_second: int = 30,
        *,
        per_chat: int = 1,
        window: float = 1.02,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.overall = SlidingWindow(per_second, window)
        self.per_chat_limit = per_chat
        self.window = window
        self._chats: dict[str, SlidingWindow] = {}
        self._paused_until = 0.0
        self._urgent_waiting = 0
        self._monotonic = monotonic
        self._sleep = sleep

    @property
    def rate(self) -> float:
        """Sends per second this pacing allows overall."""
        return self.overall.limit / self.overall.window

    def pause(self, seconds: float) -> None:
        """Stop every send on this channel for `seconds` (Telegram's retry_after)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def delay(self, chat_id: str, now: float, *, urgent: bool = False) -> float:
        """Seconds until a send to `chat_id` is allowed (pure: records nothing)."""
        chat = self._chats.get(chat_id)
        waits = [self._paused_until - now, self.overall.delay(now)]
        if chat is not None:
            waits.append(chat.delay(now))
        if not urgent and self._urgent_waiting:
            waits.append(0.001)  # replies to a person go ahead of a broadcast
        return max(0.0, *waits)

    async def acquire(self, chat_id: str, *, urgent: bool = False) -> None:
        """Wait until a send to `chat_id` is allowed, then count it."""
        if urgent:
            self._urgent_waiting += 1
        try:
            while (wait := self.delay(chat_id, self._monotonic(), urgent=urgent)) > 0:
                await self._sleep(wait)
            now = self._monotonic()
            self.overall.record(now)
            self._chat(chat_id).record(now)
        finally:
            if urgent:
                self._urgent_waiting -= 1

    def _chat(self, chat_id: str) -> SlidingWindow:
        chat = self._chats.get(chat_id)
        if chat is None:
            if len(self._chats) > 10_000:  # forget chats whose window has passed
                now = self._monotonic()
                self._chats = {
                    k: w for k, w in self._chats.items() if (w.last or 0) > now - self.window
                }
            chat = self._chats[chat_id] = SlidingWindow(self.per_chat_limit, self.window)
        return chat
