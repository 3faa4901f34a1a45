"""Data for report tests: a closed survey with answers from several countries, members, and
a stream of field updates, written through the real repositories."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.surveys import Dimensions, Survey, parse_definition
from storage.store import SqlStore, SqlTransaction
from tests.support.surveys import pulse

LOCALES = ("en", "ar", "fr")
FREE_TEXT = "a private remark no report may carry"


def answers(i: int) -> dict[str, Any]:
    """The i-th respondent's answers to the pulse survey (skip logic respected)."""
    threat = i % 3 == 0
    answer: dict[str, Any] = {"safe": 1 + i % 5, "threat": "yes" if threat else "no"}
    if threat:
        answer["who"] = ["armed"] if i % 2 else ["family", "online"]
    answer["work"] = i % 32
    answer["note"] = f"{FREE_TEXT} {i}" if i % 4 == 0 else None
    return answer


async def seed_survey(
    store: SqlStore,
    now: datetime,
    per_country: Mapping[str, int],
    *,
    slug: str = "pulse-test",
    mode: str = "members",
    close: bool = True,
    public_results: bool = False,
) -> Survey:
    """A survey with `per_country` respondents each (closed unless told otherwise)."""
    data = pulse(slug, mode)
    if public_results:
        data["public_results"] = True
    definition = parse_definition(data, LOCALES)
    async with store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            definition, now - timedelta(days=7), now + timedelta(days=7), now - timedelta(days=7)
        )
        survey = await tx.surveys.get(survey_id)
        assert survey is not None
        await add_respondents(tx, survey, per_country, public=mode == "public")
        if close:
            await tx.surveys.close(survey_id, now)
    async with store.transaction() as tx:
        found = await tx.surveys.get(survey_id)
    assert found is not None
    return found


async def add_respondents(
    tx: SqlTransaction,
    survey: Survey,
    per_country: Mapping[str, int],
    *,
    public: bool = False,
    answer: Callable[[int], dict[str, Any]] = answers,
    shift: int = 0,
    free_text: bool = True,
) -> None:
    """`per_country` respondents each, as the fold would count them: respondent i answers
    `answer(i + shift)`, in a language, channel and spheres drawn from i.

    Seeded as counts straight away (every group, whatever its size): report tests check what
    reports hide; what the fold lets through is tested on its own.
    """
    definition = survey.definition
    i = 0
    for country, n in per_country.items():
        for _n in range(n):
            dims = Dimensions(
                locale=LOCALES[i % 3],
                channel="telegram" if i % 2 else "whatsapp",
                country=country,
                spheres=("youth",) if i % 2 else ("youth", "vaw"),
                age_band="20-24" if public else None,
                gender="woman" if public else None,
            )
            given = answer(i + shift)
            groups = dims.groups(definition.breakdowns)
            batch = [(given, d, v) for d, values in groups.items() for v in values]
            texts = [("note", given["note"])] if free_text and given.get("note") else []
            await tx.surveys.add_counts(survey, batch, texts)
            i += 1


async def seed_members(
    store: SqlStore, now: datetime, per_country: Mapping[str, int], start: int = 5_000_000
) -> list[int]:
    """Members spread over spheres; returns their ids."""
    ids = []
    async with store.transaction() as tx:
        i = start
        for country, n in per_country.items():
            for _n in range(n):
                member = await tx.members.create(
                    NewMember(
                        channel=ChannelName.TELEGRAM,
                        platform_id=str(i),
                        chat_id=str(i),
                        locale=LOCALES[i % 3],
                        country=country,
                        spheres=["youth", "vaw"] if i % 2 else ["youth"],
                        role=Role.MEMBER,
                        consent_version="test",
                        consented_at=now,
                    ),
                    now,
                )
                ids.append(member.id)
                i += 1
    return ids


async def seed_updates(
    store: SqlStore, now: datetime, author_id: int, per_country: Mapping[str, int]
) -> None:
    """A stream of updates: every fifth urgent, about one or two spheres."""
    async with store.transaction() as tx:
        i = 0
        for country, n in per_country.items():
            for _n in range(n):
                await tx.updates.submit(
                    author_id=author_id,
                    country=country,
                    locale="en",
                    urgent=i % 5 == 0,
                    text=f"update {i}",
                    media_kind=None,
                    media_ref=None,
                    keep_if_shared=False,
                    spheres=["youth"] if i % 2 else ["youth", "rights"],
                    now=now,
                )
                i += 1


def xlsx_text(data: bytes) -> tuple[list[str], str]:
    book = load_workbook(io.BytesIO(data))
    cells = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [str(v) for v in row if v is not None]
    return book.sheetnames, "\n".join(cells)
