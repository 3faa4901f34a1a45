"""The surveys service on SQLite and PostgreSQL: who may start, see and ask for what
(require), why a way in is refused, and what is audited — the scheduler's work, never her
answering (an entry "member 12 finished survey 3" would be the link the storage avoids)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.actors import Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.ids import MAX_ID
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.surveys import Dimensions, Survey, parse_definition
from bot.services import surveys
from bot.services.surveys import Chat, Entry
from storage.store import SqlStore, SqlTransaction
from tests.support.surveys import pulse

LOCALES = ("en", "ar", "fr")


async def _member(
    tx: SqlTransaction, clock: FixedClock, user: str, country: str, role: Role = Role.MEMBER
) -> Member:
    return await tx.members.create(
        NewMember(
            channel=ChannelName.TELEGRAM,
            platform_id=user,
            chat_id=user,
            locale="en",
            country=country,
            spheres=["youth"],
            role=role,
            consent_version="2026-11",
            consented_at=clock.now(),
        ),
        clock.now(),
    )


async def _survey(
    tx: SqlTransaction, clock: FixedClock, data: dict[str, object], days: int = 7
) -> Survey:
    now = clock.now()
    definition = parse_definition(data, LOCALES)
    survey_id, _ = await tx.surveys.upsert(definition, now, now + timedelta(days=days), now)
    survey = await tx.surveys.get(survey_id)
    assert survey is not None
    return survey


async def _actions(store: SqlStore, prefix: str) -> list[str]:
    async with store.transaction() as tx:
        entries = await tx.audit_log.entries(limit=500)
    return [str(e["action"]) for e in entries if str(e["action"]).startswith(prefix)]


async def test_ways_in_roles_and_what_is_audited(store: SqlStore, clock: FixedClock) -> None:
    now = clock.now()
    data = pulse()
    data["audience"] = {"countries": ["SY"]}
    public = pulse("voices-sy", mode="public")
    async with store.transaction() as tx:
        survey = await _survey(tx, clock, data, days=2)
        voices = await _survey(tx, clock, public)
        inside = await _member(tx, clock, "1", "SY")
        outside = await _member(tx, clock, "2", "IQ")
        coordinator = await _member(tx, clock, "3", "SY", Role.COORDINATOR)

    async with store.transaction() as tx:
        assert await surveys.start(tx, Actor.of(outside), survey, now) is Entry.NOT_FOR_YOU
        assert await surveys.want_results(tx, Actor.of(inside), survey.id) is False, (
            "no results for a survey she has not taken part in"
        )
        assert await surveys.start(tx, Actor.of(inside), survey, now) is Entry.OPEN
        assert await tx.surveys.participation(survey.id, inside.id) == "started"
        assert await surveys.open_for(tx, Actor.of(inside), now) == [survey]
        assert await surveys.find_members_survey(tx, "voices-sy") is None, "public: a link"
        assert await surveys.find(tx, MAX_ID + 1) is None
        with pytest.raises(NotAllowed):
            await surveys.status(tx, Actor.of(inside), survey.slug, now)

    async with store.transaction() as tx:
        await surveys.hand_in(
            tx,
            survey,
            {"safe": 3, "threat": "no", "work": 4},
            Dimensions("en", "telegram", "SY", ("youth",)),
            Chat("telegram", "1"),
            member_id=inside.id,
            digest=None,
            now=now,
        )
    async with store.transaction() as tx:
        assert await surveys.start(tx, Actor.of(inside), survey, now) is Entry.ANSWERED
        assert await surveys.want_results(tx, Actor.of(inside), survey.id) is True
        status = await surveys.status(tx, Actor.of(coordinator), survey.slug, now)
        assert status is not None and (status.open, status.started, status.completed) == (
            True,
            1,
            1,
        )
        assert await surveys.status(tx, Actor.of(coordinator), "nope", now) is None
        assert await tx.surveys.waiting() == [survey.id], "waiting in her state, uncounted"

    # A public survey: once per person on a channel, while it is open.
    async with store.transaction() as tx:
        entry, found = await surveys.open_public(
            tx, "pulse-test", None, secret=b"k" * 32, respondent="telegram:9", now=now
        )
        assert (entry, found) == (Entry.UNKNOWN, None), "a members' survey has no link"
        entry, found = await surveys.open_public(
            tx, "voices-sy", None, secret=b"k" * 32, respondent="telegram:9", now=now
        )
        assert (entry, found) == (Entry.OPEN, voices)
        assert await surveys.public_country(tx, voices.id, "IQ") is Entry.OPEN
        digest = await surveys.respondent_digest(tx, voices.id, b"k" * 32, "telegram:9")
        await surveys.hand_in(
            tx,
            voices,
            {"safe": 5},
            Dimensions("en", "telegram", "SY"),
            Chat("telegram", "9"),
            member_id=None,
            digest=digest,
            now=now,
        )
    async with store.transaction() as tx:
        entry, _ = await surveys.open_public(
            tx, "voices-sy", None, secret=b"k" * 32, respondent="telegram:9", now=now
        )
        assert entry is Entry.ANSWERED
        entry, _ = await surveys.open_public(
            tx, "voices-sy", outside, secret=b"k" * 32, respondent="telegram:2", now=now
        )
        assert entry is Entry.OPEN, "a public survey's audience is everyone"

    assert await _actions(store, "survey.") == [], "answering is never audited"
    later = now + timedelta(days=3)
    assert await surveys.close_due_surveys(store, later, 1) == [survey.id]
    assert await _actions(store, "survey.") == ["survey.close"]
    async with store.transaction() as tx:
        assert await surveys.start(tx, Actor.of(outside), survey, later) is Entry.CLOSED
        assert await tx.surveys.participation(survey.id, inside.id) == "took_part"
