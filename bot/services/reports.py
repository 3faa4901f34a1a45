"""Reports: survey results, update counts, membership and delivery, built from storage
aggregates (counts per group, never rows); the operations the bot's /report, the CLI
(`wasl report`), the web dashboard and the scheduler share; and closing the loop, results to
the participants who asked.

Every table goes through bot/reports/disclosure.py before anything is rendered. The
operations check the role (`require`) and write the audit log (`audit`) once, here, for every
caller.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from babel.dates import format_date

from bot.core import keys
from bot.core.actors import Actor, audit, require
from bot.core.campaigns import CampaignKind
from bot.core.context import CoreConfig
from bot.core.i18n import N_, SUPPORTED_LOCALES, Catalogs, Translator
from bot.core.messages import ChannelName
from bot.core.models import Member, Role
from bot.core.ports import Store, Transaction
from bot.core.reports import (
    ALL_SPHERES,
    KEY_SPACE,
    PUBLIC_ONLY,
    SURVEY_BREAKDOWNS,
    AnswerCount,
    Breakdown,
    CalendarPeriod,
    DeliveryCount,
    MemberCount,
    PeriodKind,
    Subject,
    UpdateCount,
)
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.surveys import AGE_LABELS, GENDER_LABELS, Question, QuestionType, Survey
from bot.reports.disclosure import (
    NOBODY,
    NOISE,
    Disclosed,
    Keyed,
    KeyedTable,
    min_cell,
    perturb,
    perturb_table,
)
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import percent
from bot.services.notices import send_each

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_BINS = 5

DEFAULT_COUNTRIES = CoreConfig().countries
KIND_LABELS = {
    PeriodKind.WEEK: N_("Last full week"),
    PeriodKind.MONTH: N_("Last full month"),
    PeriodKind.QUARTER: N_("Last full quarter"),
    PeriodKind.ALL: N_("All time"),
}
BREAKDOWN_LABELS = {
    Breakdown.NONE: N_("No breakdown"),
    Breakdown.COUNTRY: N_("By country"),
    Breakdown.SPHERE: N_("By sphere"),
    Breakdown.LANGUAGE: N_("By language"),
    Breakdown.CHANNEL: N_("By channel"),
    Breakdown.AGE: N_("By age"),
    Breakdown.GENDER: N_("By gender"),
    Breakdown.WEEK: N_("By week"),
    Breakdown.MONTH: N_("By month"),
}
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}
# What /report offers as buttons (the CLI offers every breakdown storage supports).
BOT_BREAKDOWNS: dict[Subject, tuple[Breakdown, ...]] = {
    Subject.SURVEY: (Breakdown.NONE, Breakdown.COUNTRY, Breakdown.SPHERE, Breakdown.LANGUAGE),
    Subject.UPDATES: (Breakdown.NONE, Breakdown.COUNTRY, Breakdown.SPHERE, Breakdown.WEEK),
    Subject.MEMBERSHIP: (
        Breakdown.NONE,
        Breakdown.COUNTRY,
        Breakdown.SPHERE,
        Breakdown.LANGUAGE,
    ),
}


class Remedy(StrEnum):
    """What she could change to get a report that shows something."""

    NOTHING = "nothing"  # nothing she can choose would help
    SURVEY = "survey"  # another survey
    PERIOD = "period"  # a longer period
    BREAKDOWN = "breakdown"  # a coarser breakdown


class ReportError(ValueError):
    """A report that cannot be made: the message is localised and says why (and what might
    help); `remedy` says which choice to ask for again."""

    def __init__(self, message: str, remedy: Remedy = Remedy.NOTHING) -> None:
        super().__init__(message)
        self.remedy = remedy


# -- labels -------------------------------------------------------------------------------------


def group_label(_: Translator, by: Breakdown, code: str) -> str:
    """A group's name in her language: "العراق" for IQ, "Women's rights" for rights…"""
    if by is Breakdown.NONE:
        return _("All")
    if not code:
        return _("Not given")
    if by is Breakdown.COUNTRY:
        return _.country_name(code)
    if by is Breakdown.SPHERE:
        sphere = SPHERE_BY_CODE.get(code)
        return _(sphere.label) if sphere else code
    if by is Breakdown.LANGUAGE:
        return _.language_name(code)
    if by is Breakdown.CHANNEL:
        if code == ChannelName.CONSOLE:
            return _("terminal")
        return CHANNEL_NAMES.get(code, code)
    if by is Breakdown.AGE:
        return _(AGE_LABELS[code]) if code in AGE_LABELS else code
    if by is Breakdown.GENDER:
        return _(GENDER_LABELS[code]) if code in GENDER_LABELS else code
    if by is Breakdown.WEEK:
        return _("Week of {date}", date=format_date(date.fromisoformat(code), locale=_.locale))
    if by is Breakdown.MONTH:
        year, month = code.split("-")
        return format_date(date(int(year), int(month), 1), "LLLL y", locale=_.locale)
    return code


def ordered_groups(_: Translator, by: Breakdown, codes: Sequence[str]) -> list[str]:
    """Weeks and months in time order; everything else by name, "not given" last."""
    unique = list(dict.fromkeys(codes))
    if by in (Breakdown.WEEK, Breakdown.MONTH):
        return sorted(unique)
    return sorted(unique, key=lambda c: (c == "", group_label(_, by, c).casefold()))


def survey_period_label(_: Translator, survey: Survey) -> str:
    """A survey's results cover it whole: from its opening to its close."""
    start = format_date(survey.opens_at.date(), locale=_.locale)
    end = format_date(survey.closes_at.date(), locale=_.locale)
    return _("{since} to {until}", since=start, until=end)


# -- numbers in ranges --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bins:
    """Ranges a number question's answers are counted in (a single number is never shown)."""

    low: float
    width: float
    labels: tuple[str, ...]

    def index(self, value: float) -> int:
        position = int((value - self.low) // self.width) if self.width else 0
        return max(0, min(len(self.labels) - 1, position))


def number_bins(question: Question, _: Translator) -> Bins:
    low = question.minimum if question.minimum is not None else 0.0
    high = question.maximum if question.maximum is not None else low
    if float(low).is_integer() and float(high).is_integer():
        width = float(max(1, math.ceil((high - low + 1) / NUMBER_BINS)))
        labels = []
        start = low
        while start <= high:
            end = min(start + width - 1, high)
            labels.append(
                _.number(int(start))
                if start == end
                else f"{_.number(int(start))}–{_.number(int(end))}"
            )
            start += width
        return Bins(low, width, tuple(labels))
    width = (high - low) / NUMBER_BINS or 1.0
    labels = [
        f"{_.number(round(low + i * width, 2))}–{_.number(round(low + (i + 1) * width, 2))}"
        for i in range(NUMBER_BINS)
    ]
    return Bins(low, width, tuple(labels))


# -- assembling reports -------------------------------------------------------------------------


def _answer_columns(
    question: Question, survey: Survey, _: Translator
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The answer keys of a button-answered question, and their labels in her language."""
    text = question.text(_.locale, survey.definition.default_locale)
    if question.type is QuestionType.YES_NO:
        return ("yes", "no"), (_("Yes"), _("No"))
    if question.type is QuestionType.SCALE:
        keys = question.choices()
        ends = (f"1 – {text.get('low', '')}", f"5 – {text.get('high', '')}")
        return keys, (ends[0], "2", "3", "4", ends[1])
    return question.options, tuple(str(o) for o in text.get("options") or question.options)


def _question_section(
    survey: Survey,
    question: Question,
    counts: list[AnswerCount],
    by: Breakdown,
    k: int,
    _: Translator,
    secret: bytes,
    overall: list[AnswerCount] | None = None,
) -> Section:
    """One question's table; `overall`: its counts without a breakdown, for the totals (they
    count people: someone in two spheres once), None when `counts` are those already."""
    title = str(question.text(_.locale, survey.definition.default_locale)["prompt"])
    groups = ordered_groups(_, by, [c.group for c in counts])
    cells: dict[tuple[str, str], int] = {}
    whole = counts if overall is None else overall
    if question.type is QuestionType.TEXT:
        # The answers themselves never leave the database: only how many there were, overall
        # (the same figure as without a breakdown: a group's count would add nothing).
        n = sum(c.count for c in whole)
        none = Breakdown.NONE
        table = perturb_survey(secret, question.key, none, ("",), ("n",), {("", "n"): n}, k)
        return Section(
            question.key,
            title,
            SectionKind.TEXT,
            table,
            (_("All"),),
            (_("Free-text answers (withheld)"),),
            (_("Free-text answers are not exported: only how many were given."),),
        )
    notes: list[str] = []
    values: tuple[float, ...] = ()
    if question.type is QuestionType.NUMBER:
        bins = number_bins(question, _)
        keys = tuple(str(i) for i in range(len(bins.labels)))
        labels = bins.labels
        values = bin_middles(question, bins)
        column = {f"#{key}": key for key in keys}  # stored as its range, never as the number
        kind = SectionKind.NUMBER
        notes.append(_("Numbers are counted in ranges."))
    else:
        keys, labels = _answer_columns(question, survey, _)
        column = {key: key for key in keys}
        kind = SectionKind.CHOICE
        if question.type is QuestionType.SCALE:
            values = tuple(float(point) for point in range(1, len(keys) + 1))
        if question.type is QuestionType.MULTIPLE:
            notes.append(_("Several answers were allowed: counts are of choices, not people."))
    for c in counts:
        if c.option in column:
            cell = (c.group, column[c.option])
            cells[cell] = cells.get(cell, 0) + c.count
    totals: dict[str, int] | None = None
    if overall is not None:
        totals = {}
        for c in overall:
            if c.option in column:
                totals[column[c.option]] = totals.get(column[c.option], 0) + c.count
    table = perturb_survey(secret, question.key, by, groups, keys, cells, k, totals)
    return Section(
        question.key,
        title,
        kind,
        table,
        tuple(group_label(_, by, g) for g in groups),
        labels,
        tuple(notes),
        values=values,
    )


def bin_middles(question: Question, bins: Bins) -> tuple[float, ...]:
    """The middle of each range a number question is counted in (for an average)."""
    high = question.maximum if question.maximum is not None else bins.low
    whole = float(bins.low).is_integer() and float(high).is_integer()
    middles = []
    for i in range(len(bins.labels)):
        start = bins.low + i * bins.width
        end = min(start + bins.width - 1, high) if whole else start + bins.width
        middles.append((start + end) / 2)
    return tuple(middles)


def survey_breakdowns(survey: Survey) -> tuple[Breakdown, ...]:
    """How a survey's results can be split: no breakdown, and those its definition declares
    (its answers are counted by those only)."""
    declared = {b.value: b for b in SURVEY_BREAKDOWNS}
    return (Breakdown.NONE, *(declared[d] for d in survey.definition.breakdowns if d in declared))


def check_breakdown(survey: Survey, by: Breakdown, _: Translator) -> None:
    choices = survey_breakdowns(survey)
    if by not in choices:
        raise ReportError(
            _(
                "“{title}” cannot be split that way. Choose one of: {choices}.",
                title=survey.definition.title(_.locale),
                choices=", ".join(b.value for b in choices),
            )
        )


def survey_cell_key(key: bytes, question: str, answer: str, dimension: str, value: str) -> int:
    """A survey cell's key: a keyed hash of the cell's identity (its counters keep no record
    keys), so the same cell always gets the same noise."""
    identity = "\x1f".join((question, answer, dimension, value))
    return int(keys.keyed_hash(key, identity)[:16], 16) % KEY_SPACE


def perturb_survey(
    key: bytes,
    question: str,
    by: Breakdown,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], int],
    k: int,
    overall: dict[str, int] | None = None,
) -> Disclosed:
    """A survey table by the cell-key method: every cell, and every total as a cell of its
    own, perturbed by the noise its identity's key gives. A one-row table (no breakdown) has
    its column totals and total equal to its cells and row total, with the same keys.

    `overall` (each answer's count without a breakdown) makes the column totals and the
    total the figures of the whole survey, with their keys: they count people, once each
    (a breakdown by sphere counts someone in each of her spheres), and publish nothing the
    results without a breakdown do not."""
    dimension = by.value

    def keyed(answer: str, value: str, count: int, within: str = dimension) -> Keyed:
        return Keyed(count, survey_cell_key(key, question, answer, within, value))

    table = tuple(tuple(keyed(c, r, cells.get((r, c), 0)) for c in columns) for r in rows)
    row_totals = tuple(keyed("*", r, sum(cells.get((r, c), 0) for c in columns)) for r in rows)
    if by is Breakdown.NONE and len(rows) == 1:
        column_totals, total = table[0], row_totals[0]
    elif overall is not None:
        none = Breakdown.NONE.value
        column_totals = tuple(keyed(c, "", overall.get(c, 0), none) for c in columns)
        total = keyed("*", "", sum(overall.get(c, 0) for c in columns), none)
    else:
        column_totals = tuple(
            keyed(c, "*", sum(cells.get((r, c), 0) for r in rows)) for c in columns
        )
        total = keyed("*", "*", sum(cells.get((r, c), 0) for r in rows for c in columns))
    return perturb_table(
        KeyedTable(tuple(rows), tuple(columns), table, row_totals, column_totals, total), k
    )


async def survey_report(
    tx: Transaction,
    survey: Survey,
    by: Breakdown,
    k: int,
    _: Translator,
    now: datetime,
    *,
    secret: bytes,
) -> Report:
    """All questions of a survey, broken down by `by`: once, after it closed, for the whole
    survey (no period), by the cell-key method (the same figures for every breakdown and
    request, so combining breakdowns pins no small group). `secret` is the app's secret key
    (WASL_SECRET_KEY), which the noise is derived from."""
    key = keys.derive(secret, "survey-cell-key", str(survey.id))
    counts = await tx.reports.survey_counts(survey.id, by)
    responses = await tx.reports.survey_responses(survey.id)
    per_question: dict[str, list[AnswerCount]] = {}
    for count in counts:
        per_question.setdefault(count.question, []).append(count)
    overall: dict[str, list[AnswerCount]] | None = None
    if by is not Breakdown.NONE:  # the totals: people counted once, as without a breakdown
        overall = {}
        for count in await tx.reports.survey_counts(survey.id, Breakdown.NONE):
            overall.setdefault(count.question, []).append(count)
    sections = tuple(
        _question_section(
            survey,
            q,
            per_question.get(q.key, []),
            by,
            k,
            _,
            key,
            None if overall is None else overall.get(q.key, []),
        )
        for q in survey.definition.questions
    )
    respondents = perturb(responses, survey_cell_key(key, "", "", "none", ""), k)
    notes = list(perturbed_notes(_, k, NOISE))
    if by is Breakdown.SPHERE:
        notes.append(
            _(
                "By sphere: someone working on several spheres is counted in each; public "
                "respondents have no sphere and are left out."
            )
        )
    if by is not Breakdown.NONE:
        heads = await tx.reports.survey_headcounts(survey.id, by)
        if by is Breakdown.SPHERE or sum(heads.values()) < responses:
            notes.append(
                _(
                    "Groups of fewer than {k} people are not counted separately: their answers "
                    "are only in the overall results (other/hidden).",
                    k=k,
                )
            )
    return Report(
        subject=Subject.SURVEY,
        title=survey.definition.title(_.locale),
        locale=_.locale,
        period=survey_period_label(_, survey),
        breakdown=by,
        breakdown_label=_(BREAKDOWN_LABELS[by]),
        k=k,
        generated_at=now,
        sections=sections,
        responses=respondents,
        reference=survey.slug,
        notes=tuple(notes),
    )


# -- counts over time: fixed calendar periods, cell-key perturbation ---------------------------

# Every row and column of these tables comes from a fixed list, never from the data: a group
# that appears only when somebody is in it would tell that somebody is.
OTHER = ""  # the row of countries outside WASL_COUNTRIES (and of a country not given)
CHANNELS = tuple(c.value for c in ChannelName)
URGENCY = ("routine", "urgent")
Unit = tuple[Sequence[str], Sequence[str], Keyed]  # its rows, its columns, its people


def keyed_table(units: Sequence[Unit], rows: Sequence[str], columns: Sequence[str]) -> KeyedTable:
    """True counts and cell keys for every cell and total from disjoint groups of people.

    A group counts in each of its rows and columns (a member with two spheres is in two sphere
    columns) but once in a total: totals count people, and each is a cell of its own.
    """
    row_index = {r: i for i, r in enumerate(rows)}
    column_index = {c: j for j, c in enumerate(columns)}
    cells = [[NOBODY] * len(columns) for _r in rows]
    row_totals = [NOBODY] * len(rows)
    column_totals = [NOBODY] * len(columns)
    total = NOBODY
    for unit_rows, unit_columns, people in units:
        total += people
        for r in dict.fromkeys(unit_rows):
            if r not in row_index:
                continue
            i = row_index[r]
            row_totals[i] += people
            for c in dict.fromkeys(unit_columns):
                if c in column_index:
                    cells[i][column_index[c]] += people
        for c in dict.fromkeys(unit_columns):
            if c in column_index:
                column_totals[column_index[c]] += people
    return KeyedTable(
        tuple(rows),
        tuple(columns),
        tuple(tuple(line) for line in cells),
        tuple(row_totals),
        tuple(column_totals),
        total,
    )


def calendar_label(_: Translator, period: CalendarPeriod) -> str:
    """ "Week of 16 Nov 2026", "November 2026", "Q4 2026", "All time" in her language."""
    if period.kind is PeriodKind.ALL or period.first is None:
        return _(
            "All time, to {date}",
            date=format_date(period.end - timedelta(days=1), locale=_.locale),
        )
    if period.kind is PeriodKind.WEEK:
        return _("Week of {date}", date=format_date(period.first, locale=_.locale))
    year, number = period.label.split("-")
    if period.kind is PeriodKind.MONTH:
        return format_date(date(int(year), int(number), 1), "LLLL y", locale=_.locale)
    return _("Quarter {n} of {year}", n=_.number(int(number[1:])), year=year)


def _time_rows(by: Breakdown, period: CalendarPeriod, since: date | None) -> list[str]:
    weeks = period.weeks(since)
    if by is Breakdown.WEEK:
        return weeks
    return list(dict.fromkeys(w[:7] for w in weeks))


def perturbed_notes(_: Translator, k: int, noise: int) -> tuple[str, ...]:
    """What every output of a perturbed report says about its figures."""
    return (
        _(
            "To protect small groups, every figure, totals included, is changed by at most "
            "±{d} (the same figure always gets the same change), and a figure under {k} after "
            "the change, zero included, is shown as “<{k}”.",
            d=noise,
            k=k,
        ),
    )


def _country(code: str, countries: Sequence[str]) -> str:
    return code if code in countries else OTHER


async def updates_report(
    tx: Transaction,
    by: Breakdown,
    period: CalendarPeriod,
    k: int,
    _: Translator,
    now: datetime,
    countries: Sequence[str] = DEFAULT_COUNTRIES,
) -> Report:
    """Field updates by group, routine and urgent, from the anonymous weekly tallies: every
    figure perturbed by its cell key; totals count updates, not sphere mentions."""
    tallies = await tx.reports.update_counts(period)
    whole = [t for t in tallies if t.sphere == ALL_SPHERES]
    since = min((date.fromisoformat(t.week) for t in tallies), default=None)
    units: list[Unit]
    if by is Breakdown.SPHERE:
        rows: list[str] = list(SPHERE_BY_CODE)
        units = [
            ([t.sphere], [URGENCY[t.urgent]], Keyed(t.count, t.key))
            for t in tallies
            if t.sphere != ALL_SPHERES
        ]
    else:
        if by is Breakdown.COUNTRY:
            rows = [*countries, OTHER]
        elif by in (Breakdown.WEEK, Breakdown.MONTH):
            rows = _time_rows(by, period, since)
        else:
            rows = [""]

        def row(t: UpdateCount) -> str:
            if by is Breakdown.COUNTRY:
                return _country(t.country, countries)
            if by is Breakdown.WEEK:
                return t.week
            return t.week[:7] if by is Breakdown.MONTH else ""

        units = [([row(t)], [URGENCY[t.urgent]], Keyed(t.count, t.key)) for t in whole]
    keyed = keyed_table(units, rows, URGENCY)
    if by is Breakdown.SPHERE:  # the totals count each update once, whatever its spheres
        people = keyed_table(
            [([""], [URGENCY[t.urgent]], Keyed(t.count, t.key)) for t in whole], [""], URGENCY
        )
        keyed = replace(keyed, column_totals=people.column_totals, total=people.total)
    table = perturb_table(keyed, k)
    notes = [_("Counted from anonymous weekly tallies. A total counts each update once.")]
    if by is Breakdown.SPHERE:
        notes.append(_("By sphere: an update about several spheres is counted in each."))
    section = Section(
        "updates",
        _("Field updates"),
        SectionKind.TABLE,
        table,
        tuple(_row_label(_, by, g) for g in rows),
        (_("Routine"), _("Urgent")),
        tuple(notes),
        sheet=_("Field updates"),
    )
    return _over_time(
        _, Subject.UPDATES, _("Field updates"), period, by, k, now, (section,), table.noise
    )


def _row_label(_: Translator, by: Breakdown, code: str) -> str:
    if by is Breakdown.COUNTRY and code == OTHER:
        return _("Other countries or not given")
    if by is Breakdown.SPHERE:
        return _sphere_label(_, code)
    return group_label(_, by, code)


async def membership_report(
    tx: Transaction,
    by: Breakdown,
    period: CalendarPeriod,
    k: int,
    _: Translator,
    now: datetime,
    countries: Sequence[str] = DEFAULT_COUNTRIES,
) -> Report:
    """Active members who joined in the period, by group and sphere: every figure perturbed by
    its cell key; a total counts people, a person with several spheres once."""
    counts = await tx.reports.membership_counts(period)
    spheres = [*SPHERE_BY_CODE, ""]
    rows: list[str]
    if by is Breakdown.SPHERE:
        rows = spheres
        columns: tuple[str, ...] = ("members",)
        column_labels: tuple[str, ...] = (_("Members"),)
    else:
        rows = {
            Breakdown.COUNTRY: [*countries, OTHER],
            Breakdown.LANGUAGE: list(SUPPORTED_LOCALES),
            Breakdown.CHANNEL: list(CHANNELS),
        }.get(by, [""])
        columns = tuple(spheres)
        column_labels = tuple(_sphere_label(_, s) for s in spheres)

    def unit(c: MemberCount) -> Unit:
        own = sorted(c.spheres) or [""]
        if by is Breakdown.SPHERE:
            return own, ["members"], Keyed(c.count, c.key)
        group = {
            Breakdown.COUNTRY: _country(c.country, countries),
            Breakdown.LANGUAGE: c.locale,
            Breakdown.CHANNEL: c.channel,
        }.get(by, "")
        return [group], own, Keyed(c.count, c.key)

    table = perturb_table(keyed_table([unit(c) for c in counts], rows, columns), k)
    section = Section(
        "membership",
        _("Active members who joined in the period"),
        SectionKind.TABLE,
        table,
        tuple(_row_label(_, by, g) for g in rows),
        column_labels,
        (_("One person may count in several spheres; a total counts each person once."),),
        sheet=_("Members"),
        overlapping=by is not Breakdown.SPHERE,
    )
    return _over_time(
        _, Subject.MEMBERSHIP, _("Membership"), period, by, k, now, (section,), table.noise
    )


def _sphere_label(_: Translator, code: str) -> str:
    if not code:
        return _("No sphere")
    sphere = SPHERE_BY_CODE.get(code)
    return _(sphere.label) if sphere else code


DELIVERY_STATUSES = (
    "sent",
    "failed",
    "unreachable",
    "needs_template",
    "pending",
    "cancelled",
    "skipped",
)
# The outbox's statuses as a report's column headers.
DELIVERY_STATUS_LABELS = {
    # Translators: this and the next are column headers of a table counting messages.
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "unreachable": N_("Unreachable"),
    "needs_template": N_("Needs a template"),
    "pending": N_("Waiting"),
    "claimed": N_("Being sent"),
    "sending": N_("Being sent"),
    "cancelled": N_("Cancelled"),
    "skipped": N_("Skipped"),
    "uncertain": N_("May have arrived"),
}
CAMPAIGN_KIND_LABELS: dict[str, str] = {
    CampaignKind.ALERT: N_("Alert"),
    CampaignKind.CAMPAIGN: N_("Campaign"),
    CampaignKind.SURVEY: N_("Survey"),
    CampaignKind.REMINDER: N_("Survey reminder"),
    CampaignKind.DIGEST: N_("Weekly digest"),
    CampaignKind.NOTICE: N_("Notice to coordinators"),
}
# Campaigns Wasl makes itself are titled "<word> <reference>" (bot/services/surveys.py,
# moderation.py, campaigns.py, updates.py): shown as what they are, in her language.
SYSTEM_TITLES = {
    "survey": N_("Survey invitation: {ref}"),
    "results": N_("Survey results: {ref}"),
    "reminder": N_("Survey reminder: {ref}"),
    "digest": N_("Weekly digest: {ref}"),
    "approval": N_("Approval request: campaign {ref}"),
    "urgent update": N_("Urgent update {ref}"),
}
# Why a message was not sent, as the outbox records it (bot/delivery/worker.py,
# bot/core/outbox.py, the channels). A platform's own words (Telegram's "chat not found",
# WhatsApp's "whatsapp 131026: …") are shown as the platform wrote them.
DELIVERY_REASONS = {
    "channel not configured": N_("channel not set up on this server"),
    "outside the 24-hour window": N_("outside WhatsApp's 24-hour window"),
    "outside the 24-hour window, no template configured": N_(
        "outside WhatsApp's 24-hour window, and no template set"
    ),
    "campaign cancelled": N_("campaign cancelled"),
    "member paused": N_("she paused messages"),
    "member unreachable": N_("she cannot be reached"),
    "member no longer active": N_("she paused messages or cannot be reached"),
    "failed": N_("failed"),
    "unreachable": N_("cannot be reached"),
    "empty message": N_("empty message"),
    "chat migrated": N_("the chat moved"),
    "timed out": N_("timed out"),
    "network error": N_("network error"),
    "too many requests": N_("too many requests"),
    "media upload failed": N_("the file could not be uploaded"),
}
REASON_PREFIXES = (
    ("gave up after ", N_("gave up after {n} attempts: {reason}")),
    ("timed out, may have been delivered: ", N_("timed out, may have arrived: {reason}")),
)


def delivery_status_label(_: Translator, status: str) -> str:
    label = DELIVERY_STATUS_LABELS.get(status)
    return _(label) if label else status


def campaign_label(_: Translator, campaign_id: int, kind: str, title: str) -> str:
    """A campaign as a report's row: "#12 · Alert: …", "#3 · Survey invitation: pulse-…"."""
    if kind not in (CampaignKind.ALERT, CampaignKind.CAMPAIGN):  # titled by a coordinator
        for word, template in SYSTEM_TITLES.items():
            if title.startswith(word + " "):
                return f"#{campaign_id} · " + _(template, ref=title[len(word) + 1 :])
    kind_label = CAMPAIGN_KIND_LABELS.get(kind)
    named = _(kind_label) if kind_label else kind
    # Translators: a campaign's kind and the title its coordinator gave it ("Alert: …").
    return f"#{campaign_id} · " + _("{kind}: {title}", kind=named, title=title)


def delivery_reason(_: Translator, reason: str) -> str:
    """Why messages were not sent, in her language where Wasl wrote the reason itself."""
    known = DELIVERY_REASONS.get(reason)
    if known:
        return _(known)
    if reason.startswith("member "):  # a skipped row: her status when her turn came
        return _(DELIVERY_REASONS["member no longer active"])
    for prefix, template in REASON_PREFIXES:
        if reason.startswith(prefix):
            rest = reason[len(prefix) :]
            if prefix.startswith("gave up"):
                count, _sep, rest = rest.partition(" attempts: ")
                if not count.isdigit():
                    break
                return _(template, n=_.number(int(count)), reason=delivery_reason(_, rest))
            return _(template, reason=delivery_reason(_, rest))
    return reason


async def delivery_report(
    tx: Transaction, period: CalendarPeriod, k: int, _: Translator, now: datetime
) -> Report:
    """Per campaign created in the period: messages sent, failed, unreachable…; and why they
    failed. Every figure perturbed by its cell key (the recipients' record keys)."""
    counts: list[DeliveryCount] = await tx.reports.delivery_counts(period)
    names = {c.campaign_id: campaign_label(_, c.campaign_id, c.kind, c.title) for c in counts}
    statuses = [*DELIVERY_STATUSES, *sorted({c.status for c in counts} - set(DELIVERY_STATUSES))]
    ids = [str(i) for i in sorted(names, reverse=True)]
    status_units: list[Unit] = [
        ([str(c.campaign_id)], [c.status], Keyed(c.count, c.key)) for c in counts
    ]
    reason_units: list[Unit] = [
        ([c.reason[:80]], ["n"], Keyed(c.count, c.key))
        for c in counts
        if c.reason and c.status != "sent"
    ]
    reasons = sorted({r for rows, _c, _n in reason_units for r in rows})
    status_table = perturb_table(keyed_table(status_units, ids, statuses), k)
    reason_table = perturb_table(keyed_table(reason_units, reasons, ("n",)), k)
    sections = (
        Section(
            "campaigns",
            _("Messages by campaign"),
            SectionKind.TABLE,
            status_table,
            tuple(names[int(i)] for i in ids),
            tuple(delivery_status_label(_, s) for s in statuses),
            sheet=_("Messages by campaign"),
        ),
        Section(
            "reasons",
            _("Why messages failed"),
            SectionKind.TABLE,
            reason_table,
            tuple(delivery_reason(_, r) for r in reasons),
            (_("Messages"),),
            sheet=_("Why messages failed"),
        ),
    )
    return _over_time(
        _,
        Subject.DELIVERY,
        _("Campaign delivery"),
        period,
        Breakdown.NONE,
        k,
        now,
        sections,
        NOISE,
        breakdown_label=_("By campaign"),
    )


def _over_time(
    _: Translator,
    subject: Subject,
    title: str,
    period: CalendarPeriod,
    by: Breakdown,
    k: int,
    now: datetime,
    sections: tuple[Section, ...],
    noise: int,
    *,
    breakdown_label: str | None = None,
) -> Report:
    """A report of counts over a calendar period, perturbed (updates, membership, delivery)."""
    return Report(
        subject=subject,
        title=title,
        locale=_.locale,
        period=calendar_label(_, period),
        breakdown=by,
        breakdown_label=breakdown_label or _(BREAKDOWN_LABELS[by]),
        k=k,
        generated_at=now,
        sections=sections,
        notes=perturbed_notes(_, k, noise),
    )


async def find_survey(tx: Transaction, _: Translator, slug: str, now: datetime) -> Survey:
    """The closed, answered survey called `slug`; ReportError says what is wrong otherwise."""
    survey = await tx.surveys.by_slug(slug)
    if survey is None:
        raise ReportError(_("There is no survey called {slug}.", slug=slug[:48]))
    return await check_survey(tx, _, survey, now)


async def check_survey(tx: Transaction, _: Translator, survey: Survey, now: datetime) -> Survey:
    title = survey.definition.title(_.locale)
    if not survey.closed:
        # Results while it is open would let two reports a day apart single out one answer.
        raise ReportError(
            _(
                "“{title}” is still open. Results are shown only after it closes ({date}).",
                title=title,
                date=format_date(survey.closes_at, locale=_.locale),
            ),
            Remedy.SURVEY,
        )
    if await tx.reports.survey_responses(survey.id) == 0:
        raise ReportError(
            _("Nobody answered “{title}”, so there are no results to show.", title=title),
            Remedy.SURVEY,
        )
    return survey


async def survey_by_id(tx: Transaction, _: Translator, survey_id: int, now: datetime) -> Survey:
    """The closed, answered survey with this id (a button's); ReportError otherwise."""
    survey = await tx.surveys.get(survey_id)
    if survey is None:
        raise ReportError(_("I can't find this survey. Please check the link."), Remedy.SURVEY)
    return await check_survey(tx, _, survey, now)


async def closed_surveys(tx: Transaction, _: Translator) -> list[tuple[int, str, str]]:
    """Closed surveys with answers: id, slug and title in her language, newest first."""
    found = []
    for survey_id, slug in await tx.reports.closed_surveys():
        survey = await tx.surveys.get(survey_id)
        found.append((survey_id, slug, survey.definition.title(_.locale) if survey else slug))
    return found


def offered_breakdowns(subject: Subject, survey: Survey | None = None) -> tuple[Breakdown, ...]:
    """The breakdowns the bot and the dashboard offer: for a survey, those its definition
    declares (age and gender for a public one)."""
    choices = BOT_BREAKDOWNS[subject]
    if subject is Subject.SURVEY and survey is not None:
        offered = (*choices, *PUBLIC_ONLY)
        return tuple(b for b in survey_breakdowns(survey) if b in offered)
    return choices


def check_report(report: Report, _: Translator, period: PeriodKind | None = None) -> None:
    """A report with nothing to show says why, and suggests only what can help: a coarser
    breakdown when it is split, a longer period when it covers less than all time, or
    nothing when neither is left (never the choice she already made). `period`: the kind
    of calendar period a count over time covers (None: not known, or a survey)."""
    over_time = report.subject is not Subject.SURVEY
    longer = over_time and period is not PeriodKind.ALL
    if report.empty:
        if longer:
            raise ReportError(
                _("There is no data for this period. Try a longer period."), Remedy.PERIOD
            )
        raise ReportError(_("There is no data to report yet."))
    if not report.all_hidden:
        return
    if report.breakdown is not Breakdown.NONE and longer:
        raise ReportError(
            _(
                "The groups are too small: every count is under {k}, so nothing can be "
                "shown. Try a coarser breakdown (for example no breakdown) or a longer period.",
                k=report.k,
            ),
            Remedy.BREAKDOWN,
        )
    if report.breakdown is not Breakdown.NONE:
        raise ReportError(
            _(
                "The groups are too small: every count is under {k}, so nothing can be "
                "shown. Try a coarser breakdown (for example no breakdown).",
                k=report.k,
            ),
            Remedy.BREAKDOWN,
        )
    if longer:
        raise ReportError(
            _(
                "Even without a breakdown every count is under {k}, so nothing can be shown. "
                "Try a longer period (for example all time).",
                k=report.k,
            ),
            Remedy.PERIOD,
        )
    raise ReportError(
        _(
            "Even without a breakdown every count is under {k}: too few people are counted "
            "to show anything without exposing someone.",
            k=report.k,
        )
    )


def file_name(report: Report, extension: str) -> str:
    stem = report.reference or report.subject.value
    return f"wasl-{stem}-{report.breakdown.value}-{report.generated_at:%Y%m%d}.{extension}"


# -- the operations: role checked, audited once ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What every report of an installation is made under: the smallest group shown (k),
    the secret key survey noise is derived from, and the countries shown by name."""

    k: int
    secret: bytes
    countries: tuple[str, ...] = DEFAULT_COUNTRIES

    @classmethod
    def of(cls, config: CoreConfig) -> Limits:
        return cls(config.min_cell, config.secret_key, tuple(config.countries))


@dataclass(frozen=True, slots=True)
class Ask:
    """What a report is asked for: a survey's results (the whole survey, no period), or counts
    over one whole calendar period (the latest complete month when not given)."""

    subject: Subject
    by: Breakdown = Breakdown.NONE
    survey: Survey | None = None
    period: CalendarPeriod | None = None

    def calendar(self, today: date) -> CalendarPeriod:
        return self.period or CalendarPeriod.recent(PeriodKind.MONTH, today)[0]


async def build(tx: Transaction, ask: Ask, _: Translator, now: datetime, limits: Limits) -> Report:
    """The report asked for, disclosure-controlled (ReportError: a survey that cannot be
    split that way). No role check and no audit: the operations below do both."""
    k = limits.k
    if ask.subject is Subject.SURVEY:
        if ask.survey is None:
            raise ValueError("a survey report needs its survey")
        check_breakdown(ask.survey, ask.by, _)
        return await survey_report(tx, ask.survey, ask.by, k, _, now, secret=limits.secret)
    period = ask.calendar(now.date())
    if ask.subject is Subject.UPDATES:
        return await updates_report(tx, ask.by, period, k, _, now, limits.countries)
    if ask.subject is Subject.MEMBERSHIP:
        return await membership_report(tx, ask.by, period, k, _, now, limits.countries)
    return await delivery_report(tx, period, k, _, now)


async def make_report(
    tx: Transaction,
    actor: Actor,
    ask: Ask,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    action: str = "report.sent",
    **details: Any,
) -> Report:
    """A report with something to show, for the secretariat (ReportError: why there is none,
    and what could help); audited as `action` with what was asked (never a figure)."""
    require(actor, Role.SECRETARIAT, action)
    report = await build(tx, ask, _, now, limits)
    over_time = ask.subject is not Subject.SURVEY
    period = ask.calendar(now.date()) if over_time else None
    check_report(report, _, period.kind if period else None)
    await audit(
        tx,
        actor,
        action,
        now,
        # "report", not "subject": audit's `subject` is the member an action is about.
        **{
            "report": ask.subject.value,
            "survey_id": ask.survey.id if ask.survey else None,
            "survey": ask.survey.slug if ask.survey else None,
            "period": period.kind.value if period else None,
            "at": period.label if period else None,
            "by": ask.by.value,
            **details,
        },
    )
    return report


# -- the dashboard -----------------------------------------------------------------------------

LINK_LIFETIME = timedelta(minutes=30)


def token_hash(secret_key: bytes, token: str) -> str:
    """What is stored of a dashboard token: an HMAC under a key derived from WASL_SECRET_KEY,
    so a copy of the database opens nothing and cannot even test a guessed token."""
    return keys.keyed_hash(keys.derive(secret_key, "dashboard-link"), token)


async def open_dashboard(tx: Transaction, actor: Actor, now: datetime, secret: bytes) -> str:
    """A new dashboard link's token for a secretariat member (valid LINK_LIFETIME): only its
    keyed hash is stored."""
    require(actor, Role.SECRETARIAT, "dashboard.link")
    if actor.member_id is None:
        raise ValueError("a dashboard link belongs to a member")
    token = secrets.token_urlsafe(32)
    await tx.dashboard_links.create(
        actor.member_id, token_hash(secret, token), now + LINK_LIFETIME, now
    )
    await audit(tx, actor, "dashboard.link", now)
    return token


async def dashboard_viewer(
    tx: Transaction, token: str | None, now: datetime, secret: bytes
) -> Member | None:
    """The secretariat member this link belongs to; None for a bad, expired or revoked one,
    or when her role no longer allows the dashboard (checked on every page)."""
    if not token or len(token) > 100:
        return None
    member = await tx.dashboard_links.member(token_hash(secret, token), now)
    if member is None or not member.role.allows(Role.SECRETARIAT):
        return None
    return member


@dataclass(frozen=True, slots=True)
class Overview:
    """The dashboard's first page: closed surveys (slug, title), then membership, field
    updates and deliveries for one calendar period."""

    period: CalendarPeriod
    surveys: list[tuple[str, str]]
    reports: tuple[Report, ...]


async def overview(
    tx: Transaction,
    actor: Actor,
    period: CalendarPeriod,
    _: Translator,
    now: datetime,
    limits: Limits,
) -> Overview:
    require(actor, Role.SECRETARIAT, "dashboard.viewed")
    k, countries = limits.k, limits.countries
    reports = (
        await membership_report(tx, Breakdown.COUNTRY, period, k, _, now, countries),
        await updates_report(tx, Breakdown.COUNTRY, period, k, _, now, countries),
        await delivery_report(tx, period, k, _, now),
    )
    surveys = [(slug, title) for _id, slug, title in await closed_surveys(tx, _)]
    await audit(
        tx, actor, "dashboard.viewed", now, page=f"overview:{period.kind.value}:{period.label}"
    )
    return Overview(period, surveys, reports)


@dataclass(frozen=True, slots=True)
class SurveyView:
    """One survey's results as the dashboard shows them: the breakdowns offered, the one
    shown, and the report (or why there is none)."""

    survey: Survey | None
    choices: tuple[Breakdown, ...] = ()
    breakdown: Breakdown = Breakdown.NONE
    report: Report | None = None
    problem: str | None = None


async def survey_view(
    tx: Transaction,
    actor: Actor,
    slug: str,
    by: str | None,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    export: str | None = None,
) -> SurveyView:
    """A closed survey's results split as asked (none asked, or an unknown split: the whole
    alliance, without a breakdown);
    `export` ("xlsx", "csv") is the file format asked for, audited as an export."""
    require(actor, Role.SECRETARIAT, "dashboard.viewed")
    survey = await tx.surveys.by_slug(slug)
    if survey is None:
        return SurveyView(None)
    choices = offered_breakdowns(Subject.SURVEY, survey)
    breakdown = next((b for b in choices if b.value == by), Breakdown.NONE)
    page = f"survey:{slug}:{breakdown.value}"
    try:
        await check_survey(tx, _, survey, now)
    except ReportError as error:
        await audit(tx, actor, "dashboard.viewed", now, page=page)
        return SurveyView(survey, choices, breakdown, problem=str(error))
    report = await survey_report(tx, survey, breakdown, limits.k, _, now, secret=limits.secret)
    action = f"export:{export}:" if export else ""
    await audit(tx, actor, "dashboard.viewed", now, page=f"{action}{page}")
    return SurveyView(survey, choices, breakdown, report)


# -- closing the loop ---------------------------------------------------------------------------


def results_text(_: Translator, overall: Report, by_country: Report, country: str | None) -> str:
    """Her message: the alliance's results and her country's, each answer's share, in her
    language and under the same suppression as every report."""
    lines = [
        _(
            "Results of “{title}”, which you took part in. Thank you!",
            title=overall.title,
        ),
        _("Groups of fewer than {k} people are not shown.", k=overall.k),
    ]
    country_name = _.country_name(country) if country else ""
    for index, section in enumerate(overall.sections, 1):
        if section.kind is SectionKind.TEXT:
            continue
        lines.append(f"\n{index}. {section.title}")
        lines.append(_("Whole alliance: {answers}", answers=_top(_, section, 0)))
        if country:
            local = by_country.sections[index - 1].table
            row = local.rows.index(country) if country in local.rows else -1
            answers = _top(_, by_country.sections[index - 1], row) if row >= 0 else ""
            lines.append(
                _("{country}: {answers}", country=country_name, answers=answers)
                if answers
                else _("{country}: too few answers to show.", country=country_name)
            )
    text = "\n".join(lines)
    return text if len(text) <= 3800 else text[:3790] + "…"


def _top(_: Translator, section: Section, row: int) -> str:
    table = section.table
    if not table.rows or row >= len(table.rows):
        return ""
    shares = table.shares(row)
    shown = [
        (n, c) for c, n in enumerate(table.cells[row]) if n is not None and n > 0 and shares[c]
    ]
    shown.sort(key=lambda item: (-item[0], item[1]))
    return " · ".join(
        f"{section.column_labels[c]} {percent(shares[c] or 0, _.locale)}" for _n, c in shown[:3]
    )


async def send_results(
    store: Store,
    catalogs: Catalogs,
    now: datetime,
    *,
    k: int | None = None,
    secret: bytes,
) -> int:
    """Send each closed survey's results, once, to the participants who asked for them.

    Through the outbox, one text per member in her language: the whole alliance and her
    country, disclosure-controlled like any report. Returns how many messages were queued.
    Schedule it often (e.g. hourly): it does nothing when no survey has newly closed.
    """
    k = min_cell() if k is None else k
    async with store.transaction() as tx:
        due = await tx.reports.results_due()
    queued = 0
    for survey_id in due:
        async with store.transaction() as tx:
            survey = await tx.surveys.get(survey_id)
            if survey is None:
                continue
            recipients = await tx.reports.results_recipients(survey_id)
            messages: list[tuple[int, str, str]] = []
            reports: dict[str, tuple[Report, Report]] = {}
            for person in recipients:
                _ = catalogs.get(person.locale)
                if _.locale not in reports:
                    reports[_.locale] = (
                        await survey_report(tx, survey, Breakdown.NONE, k, _, now, secret=secret),
                        await survey_report(
                            tx, survey, Breakdown.COUNTRY, k, _, now, secret=secret
                        ),
                    )
                overall, by_country = reports[_.locale]
                if overall.empty or overall.all_hidden:
                    text = _(
                        "The survey “{title}” has closed. Thank you for taking part! Too few "
                        "people answered to share results without exposing anyone.",
                        title=overall.title,
                    )
                else:
                    text = results_text(_, overall, by_country, person.country)
                messages.append((person.member_id, person.channel, text))
            if messages:
                queued += await send_each(
                    tx, CampaignKind.SURVEY, f"results {survey.slug}", messages, now
                )
            await tx.reports.mark_results_sent(survey_id, now)
    return queued
