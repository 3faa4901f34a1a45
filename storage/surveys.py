"""Survey storage. Answers are stored only as counters (docs/privacy.md, promise 1): per question,
answer and declared breakdown value, how many. No row belongs to one respondent.

While she answers, and after she finishes until her answers are counted, they live in her
conversation state only (the `survey_pending` column, which she can erase with /forget). The
fold (`fold`, run by the survey job) counts them in batches: a group (country=YE, sphere=vaw…)
is only ever added to with at least k respondents of that group in the same transaction, a
transaction that writes no participation row. Free text goes to its own table, with no
attribute, under random ids. The participation table says who took part, never what she
answered, and is written in other transactions than the counters.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)

from bot.core.campaigns import Audience
from bot.core.surveys import (
    CROSSTAB,
    Folded,
    Groups,
    InProgress,
    Remindable,
    Survey,
    SurveyDefinition,
    SurveyMode,
    definition_to_json,
    parse_definition,
    tallies,
)
from storage.campaigns import audience_query
from storage.connection import SqlConnection
from storage.tables import (
    count_t,
    member_t,
    participation_t,
    public_seen_t,
    sphere_t,
    state_t,
    survey_t,
    text_t,
)

TOOK_PART = "took_part"  # a participation after close: not whether she finished
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
_HER_STATE = (
    state_t.c.channel == bindparam("b_channel"),
    state_t.c.chat_id == bindparam("b_chat"),
)
_SET_PENDING = update(state_t).where(*_HER_STATE).values(survey_pending=bindparam("b_pending"))
_RETOUCH = update(state_t).where(*_HER_STATE).values(survey_pending=state_t.c.survey_pending)
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

    async def admits(self, survey: Survey, member_id: int) -> bool:
        match = await self.conn.execute(
            audience_query(survey.definition.audience).where(member_t.c.id == member_id)
        )
        return match.first() is not None

    async def hold(
        self,
        channel: str,
        chat_id: str,
        survey_id: int,
        answers: dict[str, Any],
        groups: Groups,
        now: datetime | None = None,
    ) -> None:
        key = {"channel": channel, "chat_id": chat_id}
        row = (
            await self.conn.execute(
                select(state_t.c.survey_pending)
                .where(state_t.c.channel == channel, state_t.c.chat_id == chat_id)
                .with_for_update()
            )
        ).first()
        pending = dict((row.survey_pending if row else None) or {})
        pending[str(survey_id)] = {"a": answers, "g": groups}
        if row is None:
            await self.conn.execute(
                insert(state_t).values(
                    **key, flow=None, step=None, data={}, updated_at=now, survey_pending=pending
                )
            )
            return
        await self.conn.execute(
            update(state_t)
            .where(state_t.c.channel == channel, state_t.c.chat_id == chat_id)
            .values(survey_pending=pending)
        )

    async def _pending(self, *, lock: bool = False) -> list[Any]:
        query = select(state_t.c.channel, state_t.c.chat_id, state_t.c.survey_pending).where(
            state_t.c.survey_pending.is_not(None)
        )
        return list((await self.conn.execute(query.with_for_update() if lock else query)).all())

    async def fold(self, survey: Survey, k: int, *, final: bool = False) -> Folded:
        sid = str(survey.id)
        rows = [r for r in await self._pending(lock=True) if sid in (r.survey_pending or {})]
        if not rows:
            return Folded(0, ())
        entries = {(r.channel, r.chat_id): dict(r.survey_pending[sid]) for r in rows}
        members: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for who, entry in entries.items():
            for dimension, values in (entry.get("g") or {}).items():
                for value in values:
                    members.setdefault((dimension, str(value)), []).append(who)
        threshold, keep = (k, 0) if final else (2 * max(1, k), max(1, k))
        # One random order for the whole batch: each group keeps back its last k in it, so
        # that whoever is kept back is kept back in all her groups at once (and her state,
        # and so its trace, is touched as seldom as possible).
        order = list(entries)
        _MIX.shuffle(order)
        rank = {who: n for n, who in enumerate(order)}
        batch: list[tuple[dict[str, Any], str, str]] = []
        texts: list[tuple[str, str]] = []
        overall = 0
        for (dimension, value), people in sorted(members.items()):
            if len(people) < threshold:
                continue
            chosen = sorted(people, key=rank.__getitem__)
            for who in chosen[: len(chosen) - keep]:
                entry = entries[who]
                batch.append((entry.get("a") or {}, dimension, value))
                groups = {d: list(v) for d, v in (entry.get("g") or {}).items()}
                groups[dimension] = [v for v in groups.get(dimension, []) if str(v) != value]
                entry["g"] = {d: v for d, v in groups.items() if v}
                if dimension == "none":
                    overall += 1
                    texts += self._texts(survey, entry.get("a") or {})
        await self.add_counts(survey, batch, texts)
        # Her state keeps only what is still to count: at the final fold, nothing.
        touched = list(rows)
        _MIX.shuffle(touched)
        changed: list[tuple[str, str]] = []
        updates: list[dict[str, Any]] = []
        for r in touched:
            entry = entries[(r.channel, r.chat_id)]
            if not final and entry.get("g") == (r.survey_pending[sid].get("g") or {}):
                continue  # not in this batch: her row is left alone
            pending = dict(r.survey_pending)
            if final or not entry.get("g"):
                pending.pop(sid, None)
            else:
                pending[sid] = entry
            updates.append(
                {"b_channel": r.channel, "b_chat": r.chat_id, "b_pending": pending or None}
            )
            changed.append((r.channel, r.chat_id))
        if updates:
            await self.conn.execute(_SET_PENDING, updates)
        # Rows are updated, never deleted here: every state of the batch gets this
        # transaction's id (xmin), k people at least, not only the few who happened to be in
        # another conversation (an emptied row goes the next time she writes, or with stale
        # states). `retouch` then moves them all to a transaction with no survey data.
        return Folded(overall, tuple(changed))

    async def retouch(self, states: tuple[tuple[str, str], ...]) -> None:
        """Rewrite these conversation states unchanged, in a transaction of their own after the
        fold: on PostgreSQL they then share no transaction id with any counter, even once some
        of the batch have written to their states again (which would leave the fold's id on
        fewer than k of them)."""
        if states:
            await self.conn.execute(
                _RETOUCH, [{"b_channel": channel, "b_chat": chat} for channel, chat in states]
            )

    @staticmethod
    def _texts(survey: Survey, answers: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        for key, value in answers.items():
            try:
                kind = survey.definition.question(key).type.value
            except KeyError:
                continue
            if kind == "text" and value:
                found.append((key, str(value)))
        return found

    async def add_counts(
        self,
        survey: Survey,
        batch: list[tuple[dict[str, Any], str, str]],
        texts: list[tuple[str, str]],
    ) -> None:
        """Add each (answers, dimension, value) to the counters, and free texts to their own
        table, in random order. The caller decides what may be counted (see `fold`); tests and
        benchmarks seed results with it directly."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        given: dict[int, list[tuple[str, str]]] = {}  # one questionnaire is in several groups
        for answers, dimension, value in batch:
            counts[("", "", dimension, value)] += 1  # the group's headcount
            pairs = given.get(id(answers))
            if pairs is None:
                pairs = given[id(answers)] = tallies(survey.definition, answers)
            # A crosstab ("x:q1:q2") counts q2's answers only, per answer to q1.
            crossed = dimension.split(":")[2] if dimension.startswith(CROSSTAB) else None
            for question, answer in pairs:
                if crossed is None or question == crossed:
                    counts[(question, answer, dimension, value)] += 1
        if counts:
            rows = [
                {"survey_id": survey.id, "question": q, "answer": a, "dimension": d, "value": v,
                 "count": n}
                for (q, a, d, v), n in sorted(counts.items())
            ]  # fmt: skip
            statement = self._upsert(count_t)
            await self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["survey_id", "question", "answer", "dimension", "value"],
                    set_={"count": count_t.c.count + statement.excluded.count},
                ),
                rows,
            )
        if texts:
            mixed = list(texts)
            _MIX.shuffle(mixed)
            await self.conn.execute(
                insert(text_t),
                [
                    {"id": secrets.token_hex(16), "survey_id": survey.id, "question": q, "text": t}
                    for q, t in mixed
                ],
            )

    async def waiting(self) -> list[int]:
        found: set[int] = set()
        for r in await self._pending():
            found |= {int(sid) for sid in (r.survey_pending or {}) if sid.isdigit()}
        return sorted(found)

    async def audience_sizes(self, audience: Audience, dimension: str) -> dict[str, int]:
        members = audience_query(audience).subquery()
        if dimension == "sphere":
            query = (
                select(sphere_t.c.sphere.label("v"), func.count())
                .join(members, members.c.id == sphere_t.c.member_id)
                .group_by(sphere_t.c.sphere)
            )
        else:
            column = {
                "country": member_t.c.country,
                "language": member_t.c.locale,
                "channel": member_t.c.channel,
            }.get(dimension)
            if column is None:
                return {}
            query = (
                select(column.label("v"), func.count())
                .join(members, members.c.id == member_t.c.id)
                .group_by(column)
            )
        return {str(v or ""): int(n) for v, n in await self.conn.execute(query)}

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
                participation_t.c.status.in_(["started", "completed", TOOK_PART]),
            )
        )
        counted = await self.conn.execute(
            select(func.coalesce(func.sum(count_t.c.count), 0)).where(
                count_t.c.survey_id == survey_id,
                count_t.c.question == "",
                count_t.c.dimension == "none",
            )
        )
        # Finished questionnaires still waiting in their authors' states count too.
        sid = str(survey_id)
        waiting = sum(
            1
            for r in await self._pending()
            if "none" in ((r.survey_pending or {}).get(sid) or {}).get("g", {})
        )
        return int(started.scalar_one()), int(counted.scalar_one()) + waiting

    async def due_to_close(self, now: datetime) -> list[Survey]:
        rows = await self.conn.execute(
            select(*_SURVEY).where(survey_t.c.closed_at.is_(None), survey_t.c.closes_at <= now)
        )
        return [_survey(r) for r in rows]

    async def close(self, survey_id: int, now: datetime) -> None:
        await self.conn.execute(
            delete(public_seen_t).where(public_seen_t.c.survey_id == survey_id)
        )
        # Whether she finished no longer matters once nobody can answer: keep only that she
        # took part (unfinished answers are dropped, so "started" would tell them apart).
        await self.conn.execute(
            update(participation_t)
            .where(
                participation_t.c.survey_id == survey_id,
                participation_t.c.status.in_(["started", "completed"]),
            )
            .values(status=TOOK_PART)
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
                member_t.c.second_locale,
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
        return [
            Remindable(r.id, r.channel, r.locale, r.country, r.timezone, r.second_locale)
            for r in rows
        ]

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
            where = (state_t.c.channel == item.channel, state_t.c.chat_id == item.chat_id)
            # Her unfinished answers go; answers of hers waiting to be counted stay.
            await self.conn.execute(
                update(state_t)
                .where(*where)
                .values(flow=None, step=None, data={}, version=state_t.c.version + 1)
            )
            await self.conn.execute(
                delete(state_t).where(*where, state_t.c.survey_pending.is_(None))
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
        return parse_definition(stored, _languages(stored))
    cached = _parsed.get(survey_id)
    if cached is not None and cached[0] == stored:
        return cached[1]
    data = json.loads(stored)
    definition = parse_definition(data, _languages(data))
    _parsed[survey_id] = (stored, definition)
    return definition


def _languages(data: dict[str, Any]) -> tuple[str, ...]:
    """The languages a stored definition has texts in: they were checked when it was loaded
    (with translations, `wasl content load`), so reading it back accepts them all."""
    found = set(data.get("text") or {})
    for question in data.get("questions") or []:
        found.update(question.get("text") or {})
    return tuple(sorted(found))
