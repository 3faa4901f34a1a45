"""Deleting what we no longer need: old update ids, old message ids, abandoned conversations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from storage.store import SqlStore
from storage.tables import outbox_t


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of short-lived record is kept."""

    # WhatsApp retries webhooks for days, Telegram keeps updates 24 h: two weeks covers both.
    processed_updates: timedelta = timedelta(days=14)
    # Telegram lets a bot delete messages for 48 hours; past that /wipe cannot use the id.
    chat_messages: timedelta = timedelta(hours=48)
    # A joining or other conversation left half-way is forgotten (it may hold her chat id).
    stale_states: timedelta = timedelta(days=30)
    # WhatsApp's delivery statuses come within days; its message ids carry her number.
    outbox_message_ids: timedelta = timedelta(days=14)
    # An introduction over (answered, withdrawn, expired) is kept a while for the limits on
    # requests, then goes with the messages about it.
    introductions: timedelta = timedelta(days=30)


async def purge_expired(
    store: SqlStore, now: datetime, policy: RetentionPolicy | None = None
) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind went."""
    policy = policy or RetentionPolicy()
    async with store.transaction() as tx:
        ids = await tx.conn.execute(
            update(outbox_t)
            .where(
                outbox_t.c.platform_message_id.is_not(None),
                outbox_t.c.sent_at < now - policy.outbox_message_ids,
            )
            .values(platform_message_id=None)
        )
        counts = {
            "processed_updates": await tx.processed.forget_before(now - policy.processed_updates),
            "chat_messages": await tx.chat_log.forget_before(now - policy.chat_messages),
            "stale_states": await tx.conversations.forget_stale(now - policy.stale_states),
            "dashboard_links": await tx.dashboard_links.forget_expired(now),
            "outbox_message_ids": ids.rowcount,
            "introductions": await tx.peers.forget_ended(now - policy.introductions, now),
        }
    await store.scrub()
    return counts
