"""The delivery worker's side of the outbox: recover, claim, mark, finish."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update

from bot.core.messages import ChannelName
from bot.core.models import MemberStatus
from bot.core.outbox import (
    REPLY_PRIORITY,
    Finished,
    OutboxItem,
    OutboxStatus,
    Outcome,
    ProgressTarget,
)
from storage.connection import SqlConnection
from storage.tables import campaign_t, member_t, occurrence_t, outbox_t

if TYPE_CHECKING:  # storage.store imports this module (replies share final_values)
    from storage.store import SqlStore, SqlTransaction

# A reply the fast path claimed but never finished (its process died before the store
# answered): the delivery worker takes it over after this long.
REPLY_STALE = timedelta(seconds=60)
# Written by the statement that makes a row final (OutboxStatus.DONE): the text, buttons and chat
# id were for her chat only; status, channel, campaign, times and error stay for the reports.
EMPTIED: dict[str, Any] = {"text": "", "buttons": [], "chat_id": None, "edit_message_id": None}
# WhatsApp sends no status after these: the message id is no longer needed.
LAST_STATUSES = frozenset({"read", "failed"})


class OutboxStore:
    """The outbox port (bot.core.outbox.Outbox) on SQL: operations, each its own short
    transaction (a crash leaves a known state).

    Through the store's transactions, like every other write: on SQLite they are serialised
    with the updates' transactions and run inline (storage/store.py).
    """

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[SqlConnection]:
        async with self.store.transaction() as tx:
            yield tx.conn

    async def recover(self, channels: Collection[ChannelName] | None = None) -> dict[str, int]:
        """At start: rows left claimed or in flight by a stopped worker go back to pending.

        One delivery worker runs at a time (a leader: docs/architecture.md), so nothing else
        holds them.
        A row that was "sending" may have reached her before the crash: the one possible repeat.
        """
        counts = {}
        async with self._begin() as conn:
            for status in (OutboxStatus.CLAIMED, OutboxStatus.SENDING):
                result = await conn.execute(
                    update(outbox_t)
                    .where(outbox_t.c.status == status, *_of(channels))
                    .values(status=OutboxStatus.PENDING, claimed_at=None)
                )
                counts[status] = result.rowcount
        return counts

    async def claim(
        self, now: datetime, limit: int, channels: Collection[ChannelName] | None = None
    ) -> list[OutboxItem]:
        """Take up to `limit` due rows of `channels` (None: all), most urgent first (replies,
        then alerts…), and replies that a process claimed for its fast path but never
        finished. Rows of a channel this process does not have wait for one that has it."""
        stale_reply = and_(
            outbox_t.c.status == OutboxStatus.CLAIMED,
            outbox_t.c.priority == REPLY_PRIORITY,
            outbox_t.c.claimed_at <= now - REPLY_STALE,
        )
        due = (
            select(outbox_t.c.id)
            .where(
                or_(
                    and_(
                        outbox_t.c.status == OutboxStatus.PENDING,
                        outbox_t.c.next_attempt_at <= now,
                    ),
                    stale_reply,
                ),
                *_of(channels),
            )
            .order_by(outbox_t.c.priority, outbox_t.c.id)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        async with self._begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        update(outbox_t)
                        .where(outbox_t.c.id.in_(due.scalar_subquery()))
                        .values(status=OutboxStatus.CLAIMED, claimed_at=now)
                        .returning(outbox_t.c.id)
                    )
                ).scalars()
            )
            if not ids:
                return []
            rows = await conn.execute(
                select(
                    outbox_t.c.id,
                    outbox_t.c.member_id,
                    outbox_t.c.channel,
                    outbox_t.c.text,
                    outbox_t.c.buttons,
                    outbox_t.c.attempts,
                    outbox_t.c.occurrence_id,
                    outbox_t.c.priority,
                    outbox_t.c.edit_message_id,
                    outbox_t.c.layout,
                    outbox_t.c.attempted_at,
                    func.coalesce(outbox_t.c.chat_id, member_t.c.chat_id).label("chat_id"),
                    # a reply goes out whatever her broadcast status (paused included)
                    case(
                        (outbox_t.c.priority == REPLY_PRIORITY, MemberStatus.ACTIVE.value),
                        else_=member_t.c.status,
                    ).label("member_status"),
                    member_t.c.last_seen_at,
                    campaign_t.c.template_name,
                    campaign_t.c.template_language,
                )
                .outerjoin(member_t, member_t.c.id == outbox_t.c.member_id)
                .outerjoin(campaign_t, campaign_t.c.id == outbox_t.c.campaign_id)
                .where(outbox_t.c.id.in_(ids))
                .order_by(outbox_t.c.priority, outbox_t.c.id)
            )
            return [_item(row) for row in rows]

    async def due_count(
        self, now: datetime, channels: Collection[ChannelName] | None = None
    ) -> int:
        """Rows due now that are not finished yet (pending, claimed or in flight)."""
        waiting = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)
        async with self._begin() as conn:
            result = await conn.execute(
                select(func.count())
                .select_from(outbox_t)
                .where(
                    outbox_t.c.status.in_(waiting),
                    outbox_t.c.next_attempt_at <= now,
                    *_of(channels),
                )
            )
            return int(result.scalar_one())

    async def depth(self) -> dict[str, int]:
        """Rows not finished yet, by status (pending, claimed, sending): /metrics."""
        waiting = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)
        counts = dict.fromkeys(waiting, 0)
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox_t.c.status, func.count())
                .where(outbox_t.c.status.in_(waiting))
                .group_by(outbox_t.c.status)
            )
            counts.update({status: int(n) for status, n in rows})
        return counts

    async def unfinished_by_channel(self, campaign_id: int) -> dict[str, int]:
        """A campaign's rows not yet finished (pending, claimed or in flight), by channel."""
        waiting = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)
        async with self._begin() as conn:
            rows = await conn.execute(
                select(outbox_t.c.channel, func.count())
                .where(outbox_t.c.campaign_id == campaign_id, outbox_t.c.status.in_(waiting))
                .group_by(outbox_t.c.channel)
            )
            return {channel: int(n) for channel, n in rows}

    async def mark_sending(self, row_id: int, finished: Sequence[Finished] = ()) -> bool:
        """Written just before the API call: from here on, the row may have been sent.

        False, and nothing written, when the row must not go out any more: its campaign was
        cancelled, or she paused or became unreachable, after the batch was claimed.
        `finished`: the outcomes of sends that ended meanwhile, recorded in the same transaction
        (one commit per send instead of two; a crash still leaves only the rows in flight, or
        answered but not yet recorded, as "sending").
        """
        active = exists().where(
            member_t.c.id == outbox_t.c.member_id,
            member_t.c.status == MemberStatus.ACTIVE.value,
        )
        async with self.store.transaction() as tx:
            conn = tx.conn
            for done in finished:
                await _record(tx, done)
            result = await conn.execute(
                update(outbox_t)
                .where(
                    outbox_t.c.id == row_id,
                    outbox_t.c.status == OutboxStatus.CLAIMED,
                    or_(outbox_t.c.priority == REPLY_PRIORITY, active),
                )
                .values(status=OutboxStatus.SENDING)
            )
            return result.rowcount == 1

    async def finish(
        self,
        item: OutboxItem,
        outcome: Outcome,
        now: datetime,
        message_ids: Sequence[str] = (),
    ) -> None:
        """Record how the send ended; an unreachable member stops receiving anything.

        `message_ids` are the messages the send left in her chat (the last one carries the
        delivery statuses); they are remembered so /wipe can delete an alert from her phone.
        """
        await self.finish_many([Finished(item, outcome, now, message_ids)])

    async def finish_many(self, finished: Sequence[Finished]) -> None:
        """Record how several sends ended, in one transaction."""
        if not finished:
            return
        async with self.store.transaction() as tx:
            for done in finished:
                await _record(tx, done)

    async def record_status(
        self, message_id: str, status: str, error: str | None, outside_window: bool
    ) -> int:
        """A platform delivery status (WhatsApp webhooks) for a row we sent."""
        values: dict[str, Any] = {"delivery_status": status}
        if status == "failed":
            values["status"] = (
                OutboxStatus.NEEDS_TEMPLATE if outside_window else OutboxStatus.FAILED
            )
            values["last_error"] = (error or "failed")[:200]
            values.update(EMPTIED)
        if status in LAST_STATUSES:
            values["platform_message_id"] = None  # WhatsApp's ids carry her number
        async with self._begin() as conn:
            result = await conn.execute(
                update(outbox_t)
                .where(outbox_t.c.platform_message_id == message_id)
                .values(**values)
            )
            return result.rowcount

    async def skip(self, item: OutboxItem, reason: str) -> None:
        """Not sent, on purpose (she paused or became unreachable before her turn)."""
        async with self._begin() as conn:
            await conn.execute(
                update(outbox_t)
                .where(outbox_t.c.id == item.id, outbox_t.c.status == OutboxStatus.CLAIMED)
                .values(status=OutboxStatus.SKIPPED, last_error=reason, claimed_at=None, **EMPTIED)
            )

    async def release(self, items: list[OutboxItem]) -> None:
        """Give claimed rows back (a stopping worker), untouched."""
        if not items:
            return
        async with self._begin() as conn:
            await conn.execute(
                update(outbox_t)
                .where(
                    outbox_t.c.id.in_([i.id for i in items]),
                    outbox_t.c.status == OutboxStatus.CLAIMED,
                )
                .values(status=OutboxStatus.PENDING, claimed_at=None)
            )

    async def watched(self) -> list[ProgressTarget]:
        """Unfinished occurrences with a coordinator watching their progress."""
        async with self._begin() as conn:
            rows = await conn.execute(
                select(occurrence_t).where(
                    and_(
                        occurrence_t.c.progress_chat.is_not(None),
                        occurrence_t.c.finished_at.is_(None),
                    )
                )
            )
            return [
                ProgressTarget(
                    occurrence_id=r.id,
                    campaign_id=r.campaign_id,
                    channel=ChannelName(r.progress_channel),
                    chat_id=r.progress_chat,
                    message_id=r.progress_message_id,
                    locale=r.progress_locale or "en",
                )
                for r in rows
            ]

    async def set_progress_message(
        self, occurrence_id: int, message_id: str | None, finished_at: datetime | None
    ) -> None:
        async with self._begin() as conn:
            await conn.execute(
                update(occurrence_t)
                .where(occurrence_t.c.id == occurrence_id)
                .values(progress_message_id=message_id, finished_at=finished_at)
            )


def _of(channels: Collection[ChannelName] | None) -> tuple[ColumnElement[bool], ...]:
    """The condition "of one of `channels`" (none when every channel is meant)."""
    if channels is None:
        return ()
    return (outbox_t.c.channel.in_([c.value for c in channels]),)


async def _record(tx: SqlTransaction, done: Finished) -> None:
    """How one send ended, inside `tx` (a storage transaction)."""
    item, outcome, now = done.item, done.outcome, done.now
    values = final_values(outcome, item.attempts + 1, now, done.message_ids)
    if outcome.status == OutboxStatus.SENT and item.member_id is not None:
        kept = [m for m in done.message_ids if m != item.edit_message_id]
        await tx.chat_log.record(item.channel, item.chat_id, kept, now)
    # Only a row still in this worker's hands: a cancel that landed meanwhile stays.
    in_hand = outbox_t.c.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING])
    await tx.conn.execute(
        update(outbox_t).where(outbox_t.c.id == item.id, in_hand).values(**values)
    )
    if outcome.status == OutboxStatus.UNREACHABLE and item.member_id is not None:
        await tx.conn.execute(
            update(member_t)
            .where(member_t.c.id == item.member_id)
            .values(status=MemberStatus.UNREACHABLE.value)
        )


def final_values(
    outcome: Outcome, attempts: int, now: datetime, message_ids: Sequence[str] = ()
) -> dict[str, Any]:
    """The columns a finished send writes to its row (the worker's and the fast path's)."""
    values: dict[str, Any] = {
        "status": outcome.status,
        "attempts": attempts,
        "last_error": (outcome.error or None) and outcome.error[:200],
        "claimed_at": None,
    }
    if outcome.status == OutboxStatus.SENT:
        values["sent_at"] = now
        values["platform_message_id"] = message_ids[-1] if message_ids else None
    if outcome.retry_at is not None:
        values["next_attempt_at"] = outcome.retry_at
    if outcome.may_have_arrived:
        values["attempted_at"] = now
    if outcome.status in OutboxStatus.DONE:
        values.update(EMPTIED)
    return values


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        member_id=row.member_id,
        channel=ChannelName(row.channel),
        chat_id=row.chat_id,
        member_status=MemberStatus(row.member_status),
        text=row.text,
        buttons=list(row.buttons or []),
        attempts=row.attempts,
        occurrence_id=row.occurrence_id,
        last_seen_at=row.last_seen_at,
        template_name=row.template_name,
        template_language=row.template_language,
        priority=row.priority,
        edit_message_id=row.edit_message_id,
        layout=row.layout,
        attempted_at=row.attempted_at,
    )
