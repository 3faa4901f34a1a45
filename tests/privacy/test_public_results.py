"""Promise 2 on the public results page (/results/<slug>), which anyone can open.

- Small cells: a group under k is never printed as itself, on the page or in its image's
  report; the figures are the builders' (tests/privacy/test_survey_difference_attack.py
  runs its integer-programming attack on every figure the page prints, together with every
  breakdown the secretariat can see).
- Two snapshots: the page taken the day after the close and weeks later, after a respondent
  left (/forget) and the survey was loaded again, prints the same figures: there is no
  difference to take.
- No free text, not even a count; no person, no link or token of the dashboard.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from bot.core.models import Role
from bot.core.reports import Breakdown
from bot.services.reports import Limits, survey_report
from tests.handlers.conftest import db, join, make_invite
from tests.handlers.test_dashboard import h, web
from tests.privacy.test_difference_attack import Tables, cell_text
from tests.support.harness import Harness
from tests.support.reports import FREE_TEXT, seed_survey

__all__ = ["db", "h", "web"]  # fixtures
MADE = re.compile(r"<dt>Made</dt><dd>[^<]*</dd>")


def figures(page: str) -> list[list[list[str]]]:
    tables = Tables()
    tables.feed(page)
    return tables.tables


async def test_the_public_page_hides_small_groups_and_cannot_be_differenced(
    h: Harness, web: httpx.AsyncClient
) -> None:
    now = h.clock.now()
    survey = await seed_survey(
        h.store, now, {"IQ": 30, "YE": 9, "LB": 2, "SY": 1}, mode="public", public_results=True
    )
    k = h.config.min_cell
    first = {by: await web.get(f"/results/pulse-test?by={by}") for by in ("none", "country")}
    for page in first.values():
        assert page.status_code == 200
        assert FREE_TEXT not in page.text and "Free-text" not in page.text
        assert not re.search(r"[?&;]t=", page.text), "no dashboard token"
        assert "/dashboard?" not in page.text and "/dashboard/survey" not in page.text
        assert "set-cookie" not in page.headers

    # The country table: Lebanon (2) and Syria (1) are "<k" in every answer, never themselves
    # (the noise is at most ±2: a true 3 may be published as 5, "a published k may stand
    # for k-D").
    tables = figures(first["country"].text)
    async with h.store.transaction() as tx:
        _ = h.catalogs.get("en")
        report = await survey_report(
            tx, survey, Breakdown.COUNTRY, k, _, now, secret=Limits.of(h.config).secret
        )
    rows = {line[0]: line[1:] for table in tables for line in table[1:]}
    for country in ("Lebanon", "Syria"):
        assert all(cell.startswith(("<", "—")) for cell in rows[country]), rows[country]
    small = [
        cell
        for table in tables
        for line in table[1:]
        for cell in line[1:]
        if cell.split(" (")[0].isdigit() and 0 < int(cell.split(" (")[0]) < k
    ]
    assert small == [], "no figure under k is printed"
    printed = [line for table in tables for line in table]
    for section in report.sections[:4]:
        for r, label in enumerate(section.row_labels):
            marks = [cell_text(section.table, r, c) for c in range(len(section.table.columns))]
            assert any(
                line[0] == label and [c.split(" (")[0] for c in line[1 : 1 + len(marks)]] == marks
                for line in printed
            ), (section.key, label)

    # Weeks later, after a member who answered left and the content was loaded again.
    she = h.person("800", "en")
    await join(she, await make_invite(h, "code-800", role=Role.MEMBER), locale="en")
    await she.say("/forget")
    await she.tap("Yes, delete all")
    h.clock.advance(timedelta(days=40))
    async with h.store.transaction() as tx:
        await tx.surveys.upsert(survey.definition, survey.opens_at, survey.closes_at, now)
    for by, before in first.items():
        after = await web.get(f"/results/pulse-test?by={by}")
        assert after.status_code == 200
        assert figures(after.text) == figures(before.text), by
        assert MADE.sub("", after.text) == MADE.sub("", before.text), "nothing else moved"
