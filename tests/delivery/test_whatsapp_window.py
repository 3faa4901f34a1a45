"""WhatsApp's 24-hour window in the delivery worker: free-form inside it, the campaign's
template outside it, and "needs template" (never silently dropped) when there is none.
Delivery statuses from webhooks then update the rows."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from bot.channels.whatsapp import OUTSIDE_WINDOW, WhatsAppChannel
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.outbox import OutboxStatus
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from storage.outbox import OutboxStore
from storage.store import SqlStore
from storage.tables import member_t, outbox_t

WA = ChannelName.WHATSAPP


async def test_inside_outside_and_without_template(store: SqlStore) -> None:
    clock = FixedClock()
    now = clock.now()
    sent: list[dict[str, Any]] = []

    def graph(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"messages": [{"id": f"wamid.{len(sent)}"}]})

    async with store.transaction() as tx:
        for wa_id in ("111", "222"):
            await tx.members.create(
                NewMember(WA, wa_id, wa_id, "ar", "IQ", ["youth"], Role.MEMBER, "v", now), now
            )
        # 222 last wrote two days ago: outside the window.
        await tx.conn.execute(
            update(member_t)
            .where(member_t.c.platform_id == "222")
            .values(last_seen_at=now - timedelta(days=2))
        )
        for template in ("alliance_update", None):
            campaign = await tx.campaigns.create(
                NewCampaign(
                    kind=CampaignKind.CAMPAIGN,
                    status=CampaignStatus.SCHEDULED,
                    title="t",
                    texts={"ar": "مرحبا"},
                    default_locale="ar",
                    audience=Audience(),
                    schedule="now",
                    template_name=template,
                    template_language="ar",
                ),
                now,
            )
            await tx.campaigns.fire(campaign, "once", now)

    client = httpx.AsyncClient(transport=httpx.MockTransport(graph))
    channel = WhatsAppChannel(client, "https://graph.test/v21.0", "1", "token")
    outbox = OutboxStore(store)
    worker = DeliveryWorker(outbox, {WA: channel}, {WA: RateLimiter(80)}, clock)
    while await worker.drain_once():
        pass
    kinds = sorted((b["to"], b["type"]) for b in sent)
    assert kinds == [("111", "text"), ("111", "text"), ("222", "template")]
    template = next(b for b in sent if b["type"] == "template")["template"]
    assert template["name"] == "alliance_update"
    assert template["components"][0]["parameters"][0]["text"] == "مرحبا"

    async with store.transaction() as tx:
        rows = {
            (r.member_id, r.campaign_id): (r.status, r.last_error, r.platform_message_id)
            for r in await tx.conn.execute(select(outbox_t))
        }
    needs = [v for v in rows.values() if v[0] == OutboxStatus.NEEDS_TEMPLATE]
    assert len(needs) == 1 and "no template" in str(needs[0][1])

    # A status webhook: the template to 222 failed as outside the window after all.
    template_row = next(v for k, v in rows.items() if v[0] == OutboxStatus.SENT and k[0] == 2)
    changed = await outbox.record_status(str(template_row[2]), "failed", "whatsapp 131047", True)
    assert changed == 1
    assert await outbox.record_status("wamid.unknown", "read", None, False) == 0
    async with store.transaction() as tx:
        statuses = sorted(r.status for r in await tx.conn.execute(select(outbox_t.c.status)))
    assert statuses.count(OutboxStatus.NEEDS_TEMPLATE) == 2
    assert OUTSIDE_WINDOW == 131047
    await client.aclose()
