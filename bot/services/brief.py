"""Country briefs and survey trends: what a policy meeting about one country needs, built only
from disclosure-controlled figures (docs/reports.md, "Country briefs").

A brief covers one country over one whole calendar period (a quarter or a month): who works on
what there (active members per sphere), the field updates by sphere and urgency, and the
results of the surveys that closed in the period, the country beside the whole alliance, with
the change since the survey's previous round. Every figure is a cell of a table perturbed by
the cell-key method, with the same keys as the reports /report, the CLI and the dashboard give:
the country's row of a survey by country is the very row those show, so a brief publishes
nothing they do not. A change between rounds is computed from the two rounds' published
figures only, never from the counters, so it cannot be subtracted back to a hidden cell.

Quotes: a few words from field updates of the country and period that moderation approved and
whose authors said yes, when they sent them, to being quoted without their name in briefs for
policy meetings; shortened, dated by month only, and none at all when the country's member
count is hidden (under k): a quote from a handful of members would point at one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time

from babel.dates import format_date

from bot.core.actors import Actor, audit, require
from bot.core.i18n import Translator
from bot.core.models import Role
from bot.core.ports import Transaction
from bot.core.reports import ALL_SPHERES, Breakdown, CalendarPeriod, PeriodKind
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.surveys import Survey
from bot.reports.brief import (
    CountryBrief,
    Quote,
    SurveyResult,
    Trend,
    TrendQuestion,
    family_of,
    round_of,
    shares_of_total,
)
from bot.reports.disclosure import NOISE, Disclosed, Hidden, Keyed, perturb_table
from bot.reports.model import Report, Section, SectionKind
from bot.services.reports import (
    URGENCY,
    Limits,
    ReportError,
    Unit,
    calendar_label,
    keyed_table,
    perturbed_notes,
    survey_breakdowns,
    survey_report,
)

MAX_SURVEYS = 3  # the latest surveys of the period a two-page brief has room for
MAX_ROUNDS = 6  # rounds a trend looks back over
BRIEF_ROUNDS = 3  # the rounds a brief's trend shows (the latest and the two before)
MAX_QUOTES = 3  # quotes a brief shows at most, the newest
QUOTE_CHARS = 200  # a quote is cut to about this many characters, on a word boundary
SURVEY_SCAN = 200  # closed surveys looked through for a period's and a family's rounds
_PERIOD = re.compile(r"^\d{4}-(Q[1-4]|\d{2})$")


class BriefError(ReportError):
    """A brief that cannot be made; the message is localised and says why."""


def brief_period(code: str | None, today: date) -> CalendarPeriod:
    """The period a brief covers: "2026-Q4" (a quarter) or "2026-11" (a month), the latest
    complete quarter when not given. ValueError (English, for the CLI) when malformed or not
    over yet: only whole, complete periods are released."""
    if not code:
        return CalendarPeriod.recent(PeriodKind.QUARTER, today)[0]
    text = code.strip().upper()
    if not _PERIOD.match(text):
        raise ValueError(f"not a quarter or a month like 2026-Q4 or 2026-11: {code!r}")
    kind = PeriodKind.QUARTER if "Q" in text else PeriodKind.MONTH
    return CalendarPeriod.parse(kind, text, today)


# -- who works where, and field updates --------------------------------------------------------


def _sphere_label(_: Translator, code: str) -> str:
    if not code:
        return _("No sphere")
    sphere = SPHERE_BY_CODE.get(code)
    return _(sphere.label) if sphere else code


async def who_works_where(
    tx: Transaction, country: str, period: CalendarPeriod, k: int
) -> Disclosed:
    """Active members in `country` who joined by the end of `period`, per sphere (one person
    counts in each of her spheres; the total counts her once), perturbed by the members'
    record keys like the membership report.

    The hook for the alliance's who-does-what-where matrix (country × sphere headcounts):
    when that service exists, its row for `country` is what belongs here, with the same
    rows (the spheres, then "" for no sphere) and column ("members")."""
    up_to = CalendarPeriod(PeriodKind.ALL, PeriodKind.ALL.value, None, period.end)
    counts = await tx.reports.membership_counts(up_to)
    rows = [*SPHERE_BY_CODE, ""]
    units: list[Unit] = [
        (sorted(c.spheres) or [""], ["members"], Keyed(c.count, c.key))
        for c in counts
        if c.country == country
    ]
    return perturb_table(keyed_table(units, rows, ("members",)), k)


async def updates_by_sphere(
    tx: Transaction, country: str, period: CalendarPeriod, k: int
) -> Disclosed:
    """Field updates from `country` in `period` per sphere, routine and urgent, from the
    anonymous weekly tallies; the totals count each update once."""
    tallies = [t for t in await tx.reports.update_counts(period) if t.country == country]
    spheres = list(SPHERE_BY_CODE)
    units: list[Unit] = [
        ([t.sphere], [URGENCY[t.urgent]], Keyed(t.count, t.key))
        for t in tallies
        if t.sphere != ALL_SPHERES
    ]
    keyed = keyed_table(units, spheres, URGENCY)
    whole = [t for t in tallies if t.sphere == ALL_SPHERES]  # each update once
    once = keyed_table(
        [([""], [URGENCY[t.urgent]], Keyed(t.count, t.key)) for t in whole], [""], URGENCY
    )
    keyed = replace(keyed, column_totals=once.column_totals, total=once.total)
    return perturb_table(keyed, k)


# -- quotes -----------------------------------------------------------------------------------


def shorten(text: str, most: int = QUOTE_CHARS) -> str:
    """Her words on one line, cut on a word boundary to at most `most` characters (and "…")."""
    words = " ".join(text.split())
    if len(words) <= most:
        return words
    cut = words[: most - 1]
    space = cut.rfind(" ")
    if space > most // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def _day(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


async def brief_quotes(
    tx: Transaction, country: str, period: CalendarPeriod, members: Disclosed, _: Translator
) -> tuple[Quote, ...]:
    """The newest approved updates of `country` in `period` (the weeks the update counts
    cover) whose authors agreed to be quoted: never the author, never a date finer than the
    month, and none at all when the country's published member count is hidden (under k)."""
    if members.total is None or members.total < members.k:
        return ()
    first = _day(period.first) if period.first is not None else None
    found = await tx.updates.quotes(country, first, _day(period.end), MAX_QUOTES)
    return tuple(
        Quote(
            shorten(u.text or ""),
            format_date(u.created_at.date(), "LLLL y", locale=_.locale),
        )
        for u in found
        if (u.text or "").strip()
    )


# -- surveys and their trends ----------------------------------------------------------------


def _row(table: Disclosed, row: int) -> tuple[Disclosed, bool]:
    """One row of a published table, as a one-row table (its figures unchanged); whether it
    shows anything."""
    cells = table.cells[row]
    return (
        Disclosed(
            rows=(table.rows[row],),
            columns=table.columns,
            cells=(cells,),
            hidden=(table.hidden[row],),
            row_totals=(table.row_totals[row],),
            column_totals=cells,
            total=table.row_totals[row],
            k=table.k,
            noise=table.noise,
        ),
        any(n for n in cells if n),
    )


def _stack(first: Disclosed, second: Disclosed) -> Disclosed:
    """Two one-row published tables as one two-row table; no column totals (each row is a
    different population: the country is inside the alliance)."""
    return Disclosed(
        rows=(*first.rows, *second.rows),
        columns=first.columns,
        cells=(*first.cells, *second.cells),
        hidden=(*first.hidden, *second.hidden),
        row_totals=(*first.row_totals, *second.row_totals),
        column_totals=tuple(None for _c in first.columns),
        total=None,
        k=first.k,
        noise=first.noise,
    )


def _hidden_row(group: str, like: Disclosed) -> Disclosed:
    """A group with no row of its own (nobody counted apart): every cell "<k"."""
    none = tuple(None for _c in like.columns)
    return Disclosed(
        rows=(group,),
        columns=like.columns,
        cells=(none,),
        hidden=(tuple(Hidden.SMALL for _c in like.columns),),
        row_totals=(None,),
        column_totals=none,
        total=None,
        k=like.k,
        noise=like.noise,
    )


def country_rows(
    by_country: Report | None, overall: Report, country: str, _: Translator
) -> tuple[Report, bool]:
    """A survey's results for a brief: per question, the country's row of the results by
    country (`by_country`; None: the survey is not counted by country) above the whole
    alliance's row. Whether the country shows anything at all."""
    sections = []
    shown_any = False
    label = _.country_name(country)
    mine_sections = by_country.sections if by_country else (None,) * len(overall.sections)
    for mine, whole in zip(mine_sections, overall.sections, strict=True):
        if whole.kind is SectionKind.TEXT:
            continue
        everyone, _shown = _row(whole.table, 0)
        local, shown = _hidden_row(country, everyone), False
        if mine is not None and country in mine.table.rows:
            local, shown = _row(mine.table, mine.table.rows.index(country))
        shown_any = shown_any or shown
        sections.append(
            Section(
                whole.key,
                whole.title,
                whole.kind,
                _stack(local, everyone),
                (label, _("Whole alliance")),
                whole.column_labels,
                whole.notes,
            )
        )
    report = replace(
        overall,
        breakdown=Breakdown.COUNTRY,
        breakdown_label=_("{country} and the whole alliance", country=label),
        sections=tuple(sections),
    )
    return report, shown_any


def round_label(_: Translator, slug: str) -> str:
    """A round as the reader names it: "November 2026" for pulse-safety-2026-11."""
    month = round_of(slug)
    if month is None:
        return slug
    year, number = month.split("-")
    return format_date(date(int(year), int(number), 1), "LLLL y", locale=_.locale)


async def family_rounds(
    tx: Transaction, family: str, until: Survey | None = None, last: int = MAX_ROUNDS
) -> list[Survey]:
    """The closed, answered rounds of a survey family, oldest first (up to `until`, included,
    when given; the `last` ones)."""
    found: list[Survey] = []
    for survey_id, slug in await tx.reports.closed_surveys(SURVEY_SCAN):
        if family_of(slug) != family:
            continue
        survey = await tx.surveys.get(survey_id)
        if survey is not None:
            found.append(survey)
    found.sort(key=lambda s: (round_of(s.slug) or "", s.closes_at))
    if until is not None:
        found = [s for s in found if (round_of(s.slug) or "") <= (round_of(until.slug) or "")]
    return found[-last:]


def _shares(report: Report, group: str) -> dict[str, tuple[tuple[str, ...], list[float | None]]]:
    """Per question: its answer keys, and each answer's share of the group's published total
    (None where hidden, or where the group has no row)."""
    found: dict[str, tuple[tuple[str, ...], list[float | None]]] = {}
    for section in report.sections:
        if section.kind is SectionKind.TEXT:
            continue
        table = section.table
        row = 0 if not group else (table.rows.index(group) if group in table.rows else -1)
        if row < 0:
            found[section.key] = (table.columns, [None] * len(table.columns))
            continue
        found[section.key] = (table.columns, list(shares_of_total(table, row)))
    return found


async def build_trend(
    tx: Transaction,
    family: str,
    group: str,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    until: Survey | None = None,
    last: int = MAX_ROUNDS,
) -> Trend | None:
    """A family's rounds side by side for `group` (a country code; "" for the whole
    alliance), from each round's published results by country (or overall): every share is
    computed from published figures, so a cell hidden in a round stays hidden in the trend and
    in every change. None when the family has fewer than two closed rounds (or, for a country,
    rounds not counted by country). No role check, no audit: `survey_trend` and the brief do."""
    rounds = await family_rounds(tx, family, until, last)
    by = Breakdown.COUNTRY if group else Breakdown.NONE
    rounds = [s for s in rounds if by in survey_breakdowns(s)]
    if len(rounds) < 2:
        return None
    reports = [
        await survey_report(tx, s, by, limits.k, _, now, secret=limits.secret) for s in rounds
    ]
    per_round = [_shares(r, group) for r in reports]
    latest = rounds[-1].definition
    questions = []
    for question, section in zip(latest.questions, reports[-1].sections, strict=True):
        if section.kind is SectionKind.TEXT:
            continue
        answers = section.table.columns
        shares: list[tuple[float | None, ...]] = []
        for answer in answers:
            line: list[float | None] = []
            for found in per_round:
                keys, values = found.get(question.key, ((), []))
                line.append(values[keys.index(answer)] if answer in keys else None)
            shares.append(tuple(line))
        questions.append(
            TrendQuestion(question.key, section.title, section.column_labels, tuple(shares))
        )
    return Trend(
        family=family,
        group=group,
        group_label=_.country_name(group) if group else _("Whole alliance"),
        rounds=tuple(round_label(_, s.slug) for s in rounds),
        slugs=tuple(s.slug for s in rounds),
        questions=tuple(questions),
        k=limits.k,
        noise=NOISE,
    )


async def survey_trend(
    tx: Transaction,
    actor: Actor,
    family: str,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    country: str | None = None,
) -> Trend | None:
    """The dashboard's (and anyone's) trend of a survey family, for the whole alliance or one
    of the alliance's countries: role checked (secretariat) and audited (what was asked, no
    figure). None when the family has fewer than two closed rounds."""
    require(actor, Role.SECRETARIAT, "report.trend")
    if country is not None and country not in limits.countries:
        raise BriefError(_("A brief is made for one of the alliance's countries."))
    trend = await build_trend(tx, family, country or "", _, now, limits)
    await audit(tx, actor, "report.trend", now, family=family, country=country)
    return trend


# -- the brief -------------------------------------------------------------------------------


async def period_surveys(tx: Transaction, period: CalendarPeriod) -> list[Survey]:
    """Closed, answered surveys whose close falls in the period, newest first."""
    found = []
    for survey_id, _slug in await tx.reports.closed_surveys(SURVEY_SCAN):
        survey = await tx.surveys.get(survey_id)
        if survey is None:
            continue
        closed = survey.closes_at.date()
        if (period.first is None or closed >= period.first) and closed < period.end:
            found.append(survey)
    found.sort(key=lambda s: s.closes_at, reverse=True)
    return found


def latest_rounds(surveys: Sequence[Survey]) -> list[Survey]:
    """Surveys (newest first) with only the latest round of each family: its trend shows the
    rounds before it."""
    seen: set[str] = set()
    kept = []
    for survey in surveys:
        family = family_of(survey.slug)
        if family is not None and family in seen:
            continue
        if family is not None:
            seen.add(family)
        kept.append(survey)
    return kept


async def _survey_result(
    tx: Transaction,
    survey: Survey,
    country: str,
    _: Translator,
    now: datetime,
    limits: Limits,
) -> SurveyResult:
    k, secret = limits.k, limits.secret
    overall = await survey_report(tx, survey, Breakdown.NONE, k, _, now, secret=secret)
    by_country = None
    if Breakdown.COUNTRY in survey_breakdowns(survey):
        by_country = await survey_report(tx, survey, Breakdown.COUNTRY, k, _, now, secret=secret)
    report, shown = country_rows(by_country, overall, country, _)
    family = family_of(survey.slug)
    trend = None
    if family:
        group = country if shown else ""
        trend = await build_trend(
            tx, family, group, _, now, limits, until=survey, last=BRIEF_ROUNDS
        )
    return SurveyResult(survey.slug, overall.title, report, shown, trend)


def brief_notes(_: Translator, k: int, quoted: bool = False) -> tuple[str, ...]:
    """How to read a brief, in every output: the method and k, then what each part counts."""
    return (
        *perturbed_notes(_, k, NOISE),
        _("One person may count in several spheres; a total counts each person once."),
        _("Counted from anonymous weekly tallies. A total counts each update once."),
        _(
            "A change is in percentage points between the two latest rounds, from published "
            "figures only; it is not shown where either round hides the answer."
        ),
        _(
            "Quotes come from approved updates whose authors agreed to be quoted; no names, "
            "dated by month."
        )
        if quoted
        else _("No quotes: none agreed to be quoted in this period."),
    )


async def build_brief(
    tx: Transaction,
    country: str,
    period: CalendarPeriod,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    max_surveys: int = MAX_SURVEYS,
) -> CountryBrief:
    """The brief for `country` over `period`, disclosure-controlled. No role check, no
    audit: `make_brief` does both."""
    if country not in limits.countries:
        raise BriefError(_("A brief is made for one of the alliance's countries."))
    k = limits.k
    members = await who_works_where(tx, country, period, k)
    updates = await updates_by_sphere(tx, country, period, k)
    surveys = latest_rounds(await period_surveys(tx, period))
    results = tuple(
        [await _survey_result(tx, s, country, _, now, limits) for s in surveys[:max_surveys]]
    )
    quotes = await brief_quotes(tx, country, period, members, _)
    spheres = (*SPHERE_BY_CODE, "")
    return CountryBrief(
        country=country,
        country_label=_.country_name(country),
        locale=_.locale,
        period=calendar_label(_, period),
        period_code=period.label,
        generated_at=now,
        k=k,
        noise=NOISE,
        spheres=spheres,
        sphere_labels=tuple(_sphere_label(_, s) for s in spheres),
        members=members,
        updates=updates,
        surveys=results,
        notes=brief_notes(_, k, bool(quotes)),
        more_surveys=max(0, len(surveys) - max_surveys),
        quotes=quotes,
    )


async def make_brief(
    tx: Transaction,
    actor: Actor,
    country: str,
    period: CalendarPeriod,
    _: Translator,
    now: datetime,
    limits: Limits,
    *,
    action: str = "brief.sent",
    fmt: str = "pdf",
) -> CountryBrief:
    """A country brief for the secretariat, audited as `action` with what was asked (the
    country and period, never a figure)."""
    require(actor, Role.SECRETARIAT, action)
    brief = await build_brief(tx, country, period, _, now, limits)
    await audit(tx, actor, action, now, country=country, at=period.label, format=fmt)
    return brief


def brief_file_name(brief: CountryBrief, extension: str) -> str:
    return (
        f"wasl-brief-{brief.country}-{brief.period_code}-{brief.generated_at:%Y%m%d}.{extension}"
    )


def offered_countries(_: Translator, countries: Sequence[str]) -> list[tuple[str, str]]:
    """The alliance's countries as the /brief buttons show them: (code, name), by name."""
    return sorted(((c, _.country_name(c)) for c in countries), key=lambda p: p[1].casefold())
