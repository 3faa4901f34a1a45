"""Pacing with a fake clock: the sliding window mirrors the platform's rule and reaches it."""

from __future__ import annotations

import bisect
import random

import pytest

from bot.delivery.limiter import Margin, RateLimiter, SlidingWindow
from tests.delivery.timing import VirtualTime

EPSILON = 1e-9  # float slack when an event sits exactly on a window's edge


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of events in any half-open window (t - window, t].

    The busiest window can always be slid to end on an event, so checking those is checking all.
    """
    ordered = sorted(times)
    most = 0
    for i, end in enumerate(ordered):
        first = bisect.bisect_right(ordered, end - window + EPSILON)
        most = max(most, i + 1 - first)
    return most


def limiter(vt: VirtualTime, per_second: int = 30, **kwargs: float) -> RateLimiter:
    return RateLimiter(per_second, monotonic=vt.monotonic, sleep=vt.sleep, **kwargs)  # type: ignore[arg-type]


async def broadcast(
    vt: VirtualTime,
    rl: RateLimiter,
    n: int,
    *,
    chats: int | None = None,
    latency: float = 0.004,
    stalls: float = 0.0,
    seed: int = 7,
) -> list[float]:
    """`n` sends to distinct chats (or round-robin over `chats`), each taking a little while."""
    rng = random.Random(seed)  # noqa: S311 - a load shape, not a secret
    times: list[float] = []
    for i in range(n):
        await rl.acquire(str(i % chats if chats else i))
        times.append(vt.now)
        vt.advance(rng.uniform(0, latency))  # the API call
        if stalls and rng.random() < stalls:
            vt.advance(rng.uniform(0.05, 0.8))  # the event loop was descheduled
    return times


def test_most_in_any_window_sees_the_edges() -> None:
    assert most_in_any_window([0.0, 0.5, 1.0, 1.5], 1.0) == 2
    assert most_in_any_window([0.0, 0.99, 1.0], 1.0) == 2
    assert most_in_any_window([0.0, 0.1, 0.2], 1.0) == 3
    assert most_in_any_window([], 1.0) == 0


async def test_never_more_than_the_limit_in_any_window_over_a_long_run() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    times = await broadcast(vt, rl, 9000)
    assert most_in_any_window(times, 1.02) == 30
    assert most_in_any_window(times, 1.0) <= 30  # the platform's own, shorter window


async def test_reaches_the_limit() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    times = await broadcast(vt, rl, 9000)
    # the rate a sender exactly at the limiter's rule would hold (30 per 1.02 s), and Telegram's
    span = times[-1] - times[0] + 1.02 / 30
    rate = len(times) / span
    assert rate >= 0.95 * 30 / 1.02
    assert rate >= 0.95 * 30


async def test_stalls_are_not_followed_by_a_burst_over_the_limit() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    times = await broadcast(vt, rl, 6000, stalls=0.02, latency=0.03)
    assert most_in_any_window(times, 1.02) <= 30


@pytest.mark.parametrize(("per_second", "window"), [(1, 1.0), (5, 0.5), (80, 6.0), (30, 1.02)])
async def test_other_limits_hold_too(per_second: int, window: float) -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, per_second, window=window, per_chat=10_000)
    times = await broadcast(vt, rl, 40 * per_second, chats=1, latency=0.0)
    assert most_in_any_window(times, window) == per_second


async def test_one_per_chat_per_window() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    times = await broadcast(vt, rl, 300, chats=3)
    for chat in range(3):
        mine = times[chat::3]
        assert most_in_any_window(mine, 1.02) == 1
    # three chats, one message each per window: the chats, not the overall limit, set the pace
    assert times[-1] - times[0] >= (300 / 3 - 1) * 1.02 - EPSILON


async def test_a_chat_waits_out_its_window_while_others_go() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.0)
    await rl.acquire("a")
    assert rl.delay("a", vt.now) == pytest.approx(1.0)
    assert rl.delay("b", vt.now) == 0.0
    await rl.acquire("b")
    assert vt.now == 0.0
    await rl.acquire("a")
    assert vt.now == pytest.approx(1.0)


async def test_pause_delays_every_chat() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.0)
    await rl.acquire("a")
    vt.advance(0.25)
    rl.pause(5)  # a 429 with retry_after=5
    for chat in ("a", "b", "never-seen"):
        assert rl.delay(chat, vt.now) == pytest.approx(5.0)
    await rl.acquire("b")
    assert vt.now == pytest.approx(5.25)
    await rl.acquire("c")
    assert vt.now == pytest.approx(5.25)


async def test_a_shorter_pause_never_cuts_a_longer_one() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt)
    rl.pause(10)
    rl.pause(1)
    assert rl.delay("a", vt.now) == pytest.approx(10.0)


async def test_a_pause_applies_to_waiters_already_sleeping() -> None:
    vt = VirtualTime()
    rl = limiter(vt, 1, window=1.0)
    got: list[tuple[str, float]] = []

    async def send(chat: str) -> None:
        await rl.acquire(chat)
        got.append((chat, vt.now))
        if chat == "a":
            await vt.sleep(0.5)  # the API call, while "b" already sleeps until t=1
            rl.pause(3)  # "a" got a 429: the next sender waits until t=3.5, not t=1

    await vt.run(send("a"), send("b"))
    assert got == [("a", 0.0), ("b", pytest.approx(3.5))]


async def test_urgent_acquires_go_ahead_of_waiting_broadcast_sends() -> None:
    vt = VirtualTime()
    rl = limiter(vt, 2, window=1.0, per_chat=10)
    order: list[tuple[str, float]] = []

    async def send(chat: str, *, urgent: bool = False, after: float = 0.0) -> None:
        if after:
            await vt.sleep(after)
        await rl.acquire(chat, urgent=urgent)
        order.append((chat, vt.now))

    await rl.acquire("x")
    await rl.acquire("x")  # the window is full until t=1
    await vt.run(
        send("b1"),
        send("b2"),
        send("b3"),
        send("reply", urgent=True, after=0.5),  # she wrote while the broadcast waits
    )
    assert order[0][0] == "reply"
    assert order[0][1] == pytest.approx(1.0)
    assert [chat for chat, _ in order[1:]] == ["b1", "b2", "b3"]
    assert most_in_any_window([0.0, 0.0] + [t for _, t in order], 1.0) <= 2


async def test_urgent_goes_at_once_when_the_window_is_free() -> None:
    vt = VirtualTime()
    rl = limiter(vt, 30)
    await vt.run(rl.acquire("a", urgent=True))
    assert vt.now == 0.0
    assert rl.delay("b", vt.now) == 0.0  # no urgent sender is left waiting


def test_delay_is_pure() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 2, window=1.0)
    for _ in range(100):
        assert rl.delay("a", 0.0) == 0.0
        assert rl.delay("b", 0.0, urgent=True) == 0.0
    assert rl._chats == {}
    window = SlidingWindow(2, 1.0)
    for _ in range(100):
        assert window.delay(0.0) == 0.0
    window.record(0.0)
    window.record(0.2)
    assert [window.delay(0.5) for _ in range(3)] == [pytest.approx(0.5)] * 3
    assert window.delay(1.0) == 0.0  # the event at 0.0 has left the window
    window.record(1.0)
    assert window.delay(1.1) == pytest.approx(0.1)  # now the one at 0.2 must leave
    assert window.delay(1.2) == 0.0


async def test_delay_counts_nothing_but_acquire_does() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 2, window=1.0)
    await rl.acquire("a")
    await rl.acquire("b")
    assert rl.delay("c", vt.now) == pytest.approx(1.0)
    assert vt.slept == []


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_a_window_needs_a_limit_and_a_length(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingWindow(limit, window)


async def test_many_chats_are_forgotten_once_their_window_passed() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 1_000_000, window=1.0)
    for i in range(10_002):
        await rl.acquire(str(i))
    vt.advance(2.0)
    await rl.acquire("late")
    assert len(rl._chats) < 10


# -- counting a send when the server saw it ------------------------------------------------------


async def test_a_send_is_counted_from_its_answer_not_from_when_it_was_let_through() -> None:
    """A send stalled on its way holds its place from when the server could have seen it."""
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 1, window=1.02, per_chat=10)
    first = await rl.acquire("a")  # a normal send: out after 2 ms, answered 4 ms later
    margin = rl.margin.value
    rl.sent(first, started=0.002, finished=0.006)
    assert rl.lead == pytest.approx(0.004)  # 2 ms of bookkeeping, 2 ms on the way
    second = await rl.acquire("b")
    let_through = vt.now
    # the server saw the first at 4 ms at the latest; the second is let through `lead` early
    assert let_through == pytest.approx(0.004 + rl.platform_window + margin - rl.lead)
    vt.advance(0.3)  # stalled before it left: out at +0.3, answered at +0.31
    margin = rl.margin.value
    rl.sent(second, started=let_through + 0.3, finished=let_through + 0.31)
    # provisionally counted from its let-through, it would free the window at +1.02; the server
    # saw it as late as +0.308 (one fastest way before the answer), so the next send reaches
    # the server no sooner than the platform's window and the margin after that
    await rl.acquire("c")
    seen = let_through + 0.31 - 0.002
    assert vt.now == pytest.approx(seen + rl.platform_window + margin - rl.lead)
    assert vt.now - rl.lead > let_through + 0.3 + rl.platform_window
    assert vt.now > let_through + 1.02


async def test_measured_sends_reach_the_limit_and_never_exceed_it() -> None:
    """Counted from their answers, sends keep to the platform's window, not the provisional one."""
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    rng = random.Random(3)  # noqa: S311 - a load shape, not a secret
    seen: list[float] = []  # when the server saw each send
    for i in range(3000):
        allowed = await rl.acquire(str(i))
        vt.advance(rng.uniform(0.001, 0.003))  # bookkeeping before the request
        started = vt.now
        way = rng.uniform(0.002, 0.004)
        seen.append(started + way)
        vt.advance(way * 2)
        rl.sent(allowed, started, vt.now)
    assert most_in_any_window(seen, 1.0) <= 30
    rate = len(seen) / (seen[-1] - seen[0] + 1 / 30)
    assert rate >= 0.98 * 30  # the provisional 1.02 s window alone would allow 0.98 at most


async def test_a_lone_429_widens_the_margin_without_pausing_the_channel() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    before = rl.margin.value
    allowed = await rl.acquire("a")
    rl.sent(allowed, 0.0, 0.01, refused=True, retry_after=1)
    assert rl.margin.value > before
    assert rl.delay("b", 0.01) == 0.0, "the others keep their pace"
    for i in range(500):  # clean sends narrow it again, slowly
        vt.advance(0.05)
        allowed = await rl.acquire(str(i))
        rl.sent(allowed, vt.now, vt.now + 0.004)
    assert rl.margin.value < before
    assert rl.margin.value >= rl.margin.least


async def test_429s_that_repeat_within_a_window_pause_the_channel() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    first = await rl.acquire("a")
    rl.sent(first, 0.0, 0.01, refused=True, retry_after=1)
    vt.advance(0.5)
    second = await rl.acquire("b")
    rl.sent(second, 0.5, 0.51, refused=True, retry_after=1)
    assert rl.delay("c", vt.now) == pytest.approx(1.0)


async def test_a_long_retry_after_pauses_the_channel_at_once() -> None:
    vt = VirtualTime(solo=True)
    rl = limiter(vt, 30, window=1.02)
    allowed = await rl.acquire("a")
    rl.sent(allowed, 0.0, 0.01, refused=True, retry_after=30)
    assert rl.delay("b", vt.now) == pytest.approx(30.0)


def test_the_margin_stays_within_its_bounds() -> None:
    margin = Margin(start=0.02, least=0.004, most=0.25)
    for _ in range(50):
        margin.refused()
    assert margin.value == 0.25
    for _ in range(5000):
        margin.clean()
    assert margin.value == pytest.approx(0.004, abs=1e-6)
