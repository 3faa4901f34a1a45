"""The outbox row's life, and what to do after a send: retry later, give up, or stop
sending to her. Pure rules, shared by the storage that records them and the delivery worker."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.campaigns import PRIORITY, CampaignKind
from bot.core.messages import ChannelName, MediaKind, MediaRef, SendResult, SendStatus
from bot.core.models import MemberStatus

# How `wasl campaign show` calls rows of a channel that no running process delivers: they
# wait, and go out once a process with that channel starts (never failed for it).
WAITING_FOR_CHANNEL = "waiting for channel"
REPLY_PRIORITY = -1  # an answer she is waiting for goes before any broadcast, alerts included


class OutboxStatus:
    """The life of an outbox row."""

    PENDING = "pending"
    CLAIMED = "claimed"  # taken by a worker, not yet sent
    SENDING = "sending"  # the API call is in flight: after a crash, these may have gone out
    SENT = "sent"
    FAILED = "failed"  # permanent, or retries exhausted; see last_error
    UNREACHABLE = "unreachable"  # she blocked the bot or is gone
    SKIPPED = "skipped"  # she paused, or became unreachable, before her turn came
    CANCELLED = "cancelled"  # the campaign was cancelled
    NEEDS_TEMPLATE = "needs_template"  # WhatsApp, outside the 24-hour window, no template
    # the send timed out after it may have reached her, and a second copy would do harm (an
    # alert twice): not sent again, counted apart
    UNCERTAIN = "uncertain"

    DONE = frozenset({SENT, FAILED, UNREACHABLE, SKIPPED, CANCELLED, NEEDS_TEMPLATE, UNCERTAIN})


def duplicate_harms(priority: int) -> bool:
    """Whether a second copy of a row does harm: alerts, urgent notices, survey pushes and
    campaigns (a member alarmed twice, counted twice). Replies and digests are harmless."""
    return PRIORITY[CampaignKind.ALERT] <= priority <= PRIORITY[CampaignKind.CAMPAIGN]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The row's next status, and when to try again if it is pending."""

    status: str
    retry_at: datetime | None = None
    error: str | None = None
    may_have_arrived: bool = False  # record the attempt: it may have reached her


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off for retryable failures, bounded in attempts."""

    max_attempts: int = 6
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=30)

    def outcome(
        self,
        result: SendResult,
        attempts: int,
        now: datetime,
        *,
        harmful: bool = False,
        attempted_before: bool = False,
    ) -> Outcome:
        """`attempts` counts this one. Pure: decides, records nothing.

        A send that timed out after the request may have reached the platform (`ambiguous`)
        is sent again only when a second copy is harmless (`harmful` False), and only once
        (`attempted_before`: an earlier send of this row was ambiguous too); otherwise the row
        ends "uncertain": for an alert a duplicate is worse than a missing copy.
        """
        if result.status is SendStatus.SENT:
            return Outcome(OutboxStatus.SENT)
        if result.status is SendStatus.UNREACHABLE:
            return Outcome(OutboxStatus.UNREACHABLE, error=result.reason or "unreachable")
        if result.status is SendStatus.FAILED:
            return Outcome(OutboxStatus.FAILED, error=result.reason or "failed")
        if result.ambiguous and (harmful or attempted_before):
            reason = f"timed out, may have been delivered: {result.reason}"
            return Outcome(OutboxStatus.UNCERTAIN, error=reason, may_have_arrived=True)
        if attempts >= self.max_attempts:
            return Outcome(
                OutboxStatus.FAILED, error=f"gave up after {attempts} attempts: {result.reason}"
            )
        backoff = min(self.cap, self.base * 2 ** (attempts - 1))
        if result.retry_after is not None:
            backoff = max(backoff, timedelta(seconds=result.retry_after))
        return Outcome(
            OutboxStatus.PENDING,
            retry_at=now + backoff,
            error=result.reason,
            may_have_arrived=result.ambiguous,
        )


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed row with what is needed to send it."""

    id: int
    member_id: int | None  # None: a reply to someone who has not joined
    channel: ChannelName
    chat_id: str
    member_status: MemberStatus
    text: str
    buttons: list[dict[str, str]]
    attempts: int
    occurrence_id: int | None
    last_seen_at: datetime | None = None
    template_name: str | None = None
    template_language: str | None = None
    priority: int = 0
    edit_message_id: str | None = None
    layout: dict[str, Any] | None = None
    attempted_at: datetime | None = None  # an earlier send timed out and may have arrived

    @property
    def reply(self) -> bool:
        """An answer to something she did (paused or not, she gets it)."""
        return self.priority == REPLY_PRIORITY

    @property
    def harmful_duplicate(self) -> bool:
        return duplicate_harms(self.priority)

    @property
    def attachment(self) -> MediaRef | None:
        found = (self.layout or {}).get("attachment")
        return MediaRef(MediaKind(found[0]), found[1]) if found else None


@dataclass(frozen=True, slots=True)
class Finished:
    """How one send ended, waiting to be recorded with the next bookkeeping transaction."""

    item: OutboxItem
    outcome: Outcome
    now: datetime
    message_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ProgressTarget:
    """An occurrence whose progress message a coordinator is watching."""

    occurrence_id: int
    campaign_id: int
    channel: ChannelName
    chat_id: str
    message_id: str | None
    locale: str


class Outbox(Protocol):
    """The delivery worker's side of the outbox (storage/outbox.py implements it). Each
    operation is its own short transaction, so a crash leaves a known state."""

    async def recover(self, channels: Collection[ChannelName] | None = None) -> dict[str, int]:
        """At start: rows of `channels` (None: all) left claimed or in flight go back to
        pending; counts by status."""
        ...

    async def claim(
        self, now: datetime, limit: int, channels: Collection[ChannelName] | None = None
    ) -> list[OutboxItem]:
        """Take up to `limit` due rows of `channels` (None: every channel)."""
        ...

    async def due_count(
        self, now: datetime, channels: Collection[ChannelName] | None = None
    ) -> int:
        """Rows due now that are not finished yet (pending, claimed or in flight)."""
        ...

    async def mark_sending(self, row_id: int, finished: Sequence[Finished] = ()) -> bool:
        """Just before the API call; False when the row must not go out any more.

        `finished`: sends that ended since the last bookkeeping, recorded in the same
        transaction (as `finish_many` would).
        """
        ...

    async def finish_many(self, finished: Sequence[Finished]) -> None:
        """Record how several sends ended, in one transaction (as `finish` would each)."""
        ...

    async def finish(
        self,
        item: OutboxItem,
        outcome: Outcome,
        now: datetime,
        message_ids: Sequence[str] = (),
    ) -> None: ...

    async def skip(self, item: OutboxItem, reason: str) -> None: ...

    async def watched(self) -> list[ProgressTarget]: ...

    async def set_progress_message(
        self, occurrence_id: int, message_id: str | None, finished_at: datetime | None
    ) -> None: ...
