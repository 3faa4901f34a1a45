"""Pacing that mirrors the platform's own rule, so limits are obeyed, not discovered.

Measured (docs/architecture.md): a sliding window — at most N sends in any window — reaches the
limit, where a token bucket with a burst overshoots and one without falls behind.

What counts is when a send reaches the server, not when it was queued: a send is counted
provisionally when it is let through (held for `window`, a little more than the platform's), and
once its answer is back (`sent`) it is counted again at the moment the server most likely saw it
(halfway through its round trip), held for the platform's window plus a safety `margin`. The margin
adapts: a 429 widens it, clean sends narrow it slowly. How long a send takes from being let
through to reaching the server (`lead`) is measured too, so the next send is let through that
much early and reaches the server as the window frees.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class SlidingWindow:
    """At most `limit` events in any `window` seconds.

    Each event holds its place until it expires (normally `window` after it); the expiries are
    kept in order, so an event can be moved when its real time becomes known (`move`).
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be ≥ 1 and window > 0")
        self.limit = limit
        self.window = window
        self._expiries: list[float] = []

    def delay(self, now: float) -> float:
        """Seconds to wait before one more event is allowed (0 when allowed now)."""
        expiries = self._expiries
        gone = bisect.bisect_right(expiries, now)
        if gone:
            del expiries[:gone]
        if len(expiries) < self.limit:
            return 0.0
        return expiries[len(expiries) - self.limit] - now

    def record(self, now: float) -> float:
        """Count one event at `now`; returns its expiry (to `move` it later)."""
        return self.hold(now + self.window)

    def hold(self, expiry: float) -> float:
        """Count one event that holds its place until `expiry`."""
        bisect.insort(self._expiries, expiry)
        return expiry

    def move(self, expiry: float, to: float) -> float:
        """An event recorded with `expiry` holds its place until `to` instead."""
        at = bisect.bisect_left(self._expiries, expiry)
        if at < len(self._expiries) and self._expiries[at] == expiry:
            del self._expiries[at]
        return self.hold(to)

    @property
    def last(self) -> float | None:
        """The latest expiry (None when nothing is held)."""
        return self._expiries[-1] if self._expiries else None


@dataclass
class Pass:
    """One send let through by `RateLimiter.acquire`, to report with `RateLimiter.sent`."""

    chat_id: str
    at: float  # when it was let through
    expiry: float  # where it is counted in the overall window


class Margin:
    """The safety added to the platform's window: wider after a 429, slowly narrower when clean."""

    def __init__(
        self, start: float = 0.02, least: float = 0.004, most: float = 0.25, narrow: float = 0.01
    ) -> None:
        self.value = start
        self.least = least
        self.most = most
        self.narrow = narrow  # the share of the way to `least` each clean send goes

    def refused(self) -> None:
        self.value = min(self.most, self.value * 1.5 + 0.01)

    def clean(self) -> None:
        self.value -= (self.value - self.least) * self.narrow


class RateLimiter:
    """One channel's pacing: overall per second, per chat, and a pause when the platform asks.

    `acquire` lets a send through and counts it provisionally for `window` (a little more than
    the platform's window: its arrival is not known yet); `sent` counts it again once its answer
    is back, from its measured arrival, for the platform's window plus the adaptive margin.
    A lone 429 widens the margin and only its own message waits (the worker retries it after
    `retry_after`); the whole channel pauses when the platform asks for a long wait or when 429s
    repeat within a window.
    """

    PROVISIONAL = 1.02  # `window` over the platform's own window, while an arrival is unknown
    SAMPLES = 30  # the shortest of the last sends' timings are used: a stall only slows the pace

    def __init__(
        self,
        per_second: int = 30,
        *,
        per_chat: int = 1,
        window: float = 1.02,
        margin: Margin | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.overall = SlidingWindow(per_second, window)
        self.per_chat_limit = per_chat
        self.window = window
        self.platform_window = window / self.PROVISIONAL
        self.margin = margin or Margin()
        self._before: deque[float] = deque(maxlen=self.SAMPLES)  # let through → request sent
        self._round_trips: deque[float] = deque(maxlen=self.SAMPLES)
        self._chats: dict[str, SlidingWindow] = {}
        self._paused_until = 0.0
        self._last_refused: float | None = None
        self._urgent_waiting = 0
        self._monotonic = monotonic
        self._sleep = sleep

    @property
    def one_way(self) -> float:
        """The shortest way to the server or back: half the fastest recent round trip."""
        return min(self._round_trips, default=0.0) / 2

    @property
    def lead(self) -> float:
        """Seconds from being let through to reaching the server, at the least (recently)."""
        return min(self._before, default=0.0) + self.one_way

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
        # let through `lead` early: the send reaches the server as its place in the window frees
        waits = [self._paused_until - now, self.overall.delay(now + self.lead)]
        if chat is not None:
            waits.append(chat.delay(now))
        if not urgent and self._urgent_waiting:
            waits.append(0.001)  # replies to a person go ahead of a broadcast
        return max(0.0, *waits)

    async def acquire(self, chat_id: str, *, urgent: bool = False) -> Pass:
        """Wait until a send to `chat_id` is allowed, then count it (provisionally)."""
        if urgent:
            self._urgent_waiting += 1
        try:
            while (wait := self.delay(chat_id, self._monotonic(), urgent=urgent)) > 0:
                await self._sleep(wait)
            now = self._monotonic()
            expiry = self.overall.record(now)
            self._chat(chat_id).record(now)
            return Pass(chat_id, now, expiry)
        finally:
            if urgent:
                self._urgent_waiting -= 1

    def sent(
        self,
        sent: Pass,
        started: float,
        finished: float,
        *,
        refused: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The send let through by `sent` went out at `started` and was answered at `finished`.

        The server saw it at the latest one shortest way back before its answer: it is counted
        from then (a stall on either way only makes it count longer, never shorter).
        `refused`: the platform answered 429 (too many requests), asking to wait `retry_after`.
        """
        self._before.append(max(0.0, started - sent.at))
        self._round_trips.append(max(0.0, finished - started))
        arrival = finished - self.one_way
        # may be earlier than the provisional count: the window frees `lead` before it, and
        # the send let through then reaches the server after the platform's window and margin
        expiry = arrival + self.platform_window + self.margin.value
        sent.expiry = self.overall.move(sent.expiry, expiry)
        chat = self._chats.get(sent.chat_id)
        if chat is not None:
            chat.move(sent.at + chat.window, max(sent.at + chat.window, expiry))
        if not refused:
            self.margin.clean()
            return
        self.margin.refused()
        wait = retry_after or self.platform_window
        repeated = self._last_refused is not None and finished - self._last_refused < self.window
        self._last_refused = finished
        if repeated or wait > 2 * self.window:
            self.pause(wait)  # the platform asks the whole channel to wait

    def _chat(self, chat_id: str) -> SlidingWindow:
        chat = self._chats.get(chat_id)
        if chat is None:
            if len(self._chats) > 10_000:  # forget chats whose window has passed
                now = self._monotonic()
                self._chats = {k: w for k, w in self._chats.items() if (w.last or 0) > now}
            chat = self._chats[chat_id] = SlidingWindow(self.per_chat_limit, self.window)
        return chat
