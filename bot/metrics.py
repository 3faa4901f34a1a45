"""What an operator graphs: `/metrics` in Prometheus's text format, and nothing about anyone.

Labels are only a channel, an outcome, a status or a role: never a chat, a member, a text or
a token. Counters and timings live in the process (prometheus_client's registry, one per
process as Prometheus expects: each worker is scraped on its own); the depths of the outbox
and the inbox, and which roles this process leads, are read when scraped.

- `wasl_updates_processed_total{channel,outcome}`: updates taken from the inbox (processed,
  failed and tried again later, dropped after too many attempts), and
  `wasl_update_seconds{channel}` how long processing one took;
- `wasl_messages_sent_total{channel,outcome}`: every send, replies and broadcasts alike
  (sent, retry, unreachable, failed), `wasl_send_seconds{channel}` its round trip, and
  `wasl_rate_limited_total{channel}` the sends the platform refused with a 429;
- `wasl_outbox_rows{status}` (pending, claimed, sending) and `wasl_inbox_rows`;
- `wasl_leader{role}`: 1 where this process leads the role, 0 where it stands by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.messages import ChannelName, Outbound, SendResult
from bot.core.ports import Channel

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry()
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UPDATES = Counter(
    "wasl_updates_processed",
    "Updates taken from the inbox, by outcome",
    ["channel", "outcome"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "wasl_update_seconds",
    "Time to process one update (the core's transaction and its replies)",
    ["channel"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
SENDS = Counter(
    "wasl_messages_sent",
    "Sends to a platform (replies and broadcasts), by outcome",
    ["channel", "outcome"],
    registry=REGISTRY,
)
SEND_SECONDS = Histogram(
    "wasl_send_seconds",
    "Round trip of one send to the platform",
    ["channel"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "wasl_rate_limited",
    "Sends the platform refused for going too fast (HTTP 429)",
    ["channel"],
    registry=REGISTRY,
)


class Metered:
    """A channel whose sends are counted and timed; everything else is the channel's own."""

    def __init__(self, channel: Channel) -> None:
        self.inner = channel
        self.name: ChannelName = channel.name

    @property
    def choice_limit(self) -> int | None:
        return self.inner.choice_limit

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        started = perf_counter()
        result = await self.inner.send(chat_id, message, edit_message_id=edit_message_id)
        channel = self.name.value
        SEND_SECONDS.labels(channel).observe(perf_counter() - started)
        SENDS.labels(channel, result.status.value).inc()
        if result.retry_after:
            RATE_LIMITED.labels(channel).inc()
        return result

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        return await self.inner.delete(chat_id, message_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def metered(channels: Mapping[ChannelName, Channel]) -> dict[ChannelName, Channel]:
    return {name: Metered(channel) for name, channel in channels.items()}


class _Snapshot(Collector):
    """Gauges read from the database and the runtime at scrape time."""

    def __init__(self, outbox: Mapping[str, int], inbox: int, roles: Mapping[str, str]) -> None:
        self.outbox, self.inbox, self.roles = outbox, inbox, roles

    def collect(self) -> Iterable[Metric]:
        rows = GaugeMetricFamily(
            "wasl_outbox_rows", "Outbox rows not finished yet, by status", labels=["status"]
        )
        for status, n in sorted(self.outbox.items()):
            rows.add_metric([status], n)
        yield rows
        yield GaugeMetricFamily(
            "wasl_inbox_rows", "Updates kept and not processed yet", value=self.inbox
        )
        leader = GaugeMetricFamily(
            "wasl_leader", "1 where this process leads the role, 0 standing by", labels=["role"]
        )
        for role, state in sorted(self.roles.items()):
            leader.add_metric([role], 1 if state == "leader" else 0)
        yield leader


def exposition(outbox: Mapping[str, int], inbox: int, roles: Mapping[str, str]) -> bytes:
    """This process's counters, then the gauges given, in Prometheus's text format."""
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(outbox, inbox, roles))
    return generate_latest(REGISTRY) + generate_latest(snapshot)
