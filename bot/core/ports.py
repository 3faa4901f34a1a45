"""The small interfaces the core and handlers depend on; storage and channels implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.core.campaigns import (
    Audience,
    Campaign,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    Progress,
)
from bot.core.messages import ChannelName, Outbound, ReplyAttempt, SendResult
from bot.core.models import ConversationState, Invite, Member, MemberStatus, NewMember, Role
from bot.core.reports import Reports
from bot.core.surveys import Surveys
from bot.core.tips import Tips
from bot.core.updates import Updates


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What /forget removed, by kind (counts only: nothing that names her)."""

    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class KeptAbout:
    """What /mydata lists besides her profile: what she did, dated or counted, never a text
    (her updates' words are not repeated on a phone that may be inspected)."""

    updates: list[tuple[datetime, str]]  # (sent at, status), newest first
    surveys: list[tuple[int, str]]  # (survey id, participation status)
    tips_rated: int
    invites_created: int
    dashboard_links: int  # still valid
    pending_messages: int  # in the outbox, not sent yet


class Campaigns(Protocol):
    """Campaign reads and writes (storage.campaigns.CampaignRepository)."""

    async def audience_by_locale(self, audience: Audience) -> dict[str, int]: ...

    async def create(
        self,
        *,
        kind: CampaignKind,
        status: CampaignStatus,
        title: str,
        texts: dict[str, str],
        default_locale: str,
        audience: Audience,
        schedule: str,
        now: datetime,
        run_at: datetime | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        created_by: int | None = None,
        buttons: Sequence[CampaignButton] = (),
        template_name: str | None = None,
        template_language: str | None = None,
        source_update_id: int | None = None,
    ) -> Campaign: ...

    async def get(self, campaign_id: int) -> Campaign | None: ...

    async def find(
        self, statuses: Sequence[CampaignStatus] = (), limit: int = 50
    ) -> list[Campaign]: ...

    async def last_fired(self, campaign_id: int) -> datetime | None: ...

    async def set_status(
        self,
        campaign_id: int,
        status: CampaignStatus,
        now: datetime,
        *,
        approved_by: int | None = None,
    ) -> None: ...

    async def cancel(self, campaign_id: int, now: datetime) -> int: ...

    async def fire(
        self,
        campaign: Campaign,
        key: str,
        now: datetime,
        *,
        progress_channel: str | None = None,
        progress_chat: str | None = None,
        progress_locale: str | None = None,
    ) -> tuple[int, int] | None: ...

    async def fire_personal(
        self,
        campaign: Campaign,
        key: str,
        now: datetime,
        messages: Sequence[tuple[int, str, str]],
        sources: Mapping[int, Sequence[int]] | None = None,
    ) -> tuple[int, int] | None: ...

    async def progress(self, campaign_id: int, occurrence_id: int | None = None) -> Progress: ...

    async def failure_reasons(self, campaign_id: int) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """A member as an operator's list shows her: no platform id, no phone number, no chat."""

    id: int
    channel: ChannelName
    role: Role
    country: str | None
    locale: str
    status: MemberStatus
    joined_at: datetime


class Transaction(Protocol):
    """One unit of work: everything done through it commits together or not at all."""

    @property
    def campaigns(self) -> Campaigns: ...

    @property
    def tips(self) -> Tips: ...

    @property
    def updates(self) -> Updates: ...

    @property
    def surveys(self) -> Surveys: ...

    @property
    def reports(self) -> Reports: ...

    async def claim_update(self, channel: ChannelName, update_id: str, now: datetime) -> bool:
        """Record an update id; False when it was already handled (a redelivery)."""

    async def get_member(self, channel: ChannelName, platform_id: str) -> Member | None: ...

    async def get_member_by_id(self, member_id: int) -> Member | None: ...

    async def create_member(self, new: NewMember, now: datetime) -> Member: ...

    async def save_member(self, member: Member, *, spheres_changed: bool = True) -> None:
        """Write back locale, country, role, status, timezone, last seen (and spheres)."""

    async def set_status(
        self, channel: ChannelName, platform_id: str, status: MemberStatus
    ) -> None: ...

    async def set_role(self, member_id: int, role: Role) -> None: ...

    async def list_members(
        self, *, role: Role | None = None, country: str | None = None, limit: int = 1000
    ) -> list[MemberSummary]:
        """Members by id, optionally of one role or country (no platform ids)."""

    async def kept_about(self, member: Member, now: datetime) -> KeptAbout: ...

    async def erase_member(self, member: Member) -> ErasureReport:
        """Delete her and everything linked to her; pseudonymise audit entries about her."""

    async def load_state(self, channel: ChannelName, chat_id: str) -> ConversationState: ...

    async def save_state(
        self, channel: ChannelName, chat_id: str, state: ConversationState, now: datetime
    ) -> None:
        """Persist her state; an empty state deletes the row."""

    async def get_invite(self, code: str) -> Invite | None: ...

    async def get_invite_by_id(self, invite_id: int) -> Invite | None: ...

    async def list_invites(self, created_by: str | None = None, limit: int = 100) -> list[Invite]:
        """The newest invitations first; only those `created_by` made, when given."""

    async def use_invite(self, invite_id: int, now: datetime | None = None) -> bool:
        """Take one use of an invite; False when none was left (or, given `now`, when it has
        expired or was revoked)."""

    async def revoke_invite(self, invite_id: int, now: datetime) -> bool:
        """Revoke an invitation; False when it was already revoked (or does not exist)."""

    async def create_invite(
        self,
        *,
        code: str,
        role: Role,
        country: str | None,
        uses: int,
        expires_at: datetime | None,
        created_by: str,
        now: datetime,
    ) -> Invite: ...

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        now: datetime,
        subject_member_id: int | None = None,
        actor_member_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append to the audit log (coordinator, secretariat and admin actions, role changes)."""

    async def record_messages(
        self, channel: ChannelName, chat_id: str, message_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember message ids in her chat, so /wipe can delete them while the platform allows."""

    async def recent_messages(
        self, channel: ChannelName, chat_id: str, since: datetime
    ) -> list[str]: ...

    async def enqueue_replies(
        self,
        channel: ChannelName,
        chat_id: str,
        member_id: int | None,
        messages: Sequence[tuple[Outbound, str | None]],
        now: datetime,
    ) -> list[int]:
        """Write replies (each with the message it edits) as outbox rows already claimed by
        this process, in one statement; returns their ids in order."""

    async def finish_replies(
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

    async def forget_messages(self, channel: ChannelName, chat_id: str) -> int: ...

    async def create_dashboard_link(
        self, member_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        """Remember a dashboard link (by the hash of its token) for one member."""

    async def dashboard_member(self, token_hash: str, now: datetime) -> Member | None:
        """The member whose unexpired dashboard link this is; None otherwise."""


class Store(Protocol):
    """Opens transactions."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def scrub(self) -> None:
        """After an erasure has committed: make the deleted data leave the files as well."""


class Channel(Protocol):
    """What the core needs from a channel adapter to answer a person."""

    name: ChannelName

    @property
    def choice_limit(self) -> int | None:
        """The most choices the platform shows as buttons; past it the adapter sends a numbered
        text menu, answered by number (the core remembers it). None: no limit."""

    async def send(
        self, chat_id: str, message: Outbound, *, edit_message_id: str | None = None
    ) -> SendResult:
        """Send (or edit, when asked) one message; platform errors come back as a SendResult."""

    async def delete(self, chat_id: str, message_ids: Sequence[str]) -> int:
        """Delete messages the platform still allows deleting; returns how many went."""
