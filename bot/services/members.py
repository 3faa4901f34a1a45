"""Members: her own account (language, pausing, what is kept, erasure, clearing the chat) and
the operator's side (listing members, granting and revoking roles).

Every operation takes the unit of work and the actor, checks the role it needs and audits
what an operator or coordinator would want to find later (role changes, an erasure), never
her words nor her platform id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.actors import SYSTEM, Actor, audit, require
from bot.core.messages import ChannelName
from bot.core.models import Member, MemberStatus, Role
from bot.core.ports import KeptAbout, MemberSummary, Transaction
from bot.core.surveys import Survey


class NoSuchMember(LookupError):
    """No member has this id (or she was erased)."""


class UnsupportedLanguage(ValueError):
    """A language Wasl does not speak."""


def _own(actor: Actor, action: str) -> Member:
    """Her own account: any member may act on it, and only on hers."""
    require(actor, Role.MEMBER, action)
    if actor.member is None:
        raise NoSuchMember(action)
    return actor.member


def set_language(actor: Actor, locale: str, supported: Sequence[str]) -> Member:
    """Speak `locale` to her from now on (her row is written with the update)."""
    member = _own(actor, "member.language")
    if locale not in supported:
        raise UnsupportedLanguage(locale)
    member.locale = locale
    if member.second_locale == locale:
        member.second_locale = None  # her language now: nothing to fall back to
    return member


def set_second_language(actor: Actor, locale: str | None, supported: Sequence[str]) -> Member:
    """The language she also reads (None: none): tips and surveys not yet in hers are shown in
    it (her row is written with the update). Her own language is no second language."""
    member = _own(actor, "member.second_language")
    if locale is not None and locale not in supported:
        raise UnsupportedLanguage(locale)
    member.second_locale = None if locale == member.locale else locale
    return member


def set_paused(actor: Actor, paused: bool) -> Member:
    """/pause (and the opt-out word) or /resume: alerts and campaigns stop or start again
    (her row is written with the update)."""
    member = _own(actor, "member.pause")
    member.status = MemberStatus.PAUSED if paused else MemberStatus.ACTIVE
    return member


@dataclass(frozen=True, slots=True)
class MyData:
    """What /mydata shows: her row, how many recent chat messages /wipe can delete, what is
    kept of what she did, and the surveys she was asked or took part in."""

    member: Member
    recent_messages: int
    kept: KeptAbout
    surveys: list[tuple[Survey, str]]  # (survey, participation status)


async def my_data(tx: Transaction, actor: Actor, now: datetime, since: datetime) -> MyData:
    member = _own(actor, "member.mydata")
    recent = await tx.chat_log.recent(member.channel, member.chat_id, since)
    kept = await tx.members.kept_about(member, now)
    surveys = []
    for survey_id, status in kept.surveys:
        survey = await tx.surveys.get(survey_id)
        if survey is not None:
            surveys.append((survey, status))
    return MyData(member, len(recent), kept, surveys)


async def wipe(tx: Transaction, actor: Actor, since: datetime) -> list[str]:
    """Forget the chat's recent messages; returns the ids the platform may still delete
    (none where it deletes nothing: WhatsApp, see `can_wipe`)."""
    member = _own(actor, "member.wipe")
    if not can_wipe(member.channel):
        return []
    recent = await tx.chat_log.recent(member.channel, member.chat_id, since)
    await tx.chat_log.forget(member.channel, member.chat_id)
    return recent


def can_wipe(channel: ChannelName) -> bool:
    """WhatsApp does not let a business delete messages."""
    return channel is not ChannelName.WHATSAPP


async def forget(tx: Transaction, actor: Actor, now: datetime, since: datetime) -> list[str]:
    """Erase her and everything linked to her (/forget). Returns the ids of her chat's recent
    messages, for the platform to delete. The audit entry names no one: who was erased is
    exactly what must not be kept."""
    member = _own(actor, "member.forget")
    recent = await tx.chat_log.recent(member.channel, member.chat_id, since)
    await tx.members.erase(member)
    await audit(tx, SYSTEM, "member.erased", now)
    return recent


# -- the operator's side ---------------------------------------------------------------------


async def list_members(
    tx: Transaction,
    actor: Actor,
    *,
    role: Role | None = None,
    country: str | None = None,
    limit: int = 1000,
) -> list[MemberSummary]:
    """Members by id with role, country, language and status (no platform id or number)."""
    require(actor, Role.ADMIN, "member.list")
    return await tx.members.summaries(role=role, country=country, limit=limit)


@dataclass(frozen=True, slots=True)
class RoleChange:
    member_id: int
    before: Role
    after: Role


async def find_member(
    tx: Transaction, *, member_id: int | None = None, telegram_id: str | None = None
) -> Member:
    """A member by her id, or by her Telegram user id (as an operator may know it)."""
    found: Member | None = None
    if member_id is not None:
        found = await tx.members.by_id(member_id)
    elif telegram_id is not None:
        found = await tx.members.get(ChannelName.TELEGRAM, telegram_id.strip())
    if found is None:
        raise NoSuchMember(member_id or telegram_id)
    return found


async def grant_role(
    tx: Transaction, actor: Actor, member: Member, role: Role, now: datetime
) -> RoleChange:
    """Give her `role` (audited "role.granted", from and to)."""
    require(actor, Role.ADMIN, "role.grant")
    change = RoleChange(member.id, member.role, role)
    await tx.members.set_role(member.id, role)
    member.role = role
    await audit(
        tx,
        actor,
        "role.granted",
        now,
        subject=member.id,
        **{"from": change.before.value},
        to=role.value,
    )
    return change


async def revoke_role(tx: Transaction, actor: Actor, member: Member, now: datetime) -> RoleChange:
    """Take her role away: she is a member again (audited "role.revoked")."""
    require(actor, Role.ADMIN, "role.revoke")
    change = RoleChange(member.id, member.role, Role.MEMBER)
    await tx.members.set_role(member.id, Role.MEMBER)
    member.role = Role.MEMBER
    await audit(
        tx,
        actor,
        "role.revoked",
        now,
        subject=member.id,
        **{"from": change.before.value},
        to=Role.MEMBER.value,
    )
    return change
