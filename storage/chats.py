"""Her chat with the bot: the conversation state, the updates already handled (redelivery)
and the message ids kept so /wipe can delete them while the platform allows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from bot.core.messages import ChannelName
from bot.core.models import ConversationState, StaleState
from storage.connection import SqlConnection
from storage.tables import message_t, state_t, update_t

_STATE_KEY = (state_t.c.channel == bindparam("channel"), state_t.c.chat_id == bindparam("chat_id"))
_STATE = select(state_t.c.flow, state_t.c.step, state_t.c.data, state_t.c.version).where(
    *_STATE_KEY
)
# Every write of her flow state is conditional on the version it was loaded at, and moves it on.
_AT_VERSION = (
    state_t.c.channel == bindparam("b_channel"),
    state_t.c.chat_id == bindparam("b_chat"),
    state_t.c.version == bindparam("b_version"),
)
_DROP_STATE = delete(state_t).where(*_AT_VERSION, state_t.c.survey_pending.is_(None))
_EMPTY_STATE = (
    update(state_t)
    .where(*_AT_VERSION)
    .values(flow=None, step=None, data={}, version=state_t.c.version + 1)
)
_UPDATE_STATE = (
    update(state_t)
    .where(*_AT_VERSION)
    .values(
        flow=bindparam("b_flow"),
        step=bindparam("b_step"),
        data=bindparam("b_data", type_=state_t.c.data.type),
        updated_at=bindparam("b_updated_at", type_=state_t.c.updated_at.type),
        version=state_t.c.version + 1,
    )
)
_MENU_KEY = "~menu"  # ConversationState.menu, stored beside the flow's data


class _HotStatements:
    """The dialect's upserts on every update's path, built once: building one costs
    SQLAlchemy several times what running it on SQLite does."""

    def __init__(self, upsert: Any) -> None:
        self.claim_update = upsert(update_t).on_conflict_do_nothing()
        # Her first flow state: a row may already hold only survey answers (version 0), or
        # have been written meanwhile by another worker (then nothing is written: stale).
        save = upsert(state_t)
        self.first_state = save.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={
                **{c: save.excluded[c] for c in ("flow", "step", "data", "updated_at")},
                "version": state_t.c.version + 1,
            },
            where=state_t.c.version == 0,
        )


_hot_by_dialect: dict[Any, _HotStatements] = {}


def _hot_statements(upsert: Any) -> _HotStatements:
    hot = _hot_by_dialect.get(upsert)
    if hot is None:
        hot = _hot_by_dialect[upsert] = _HotStatements(upsert)
    return hot


class ConversationRepository:
    """The `Conversations` port: where she is in a flow."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._hot = _hot_statements(upsert)

    async def load(self, channel: ChannelName, chat_id: str) -> ConversationState:
        row = (
            await self.conn.execute(_STATE, {"channel": channel.value, "chat_id": chat_id})
        ).first()
        if row is None:
            return ConversationState()
        data = dict(row.data or {})
        menu = data.pop(_MENU_KEY, [])
        return ConversationState(
            flow=row.flow, step=row.step, data=data, menu=list(menu), version=row.version
        )

    async def save(
        self, channel: ChannelName, chat_id: str, state: ConversationState, now: datetime
    ) -> None:
        """Write her state if it is still at the version it was loaded at, and move the
        version on; raise StaleState (nothing written) when another save came first."""
        at = {"b_channel": channel.value, "b_chat": chat_id, "b_version": state.version}
        if state.flow is None and not state.data and not state.menu:
            dropped = await self.conn.execute(_DROP_STATE, at)
            # Survey answers of hers waiting to be counted keep the row, emptied.
            if dropped.rowcount == 0 and (await self.conn.execute(_EMPTY_STATE, at)).rowcount == 0:
                raise StaleState(channel.value)
            state.version = 0 if dropped.rowcount else state.version + 1
            return
        data = {**state.data, _MENU_KEY: state.menu} if state.menu else state.data
        if state.version == 0:
            values = {
                "channel": channel.value,
                "chat_id": chat_id,
                "flow": state.flow,
                "step": state.step,
                "data": data,
                "updated_at": now,
                "version": 1,
            }
            written = await self.conn.execute(self._hot.first_state, values)
        else:
            values = {"b_flow": state.flow, "b_step": state.step, "b_data": data}
            written = await self.conn.execute(_UPDATE_STATE, {**at, **values, "b_updated_at": now})
        if written.rowcount != 1:
            raise StaleState(channel.value)
        state.version += 1

    async def forget_stale(self, before: datetime) -> int:
        result = await self.conn.execute(delete(state_t).where(state_t.c.updated_at < before))
        return result.rowcount


class ProcessedUpdateRepository:
    """The `ProcessedUpdates` port: update ids already handled, so a redelivery is ignored."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._hot = _hot_statements(upsert)

    async def claim(self, channel: ChannelName, update_id: str, now: datetime) -> bool:
        result = await self.conn.execute(
            self._hot.claim_update,
            {"channel": channel.value, "update_id": update_id, "processed_at": now},
        )
        return result.rowcount == 1

    async def forget_before(self, before: datetime) -> int:
        result = await self.conn.execute(delete(update_t).where(update_t.c.processed_at < before))
        return result.rowcount


class ChatLogRepository:
    """The `ChatLog` port: message ids in her chat, for /wipe."""

    def __init__(self, conn: SqlConnection) -> None:
        self.conn = conn

    async def record(
        self, channel: ChannelName, chat_id: str, message_ids: Sequence[str], now: datetime
    ) -> None:
        if message_ids:
            await self.conn.execute(
                insert(message_t),
                [
                    {"channel": channel.value, "chat_id": chat_id, "message_id": m, "at": now}
                    for m in message_ids
                ],
            )

    async def recent(self, channel: ChannelName, chat_id: str, since: datetime) -> list[str]:
        rows = await self.conn.execute(
            select(message_t.c.message_id)
            .where(
                message_t.c.channel == channel.value,
                message_t.c.chat_id == chat_id,
                message_t.c.at >= since,
            )
            .order_by(message_t.c.id)
        )
        return list(rows.scalars())

    async def forget(self, channel: ChannelName, chat_id: str) -> int:
        result = await self.conn.execute(
            delete(message_t).where(
                message_t.c.channel == channel.value, message_t.c.chat_id == chat_id
            )
        )
        return result.rowcount

    async def forget_before(self, before: datetime) -> int:
        result = await self.conn.execute(delete(message_t).where(message_t.c.at < before))
        return result.rowcount
