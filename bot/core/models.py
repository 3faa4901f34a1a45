"""Domain records the core and handlers work with (storage maps its tables to these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.i18n import N_
from bot.core.ids import plain
from bot.core.messages import ChannelName


class Role(StrEnum):
    """What a person may do. Admin may do everything."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    SECRETARIAT = "secretariat"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """True when this role may use something that needs `needed`."""
        return self is needed or self is Role.ADMIN or needed is Role.MEMBER


class MemberStatus(StrEnum):
    """Whether broadcasts reach her."""

    ACTIVE = "active"
    PAUSED = "paused"  # she asked for no broadcasts (/pause)
    UNREACHABLE = "unreachable"  # the platform refused (blocked, deactivated)


@dataclass(slots=True)
class Member:
    """A practitioner, coordinator, secretariat member or admin."""

    id: int
    channel: ChannelName
    platform_id: str
    chat_id: str
    locale: str
    country: str | None
    spheres: list[str]
    role: Role
    status: MemberStatus
    consent_version: str
    consented_at: datetime
    joined_at: datetime
    last_seen_at: datetime
    timezone: str | None = None
    # A language she also reads, for tips and surveys not yet in hers (never a breakdown of
    # any count: docs/privacy.md).
    second_locale: str | None = None


@dataclass(slots=True)
class NewMember:
    """What onboarding gathered, before the member row exists."""

    channel: ChannelName
    platform_id: str
    chat_id: str
    locale: str
    country: str | None
    spheres: list[str]
    role: Role
    consent_version: str
    consented_at: datetime
    second_locale: str | None = None


class InviteStatus(StrEnum):
    """Whether an invitation still lets someone join, and if not, why."""

    ACTIVE = "active"
    EXPIRED = "expired"
    USED_UP = "used up"
    REVOKED = "revoked"


@dataclass(slots=True)
class Invite:
    """A code that lets someone join with a role (and maybe a fixed country)."""

    id: int
    code: str
    role: Role
    country: str | None
    uses_left: int
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        """True while the invite has uses left, has not expired and was not revoked."""
        return self.status(now) is InviteStatus.ACTIVE

    def status(self, now: datetime) -> InviteStatus:
        if self.revoked_at is not None:
            return InviteStatus.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return InviteStatus.EXPIRED
        if self.uses_left <= 0:
            return InviteStatus.USED_UP
        return InviteStatus.ACTIVE


class StaleState(Exception):
    """Her conversation state was saved by someone else since it was loaded (another worker,
    the survey closing): the update's transaction rolls back and the update runs again."""


@dataclass(slots=True)
class ConversationState:
    """Where she is in a conversation: a flow, a step in it, and what was gathered so far."""

    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # The payloads of the last menu her channel could only show as numbered text (WhatsApp,
    # past ten choices), so "3" means its third choice. Kept here, not in the adapter, so a
    # restart or another worker understands her answer too; flows leave it alone.
    menu: list[str] = field(default_factory=list)
    # The stored row's version when it was loaded (0: no row, or one never saved by a flow).
    # A save against a version moved on since is refused (StaleState) and the update runs
    # again on the fresh state: two updates of one chat never overwrite each other's changes.
    version: int = field(default=0, compare=False)

    def go(self, flow: str, step: str, **data: Any) -> None:
        """Move to `step` of `flow`, keeping data gathered in the same flow."""
        if flow != self.flow:
            self.data = {}
        self.flow, self.step = flow, step
        self.data.update(data)

    def clear(self) -> None:
        """Leave any flow."""
        self.flow, self.step, self.data = None, None, {}

    def snapshot(self) -> tuple[str | None, str | None, dict[str, Any], tuple[str, ...]]:
        """A comparable copy, to tell whether the state changed."""
        return self.flow, self.step, dict(self.data), tuple(self.menu)

    def numbered_choice(self, text: str | None) -> str | None:
        """The payload she picked by typing its number in the last numbered menu, if any."""
        number = plain(text)  # "\u200f3" from a right-to-left keyboard is 3
        if (
            self.menu
            and number.isdecimal()
            and len(number) < 6
            and 1 <= int(number) <= len(self.menu)
        ):
            return self.menu[int(number) - 1]
        return None


# What each role is called in a sentence ("You are a {role}").
ROLE_NAMES = {
    Role.MEMBER: N_("member"),
    Role.COORDINATOR: N_("coordinator"),
    Role.SECRETARIAT: N_("secretariat"),
    Role.ADMIN: N_("administrator"),
}
