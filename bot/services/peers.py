"""Who does what where, and introductions between peers (docs/privacy.md, "Peers").

- Her **line** per sphere (at most `MAX_LINE` characters) and whether peers may ask to meet
  her: opt-in (nothing is listed until she writes a line), revocable (remove a line, close
  herself to requests), erased by /forget.
- **Listing**: `/peers` shows, for a sphere of hers, the peers open to requests there by
  country and line only. Each is named by a keyed hash of (viewer, peer), never by an id.
- **Introductions**, double opt-in: she asks (typing the contact she will share), the peer
  accepts (typing hers) or declines; only then each receives the other's handle. A
  coordinator may suggest one: both must accept. Requests expire after `EXPIRY`, can be
  withdrawn, and are limited (`MAX_OPEN` waiting, `MAX_PER_WEEK` a week).
- **Counts**: the country × sphere table of members, the same figures as the all-time
  membership report (cell-key perturbed, "<k" below k, zero included): `who_works_where`.

The audit log records who asked, accepted or suggested, by member id and introduction id,
never a line or a handle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core import keys
from bot.core.actors import Actor, NotAllowed, audit, require
from bot.core.campaigns import CampaignKind
from bot.core.i18n import N_, Catalogs, Translator
from bot.core.models import Member, Role
from bot.core.peers import (
    IntroAnswer,
    Introduction,
    IntroStatus,
    NewIntroduction,
    Profile,
)
from bot.core.ports import Transaction
from bot.core.reports import Breakdown, CalendarPeriod
from bot.core.spheres import SPHERE_BY_CODE
from bot.reports.disclosure import NOBODY, Keyed, perturb
from bot.reports.model import Report
from bot.services.notices import send_one
from bot.services.reports import DEFAULT_COUNTRIES, OTHER, membership_report

MAX_LINE = 120
MAX_OPEN = 3  # requests of hers waiting for an answer
MAX_PER_WEEK = 5  # requests she made in the last seven days
EXPIRY = timedelta(days=14)
LISTED = 8  # peers per page of /peers
TOKEN_CHARS = 12


class Refusal(StrEnum):
    """Why an operation cannot be done (the handler says it in her language)."""

    NOT_HER_SPHERE = "not her sphere"
    TOO_LONG = "too long"
    NO_LINE = "no line"  # she has no line in this sphere: a peer would see nothing
    SELF = "self"
    GONE = "gone"  # the peer is no longer listed, or the introduction is not hers
    TOO_MANY_OPEN = "too many open"
    TOO_MANY_THIS_WEEK = "too many this week"
    ALREADY = "already"  # an introduction between them in this sphere is waiting or done
    DECLINED = "declined"  # she declined before: not asked again
    ENDED = "ended"  # declined, withdrawn, expired or done
    ANSWERED = "answered"  # she already accepted
    BAD_HANDLE = "bad handle"
    CONTACT_IN_LINE = "contact in line"  # a username, a link or a phone number in her line


class PeerRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


# -- handles --------------------------------------------------------------------------------

_TELEGRAM = re.compile(r"^(?:https?://)?(?:t\.me/|telegram\.me/|@)?([A-Za-z][A-Za-z0-9_]{4,31})$")
_WHATSAPP = re.compile(r"^(?:https?://)?(?:wa\.me/|api\.whatsapp\.com/send\?phone=)\+?(\d{7,15})$")
_PHONE = re.compile(r"^\+(\d{7,15})$")


def parse_handle(text: str) -> str | None:
    """The contact she typed, written one way: "@name" (Telegram) or "https://wa.me/<number>"
    (WhatsApp, also from "+<number>"); None when it is neither."""
    typed = text.strip()
    number = re.sub(r"[\s-]+", "", typed)  # "+964 770-123-4567" is one number
    if (found := _WHATSAPP.match(number)) or (found := _PHONE.match(number)):
        return f"https://wa.me/{found.group(1)}"
    if found := _TELEGRAM.match(typed):
        return f"@{found.group(1)}"
    return None


# What would give a contact away in a line every peer of her sphere reads: a username, a link,
# a phone number (seven digits or more, spaced or not, in any script's digits).
_CONTACT = re.compile(r"@\w{3,}|https?://|www\.|\b(?:t|wa)\.me/|\d(?:[\s.\-]?\d){6,}")


def check_line(text: str) -> str:
    """Her line, trimmed to one line of words (PeerRefused when too long or empty, or when it
    holds a contact: contacts go only to a peer who accepted)."""
    line = " ".join(text.split())
    if not line or len(line) > MAX_LINE:
        raise PeerRefused(Refusal.TOO_LONG)
    if _CONTACT.search(line):
        raise PeerRefused(Refusal.CONTACT_IN_LINE)
    return line


# -- her entry ------------------------------------------------------------------------------


def _own(actor: Actor, action: str) -> Member:
    require(actor, Role.MEMBER, action)
    if actor.member is None:
        raise NotAllowed(Role.MEMBER, action)
    return actor.member


def _her_sphere(member: Member, sphere: str) -> None:
    if sphere not in SPHERE_BY_CODE or sphere not in member.spheres:
        raise PeerRefused(Refusal.NOT_HER_SPHERE)


async def profile(tx: Transaction, actor: Actor) -> Profile | None:
    member = _own(actor, "peers.profile")
    return await tx.peers.profile(member.id)


async def save_line(
    tx: Transaction, actor: Actor, sphere: str, text: str, open_: bool, now: datetime
) -> str:
    """Her line for `sphere` (one of hers) and whether peers may ask to meet her."""
    member = _own(actor, "peers.line")
    _her_sphere(member, sphere)
    line = check_line(text)
    await tx.peers.save_line(member.id, sphere, line, open_, now)
    return line


async def remove_line(tx: Transaction, actor: Actor, sphere: str) -> bool:
    member = _own(actor, "peers.remove")
    return await tx.peers.remove_line(member.id, sphere)


async def set_open(tx: Transaction, actor: Actor, open_: bool) -> bool:
    """Open or close herself to requests; False when she has no entry (nothing to open)."""
    member = _own(actor, "peers.open")
    return await tx.peers.set_open(member.id, open_)


# -- the listing ----------------------------------------------------------------------------


def peer_token(secret: bytes, viewer: int, peer: int) -> str:
    """How a listed peer is named in a viewer's buttons: a keyed hash of the two ids, so a
    button tells no id, and the same peer has another name for every viewer."""
    return tokens_for(secret, viewer)(peer)


def tokens_for(secret: bytes, viewer: int) -> Callable[[int], str]:
    """`peer_token` for one viewer, the key derived once (a listing names every peer)."""
    key = keys.derive(secret, "peer-token")
    return lambda peer: keys.keyed_hash(key, f"{viewer}:{peer}")[:TOKEN_CHARS]


@dataclass(frozen=True, slots=True)
class Peer:
    token: str
    country: str | None
    line: str


async def listing(tx: Transaction, actor: Actor, sphere: str, secret: bytes) -> list[Peer]:
    """Peers open to requests in `sphere` (one of hers), herself left out: country and line."""
    member = _own(actor, "peers.list")
    _her_sphere(member, sphere)
    token = tokens_for(secret, member.id)
    return [
        Peer(token(p.member_id), p.country, p.line)
        for p in await tx.peers.listed(sphere)
        if p.member_id != member.id
    ]


async def listing_for_coordinator(
    tx: Transaction, actor: Actor, sphere: str, secret: bytes
) -> list[Peer]:
    """Everyone open to requests in `sphere`, as a coordinator choosing two to suggest sees
    them: country and line (what any member of that sphere sees), by token."""
    require(actor, Role.COORDINATOR, "introduction.suggest")
    if sphere not in SPHERE_BY_CODE:
        raise PeerRefused(Refusal.NOT_HER_SPHERE)
    token = tokens_for(secret, actor.member_id or 0)
    return [Peer(token(p.member_id), p.country, p.line) for p in await tx.peers.listed(sphere)]


async def suggest_listed(
    tx: Transaction,
    actor: Actor,
    catalogs: Catalogs,
    sphere: str,
    tokens: tuple[str, str],
    secret: bytes,
    now: datetime,
) -> Introduction:
    """`suggest`, for two peers a coordinator picked from `listing_for_coordinator`."""
    require(actor, Role.COORDINATOR, "introduction.suggest")
    viewer = actor.member_id or 0
    by_token = {
        peer_token(secret, viewer, p.member_id): p.member_id for p in await tx.peers.listed(sphere)
    }
    if tokens[0] not in by_token or tokens[1] not in by_token:
        raise PeerRefused(Refusal.GONE)
    return await suggest(
        tx, actor, catalogs, by_token[tokens[0]], by_token[tokens[1]], sphere, now
    )


async def _find(tx: Transaction, member: Member, sphere: str, token: str, secret: bytes) -> int:
    name = tokens_for(secret, member.id)
    for listed in await tx.peers.listed(sphere):
        if name(listed.member_id) == token:
            if listed.member_id == member.id:
                raise PeerRefused(Refusal.SELF)
            return listed.member_id
    # Herself is never in her own listing: a token of hers is a forged or an old button.
    if peer_token(secret, member.id, member.id) == token:
        raise PeerRefused(Refusal.SELF)
    raise PeerRefused(Refusal.GONE)


async def can_request(
    tx: Transaction, actor: Actor, sphere: str, token: str, secret: bytes, now: datetime
) -> None:
    """Everything `request` checks before she types her handle (PeerRefused: why not)."""
    member = _own(actor, "peers.request")
    _her_sphere(member, sphere)
    peer = await _find(tx, member, sphere, token, secret)
    mine = await tx.peers.profile(member.id)
    if mine is None or sphere not in mine.lines:
        raise PeerRefused(Refusal.NO_LINE)
    for earlier in await tx.peers.between(member.id, peer, sphere):
        status = earlier.status_at(now)
        if status in (IntroStatus.PENDING, IntroStatus.INTRODUCED):
            raise PeerRefused(Refusal.ALREADY)
        if status is IntroStatus.DECLINED and earlier.requester_id == member.id:
            raise PeerRefused(Refusal.DECLINED)
    waiting = [i for i in await tx.peers.of_member(member.id, now) if i.requester_id == member.id]
    if len(waiting) >= MAX_OPEN:
        raise PeerRefused(Refusal.TOO_MANY_OPEN)
    if await tx.peers.requested_since(member.id, now - timedelta(days=7)) >= MAX_PER_WEEK:
        raise PeerRefused(Refusal.TOO_MANY_THIS_WEEK)


# -- notices --------------------------------------------------------------------------------

REQUEST_NOTICE = N_(
    "A peer asks to be introduced to you.\n{sphere} · {country}\n“{line}”\n"
    "If you both accept, each of you gets the other's contact. Open until {date}."
)
SUGGEST_NOTICE = N_(
    "A coordinator suggests you meet a peer.\n{sphere} · {country}\n“{line}”\n"
    "If you both accept, each of you gets the other's contact. Open until {date}."
)
INTRODUCED = N_("Introduced: {sphere} · {country}\n“{line}”\nHer contact: {handle}")
DECLINED_NOTICE = N_("Your introduction request ({sphere} · {country}) was not accepted.")
ACCEPT = N_("Accept")
DECLINE = N_("Decline")


def place(_: Translator, country: str | None) -> str:
    return _.country_name(country) if country else _("Country not given")


def sphere_name(_: Translator, sphere: str) -> str:
    found = SPHERE_BY_CODE.get(sphere)
    return _(found.label) if found else sphere


async def _notify(
    tx: Transaction,
    catalogs: Catalogs,
    intro: Introduction,
    to: Member,
    text: str,
    now: datetime,
    *,
    answer: bool = False,
) -> None:
    """One message to `to` about `intro`, through the outbox; linked to the introduction so
    that it goes when the introduction does (/forget on either side)."""
    _ = catalogs.get(to.locale)
    buttons = (
        [
            (_(ACCEPT), IntroAnswer(intro.id, True).pack()),
            (_(DECLINE), IntroAnswer(intro.id, False).pack()),
        ]
        if answer
        else []
    )
    campaign_id = await send_one(
        tx, CampaignKind.NOTICE, "introduction", to.id, to.channel.value, text, now, buttons
    )
    await tx.peers.link_notice(intro.id, campaign_id)


def card(
    _: Translator, template: str, sphere: str, about: Member, line: str, expires: datetime
) -> str:
    """A request or suggestion as its recipient reads it: sphere, country, line, until when."""
    return _(
        template,
        sphere=sphere_name(_, sphere),
        country=place(_, about.country),
        line=line,
        date=_.date(expires),
    )


async def _line(tx: Transaction, member_id: int, sphere: str) -> str:
    found = await tx.peers.profile(member_id)
    return found.lines.get(sphere, "") if found else ""


async def _member(tx: Transaction, member_id: int) -> Member:
    found = await tx.members.by_id(member_id)
    if found is None:
        raise PeerRefused(Refusal.GONE)
    return found


# -- introductions --------------------------------------------------------------------------


async def request(
    tx: Transaction,
    actor: Actor,
    catalogs: Catalogs,
    sphere: str,
    token: str,
    handle: str,
    secret: bytes,
    now: datetime,
) -> Introduction:
    """She asks to be introduced to a listed peer, giving the contact she will share."""
    await can_request(tx, actor, sphere, token, secret, now)
    member = _own(actor, "peers.request")
    contact = parse_handle(handle)
    if contact is None:
        raise PeerRefused(Refusal.BAD_HANDLE)
    peer = await _member(tx, await _find(tx, member, sphere, token, secret))
    intro = await tx.peers.create(
        NewIntroduction(
            sphere=sphere,
            requester_id=member.id,
            peer_id=peer.id,
            requester_ok=True,
            suggested=False,
            expires_at=now + EXPIRY,
            requester_handle=contact,
        ),
        now,
    )
    line = await _line(tx, member.id, sphere)
    _ = catalogs.get(peer.locale)
    text = card(_, REQUEST_NOTICE, sphere, member, line, intro.expires_at)
    await _notify(tx, catalogs, intro, peer, text, now, answer=True)
    await audit(tx, actor, "introduction.requested", now, subject=peer.id, introduction=intro.id)
    return intro


async def suggest(
    tx: Transaction,
    actor: Actor,
    catalogs: Catalogs,
    first: int,
    second: int,
    sphere: str,
    now: datetime,
) -> Introduction:
    """A coordinator suggests that two members listed in `sphere` meet: each is asked, with
    the other's country and line; both must accept."""
    require(actor, Role.COORDINATOR, "introduction.suggest")
    if first == second:
        raise PeerRefused(Refusal.SELF)
    listed = {p.member_id: p for p in await tx.peers.listed(sphere)}
    if first not in listed or second not in listed:
        raise PeerRefused(Refusal.GONE)
    for earlier in await tx.peers.between(first, second, sphere):
        if earlier.status_at(now) in (IntroStatus.PENDING, IntroStatus.INTRODUCED):
            raise PeerRefused(Refusal.ALREADY)
    a, b = await _member(tx, first), await _member(tx, second)
    intro = await tx.peers.create(
        NewIntroduction(
            sphere=sphere,
            requester_id=a.id,
            peer_id=b.id,
            requester_ok=False,
            suggested=True,
            expires_at=now + EXPIRY,
        ),
        now,
    )
    for to, about in ((a, b), (b, a)):
        _ = catalogs.get(to.locale)
        text = card(_, SUGGEST_NOTICE, sphere, about, listed[about.id].line, intro.expires_at)
        await _notify(tx, catalogs, intro, to, text, now, answer=True)
    # The two are named by the introduction's row while it lives; the audit entry keeps no
    # member id in its details, which /forget could not reach.
    await audit(tx, actor, "introduction.suggested", now, introduction=intro.id)
    return intro


async def _hers(tx: Transaction, member: Member, intro_id: int, now: datetime) -> Introduction:
    intro = await tx.peers.get(intro_id)
    if intro is None or intro.side(member.id) is None:
        raise PeerRefused(Refusal.GONE)
    if intro.status_at(now) is not IntroStatus.PENDING:
        raise PeerRefused(Refusal.ENDED)
    return intro


async def check_answer(tx: Transaction, actor: Actor, intro_id: int, now: datetime) -> None:
    """Whether she may still accept (PeerRefused: why not), before she types her handle."""
    member = _own(actor, "introduction.accept")
    intro = await _hers(tx, member, intro_id, now)
    if intro.agreed(member.id):
        raise PeerRefused(Refusal.ANSWERED)


@dataclass(frozen=True, slots=True)
class Accepted:
    """After she accepted: the introduction, and when both have, the other's card."""

    intro: Introduction
    introduced: bool
    other_country: str | None = None
    other_line: str = ""
    other_handle: str = ""


async def accept(
    tx: Transaction,
    actor: Actor,
    catalogs: Catalogs,
    intro_id: int,
    handle: str,
    now: datetime,
) -> Accepted:
    """She accepts, with the contact she shares. When both have, each gets the other's: the
    other one through the outbox, she in the reply (`Accepted`); the handles are then
    blanked, as nothing needs them any more."""
    member = _own(actor, "introduction.accept")
    intro = await _hers(tx, member, intro_id, now)
    if intro.agreed(member.id):
        raise PeerRefused(Refusal.ANSWERED)
    contact = parse_handle(handle)
    if contact is None:
        raise PeerRefused(Refusal.BAD_HANDLE)
    if intro.side(member.id) == "requester":
        intro.requester_ok, intro.requester_handle = True, contact
    else:
        intro.peer_ok, intro.peer_handle = True, contact
    intro.answered_at = now
    await audit(tx, actor, "introduction.accepted", now, introduction=intro.id)
    if not (intro.requester_ok and intro.peer_ok):
        await tx.peers.save(intro)
        return Accepted(intro, introduced=False)
    other = await _member(tx, intro.other(member.id))
    theirs = intro.peer_handle if other.id == intro.peer_id else intro.requester_handle
    _ = catalogs.get(other.locale)
    text = _(
        INTRODUCED,
        sphere=sphere_name(_, intro.sphere),
        country=place(_, member.country),
        line=await _line(tx, member.id, intro.sphere),
        handle=contact,
    )
    await _notify(tx, catalogs, intro, other, text, now)
    intro.status = IntroStatus.INTRODUCED
    intro.requester_handle = intro.peer_handle = None
    await tx.peers.save(intro)
    await audit(tx, actor, "introduction.made", now, introduction=intro.id)
    return Accepted(
        intro,
        introduced=True,
        other_country=other.country,
        other_line=await _line(tx, other.id, intro.sphere),
        other_handle=theirs or "",
    )


async def decline(
    tx: Transaction, actor: Actor, catalogs: Catalogs, intro_id: int, now: datetime
) -> Introduction:
    """She declines: the other one is told it was not accepted (not who or why)."""
    member = _own(actor, "introduction.decline")
    intro = await _hers(tx, member, intro_id, now)
    intro.status, intro.answered_at = IntroStatus.DECLINED, now
    intro.requester_handle = intro.peer_handle = None
    await tx.peers.save(intro)
    other = await _member(tx, intro.other(member.id))
    if intro.agreed(other.id) and not intro.suggested:
        _ = catalogs.get(other.locale)
        text = _(
            DECLINED_NOTICE,
            sphere=sphere_name(_, intro.sphere),
            country=place(_, member.country),
        )
        await _notify(tx, catalogs, intro, other, text, now)
    await audit(tx, actor, "introduction.declined", now, introduction=intro.id)
    return intro


async def withdraw(tx: Transaction, actor: Actor, intro_id: int, now: datetime) -> Introduction:
    """She withdraws her own request; the request message to the peer goes (if not sent) and
    its buttons no longer work."""
    member = _own(actor, "introduction.withdraw")
    intro = await _hers(tx, member, intro_id, now)
    if intro.requester_id != member.id or intro.suggested:
        raise PeerRefused(Refusal.GONE)
    intro.status, intro.answered_at = IntroStatus.WITHDRAWN, now
    intro.requester_handle = intro.peer_handle = None
    await tx.peers.save(intro)
    await audit(tx, actor, "introduction.withdrawn", now, introduction=intro.id)
    return intro


@dataclass(frozen=True, slots=True)
class Pending:
    """One of her waiting introductions, as her requests list shows it."""

    intro: Introduction
    mine: bool  # she asked (and may withdraw); else she is asked (and may answer)
    answered: bool  # she accepted already, waiting for the other
    country: str | None
    line: str


async def pending(tx: Transaction, actor: Actor, now: datetime) -> list[Pending]:
    member = _own(actor, "peers.requests")
    found = []
    for intro in await tx.peers.of_member(member.id, now):
        other = await tx.members.by_id(intro.other(member.id))
        if other is None:
            continue
        mine = intro.requester_id == member.id and not intro.suggested
        line = await _line(tx, other.id, intro.sphere)
        found.append(Pending(intro, mine, intro.agreed(member.id), other.country, line))
    return found


# -- counts ---------------------------------------------------------------------------------


def _may_see_map(actor: Actor) -> None:
    if not (actor.allows(Role.COORDINATOR) or actor.allows(Role.SECRETARIAT)):
        raise NotAllowed(Role.COORDINATOR, "peers.map")


async def _table(
    tx: Transaction, _: Translator, now: datetime, k: int, countries: Sequence[str]
) -> Report:
    period = CalendarPeriod.all_time(now.date())
    report = await membership_report(tx, Breakdown.COUNTRY, period, k, _, now, countries)
    section = replace(report.sections[0], title=_("Members by country and sphere"))
    return replace(report, title=_("Who works where"), sections=(section,))


async def who_works_where(
    tx: Transaction,
    actor: Actor,
    _: Translator,
    now: datetime,
    k: int,
    countries: Sequence[str] = DEFAULT_COUNTRIES,
) -> Report:
    """The country × sphere table of active members (coordinators and the secretariat; the
    dashboard and `wasl report whowhere` call this too). Its figures are the all-time
    membership report's by country: each perturbed by its cell key, "<k" below k, zero
    included, so it adds nothing that report does not show. Audited, without figures."""
    _may_see_map(actor)
    report = await _table(tx, _, now, k, countries)
    await audit(tx, actor, "peers.map", now)
    return report


@dataclass(frozen=True, slots=True)
class CountryCount:
    country: str  # a code, or OTHER
    figure: int | None  # None: under k (or nobody)


async def countries_in_sphere(
    tx: Transaction,
    actor: Actor,
    sphere: str,
    now: datetime,
    k: int,
    countries: Sequence[str] = DEFAULT_COUNTRIES,
) -> list[CountryCount]:
    """For a sphere of hers, members by country: the table's column for that sphere (the
    same people, keys and noise), counted for that sphere alone, so /peers does not add up
    the whole membership at every view (bench/peers.py)."""
    member = _own(actor, "peers.countries")
    _her_sphere(member, sphere)
    period = CalendarPeriod.all_time(now.date())
    cells = {code: NOBODY for code in [*countries, OTHER]}
    for found in await tx.peers.sphere_counts(sphere, period.end_at):
        code = found.country if found.country and found.country in countries else OTHER
        cells[code] += Keyed(found.count, found.key)
    return [CountryCount(code, perturb(c.count, c.key, k)) for code, c in cells.items()]
