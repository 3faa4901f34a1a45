"""The small interfaces the core and handlers depend on; storage and channels implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.core.campaigns import (
    Audience,
    Campaign,
    CampaignStatus,
    NewCampaign,
    Progress,
)
from bot.core.messages import ChannelName, Outbound, ReplyAttempt, SendResult
from bot.core.models import ConversationState, Invite, Member, MemberStatus, NewMember, Role
from bot.core.peers import Peers
from bot.core.reports import Reports
from bot.core.surveys import Surveys
from bot.core.tips import Tips
from bot.core.updates import Updates

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What /forget removed, by kind (counts only: nothing that names her)."""

    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class KeptAbout:
    """What /mydata lists besides her profile: what she did, dated or counted, never a text
    (her updates' words are not repeated on a phone that may be inspected)."""

    # (sent at, status, whether she agreed it may be quoted in briefs), newest first
    updates: list[tuple[datetime, str, bool]]
    surveys: list[tuple[int, str]]  # (survey id, participation status)
    tips_rated: int
    invites_created: int
    dashboard_links: int  # still valid
    pending_messages: int  # in the outbox, not sent yet
    peer_lines: int = 0  # her lines about her work, shown to peers (/peers)
    introductions: int = 0  # introductions she asked for or was asked, kept a while


class Campaigns(Protocol):
    """Campaign reads and writes (storage.campaigns.CampaignRepository)."""

    async def audience_by_locale(self, audience: Audience) -> dict[str, int]: ...

    async def create(self, new: NewCampaign, now: datetime) -> Campaign: ...

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
        buttons: Mapping[int, Sequence[tuple[str, str]]] | None = None,
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


class Members(Protocol):
    """Members: her row and spheres; what is kept about her; her erasure."""

    async def get(self, channel: ChannelName, platform_id: str) -> Member | None: ...

    async def by_id(self, member_id: int) -> Member | None: ...

    async def create(self, new: NewMember, now: datetime) -> Member: ...

    async def taken(self, channel: ChannelName, platform_ids: Sequence[str]) -> set[str]: ...

    async def create_many(self, news: Sequence[NewMember], now: datetime) -> list[int]: ...

    async def save(self, member: Member, *, spheres_changed: bool = True) -> None:
        """Write back locale, second language, country, role, status, timezone, last seen (and
        spheres)."""

    async def set_status(
        self, channel: ChannelName, platform_id: str, status: MemberStatus
    ) -> None: ...

    async def set_role(self, member_id: int, role: Role) -> None: ...

    async def summaries(
        self, *, role: Role | None = None, country: str | None = None, limit: int = 1000
    ) -> list[MemberSummary]:
        """Members by id, optionally of one role or country (no platform ids)."""

    async def kept_about(self, member: Member, now: datetime) -> KeptAbout: ...

    async def erase(self, member: Member) -> ErasureReport:
        """Delete her and everything linked to her; pseudonymise audit entries about her."""


class Invites(Protocol):
    """Invitation codes."""

    async def get(self, code: str) -> Invite | None: ...

    async def by_id(self, invite_id: int) -> Invite | None: ...

    async def list(self, created_by: str | None = None, limit: int = 100) -> list[Invite]:
        """The newest invitations first; only those `created_by` made, when given."""

    async def use(self, invite_id: int, now: datetime | None = None) -> bool:
        """Take one use of an invite; False when none was left (or, given `now`, when it has
        expired or was revoked)."""

    async def revoke(self, invite_id: int, now: datetime) -> bool:
        """Revoke an invitation; False when it was already revoked (or does not exist)."""

    async def create(
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


class Conversations(Protocol):
    """Where each chat is in a flow."""

    async def load(self, channel: ChannelName, chat_id: str) -> ConversationState: ...

    async def save(
        self, channel: ChannelName, chat_id: str, state: ConversationState, now: datetime
    ) -> None:
        """Persist her state; an empty state deletes the row. Raises StaleState when the
        stored state is no longer the version `state` was loaded at."""


class ProcessedUpdates(Protocol):
    """Update ids already handled."""

    async def claim(self, channel: ChannelName, update_id: str, now: datetime) -> bool:
        """Record an update id; False when it was already handled (a redelivery)."""


class ChatLog(Protocol):
    """Message ids in her chat, so /wipe can delete them while the platform allows."""

    async def record(
        self, channel: ChannelName, chat_id: str, message_ids: Sequence[str], now: datetime
    ) -> None: ...

    async def recent(self, channel: ChannelName, chat_id: str, since: datetime) -> list[str]: ...

    async def forget(self, channel: ChannelName, chat_id: str) -> int: ...


class Replies(Protocol):
    """An update's replies, written through the outbox in the update's own transaction."""

    async def enqueue(
        self,
        channel: ChannelName,
        chat_id: str,
        member_id: int | None,
        messages: Sequence[tuple[Outbound, str | None]],
        now: datetime,
    ) -> list[int]:
        """Write replies (each with the message it edits) as outbox rows already claimed by
        this process, in one statement; returns their ids in order."""

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


class AuditLog(Protocol):
    """Coordinator, secretariat and admin actions, role changes (services write it through
    `bot.core.actors.audit`)."""

    async def append(
        self,
        *,
        actor: str,
        action: str,
        now: datetime,
        subject_member_id: int | None = None,
        actor_member_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None: ...


class DashboardLinks(Protocol):
    """Dashboard links, kept by the hash of their token."""

    async def create(
        self, member_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> None: ...

    async def member(self, token_hash: str, now: datetime) -> Member | None:
        """The member whose unexpired dashboard link this is; None otherwise."""


class Transaction(Protocol):
    """One unit of work: everything done through its repositories commits together or not
    at all."""

    @property
    def members(self) -> Members: ...

    @property
    def invites(self) -> Invites: ...

    @property
    def conversations(self) -> Conversations: ...

    @property
    def processed(self) -> ProcessedUpdates: ...

    @property
    def chat_log(self) -> ChatLog: ...

    @property
    def replies(self) -> Replies: ...

    @property
    def audit_log(self) -> AuditLog: ...

    @property
    def dashboard_links(self) -> DashboardLinks: ...

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

    @property
    def peers(self) -> Peers: ...


class Store(Protocol):
    """Opens transactions."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def batched(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run `work` in a transaction shared with other batched work (group commit); it may
        run twice, the first time rolled back, so it must only write through the transaction."""

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
