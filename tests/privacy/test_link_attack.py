"""The attack of issue 10, replayed: a reader holds a copy of the database (system columns
included) and tries to link survey answers to the members who gave them.

Forty members with varied countries, languages, channels and sphere sets (among them a lone
Yemeni and a lone sphere combination) answer a survey through the real conversation; a few stop
half-way. The survey job folds a first batch, more answer, the survey closes. At both points the
attacker matches every row of every table holding survey data against member, member_sphere and
survey_participation, and (on PostgreSQL) matches transaction ids (xmin).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.surveys import parse_definition
from bot.services.surveys import close_due_surveys, flush_survey_pools
from handlers import build_router
from storage.store import SqlStore
from storage.tables import member_t, metadata, participation_t, sphere_t
from tests.support.harness import Harness, Person
from tests.support.surveys import CATALOGS, option_label, pulse

K = 5
COUNTRIES = ["IQ"] * 16 + ["SY"] * 12 + ["LB"] * 11 + ["YE"]  # one Yemeni
SPHERE_SETS = [("youth",), ("youth", "vaw"), ("rights",), ("media", "rights")]
LONE_SPHERES = ("religion", "narratives", "advocacy")  # nobody else works on religion
PARTIAL = {3, 17, 26, 33}  # stop after the first question
# Where the attacker's knowledge comes from, not survey data: who took part (by design), and
# the public respondents' keyed hashes (another part of the design, with no attribute).
KNOWLEDGE = {"survey_participation", "survey_public_seen"}
NEUTRAL = {"survey_id", "question", "answer", "count", "id", "text"}  # carry no attribute


@dataclass(frozen=True)
class Known:
    """What the attacker knows of a member from the member tables."""

    member_id: int
    channel: str
    chat_id: str
    country: str | None
    locale: str
    spheres: frozenset[str]


def survey_data_tables() -> list[str]:
    """Every table holding survey data, found by introspection, not by a list."""
    return sorted(
        name
        for name, table in metadata.tables.items()
        if (name.startswith("survey_") or "survey_id" in table.columns) and name not in KNOWLEDGE
    )


async def rows(store: SqlStore, name: str) -> list[dict[str, Any]]:
    async with store.transaction() as tx:
        return [dict(r._mapping) for r in await tx.conn.execute(select(metadata.tables[name]))]


async def known_members(store: SqlStore) -> dict[int, Known]:
    async with store.transaction() as tx:
        spheres: dict[int, set[str]] = {}
        for member_id, sphere in await tx.conn.execute(select(sphere_t)):
            spheres.setdefault(member_id, set()).add(sphere)
        found = await tx.conn.execute(
            select(member_t.c.id, member_t.c.channel, member_t.c.chat_id, member_t.c.country,
                   member_t.c.locale)
        )  # fmt: skip
        return {
            r.id: Known(r.id, r.channel, r.chat_id, r.country, r.locale,
                        frozenset(spheres.get(r.id, ())))
            for r in found
        }  # fmt: skip


def consistent(members: Iterable[Known], dimension: str, value: str) -> set[int]:
    """The members an attribute could belong to. A crosstab's value ("x:q1:q2") is an answer,
    which the member tables do not know: it narrows nothing down for this attacker."""
    if dimension.startswith("x:"):
        return {m.member_id for m in members}
    match = {
        "none": lambda m: True,
        "country": lambda m: (m.country or "") == value,
        "language": lambda m: m.locale == value,
        "channel": lambda m: m.channel == value,
        "sphere": lambda m: value in m.spheres,
    }[dimension]
    return {m.member_id for m in members if match(m)}


async def attack(store: SqlStore, survey_id: int) -> list[str]:
    """Every way the attacker can narrow a stored answer down to fewer than k members."""
    members = await known_members(store)
    async with store.transaction() as tx:
        took_part = {
            r.member_id
            for r in await tx.conn.execute(
                select(participation_t).where(participation_t.c.survey_id == survey_id)
            )
        }
    # The strictest attacker: answers can only come from members who took part.
    suspects = [m for m in members.values() if m.member_id in took_part]
    problems = []
    tables = survey_data_tables()
    assert {"survey_count", "survey_text"} <= set(tables), tables
    for name in tables:
        columns = set(metadata.tables[name].columns.keys())
        attributes = columns - NEUTRAL - {"dimension", "value"}
        if attributes:
            problems.append(f"{name} carries attributes the attack does not know: {attributes}")
        if "dimension" not in columns:
            continue  # no attribute: nothing to match a member against
        for row in await rows(store, name):
            candidates = consistent(suspects, row["dimension"], row["value"])
            if len(candidates) < K:
                problems.append(
                    f"{name} {row['dimension']}={row['value']!r} ({row.get('question')!r}, "
                    f"{row.get('answer')!r}): {len(candidates)} candidate(s)"
                )
    if store.engine.dialect.name == "postgresql":
        problems += await xmin_attack(store, members, tables)
    return problems


async def xmin_attack(store: SqlStore, members: dict[int, Known], tables: list[str]) -> list[str]:
    """Rows written in one transaction share xmin: a survey-data row whose transaction also
    wrote fewer than k members' participation or conversation rows points at them."""
    by_chat = {(m.channel, m.chat_id): m.member_id for m in members.values()}
    async with store.transaction() as tx:
        data_xmins = set()
        for name in tables:
            data_xmins |= set(
                (await tx.conn.execute(text(f"SELECT xmin::text FROM {name}"))).scalars()  # noqa: S608
            )
        written: dict[str, set[Any]] = {}
        for xmin, member_id in await tx.conn.execute(
            text("SELECT xmin::text, member_id FROM survey_participation")
        ):
            written.setdefault(xmin, set()).add(member_id)
        for xmin, channel, chat_id in await tx.conn.execute(
            text("SELECT xmin::text, channel, chat_id FROM conversation_state")
        ):
            written.setdefault(xmin, set()).add(
                by_chat.get((channel, chat_id), (channel, chat_id))
            )
    return [
        f"xmin {xmin} ties survey data to {len(written[xmin])} person(s)"
        for xmin in sorted(data_xmins)
        if 0 < len(written.get(xmin, ())) < K
    ]


async def answer(she: Person, sid: int, i: int, *, finish: bool = True) -> None:
    """Member `i` answers survey `sid` by the labels she sees, in her language (member `i`
    speaks ("ar", "en", "fr")[i % 3])."""
    locale = ("ar", "en", "fr")[i % 3]
    _ = CATALOGS.get(locale)
    await she.say("/survey pulse-test")
    await she.tap(str(1 + i % 5))
    if not finish:
        return  # stops half-way
    await she.tap(_("Yes") if i % 3 == 0 else _("No"))
    if i % 3 == 0:
        await she.tap(option_label("who", ("armed", "family", "online")[i % 2], locale))
        await she.tap(_("Done"))
    await she.say(str(i % 32))
    if i % 4 == 0:
        await she.say(f"remark {i}")
    else:
        await she.tap(_("Skip"))


async def test_no_stored_answer_points_to_fewer_than_k_members(store: SqlStore) -> None:
    """Promise 1 (issue 10): survey answers cannot be linked to a member. Every counter stands
    for at least k members who could have given it, mid-survey and after close; free text has
    no attribute; and no transaction writes survey data with fewer than k people's rows."""
    router = build_router()
    telegram = Harness(store, router)
    whatsapp = Harness(store, router, channel=ChannelName.WHATSAPP)
    now = telegram.clock.now()
    data = pulse()
    data["breakdowns"] = ["country", "sphere", "language", "channel"]
    data["crosstabs"] = [["threat", "safe"]]
    async with store.transaction() as tx:
        sid, _ = await tx.surveys.upsert(
            parse_definition(data, ("en", "ar", "fr")), now, now + timedelta(days=7), now
        )
        people = []
        for i, country in enumerate(COUNTRIES):
            h = whatsapp if i % 4 == 0 else telegram
            user = str(9000 + i)
            spheres = LONE_SPHERES if i == 21 else SPHERE_SETS[i % len(SPHERE_SETS)]
            await tx.members.create(
                NewMember(h.channel.name, user, user, ("ar", "en", "fr")[i % 3], country,
                          list(spheres), Role.MEMBER, "v1", now),
                now,
            )  # fmt: skip
            people.append(h.person(user, None))

    # First half answers; the survey job folds a first batch.
    for i, she in enumerate(people[:20]):
        await answer(she, sid, i, finish=i not in PARTIAL)
    assert await flush_survey_pools(store, K) > 0, "a first batch was counted"
    assert await attack(store, sid) == []

    for i, she in enumerate(people[20:], 20):
        await answer(she, sid, i, finish=i not in PARTIAL)
    await flush_survey_pools(store, K)
    assert await attack(store, sid) == []

    for h in (telegram, whatsapp):
        h.clock.advance(timedelta(days=8))
    assert await close_due_surveys(store, telegram.clock.now(), K) == [sid]
    assert await attack(store, sid) == []
    async with store.transaction() as tx:
        finished = len(COUNTRIES) - len(PARTIAL)
        assert await tx.reports.survey_responses(sid) == finished, "every finished one counted"
        by_country = await tx.reports.survey_headcounts(sid, _breakdown("country"))
        texts = await tx.reports.survey_texts(sid, K)
        crossed = await tx.reports.survey_crosstab(sid, "threat", "safe")
        statuses = set(
            (await tx.conn.execute(select(participation_t.c.status).distinct())).scalars()
        )
    assert "YE" not in by_country and sum(by_country.values()) < finished, "YE: other/hidden"
    assert len(texts) == sum(1 for i in range(len(COUNTRIES)) if i % 4 == 0 and i not in PARTIAL)
    assert {c.group for c in crossed} == {"yes", "no"}, "the declared crosstab was counted"
    assert statuses == {"took_part"}, "who finished and who stopped half-way look the same"

    # The attack can succeed: a counter written for the Yemeni alone is found at once.
    async with store.transaction() as tx:
        survey = await tx.surveys.get(sid)
        assert survey is not None
        await tx.surveys.add_counts(survey, [({"safe": 1}, "country", "YE")], [])
    assert any("country='YE'" in p for p in await attack(store, sid))


def _breakdown(name: str) -> Any:
    from bot.core.reports import Breakdown

    return Breakdown(name)
