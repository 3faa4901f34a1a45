"""What happens to an outbox row after a send: the classification table and the back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.messages import SendResult, SendStatus
from bot.core.outbox import OutboxStatus, Outcome, RetryPolicy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (SendResult(SendStatus.SENT, message_id="7"), Outcome(OutboxStatus.SENT)),
        (
            SendResult(SendStatus.UNREACHABLE, reason="bot was blocked by the user"),
            Outcome(OutboxStatus.UNREACHABLE, error="bot was blocked by the user"),
        ),
        (
            SendResult(SendStatus.UNREACHABLE),
            Outcome(OutboxStatus.UNREACHABLE, error="unreachable"),
        ),
        (
            SendResult(SendStatus.FAILED, reason="chat not found"),
            Outcome(OutboxStatus.FAILED, error="chat not found"),
        ),
        (
            SendResult(SendStatus.FAILED, reason="message is too long"),
            Outcome(OutboxStatus.FAILED, error="message is too long"),
        ),
        (SendResult(SendStatus.FAILED), Outcome(OutboxStatus.FAILED, error="failed")),
        (
            SendResult(SendStatus.RETRY, reason="timed out"),
            Outcome(OutboxStatus.PENDING, retry_at=NOW + 5 * S, error="timed out"),
        ),
        (
            SendResult(SendStatus.RETRY, retry_after=30, reason="too many requests"),
            Outcome(OutboxStatus.PENDING, retry_at=NOW + 30 * S, error="too many requests"),
        ),
        (  # a short retry_after never shortens the back-off
            SendResult(SendStatus.RETRY, retry_after=1, reason="too many requests"),
            Outcome(OutboxStatus.PENDING, retry_at=NOW + 5 * S, error="too many requests"),
        ),
    ],
    ids=[
        "sent",
        "blocked",
        "unreachable-no-reason",
        "chat-not-found",
        "too-long",
        "failed-no-reason",
        "retry",
        "retry-after-long",
        "retry-after-short",
    ],
)
def test_classification(result: SendResult, expected: Outcome) -> None:
    assert RetryPolicy().outcome(result, 1, NOW) == expected


@pytest.mark.parametrize("status", [SendStatus.SENT, SendStatus.UNREACHABLE, SendStatus.FAILED])
def test_final_outcomes_do_not_depend_on_attempts(status: SendStatus) -> None:
    policy = RetryPolicy(max_attempts=3)
    outcomes = {policy.outcome(SendResult(status, reason="r"), n, NOW) for n in (1, 3, 9)}
    assert len(outcomes) == 1
    (outcome,) = outcomes
    assert outcome.retry_at is None
    assert outcome.status in OutboxStatus.DONE


def test_back_off_doubles_then_is_capped() -> None:
    policy = RetryPolicy(max_attempts=20, base=timedelta(seconds=5), cap=timedelta(minutes=30))
    retry = SendResult(SendStatus.RETRY, reason="bad gateway")
    waits = [policy.outcome(retry, n, NOW).retry_at - NOW for n in range(1, 12)]  # type: ignore[operator]
    assert waits[:6] == [5 * S, 10 * S, 20 * S, 40 * S, 80 * S, 160 * S]
    assert max(waits) == timedelta(minutes=30)
    assert waits[-1] == timedelta(minutes=30)
    assert waits == sorted(waits)


def test_retry_after_longer_than_the_cap_is_still_obeyed() -> None:
    policy = RetryPolicy(cap=timedelta(seconds=60))
    result = SendResult(SendStatus.RETRY, retry_after=3600, reason="too many requests")
    assert policy.outcome(result, 1, NOW).retry_at == NOW + timedelta(hours=1)


def test_gives_up_after_max_attempts_with_the_reason() -> None:
    policy = RetryPolicy(max_attempts=3)
    retry = SendResult(SendStatus.RETRY, reason="bad gateway")
    assert policy.outcome(retry, 2, NOW).status == OutboxStatus.PENDING
    outcome = policy.outcome(retry, 3, NOW)
    assert outcome == Outcome(OutboxStatus.FAILED, error="gave up after 3 attempts: bad gateway")
    assert policy.outcome(retry, 4, NOW).status == OutboxStatus.FAILED


def test_outcome_is_pure() -> None:
    policy = RetryPolicy()
    result = SendResult(SendStatus.RETRY, retry_after=2, reason="x")
    assert {policy.outcome(result, 2, NOW) for _ in range(5)} == {policy.outcome(result, 2, NOW)}


def test_done_statuses() -> None:
    assert OutboxStatus.PENDING not in OutboxStatus.DONE
    assert OutboxStatus.CLAIMED not in OutboxStatus.DONE
    assert OutboxStatus.SENDING not in OutboxStatus.DONE
    assert {OutboxStatus.SENT, OutboxStatus.CANCELLED, OutboxStatus.SKIPPED} <= OutboxStatus.DONE
