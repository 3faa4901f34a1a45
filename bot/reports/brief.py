"""A country brief and a survey family's trend, ready to render: disclosed tables only.

Built by bot/services/brief.py; rendered by bot/reports/brief_render.py (Markdown, PDF). Every
figure in here is a published figure of a disclosure-controlled table (the cell-key method of
bot/reports/disclosure.py), and every change between survey rounds is computed from published
figures only: nothing rendered from these can show a small group, and no trend can be
subtracted back to one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.reports.disclosure import Disclosed
from bot.reports.model import Report

# A survey repeated monthly is one "family": its slugs end in the round's month,
# "pulse-safety-2026-11", "pulse-safety-2026-12" (family "pulse-safety").
ROUND = re.compile(r"^(?P<family>[a-z0-9-]+?)-(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")


def family_of(slug: str) -> str | None:
    """The family a survey's slug belongs to ("pulse-safety"), None when it is no round."""
    match = ROUND.match(slug)
    return match.group("family") if match else None


def round_of(slug: str) -> str | None:
    """The month a round's slug names ("2026-11"), None when it is no round."""
    match = ROUND.match(slug)
    return f"{match.group('year')}-{match.group('month')}" if match else None


def shares_of_total(table: Disclosed, row: int) -> tuple[float | None, ...]:
    """Each shown cell of a row as a share of the row's published total (a figure of its own,
    perturbed like the cells): None for a hidden cell, or for every cell when the total is
    under k. Unlike shares of the cells shown, these stay comparable when cells are hidden,
    and they are made of published figures only."""
    base = table.row_totals[row]
    return tuple(
        None if n is None or not base else min(100.0, 100.0 * n / base) for n in table.cells[row]
    )


@dataclass(frozen=True, slots=True)
class TrendQuestion:
    """One question across rounds: per answer, its share in each round (percent of the row's
    published total, `shares_of_total`; None where the round hides it)."""

    key: str
    title: str
    answers: tuple[str, ...]  # labels in the reader's language
    shares: tuple[tuple[float | None, ...], ...]  # [answer][round]

    def change(self, answer: int) -> float | None:
        """Percentage points between the last two rounds; None when either hides it."""
        row = self.shares[answer]
        if len(row) < 2 or row[-1] is None or row[-2] is None:
            return None
        return row[-1] - row[-2]


@dataclass(frozen=True, slots=True)
class Trend:
    """A survey family's rounds for one group (a country, or the whole alliance)."""

    family: str
    group: str  # a country code, "" for the whole alliance
    group_label: str
    rounds: tuple[str, ...]  # round labels in the reader's language, oldest first
    slugs: tuple[str, ...]
    questions: tuple[TrendQuestion, ...]
    k: int
    noise: int


@dataclass(frozen=True, slots=True)
class SurveyResult:
    """A closed survey's results as the brief shows them: the country's row of its results
    by country beside the whole alliance's (a two-row report, charted as one), or why the
    country cannot be shown."""

    slug: str
    title: str
    report: Report
    country_shown: bool  # False: too few answers from the country (only the alliance shown)
    trend: Trend | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """An approved field update's words, which its author agreed may be quoted without her
    name: shortened, dated by month only."""

    text: str
    month: str  # "November 2026", in the reader's language


@dataclass(frozen=True, slots=True)
class CountryBrief:
    """Everything a brief shows about one country over one calendar period."""

    country: str
    country_label: str
    locale: str
    period: str  # the period in the reader's language
    period_code: str  # "2026-Q4"
    generated_at: datetime
    k: int
    noise: int
    spheres: tuple[str, ...]  # sphere codes, "" for members without one
    sphere_labels: tuple[str, ...]
    members: Disclosed  # rows: spheres (and ""), one column: members (who works where)
    updates: Disclosed  # rows: spheres, columns: routine, urgent (field updates)
    surveys: tuple[SurveyResult, ...]
    notes: tuple[str, ...]  # how to read the figures, in the reader's language
    more_surveys: int = 0  # surveys of the period left out to keep to two pages
    quotes: tuple[Quote, ...] = ()  # newest first; none where the country has under k members
