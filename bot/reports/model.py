"""A report ready to render: disclosed tables with labels in the reader's language.

Built by bot/services/reports.py from storage aggregates; every table in it has been through
`disclosure.disclose`, so nothing rendered from it can show a small group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.reports import Breakdown, Subject
from bot.reports.disclosure import Disclosed


class SectionKind(StrEnum):
    CHOICE = "choice"  # single, multiple, yes/no, scale: one column per answer
    NUMBER = "number"  # number answers, counted in ranges
    TEXT = "text"  # free text: only how many answers there were, the answers are withheld
    TABLE = "table"  # updates, membership, delivery


@dataclass(frozen=True, slots=True)
class Section:
    """One table: a survey question, or the table of an updates or membership report."""

    key: str  # question key, or the subject
    title: str
    kind: SectionKind
    table: Disclosed
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    notes: tuple[str, ...] = ()  # localised remarks specific to this table
    sheet: str = ""  # its spreadsheet tab's name, localised; "" for "Question <n>" or the title
    # What each column stands for as a number (a scale's points, a number range's middle), so
    # an average can be given; () when the answers are not numbers.
    values: tuple[float, ...] = ()
    overlapping: bool = False  # one person may count in several columns (spheres)

    @property
    def has_data(self) -> bool:
        return not self.table.empty

    @property
    def shown(self) -> bool:
        """Something non-zero can be shown (not empty, not wholly hidden)."""
        return any(n for line in self.table.cells for n in line if n)

    def average(self, row: int) -> float | None:
        """The row's average answer, from its published figures only; None when its answers
        are not numbers, nobody is counted, or any of its cells is hidden (an average over a
        hidden cell would tell something about it)."""
        table = self.table
        if not self.values or table.row_has_hidden(row):
            return None
        counts = [n or 0 for n in table.cells[row]]
        people = sum(counts)
        if people == 0:
            return None
        return sum(v * n for v, n in zip(self.values, counts, strict=True)) / people


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer needs; no person, no raw answer, only disclosed counts."""

    subject: Subject
    title: str
    locale: str
    period: str  # localised description of the period
    breakdown: Breakdown
    breakdown_label: str
    k: int
    generated_at: datetime
    sections: tuple[Section, ...]
    responses: int | None = None  # survey responses; None: fewer than k (or not a survey)
    reference: str = ""  # e.g. the survey's slug
    notes: tuple[str, ...] = field(default_factory=tuple)  # localised, for every output

    @property
    def empty(self) -> bool:
        """No data at all in the period."""
        return all(not s.has_data for s in self.sections)

    @property
    def all_hidden(self) -> bool:
        """There is data, but every group is too small to show any of it (a count of
        withheld free-text answers is not a result)."""
        results = [s for s in self.sections if s.kind is not SectionKind.TEXT] or self.sections
        return not self.empty and not any(s.shown for s in results)
