"""Replies through the outbox: written in the update's own transaction, finished after the send.

The core writes an update's replies as outbox rows already claimed by its process (one INSERT
among the update's statements), sends them right after the commit, and records how each send
ended in one UPDATE. What did not go out stays in the outbox, where the delivery worker retries
it before any broadcast; a process that dies between the commit and that UPDATE leaves its rows
claimed, and the worker takes them over (storage/outbox.py, `REPLY_STALE`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update

from bot.core.messages import ChannelName, Outbound, ReplyAttempt, SendStatus
from bot.core.outbox import REPLY_PRIORITY, OutboxStatus, Outcome, RetryPolicy
from storage.chats import ChatLogRepository
from storage.connection import SqlConnection
from storage.outbox import final_values
from storage.tables import outbox_t

_POLICY = RetryPolicy()
_FINISH: dict[tuple[str, ...], Any] = {}  # one UPDATE per set of columns final_values writes


def _finish_statement(columns: tuple[str, ...]) -> Any:
    statement = _FINISH.get(columns)
    if statement is None:
        statement = _FINISH[columns] = (
            update(outbox_t)
            .where(
                outbox_t.c.id == bindparam("row_id"),
                outbox_t.c.status == OutboxStatus.CLAIMED,  # a worker that took it over keeps it
            )
            .values({name: bindparam(f"v_{name}") for name in columns})
        )
    return statement


_ENQUEUE = insert(outbox_t).returning(outbox_t.c.id, sort_by_parameter_order=True)


def layout(message: Outbound) -> dict[str, Any] | None:
    """What an outbox row keeps of an Outbound besides its text and buttons."""
    kept: dict[str, Any] = {}
    if message.columns != 1:
        kept["columns"] = message.columns
    if message.typed:
        kept["typed"] = True
    if message.attachment is not None:
        kept["attachment"] = [message.attachment.kind.value, message.attachment.ref]
    return kept or None


class ReplyRepository:
    """The core's side of reply rows (the worker's is OutboxStore)."""

    def __init__(self, conn: SqlConnection, chat_log: ChatLogRepository) -> None:
        self.conn = conn
        self._chat_log = chat_log

    async def enqueue(
        self,
        channel: ChannelName,
        chat_id: str,
        member_id: int | None,
        messages: Sequence[tuple[Outbound, str | None]],
        now: datetime,
    ) -> list[int]:
        rows = [
            {
                "idempotency_key": f"reply:{uuid.uuid4().hex}",
                "member_id": member_id,
                "channel": channel.value,
                "chat_id": chat_id,
                "priority": REPLY_PRIORITY,
                "text": message.text,
                "buttons": [{"label": b.label, "payload": b.payload} for b in message.buttons],
                "edit_message_id": edit,
                "layout": layout(message),
                "status": OutboxStatus.CLAIMED,  # this process sends it now
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_at": now,
                "created_at": now,
            }
            for message, edit in messages
        ]
        # One row (most updates) as a plain INSERT … RETURNING; several in one executemany.
        result = await self.conn.execute(_ENQUEUE, rows[0] if len(rows) == 1 else rows)
        return list(result.scalars())

    async def finish(
        self,
        channel: ChannelName,
        chat_id: str,
        attempts: Sequence[ReplyAttempt],
        now: datetime,
        *,
        remember: bool,
    ) -> None:
        """Record how the fast path's sends ended, in one statement: what did not go out is
        left to the delivery worker. `remember`: keep the sent ids for /wipe."""
        shown = await self._settle(attempts, now)
        if remember and shown:
            await self._chat_log.record(channel, chat_id, shown, now)

    async def _settle(self, attempts: Sequence[ReplyAttempt], now: datetime) -> list[str]:
        """One UPDATE for every row; returns the message ids the sends left in her chat."""
        blocked = any(
            a.result is not None and a.result.status is SendStatus.UNREACHABLE for a in attempts
        )
        outcomes = [
            _POLICY.outcome(a.result, 1, now) if a.result is not None else None for a in attempts
        ]
        # The rows after a failed one wait for it, so the worker keeps them in order.
        resume_at = max((o.retry_at for o in outcomes if o and o.retry_at), default=now)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        shown: list[str] = []
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            result = attempt.result
            if result is None or outcome is None:  # not tried: left to the worker
                left = (
                    Outcome(OutboxStatus.SKIPPED, error="unreachable")
                    if blocked
                    else Outcome(OutboxStatus.PENDING, retry_at=resume_at)
                )
                values = final_values(left, 0, now)
            else:
                values = final_values(outcome, 1, now, result.all_ids)
                if result.status is SendStatus.SENT:
                    shown += [m for m in result.all_ids if m != attempt.edit_message_id]
            columns = tuple(sorted(values))
            row = {"row_id": attempt.row_id, **{f"v_{k}": v for k, v in values.items()}}
            groups.setdefault(columns, []).append(row)
        for columns, rows in groups.items():  # one group, one UPDATE, in the usual case
            await self.conn.execute(
                _finish_statement(columns), rows[0] if len(rows) == 1 else rows
            )
        return shown
