"""Survey storage. Answers go to tables with no link to any person (DESIGN.md invariant 3):
a response has a random id and coarse dimensions only; the participation table says who took
part, never what they answered, and shares no key, order or time with the responses.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, delete, func, insert, or_, select, type_coerce, update

from bot.core.campaigns import Audience
from bot.core.surveys import (
    Dimensions,
    InProgress,
    Remindable,
    Survey,
    SurveyDefinition,
    SurveyMode,
    definition_to_json,
    parse_definition,
)
from storage.campaigns import audience_query
from storage.connection import SqlConnection
from storage.tables import (
    SPHERE_BITS,
    answer_t,
    member_t,
    participation_t,
    pool_t,
    public_seen_t,
    response_sphere_t,
    response_t,
    state_t,
    survey_t,
)

SUPPORTED = ("en", "ar", "fr")
_MIX = secrets.SystemRandom()

# A survey's columns, its definition as the stored JSON text: parsed once per survey and text
# (_definition), not on every update of everyone answering it.
_SURVEY = (
    survey_t.c.id,
    survey_t.c.slug,
    survey_t.c.mode,
    type_coerce(survey_t.c.definition, Text).label("definition"),
    survey_t.c.opens_at,
    survey_t.c.closes_at,
    survey_t.c.closed_at,
)
_parsed: dict[int, tuple[str, SurveyDefinition]] = {}
# Built once (on every answer's path): building a statement costs more than running it.
_SURVEY_BY_ID = select(*_SURVEY).where(survey_t.c.id == bindparam("survey_id"))
_PARTICIPATION = select(participation_t.c.status).where(
    participation_t.c.survey_id == bindparam("survey_id"),
    participation_t.c.member_id == bindparam("member_id"),
)


class SurveyRepository:
    """Survey reads and writes inside one transaction."""

    def __init__(self, conn: SqlConnection, upsert: Any) -> None:
        self.conn = conn
        self._upsert = upsert

    async def upsert(
        self,
        definition: SurveyDefinition,
        opens_at: datetime,
        closes_at: datetime,
        now: datetime,
    ) -> tuple[int, str]:
        stored = definition_to_json(definition)
        row = (
            await self.conn.execute(select(survey_t).where(survey_t.c.slug == definition.slug))
        ).first()
        values = {
            "mode": definition.mode.value,
            "definition": stored,
            "opens_at": opens_at,
            "closes_at": closes_at,
        }
        if row is None:
            result = await self.conn.execute(
                insert(survey_t)
                .values(slug=definition.slug, created_at=now, **values)
                .returning(survey_t.c.id)
            )
            return int(result.scalar_one()), "created"
        if (row.definition, row.opens_at, row.closes_at, row.mode) == (
            stored,
            opens_at,
            closes_at,
            definition.mode.value,
        ):
            return int(row.id), "unchanged"
        await self.conn.execute(update(survey_t).where(survey_t.c.id == row.id).values(**values))
        return int(row.id), "updated"

    async def get(self, survey_id: int) -> Survey | None:
        row = (await self.conn.execute(_SURVEY_BY_ID, {"survey_id": survey_id})).first()
        return _survey(row) if row else None

    async def by_slug(self, slug: str) -> Survey | None:
        row = (await self.conn.execute(select(*_SURVEY).where(survey_t.c.slug == slug))).first()
        return _survey(row) if row else None

    async def open_for(self, member_id: int, now: datetime) -> list[Survey]:
        rows = (
            await self.conn.execute(
                select(*_SURVEY)
                .where(
                    survey_t.c.mode == SurveyMode.MEMBERS.value,
                    survey_t.c.closed_at.is_(None),
                    survey_t.c.opens_at <= now,
                    survey_t.c.closes_at > now,
                )
                .order_by(survey_t.c.closes_at)
            )
        ).all()
        found = []
        for row in rows:
            survey = _survey(row)
            status = await self.participation(survey.id, member_id)
            if status in ("completed", "declined"):
                continue
            audience = survey.definition.audience
            match = await self.conn.execute(
                audience_query(audience).where(member_t.c.id == member_id)
            )
            if match.first() is not None:
                found.append(survey)
        return found

    async def participation(self, survey_id: int, member_id: int) -> str | None:
        result = await self.conn.execute(
            _PARTICIPATION, {"survey_id": survey_id, "member_id": member_id}
        )
        status: str | None = result.scalar_one_or_none()
        return status

    async def set_participation(self, survey_id: int, member_id: int, status: str) -> None:
        statement = self._upsert(participation_t).values(
            survey_id=survey_id, member_id=member_id, status=status
        )
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=["survey_id", "member_id"], set_={"status": status}
            )
        )

    async def save_response(
        self,
        survey: Survey,
        answers: dict[str, Any],
        dims: Dimensions,
        *,
        complete: bool = True,
    ) -> None:
        """Store answers under a fresh random id with only `dims`: unlinkable by design.

        Not part of the core's port: conversations pool answers, and `flush_pool` calls this
        for a mixed batch (tests and benchmarks seed results with it directly).
        """
        response_id = secrets.token_hex(16)
        coarse = {
            "country": dims.country,
            "locale": dims.locale,
            "channel": dims.channel,
            "week": dims.week,
            "age_band": dims.age_band,
            "gender": dims.gender,
        }
        await self.conn.execute(
            insert(response_t).values(
                id=response_id, survey_id=survey.id, complete=complete, **coarse
            )
        )
        if dims.spheres:
            await self.conn.execute(
                insert(response_sphere_t),
                [{"response_id": response_id, "sphere": s} for s in sorted(set(dims.spheres))],
            )
        spheres = sum(SPHERE_BITS.get(s, 0) for s in set(dims.spheres))
        rows = []
        for key, value in answers.items():
            base: dict[str, Any] = {
                "response_id": response_id,
                "survey_id": survey.id,
                "question": key,
                "option": "",
                "number": None,
                "text": None,
                "spheres": spheres,
                **coarse,
            }
            if value is None:
                continue  # skipped
            if isinstance(value, list):
                rows += [{**base, "option": str(option)} for option in value]
            elif isinstance(value, bool):
                rows.append({**base, "option": "yes" if value else "no"})
            elif isinstance(value, int | float):
                scale = survey.definition.question(key).type.value == "scale"
                option = str(value) if scale else ""  # a scale answer is a category and a number
                rows.append({**base, "option": option, "number": float(value)})
            elif survey.definition.question(key).type.value == "text":
                rows.append({**base, "text": str(value)})
            else:
                rows.append({**base, "option": str(value)})
        if rows:
            await self.conn.execute(insert(answer_t), rows)

    async def pool_response(
        self,
        survey: Survey,
        answers: dict[str, Any],
        dims: Dimensions,
        *,
        complete: bool = True,
    ) -> None:
        data = {"answers": answers, "complete": complete, "dims": asdict(dims)}
        await self.conn.execute(
            insert(pool_t).values(id=secrets.token_hex(16), survey_id=survey.id, data=data)
        )

    async def flush_pool(self, survey: Survey, *, at_least: int, keep: int = 0) -> int:
        rows = (
            await self.conn.execute(
                select(pool_t.c.id, pool_t.c.data).where(pool_t.c.survey_id == survey.id)
            )
        ).all()
        if not rows or len(rows) < max(at_least, keep + 1):
            return 0
        mixed = list(rows)
        _MIX.shuffle(mixed)  # the order of writing says nothing about the order of answering
        batch = mixed[keep:]  # `keep` chosen at random stay, to go with the next batch
        for row in batch:
            stored = row.data["dims"]  # JSON gave the spheres back as a list
            dims = Dimensions(**{**stored, "spheres": tuple(stored["spheres"])})
            await self.save_response(
                survey, row.data["answers"], dims, complete=row.data["complete"]
            )
        await self.conn.execute(delete(pool_t).where(pool_t.c.id.in_([r.id for r in batch])))
        return len(batch)

    async def pooled(self, at_least: int) -> list[int]:
        result = await self.conn.execute(
            select(pool_t.c.survey_id)
            .group_by(pool_t.c.survey_id)
            .having(func.count() >= max(1, at_least))
            .order_by(pool_t.c.survey_id)
        )
        return list(result.scalars())

    async def set_results_opt_in(self, survey_id: int, member_id: int) -> None:
        await self.conn.execute(
            update(participation_t)
            .where(
                participation_t.c.survey_id == survey_id, participation_t.c.member_id == member_id
            )
            .values(results_opt_in=True)
        )

    async def seen_public(self, survey_id: int, digest: str) -> bool:
        result = await self.conn.execute(
            select(public_seen_t.c.digest).where(
                public_seen_t.c.survey_id == survey_id, public_seen_t.c.digest == digest
            )
        )
        return result.first() is not None

    async def mark_public(self, survey_id: int, digest: str) -> None:
        await self.conn.execute(
            self._upsert(public_seen_t)
            .values(survey_id=survey_id, digest=digest)
            .on_conflict_do_nothing()
        )

    async def counts(self, survey_id: int) -> tuple[int, int]:
        started = await self.conn.execute(
            select(func.count())
            .select_from(participation_t)
            .where(
                participation_t.c.survey_id == survey_id,
                participation_t.c.status.in_(["started", "completed"]),
            )
        )
        completed = await self.conn.execute(
            select(func.count())
            .select_from(response_t)
            .where(response_t.c.survey_id == survey_id, response_t.c.complete.is_(True))
        )
        # Finished questionnaires still waiting in the pool count too (only partial answers
        # kept at the close are incomplete, and those are stored at once).
        pooled = await self.conn.execute(
            select(func.count()).select_from(pool_t).where(pool_t.c.survey_id == survey_id)
        )
        done = int(completed.scalar_one()) + int(pooled.scalar_one())
        return int(started.scalar_one()), done

    async def due_to_close(self, now: datetime) -> list[Survey]:
        rows = await self.conn.execute(
            select(*_SURVEY).where(survey_t.c.closed_at.is_(None), survey_t.c.closes_at <= now)
        )
        return [_survey(r) for r in rows]

    async def close(self, survey_id: int, now: datetime) -> None:
        await self.conn.execute(
            delete(public_seen_t).where(public_seen_t.c.survey_id == survey_id)
        )
        await self.conn.execute(
            update(survey_t)
            .where(survey_t.c.id == survey_id)
            .values(closed_at=now, respondent_salt=None)  # no hash can be made again
        )

    async def remindable(self, survey: Survey, limit: int) -> list[Remindable]:
        audience: Audience = survey.definition.audience
        members = audience_query(audience).subquery()
        rows = await self.conn.execute(
            select(
                member_t.c.id,
                member_t.c.channel,
                member_t.c.locale,
                member_t.c.country,
                member_t.c.timezone,
            )
            .join(members, members.c.id == member_t.c.id)
            .outerjoin(
                participation_t,
                (participation_t.c.member_id == member_t.c.id)
                & (participation_t.c.survey_id == survey.id),
            )
            .where(
                or_(
                    participation_t.c.status.is_(None),
                    participation_t.c.status.in_(["started", "invited"]),
                ),
                func.coalesce(participation_t.c.reminders_sent, 0) < limit,
            )
            .order_by(member_t.c.id)
        )
        return [Remindable(r.id, r.channel, r.locale, r.country, r.timezone) for r in rows]

    async def mark_reminded(self, survey_id: int, member_ids: list[int]) -> None:
        for member_id in member_ids:
            statement = self._upsert(participation_t).values(
                survey_id=survey_id, member_id=member_id, status="invited", reminders_sent=1
            )
            await self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["survey_id", "member_id"],
                    set_={"reminders_sent": participation_t.c.reminders_sent + 1},
                )
            )

    async def respondent_salt(self, survey_id: int) -> str | None:
        """The open survey's salt for public respondents' hashes, made at first use; None
        once it is closed (the close destroyed it)."""
        await self.conn.execute(
            update(survey_t)
            .where(
                survey_t.c.id == survey_id,
                survey_t.c.respondent_salt.is_(None),
                survey_t.c.closed_at.is_(None),
            )
            .values(respondent_salt=secrets.token_hex(32))
        )
        result = await self.conn.execute(
            select(survey_t.c.respondent_salt).where(
                survey_t.c.id == survey_id, survey_t.c.closed_at.is_(None)
            )
        )
        salt: str | None = result.scalar_one_or_none()
        return salt

    async def to_push(self, now: datetime) -> list[Survey]:
        rows = await self.conn.execute(
            select(*_SURVEY).where(
                survey_t.c.mode == SurveyMode.MEMBERS.value,
                survey_t.c.pushed_at.is_(None),
                survey_t.c.closed_at.is_(None),
                survey_t.c.opens_at <= now,
                survey_t.c.closes_at > now,
            )
        )
        return [_survey(r) for r in rows]

    async def mark_pushed(self, survey_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(survey_t).where(survey_t.c.id == survey_id).values(pushed_at=now)
        )

    async def open_surveys(self, now: datetime) -> list[Survey]:
        rows = await self.conn.execute(
            select(*_SURVEY).where(
                survey_t.c.closed_at.is_(None),
                survey_t.c.opens_at <= now,
                survey_t.c.closes_at > now,
            )
        )
        return [_survey(r) for r in rows]

    async def in_progress(self, survey_id: int) -> list[InProgress]:
        rows = await self.conn.execute(
            select(state_t.c.channel, state_t.c.chat_id, state_t.c.data).where(
                state_t.c.flow == "srv"
            )
        )
        found = []
        for channel, chat_id, data in rows:
            if int((data or {}).get("sid", -1)) != survey_id:
                continue
            member = (
                await self.conn.execute(
                    select(member_t.c.id).where(
                        member_t.c.channel == channel, member_t.c.chat_id == chat_id
                    )
                )
            ).scalar_one_or_none()
            found.append(
                InProgress(
                    channel,
                    chat_id,
                    dict(data.get("answers") or {}),
                    member,
                    str(data.get("locale") or "en"),
                )
            )
        return found

    async def forget_in_progress(self, items: list[InProgress]) -> None:
        for item in items:
            await self.conn.execute(
                delete(state_t).where(
                    state_t.c.channel == item.channel, state_t.c.chat_id == item.chat_id
                )
            )


def _survey(row: Any) -> Survey:
    return Survey(
        id=row.id,
        definition=_definition(row.id, row.definition),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        closed=row.closed_at is not None,
    )


def _definition(survey_id: int, stored: str | dict[str, Any]) -> SurveyDefinition:
    """The parsed definition, reused while the stored text is the same (definitions are
    immutable once parsed; an edited survey has a different text and is parsed again)."""
    if not isinstance(stored, str):  # a driver that decodes JSON whatever the column type
        return parse_definition(stored, SUPPORTED)
    cached = _parsed.get(survey_id)
    if cached is not None and cached[0] == stored:
        return cached[1]
    definition = parse_definition(json.loads(stored), SUPPORTED)
    _parsed[survey_id] = (stored, definition)
    return definition
