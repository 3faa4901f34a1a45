"""The tables. Schema changes go through Alembic migrations (storage/migrations), never create_all.

Survey answers (later) live in tables with no link to these: see DESIGN.md invariant 3.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

metadata = SQLModel.metadata


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class MemberRow(SQLModel, table=True):
    """A person who joined. Unique per channel and platform id."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("channel", "platform_id", name="uq_member_channel_pid"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    platform_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    country: str | None = Field(default=None, max_length=2, index=True)
    role: str = Field(max_length=16, index=True)
    status: str = Field(max_length=16, index=True)
    timezone: str | None = Field(default=None, max_length=64)
    consent_version: str = Field(max_length=16)
    consented_at: datetime = _when()
    joined_at: datetime = _when()
    last_seen_at: datetime = _when()


class MemberSphereRow(SQLModel, table=True):
    """The spheres of work a member chose (a row each, so targeting and counts stay in SQL)."""

    __tablename__ = "member_sphere"

    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    )
    sphere: str = Field(primary_key=True, max_length=32, index=True)


class InviteRow(SQLModel, table=True):
    """An invitation code (the deep-link payload)."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    country: str | None = Field(default=None, max_length=2)
    uses_left: int
    expires_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    created_by: str = Field(max_length=64)


class ConversationStateRow(SQLModel, table=True):
    """Where a chat is in a conversation; survives restarts and is shared by workers."""

    __tablename__ = "conversation_state"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    flow: str | None = Field(default=None, max_length=32)
    step: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _when(index=True)


class ProcessedUpdateRow(SQLModel, table=True):
    """Platform update ids already handled, so a redelivery is handled once."""

    __tablename__ = "processed_update"

    channel: str = Field(primary_key=True, max_length=16)
    update_id: str = Field(primary_key=True, max_length=128)
    processed_at: datetime = _when(index=True)


class AuditLogRow(SQLModel, table=True):
    """Who did what: coordinator, secretariat and admin actions, role changes, invites."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str = Field(max_length=64)
    actor_member_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    subject_member_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("member.id", ondelete="SET NULL"), nullable=True),
    )
    action: str = Field(max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ChatMessageRow(SQLModel, table=True):
    """Recent message ids in a member's chat, so /wipe can delete them (kept under 48 hours)."""

    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_chat", "channel", "chat_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    at: datetime = _when()
