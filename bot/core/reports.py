"""Reports as the core sees them: what can be asked (subject, period, breakdown) and the
aggregate counts storage returns. Counts per group only: there is no way to ask for a row."""

from __future__ import annotations

import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

KEY_SPACE = 2**31  # record and cell keys are integers in [0, KEY_SPACE)


def record_key() -> int:
    """A new record's permanent random key (cell-key method, bot/reports/disclosure.py)."""
    return secrets.randbelow(KEY_SPACE)


class Subject(StrEnum):
    """What a report is about."""

    SURVEY = "survey"
    UPDATES = "updates"
    MEMBERSHIP = "membership"
    DELIVERY = "delivery"


class Breakdown(StrEnum):
    """How the counts are split into groups (rows)."""

    NONE = "none"
    COUNTRY = "country"
    SPHERE = "sphere"
    LANGUAGE = "language"
    CHANNEL = "channel"
    AGE = "age"
    GENDER = "gender"
    WEEK = "week"
    MONTH = "month"


# Survey results are released once, for the whole survey: never by week or month.
SURVEY_BREAKDOWNS = (
    Breakdown.NONE,
    Breakdown.COUNTRY,
    Breakdown.SPHERE,
    Breakdown.LANGUAGE,
    Breakdown.CHANNEL,
    Breakdown.AGE,
    Breakdown.GENDER,
)
PUBLIC_ONLY = (Breakdown.AGE, Breakdown.GENDER)  # asked of public respondents only
UPDATE_BREAKDOWNS = (
    Breakdown.NONE,
    Breakdown.COUNTRY,
    Breakdown.SPHERE,
    Breakdown.WEEK,
    Breakdown.MONTH,
)
MEMBERSHIP_BREAKDOWNS = (
    Breakdown.NONE,
    Breakdown.COUNTRY,
    Breakdown.SPHERE,
    Breakdown.LANGUAGE,
    Breakdown.CHANNEL,
)


class PeriodKind(StrEnum):
    """The calendar periods counts over time are released for (never an arbitrary range)."""

    WEEK = "week"  # an ISO week, Monday to Sunday: 2026-W47
    MONTH = "month"  # the weeks whose Monday falls in the month: 2026-11
    QUARTER = "quarter"  # the weeks of its three months: 2026-Q4
    ALL = "all"  # every week up to the last complete one


_LABELS = {
    PeriodKind.WEEK: re.compile(r"^(\d{4})-W(\d{2})$"),
    PeriodKind.MONTH: re.compile(r"^(\d{4})-(\d{2})$"),
    PeriodKind.QUARTER: re.compile(r"^(\d{4})-Q([1-4])$"),
}


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _first_monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


@dataclass(frozen=True, slots=True)
class CalendarPeriod:
    """A fixed calendar period: whole weeks (anonymous data knows only its week's Monday).

    Months and quarters are made of the weeks whose Monday falls in them, so a quarter is
    exactly its months and a month exactly its weeks: the family of periods nests, and the
    same people always make the same cell. Only complete periods are released, so a period's
    figures do not change from one day to the next. `first` is a Monday (None: from the
    start), `end` the Monday after the last week (exclusive).
    """

    kind: PeriodKind
    label: str
    first: date | None
    end: date

    @classmethod
    def parse(cls, kind: PeriodKind, label: str, today: date) -> CalendarPeriod:
        """The period called `label` ("2026-W47", "2026-11", "2026-Q4"); ValueError when the
        label is malformed or the period is not complete yet."""
        if kind is PeriodKind.ALL:
            return cls.all_time(today)
        match = _LABELS[kind].match(label.strip())
        if match is None:
            raise ValueError(f"not a {kind.value} label: {label!r}")
        year, number = int(match.group(1)), int(match.group(2))
        if kind is PeriodKind.WEEK:
            first = date.fromisocalendar(year, number, 1)
            end = first + timedelta(weeks=1)
        else:
            months = 1 if kind is PeriodKind.MONTH else 3
            start_month = number if kind is PeriodKind.MONTH else 3 * (number - 1) + 1
            if not 1 <= start_month <= 12:
                raise ValueError(f"not a {kind.value} label: {label!r}")
            after = start_month + months
            first = _first_monday_on_or_after(date(year, start_month, 1))
            end = _first_monday_on_or_after(
                date(year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
            )
        period = cls(kind, cls.label_of(kind, first), first, end)
        if not period.complete(today):
            raise ValueError(f"{label} is not over yet")
        return period

    @classmethod
    def all_time(cls, today: date) -> CalendarPeriod:
        return cls(PeriodKind.ALL, PeriodKind.ALL.value, None, _monday(today))

    @staticmethod
    def label_of(kind: PeriodKind, monday: date) -> str:
        """The label of the period of `kind` that the week of `monday` belongs to."""
        if kind is PeriodKind.WEEK:
            year, week, _day = monday.isocalendar()
            return f"{year}-W{week:02d}"
        if kind is PeriodKind.MONTH:
            return f"{monday.year}-{monday.month:02d}"
        if kind is PeriodKind.QUARTER:
            return f"{monday.year}-Q{(monday.month - 1) // 3 + 1}"
        return PeriodKind.ALL.value

    @classmethod
    def recent(cls, kind: PeriodKind, today: date, count: int = 1) -> list[CalendarPeriod]:
        """The `count` latest complete periods of `kind`, newest first."""
        if kind is PeriodKind.ALL:
            return [cls.all_time(today)]
        found: list[CalendarPeriod] = []
        monday = _monday(today) - timedelta(weeks=1)
        while len(found) < count:
            label = cls.label_of(kind, monday)
            if not found or found[-1].label != label:
                with suppress(ValueError):  # not over yet
                    found.append(cls.parse(kind, label, today))
            monday -= timedelta(weeks=1)
        return found

    def complete(self, today: date) -> bool:
        return self.end <= _monday(today)

    @property
    def start_at(self) -> datetime | None:
        """The first moment of the period (UTC), None for all time."""
        return None if self.first is None else datetime.combine(self.first, time(), UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    @property
    def first_week(self) -> str | None:
        return None if self.first is None else self.first.isoformat()

    @property
    def last_week(self) -> str:
        return (self.end - timedelta(weeks=1)).isoformat()

    def weeks(self, since: date | None = None) -> list[str]:
        """Every week of the period (Mondays, ISO dates); all time starts at `since`."""
        day = self.first or since
        if day is None:
            return []
        day = _monday(day)
        found = []
        while day < self.end:
            found.append(day.isoformat())
            day += timedelta(weeks=1)
        return found


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many answers gave `option` (or `number`) to `question` in `group`."""

    question: str
    option: str  # a number's range ("#2", the third), "" for free-text answers
    number: float | None  # a scale answer's value
    group: str  # "" when there is no breakdown or the dimension was not given
    count: int


ALL_SPHERES = "*"  # the tally's row that counts each update once, whatever its spheres


@dataclass(frozen=True, slots=True)
class UpdateCount:
    """An anonymous weekly tally: updates from `country` in `week`, urgent or not, about
    `sphere` (or `ALL_SPHERES`: every update once). `key` is the sum of the updates' record
    keys (cell-key method)."""

    country: str
    sphere: str
    week: str
    urgent: bool
    count: int
    key: int


@dataclass(frozen=True, slots=True)
class MemberCount:
    """Active members who joined in the period, in one group of every dimension a membership
    report splits by: the groups do not overlap, so any report cell is a sum of groups.
    `spheres` is the set of her spheres; `key` the sum of the members' record keys."""

    country: str
    locale: str
    channel: str
    spheres: frozenset[str]
    count: int
    key: int


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """Outbox messages of one campaign in one status (and why, when it failed); `key` is the
    sum of the recipients' record keys."""

    campaign_id: int
    kind: str
    title: str
    status: str
    reason: str
    count: int
    key: int = 0


@dataclass(frozen=True, slots=True)
class ResultRecipient:
    """A member who asked to get a survey's results, with what is needed to write to her."""

    member_id: int
    channel: str
    locale: str
    country: str | None


class Reports(Protocol):
    """Aggregates for reports (storage.reports.ReportRepository): computed in SQL, counts only."""

    async def survey_counts(self, survey_id: int, by: Breakdown) -> list[AnswerCount]:
        """The whole survey's counts by `by` (released once, after close: no period)."""

    async def survey_responses(self, survey_id: int) -> int:
        """Respondents counted in the survey's overall results."""

    async def survey_headcounts(self, survey_id: int, by: Breakdown) -> dict[str, int]:
        """Respondents per group of `by` (only groups counted with at least k)."""

    async def closed_surveys(self, limit: int = 8) -> list[tuple[int, str]]:
        """(id, slug) of the most recently closed surveys that have answers."""

    async def update_counts(self, period: CalendarPeriod) -> list[UpdateCount]:
        """The anonymous weekly tallies of the period's weeks."""

    async def membership_counts(self, period: CalendarPeriod) -> list[MemberCount]:
        """Active members who joined in the period, by every dimension at once."""

    async def delivery_counts(
        self, period: CalendarPeriod, limit: int = 20
    ) -> list[DeliveryCount]:
        """Per campaign created in the period (the `limit` most recent), messages by status
        and failure reason."""

    async def results_due(self) -> list[int]:
        """Ids of closed surveys whose results have not been sent to participants yet."""

    async def results_recipients(self, survey_id: int) -> list[ResultRecipient]:
        """Active members who took part and asked for the results."""

    async def mark_results_sent(self, survey_id: int, now: datetime) -> None: ...
