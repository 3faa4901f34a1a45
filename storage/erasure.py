"""What goes with a field update: the copies of its words elsewhere (/forget and retention).

An update's words are copied when it is passed on: into the urgent notice to coordinators (the
campaign's texts, in every language, and its outbox rows), into the weekly digest's outbox rows,
and into a tip draft. Each copy records where it came from (campaign.source_update_id,
outbox_source, tip.from_update_id), and `erase_copies` removes them with the update, in the
same transaction: rows still waiting to be sent are deleted, rows already final lost their text
when they became final (storage/outbox.py), notice texts are blanked and unpublished tip drafts
deleted. One function for /forget and for the retention job, so neither can forget a copy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, cast, delete, or_, select, update

from bot.core.outbox import OutboxStatus
from storage.connection import SqlConnection
from storage.tables import campaign_t, outbox_source_t, outbox_t, tip_t

CHUNK = 500
BLANK_TEXTS = {"en": ""}  # Campaign.text_for needs one language


async def erase_copies(
    conn: SqlConnection, update_ids: Sequence[int], *, published_tips: bool
) -> dict[str, int]:
    """Remove every copy of these updates' words; returns how many rows of each kind changed.

    `published_tips`: a tip an admin published from one of them goes too (/forget: her words,
    her request). Retention keeps a published tip: an admin made it the alliance's own text.
    """
    counts = {"outbox_pending": 0, "outbox_final": 0, "notices": 0, "tip_drafts": 0}
    ids = sorted(set(update_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        notices = select(campaign_t.c.id).where(campaign_t.c.source_update_id.in_(chunk))
        quoting = or_(
            outbox_t.c.campaign_id.in_(notices.scalar_subquery()),
            outbox_t.c.id.in_(
                select(outbox_source_t.c.outbox_id)
                .where(outbox_source_t.c.update_id.in_(chunk))
                .scalar_subquery()
            ),
        )
        done = outbox_t.c.status.in_(sorted(OutboxStatus.DONE))
        # Final rows lost their text already; a row from before that rule, or one finalised by
        # hand, is emptied here all the same.
        result = await conn.execute(
            update(outbox_t).where(quoting, done).values(text="", buttons=[])
        )
        counts["outbox_final"] += result.rowcount
        # Not sent yet (pending, claimed, even in flight: a crash would put it back to pending).
        result = await conn.execute(delete(outbox_t).where(quoting, ~done))
        counts["outbox_pending"] += result.rowcount
        # The notice keeps its audience (for the counts) but not the author's id in `exclude`.
        found = await conn.execute(
            select(campaign_t.c.id, campaign_t.c.audience).where(
                campaign_t.c.source_update_id.in_(chunk)
            )
        )
        for campaign_id, raw in found.all():
            audience = {**_json(raw), "exclude": []}
            await conn.execute(
                update(campaign_t)
                .where(campaign_t.c.id == campaign_id)
                .values(texts=BLANK_TEXTS, audience=audience, source_update_id=None)
            )
            counts["notices"] += 1
        drafts = tip_t.c.from_update_id.in_(chunk)
        if not published_tips:
            drafts = drafts & tip_t.c.published.is_(False)
        counts["tip_drafts"] += (await conn.execute(delete(tip_t).where(drafts))).rowcount
    return counts


async def forget_member_id(conn: SqlConnection, member_id: int) -> int:
    """Take an erased member's id out of every campaign audience's `exclude` list.

    Returns how many campaigns changed. The JSON is read as text first (cheap, portable), then
    checked exactly, so 12 does not touch a list holding 120.
    """
    rows = await conn.execute(
        select(campaign_t.c.id, campaign_t.c.audience).where(
            cast(campaign_t.c.audience, String).like(f"%{member_id}%")
        )
    )
    changed = 0
    for campaign_id, raw in rows.all():
        data = _json(raw)
        exclude = [m for m in data.get("exclude", []) if m != member_id]
        if len(exclude) == len(data.get("exclude", [])):
            continue
        await conn.execute(
            update(campaign_t)
            .where(campaign_t.c.id == campaign_id)
            .values(audience={**data, "exclude": exclude})
        )
        changed += 1
    return changed


def _json(raw: Any) -> dict[str, Any]:
    data = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    return dict(data)
