"""Who does what where: a member's one line per sphere, whether peers may ask to meet her, and
introductions between two members that only happen when both agreed (docs/privacy.md).

A member is listed to peers only after she wrote a line for a sphere and said she is open to
requests; nothing about her is listed otherwise. An introduction gives each the contact handle
the other typed for it (never one taken from the platform), and only once both accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.core.callbacks import Callback

LARGEST = 10**9  # a button's number beyond any stored row's (a forged payload)


class IntroStatus(StrEnum):
    """Where an introduction stands. A pending one past `expires_at` counts as expired."""

    PENDING = "pending"
    INTRODUCED = "introduced"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Profile:
    """Her entry: whether peers may ask to meet her, and her line per sphere."""

    member_id: int
    open: bool
    lines: dict[str, str]


@dataclass(frozen=True, slots=True)
class Listed:
    """A peer as /peers shows her: her country and her line, never a name or a number."""

    member_id: int
    country: str | None
    line: str


@dataclass(frozen=True, slots=True)
class SphereCount:
    """Active members of one sphere in one country (None: not given) and their key sum."""

    country: str | None
    count: int
    key: int


@dataclass(slots=True)
class Introduction:
    """A request (or a coordinator's suggestion) to introduce two members in one sphere.

    `requester_handle` / `peer_handle`: what each typed to be shared, kept only until the
    introduction has gone out (then blanked) or ends."""

    id: int
    sphere: str
    requester_id: int
    peer_id: int
    status: IntroStatus
    requester_ok: bool
    peer_ok: bool
    suggested: bool
    created_at: datetime
    expires_at: datetime
    requester_handle: str | None = None
    peer_handle: str | None = None
    answered_at: datetime | None = None

    def status_at(self, now: datetime) -> IntroStatus:
        if self.status is IntroStatus.PENDING and now >= self.expires_at:
            return IntroStatus.EXPIRED
        return self.status

    def side(self, member_id: int) -> str | None:
        """ "requester", "peer" or None (not hers)."""
        if member_id == self.requester_id:
            return "requester"
        if member_id == self.peer_id:
            return "peer"
        return None

    def other(self, member_id: int) -> int:
        return self.peer_id if member_id == self.requester_id else self.requester_id

    def agreed(self, member_id: int) -> bool:
        return self.requester_ok if member_id == self.requester_id else self.peer_ok


@dataclass(frozen=True, slots=True)
class NewIntroduction:
    sphere: str
    requester_id: int
    peer_id: int
    requester_ok: bool
    suggested: bool
    expires_at: datetime
    requester_handle: str | None = None


class Peers(Protocol):
    """Her lines, who is listed, introductions (storage.peers.PeerRepository)."""

    async def profile(self, member_id: int) -> Profile | None: ...

    async def save_line(
        self, member_id: int, sphere: str, line: str, open_: bool, now: datetime
    ) -> None: ...

    async def remove_line(self, member_id: int, sphere: str) -> bool:
        """Delete her line; with no line left her whole entry goes. False: there was none."""

    async def set_open(self, member_id: int, open_: bool) -> bool:
        """False when she has no entry."""

    async def listed(self, sphere: str) -> list[Listed]:
        """Members open to requests with a line in `sphere` (reachable ones), by id."""

    async def create(self, new: NewIntroduction, now: datetime) -> Introduction: ...

    async def get(self, intro_id: int) -> Introduction | None: ...

    async def save(self, intro: Introduction) -> None:
        """Write back status, consents, handles and when it was answered."""

    async def of_member(self, member_id: int, now: datetime) -> list[Introduction]:
        """Her pending, unexpired introductions, either side, oldest first."""

    async def requested_since(self, member_id: int, since: datetime) -> int:
        """How many requests she made since `since` (whatever became of them)."""

    async def between(self, a: int, b: int, sphere: str) -> list[Introduction]:
        """Every introduction between these two in `sphere`, newest first."""

    async def sphere_counts(self, sphere: str, joined_before: datetime) -> list[SphereCount]:
        """Active members who joined before `joined_before` with `sphere`, per country: how
        many, and the sum of their record keys (the membership report's cells, one column)."""

    async def link_notice(self, intro_id: int, campaign_id: int) -> None:
        """Record a message sent about an introduction: it goes when the introduction does."""

    async def forget_ended(self, before: datetime, now: datetime) -> int:
        """Blank the handles of requests expired by `now`; delete introductions that ended
        (or expired) before `before`."""


# -- buttons --------------------------------------------------------------------------------


def _small(*numbers: int) -> None:
    if any(not 0 <= n < LARGEST for n in numbers):
        raise ValueError(numbers)


@dataclass(frozen=True, slots=True)
class PeerSphere(Callback, prefix="prs", version=1):
    """/peers for one of her spheres."""

    sphere: str


@dataclass(frozen=True, slots=True)
class PeerAsk(Callback, prefix="pra", version=1):
    """Ask to be introduced to the listed peer `token` (a keyed hash, never her id)."""

    sphere: str
    token: str


@dataclass(frozen=True, slots=True)
class PeerLine(Callback, prefix="prl", version=1):
    """Write (or rewrite) her line for a sphere."""

    sphere: str


@dataclass(frozen=True, slots=True)
class PeerRemove(Callback, prefix="prx", version=1):
    """Remove her line for a sphere."""

    sphere: str


@dataclass(frozen=True, slots=True)
class PeerOpen(Callback, prefix="pro", version=1):
    """Open (or close) herself to requests; `sphere`: the view to show again."""

    sphere: str
    open: bool


@dataclass(frozen=True, slots=True)
class PeerRequests(Callback, prefix="prq", version=1):
    """Her pending introductions."""


@dataclass(frozen=True, slots=True)
class PeerMap(Callback, prefix="prm", version=1):
    """The country × sphere table (coordinators and the secretariat)."""


@dataclass(frozen=True, slots=True)
class PeerSuggest(Callback, prefix="prg", version=1):
    """A coordinator suggests that two listed peers meet."""


@dataclass(frozen=True, slots=True)
class IntroAnswer(Callback, prefix="pri", version=1):
    """Accept or decline an introduction."""

    intro: int
    accept: bool

    def __post_init__(self) -> None:
        _small(self.intro)


@dataclass(frozen=True, slots=True)
class IntroWithdraw(Callback, prefix="prw", version=1):
    """Withdraw her own request."""

    intro: int

    def __post_init__(self) -> None:
        _small(self.intro)
