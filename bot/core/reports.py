"""Reports as the core sees them: what can be asked (subject, period, breakdown) and the
aggregate counts storage returns. Counts per group only: there is no way to ask for a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol


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


class PeriodName(StrEnum):
    """The periods offered by buttons."""

    WEEKS4 = "4w"
    MONTHS3 = "3m"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Period:
    """Weeks from `since` to `until` (inclusive dates; None: open-ended).

    Anonymous data knows only its week (the Monday), so a period is widened to whole weeks.
    """

    since: date | None = None
    until: date | None = None

    @classmethod
    def named(cls, name: PeriodName, now: datetime) -> Period:
        if name is PeriodName.WEEKS4:
            return cls(since=(now - timedelta(weeks=3)).date(), until=now.date())
        if name is PeriodName.MONTHS3:
            return cls(since=(now - timedelta(days=91)).date(), until=now.date())
        return cls()

    @property
    def first_week(self) -> str | None:
        """The Monday of the first week (ISO date), compared with stored weeks."""
        if self.since is None:
            return None
        return (self.since - timedelta(days=self.since.weekday())).isoformat()

    @property
    def last_week(self) -> str | None:
        return self.until.isoformat() if self.until is not None else None

    @property
    def whole(self) -> bool:
        return self.since is None and self.until is None


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many answers gave `option` (or `number`) to `question` in `group`."""

    question: str
    option: str  # a number's range ("#2", the third), "" for free-text answers
    number: float | None  # a scale answer's value
    group: str  # "" when there is no breakdown or the dimension was not given
    count: int


@dataclass(frozen=True, slots=True)
class UpdateCount:
    """Field updates in `group`, urgent or not (from the anonymous tallies)."""

    group: str
    urgent: bool
    count: int


@dataclass(frozen=True, slots=True)
class MemberCount:
    """Active members in `group` working on `sphere` ("" for members with no sphere)."""

    group: str
    sphere: str
    count: int


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """Outbox messages of one campaign in one status (and why, when it failed)."""

    campaign_id: int
    kind: str
    title: str
    status: str
    reason: str
    count: int


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

    async def survey_crosstab(self, survey_id: int, first: str, second: str) -> list[AnswerCount]:
        """A declared crosstab: `second`'s answers per answer to `first` (the group)."""

    async def survey_texts(self, survey_id: int, k: int) -> list[tuple[str, str]]:
        """Free-text answers (question, text), none until the survey has k respondents."""

    async def closed_surveys(self, limit: int = 8) -> list[tuple[int, str]]:
        """(id, slug) of the most recently closed surveys that have answers."""

    async def update_counts(self, by: Breakdown, period: Period) -> list[UpdateCount]: ...

    async def membership_counts(self, by: Breakdown) -> list[MemberCount]: ...

    async def delivery_counts(self, limit: int = 20) -> list[DeliveryCount]:
        """Per campaign (the `limit` most recent), messages by status and failure reason."""

    async def results_due(self) -> list[int]:
        """Ids of closed surveys whose results have not been sent to participants yet."""

    async def results_recipients(self, survey_id: int) -> list[ResultRecipient]:
        """Active members who took part and asked for the results."""

    async def mark_results_sent(self, survey_id: int, now: datetime) -> None: ...
