"""Pulse surveys: the operations behind answering one (start, hand in, results opt-in, the
counts a coordinator sees) and the scheduled work (invite, remind, fold, close).

Privacy (docs/privacy.md, promise 1): nothing here writes a row that ties a woman to her
answers or to when she finished. Her finished answers wait in her own conversation state
(`Surveys.hold`) until they are counted with at least k others'; a participation carries no
time. So answering is deliberately not audited: an entry "member 12 finished survey 3 at
10:04" would be the very link the storage avoids. Only the scheduler's invitations and
closes are audited, as the system's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

from bot.core import keys
from bot.core.actors import SYSTEM, Actor, audit, require
from bot.core.campaigns import CampaignButton, CampaignKind, CampaignStatus, NewCampaign
from bot.core.i18n import Catalogs
from bot.core.ids import MAX_ID
from bot.core.models import Member, Role
from bot.core.ports import Store, Transaction
from bot.core.schedule import ONCE
from bot.core.surveys import (
    Dimensions,
    Folded,
    Survey,
    SurveyAction,
    SurveyButton,
    SurveyMode,
    crosstab_groups,
)
from bot.reports.disclosure import min_cell
from bot.services.notices import send_each


class Entry(StrEnum):
    """Whether she may answer a survey now, and if not, why."""

    OPEN = "open"
    ANSWERED = "answered"  # she has already answered it
    CLOSED = "closed"
    NOT_FOR_YOU = "not_for_you"  # outside its audience
    UNKNOWN = "unknown"  # no such survey (for this way in)


async def start(tx: Transaction, actor: Actor, survey: Survey, now: datetime) -> Entry:
    """A member starts a members' survey: she must be in its audience, it must be open and
    she must not have answered it; then her participation says "started"."""
    require(actor, Role.MEMBER, "survey.answer")
    member = actor.member
    if member is None:
        return Entry.UNKNOWN
    if await tx.surveys.participation(survey.id, member.id) == "completed":
        return Entry.ANSWERED
    if not survey.open_at(now):
        return Entry.CLOSED
    if not await tx.surveys.admits(survey, member.id):
        return Entry.NOT_FOR_YOU
    await tx.surveys.set_participation(survey.id, member.id, "started")
    return Entry.OPEN


async def find(tx: Transaction, survey_id: int) -> Survey | None:
    """The survey a button names, or None (an id no record can have included)."""
    return await tx.surveys.get(survey_id) if 1 <= survey_id <= MAX_ID else None


async def find_members_survey(tx: Transaction, slug: str) -> Survey | None:
    """The members' survey called `slug` (`/survey slug`), or None."""
    survey = await tx.surveys.by_slug(slug)
    if survey is None or survey.definition.mode is not SurveyMode.MEMBERS:
        return None
    return survey


async def open_for(tx: Transaction, actor: Actor, now: datetime) -> list[Survey]:
    """The open members' surveys she may still answer."""
    require(actor, Role.MEMBER, "survey.answer")
    return [] if actor.member is None else await tx.surveys.open_for(actor.member.id, now)


async def respondent_digest(
    tx: Transaction, survey_id: int, secret: bytes, respondent: str
) -> str | None:
    """A keyed hash of who she is on her channel ("telegram:123"): enough to stop a second
    answer to a public survey, nothing more. Its key derives from WASL_SECRET_KEY (never in
    the database) and the survey's own salt, which the close destroys with the hashes; None
    once the survey is closed."""
    salt = await tx.surveys.respondent_salt(survey_id)
    if salt is None:
        return None
    key = keys.derive(secret, "public-survey-respondent", salt)
    return keys.keyed_hash(key, respondent)


async def open_public(
    tx: Transaction,
    slug: str,
    member: Member | None,
    *,
    secret: bytes,
    respondent: str,
    now: datetime,
) -> tuple[Entry, Survey | None]:
    """Anyone with the link (`/start s_slug`) may answer a public survey once, while it is
    open; a member only if she is in its audience."""
    survey = await tx.surveys.by_slug(slug)
    if survey is None or survey.definition.mode is not SurveyMode.PUBLIC:
        return Entry.UNKNOWN, None
    if not survey.open_at(now):
        return Entry.CLOSED, survey
    if member is not None and not await tx.surveys.admits(survey, member.id):
        return Entry.NOT_FOR_YOU, survey
    digest = await respondent_digest(tx, survey.id, secret, respondent)
    if digest is not None and await tx.surveys.seen_public(survey.id, digest):
        return Entry.ANSWERED, survey
    return Entry.OPEN, survey


async def public_country(tx: Transaction, survey_id: int, country: str | None) -> Entry:
    """Whether a public respondent who lives in `country` (None: she did not say) is in
    the survey's audience."""
    survey = await tx.surveys.get(survey_id)
    wanted = survey.definition.audience.countries if survey else ()
    return Entry.NOT_FOR_YOU if wanted and country not in wanted else Entry.OPEN


async def current(tx: Transaction, survey_id: int, now: datetime) -> Survey | None:
    """The survey she is answering, while it is open (None once it has closed)."""
    survey = await tx.surveys.get(survey_id)
    return survey if survey is not None and survey.open_at(now) else None


@dataclass(frozen=True, slots=True)
class Chat:
    """Where her finished answers wait until counted: her conversation state's key."""

    channel: str
    chat_id: str


async def hand_in(
    tx: Transaction,
    survey: Survey,
    answers: dict[str, Any],
    dimensions: Dimensions,
    chat: Chat,
    *,
    member_id: int | None,
    digest: str | None,
    now: datetime,
) -> None:
    """Set her finished answers aside to be counted with at least k others' (the fold):
    they go to her own conversation state, no survey table is written. A member's
    participation becomes "completed" (no time); a public respondent's keyed hash is kept
    until the close, so she cannot answer twice."""
    groups = {
        **dimensions.groups(survey.definition.breakdowns),
        **crosstab_groups(survey.definition, answers),
    }
    await tx.surveys.hold(chat.channel, chat.chat_id, survey.id, answers, groups, now)
    if member_id is not None:
        await tx.surveys.set_participation(survey.id, member_id, "completed")
    elif digest is not None:
        await tx.surveys.mark_public(survey.id, digest)


async def want_results(tx: Transaction, actor: Actor, survey_id: int) -> bool:
    """She asked for the results when the survey closes: only for a survey she took part in."""
    require(actor, Role.MEMBER, "survey.results_opt_in")
    member = actor.member
    if member is None or await tx.surveys.participation(survey_id, member.id) is None:
        return False
    await tx.surveys.set_results_opt_in(survey_id, member.id)
    return True


@dataclass(frozen=True, slots=True)
class Status:
    """What a coordinator may know of a survey while it is open: how many, never what."""

    survey: Survey
    open: bool
    started: int
    completed: int


async def status(tx: Transaction, actor: Actor, slug: str, now: datetime) -> Status | None:
    """Started and completed counts only: no answers while it is open. None: no such survey."""
    require(actor, Role.COORDINATOR, "survey.status")
    survey = await tx.surveys.by_slug(slug)
    if survey is None:
        return None
    started, completed = await tx.surveys.counts(survey.id)
    return Status(survey, survey.open_at(now), started, completed)


# -- scheduled work ------------------------------------------------------------------------

QUIET_START, QUIET_END = 21, 8  # no reminders between 21:00 and 08:00 her time


def _zone(timezone: str | None, country: str | None) -> ZoneInfo:
    if timezone:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    zones = get_global("territory_zones").get(country or "", [])
    return ZoneInfo(str(zones[0])) if zones else ZoneInfo("UTC")


def quiet(now: datetime, timezone: str | None, country: str | None) -> bool:
    """True during her quiet hours (21:00–08:00 where she is, as far as we know)."""
    hour = now.astimezone(_zone(timezone, country)).hour
    return hour >= QUIET_START or hour < QUIET_END


def reminders_due(survey: Survey, now: datetime) -> int:
    """How many reminders should have gone out by now: evenly spread over the open window."""
    wanted = survey.definition.reminders
    span = (survey.closes_at - survey.opens_at).total_seconds()
    if wanted <= 0 or span <= 0:
        return 0
    elapsed = (now - survey.opens_at).total_seconds()
    return max(0, min(wanted, int(elapsed / span * (wanted + 1))))


async def push_open_surveys(store: Store, catalogs: Catalogs, now: datetime) -> int:
    """Invite each newly open survey's audience through the outbox: Start / Not now."""
    pushed = 0
    async with store.transaction() as tx:
        for survey in await tx.surveys.to_push(now):
            texts, start_label, later_label = {}, {}, {}
            for locale in catalogs.supported:
                _ = catalogs.get(locale)
                texts[locale] = _(
                    "A 2-minute survey from the alliance: “{title}”. Your answers "
                    "are stored without your name.",
                    title=survey.definition.title(locale),
                )
                start_label[locale], later_label[locale] = _("Start"), _("Not now")
            start = SurveyButton(survey.id, SurveyAction.START).pack()
            later = SurveyButton(survey.id, SurveyAction.LATER).pack()
            campaign = await tx.campaigns.create(
                NewCampaign(
                    kind=CampaignKind.SURVEY,
                    status=CampaignStatus.SCHEDULED,
                    title=f"survey {survey.slug}",
                    texts=texts,
                    default_locale=survey.definition.default_locale,
                    audience=survey.definition.audience,
                    schedule="now",
                    buttons=[
                        CampaignButton(start_label, start),
                        CampaignButton(later_label, later),
                    ],
                ),
                now,
            )
            await tx.campaigns.fire(campaign, ONCE, now)
            await tx.surveys.mark_pushed(survey.id, now)
            await audit(tx, SYSTEM, "survey.invite", now, survey=survey.id)
            pushed += 1
    return pushed


async def send_reminders(store: Store, catalogs: Catalogs, now: datetime) -> int:
    """Remind members who have not finished, at most the survey's number of times, never
    during their quiet hours."""
    sent = 0
    async with store.transaction() as tx:
        for survey in await tx.surveys.open_surveys(now):
            due = reminders_due(survey, now)
            if due == 0 or survey.definition.mode is not SurveyMode.MEMBERS:
                continue
            people = [
                p
                for p in await tx.surveys.remindable(survey, due)
                if not quiet(now, p.timezone, p.country)
            ]
            if not people:
                continue
            messages = []
            for person in people:
                _ = catalogs.get(person.locale)
                messages.append(
                    (
                        person.member_id,
                        person.channel,
                        _(
                            "A reminder: the survey “{title}” closes on {date}. It takes 2 "
                            "minutes: send {survey} to answer.",
                            title=survey.definition.title(
                                survey.definition.locale_for(person.locale, person.second_locale)
                            ),
                            date=_.date(survey.closes_at),
                            survey="/survey" if person.channel != "whatsapp" else "survey",
                        ),
                    )
                )
            await send_each(tx, CampaignKind.REMINDER, f"reminder {survey.slug}", messages, now)
            await tx.surveys.mark_reminded(survey.id, [p.member_id for p in people])
            sent += len(messages)
    return sent


async def flush_survey_pools(store: Store, k: int) -> int:
    """Count finished questionnaires waiting in their authors' states (the fold).

    One transaction per survey, writing counters and those states only, never a participation.
    While a survey is open, a group (everyone, or one value of a declared breakdown) is counted
    once 2k of its respondents wait, k of them chosen at random kept back for the next batch, so
    every batch of every group has at least k. A survey that has closed is folded one last time
    (`final`): groups of at least k are counted, smaller ones dropped. Returns how many
    questionnaires went into the overall counts.
    """
    folded = 0
    async with store.transaction() as tx:
        waiting = await tx.surveys.waiting()
    for survey_id in waiting:
        async with store.transaction() as tx:
            survey = await tx.surveys.get(survey_id)
            if survey is None:
                continue
            done = await tx.surveys.fold(survey, k, final=survey.closed)
        await _retouch(store, done)
        folded += done.overall
    return folded


async def _retouch(store: Store, done: Folded) -> None:
    """The fold's states, rewritten in a transaction of their own (see Surveys.retouch)."""
    if done.states:
        async with store.transaction() as tx:
            await tx.surveys.retouch(done.states)


async def close_due_surveys(store: Store, now: datetime, k: int | None = None) -> list[int]:
    """Close surveys past their time: end every conversation still answering one (unfinished
    answers are dropped), forget public respondents' hashes, keep of each participation only
    that she took part; then, in a transaction of its own, count what waits (the final fold:
    groups of fewer than k are left out, counted only in the overall results)."""
    k = min_cell() if k is None else k
    closed = []
    async with store.transaction() as tx:
        for survey in await tx.surveys.due_to_close(now):
            await tx.surveys.forget_in_progress(await tx.surveys.in_progress(survey.id))
            await tx.surveys.close(survey.id, now)
            await audit(tx, SYSTEM, "survey.close", now, survey=survey.id)
            closed.append(survey.id)
    for survey_id in closed:
        async with store.transaction() as tx:
            closing = await tx.surveys.get(survey_id)
            done = await tx.surveys.fold(closing, k, final=True) if closing else Folded(0, ())
        await _retouch(store, done)
    return closed
