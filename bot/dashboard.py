"""The secretariat's read-only web dashboard: the bot's reports as web pages.

Reached only through a link from /dashboard (bot/services/reports.py makes it), checked on every
page: unexpired, and its member still secretariat or admin. Every figure comes from the same
disclosure-controlled reports as /report and the CLI; there is no way to see a raw row.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlencode

from bot.app import App
from bot.core.actors import Actor
from bot.core.i18n import Translator
from bot.core.models import Member, Role
from bot.core.reports import CalendarPeriod, PeriodKind
from bot.reports.brief import Trend, family_of
from bot.reports.brief_render import trend_header, trend_heading, trend_rows
from bot.reports.fonts import NASTALIQ, web_font
from bot.reports.model import Report, Section
from bot.reports.render import render_csv, render_html, render_xlsx
from bot.reports.svg import STYLE as CHART_STYLE
from bot.reports.svg import average_text, section_chart
from bot.services import reports
from bot.services.brief import survey_trend
from bot.services.reports import (
    BREAKDOWN_LABELS,
    KIND_LABELS,
    XLSX,
    Limits,
    ReportError,
    calendar_label,
    check_report,
    file_name,
)

STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#222}"
    "h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem}"
    "table{border-collapse:collapse;margin:.5rem 0;display:block;overflow-x:auto;max-width:100%}"
    "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:start}"
    ".num{text-align:end;font-variant-numeric:tabular-nums}.withheld{color:#777}"
    ".note,.meta{color:#555;font-size:.9rem}nav{margin:.5rem 0;line-height:2}"
    "nav a{margin-inline-end:1rem;white-space:nowrap}nav b{margin-inline-end:1rem}"
    ".meta{display:grid;grid-template-columns:auto 1fr;gap:.1rem 1rem}.meta dd{margin:0}"
    ".tiles{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}"
    ".tile{border:1px solid #ccc;border-radius:6px;padding:.5rem .9rem;min-width:9rem}"
    ".tile b{display:block;font-size:1.6rem;font-variant-numeric:tabular-nums}"
    ".settings{border-top:1px solid #ccc;margin-top:2rem;padding-top:.5rem}"
    ".avg{font-weight:600}"
    # Wide screens: the choices beside the data; narrow ones: after it (it comes first).
    "@media (min-width:60rem){.layout{display:grid;grid-template-columns:minmax(0,1fr) 16rem;"
    "gap:2rem}.settings{grid-column:2;grid-row:1;border:0;margin:0}"
    ".settings nav a,.settings nav b{display:block}}" + CHART_STYLE
)


FONTS_PATH = "/dashboard/fonts"
# Wasl's own fonts, served from this server, are used only for the letters of their script
# (unicode-range: a browser fetches one only for a page that has such letters); everything
# else is the system's. A page in Urdu prefers a Nastaliq installed on the reader's machine.
FONT_FACES = (
    f'@font-face{{font-family:"Wasl Arabic";src:url({FONTS_PATH}/arabic.ttf) format("truetype");'
    "unicode-range:U+0600-06FF,U+0750-077F,U+0870-08FF,U+FB50-FDFF,U+FE70-FEFF;"
    "font-display:swap}"
    f'@font-face{{font-family:"Wasl Bengali";src:url({FONTS_PATH}/bengali.ttf) format("truetype");'
    # The danda (।, ॥) that ends a Bengali sentence sits in the Devanagari block.
    "unicode-range:U+0964-0965,U+0980-09FF;font-display:swap}"
)
FONT_STACK = '"Wasl Arabic","Wasl Bengali",system-ui,sans-serif'


def font_style(locale: str) -> str:
    """The fonts of a page in `locale`: Nastaliq first for Urdu, with room for its tall
    letters; then Wasl's fonts for Arabic script and Bengali; then the system's."""
    if locale == "ur":
        nastaliq = ",".join(f'"{family}"' for family in NASTALIQ)
        return f"{FONT_FACES}body{{font-family:{nastaliq},{FONT_STACK};line-height:1.9}}"
    return f"{FONT_FACES}body{{font-family:{FONT_STACK}}}"


def font(name: str) -> bytes | None:
    """A font file the pages name (`FONTS_PATH`/name), None for any other name."""
    return web_font(name)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, and in which language."""

    member: Member
    token: str
    translator: Translator

    @property
    def actor(self) -> Actor:
        return Actor.of(self.member)


async def viewer(app: App, token: str | None) -> Viewer | None:
    """The secretariat member this link belongs to; None for a bad, expired or revoked one."""
    now = app.core.clock.now()
    async with app.store.transaction() as tx:
        member = await reports.dashboard_viewer(tx, token, now, app.core.config.secret_key)
    if member is None or token is None:
        return None
    return Viewer(member, token, app.catalogs.get(member.locale))


def _link(who: Viewer, path: str, **params: str) -> str:
    return f"{path}?{urlencode({'t': who.token, **params})}"


def _survey_path(slug: str) -> str:
    return f"/dashboard/survey/{quote(slug)}"


def _nav(
    who: Viewer,
    caption: str,
    path: str,
    param: str,
    options: Mapping[str, str],
    chosen: str | None = None,
    **fixed: str,
) -> str:
    """A line of links to the same page with `param` set to each option; the one shown is
    named in bold, not linked."""
    return choices(
        caption,
        {value: _link(who, path, **fixed, **{param: value}) for value in options},
        options,
        chosen,
    )


def choices(
    caption: str, links: Mapping[str, str], labels: Mapping[str, str], chosen: str | None
) -> str:
    """A <nav> of links (value → address), the `chosen` one in bold, not linked."""
    items = " ".join(
        f"<b>{html.escape(labels[value])}</b>"
        if value == chosen
        else f'<a href="{html.escape(address)}">{html.escape(labels[value])}</a>'
        for value, address in links.items()
    )
    return f"<nav>{html.escape(caption)} {items}</nav>"


def chart(section: Section, _: Translator) -> str:
    """A section's chart, and for one group (the whole alliance) its average answer."""
    average = average_text(section, 0, _) if len(section.table.rows) == 1 else ""
    line = f'<p class="avg">{html.escape(average)}</p>' if average else ""
    return line + section_chart(section, _, total_label=_("Total"))


def _shown(report: Report, _: Translator, period: PeriodKind | None = None) -> str:
    try:
        check_report(report, _, period)
    except ReportError as error:
        return f'<section class="report"><h2>{html.escape(report.title)}</h2>' + (
            f'<p class="note">{html.escape(str(error))}</p></section>'
        )
    return render_html(report, _, lambda section: chart(section, _))


def document(_: Translator, title: str, body: str, head: str = "") -> str:
    """A whole page in the translator's language and direction, readable on a phone, with
    nothing loaded from elsewhere (`head`: more of its <head>)."""
    direction = "rtl" if _.rtl else "ltr"
    return (
        f'<!doctype html><html lang="{html.escape(_.locale)}" dir="{direction}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{head or NOINDEX}"
        f"<title>{html.escape(title)}</title><style>{STYLE}{font_style(_.locale)}</style></head>"
        f"<body>{body}</body></html>"
    )


NOINDEX = '<meta name="robots" content="noindex">'


def when(_: Translator) -> str:
    """What every page says about time: its zone, and what a week is."""
    note = _("Times in UTC. Weeks run Monday to Sunday.")
    return f'<p class="note">{html.escape(note)}</p>'


def page(who: Viewer, title: str, body: str, settings: str = "") -> str:
    """A dashboard page: a way back to the overview, the title, then `body` (the data), then
    `settings` (the choices of what to show): after the data on a phone, beside it on a
    wide screen."""
    _ = who.translator
    home = html.escape(_link(who, "/dashboard"))
    label = html.escape(_("Overview"))  # outside the f-string, where pybabel finds it
    nav = f'<nav><a href="{home}">{label}</a></nav>'
    aside = f'<aside class="settings">{settings}</aside>' if settings else ""
    return document(
        _,
        title,
        f"{nav}<h1>{html.escape(title)}</h1>{when(_)}"
        f'<div class="layout"><main>{body}</main>{aside}</div>',
    )


def chosen_period(kind_name: str | None, at: str | None, today: date) -> CalendarPeriod:
    """The calendar period a page asks for: the latest complete month unless told otherwise
    (an unknown or incomplete one falls back to the latest complete of its kind)."""
    kind = next((p for p in PeriodKind if p.value == kind_name), PeriodKind.MONTH)
    if at:
        with suppress(ValueError):
            return CalendarPeriod.parse(kind, at, today)
    return CalendarPeriod.recent(kind, today)[0]


async def overview(
    app: App, who: Viewer, period_name: str | None = None, at: str | None = None
) -> str:
    """Closed surveys; then membership, field updates and deliveries for one calendar period
    (the latest complete month unless asked), the same periods the bot and the CLI offer."""
    _ = who.translator
    now = app.core.clock.now()
    period = chosen_period(period_name, at, now.date())
    async with app.store.transaction() as tx:
        shown = await reports.overview(tx, who.actor, period, _, now, Limits.of(app.core.config))
    surveys = shown.surveys
    items = "".join(
        f'<li><a href="{html.escape(_link(who, _survey_path(slug)))}">'
        f"{html.escape(title)}</a></li>"
        for slug, title in surveys
    )
    none = html.escape(_("No closed survey has answers yet."))
    survey_list = f"<ul>{items}</ul>" if items else f'<p class="note">{none}</p>'
    heading = html.escape(_("Survey results"))
    today = now.date()
    kinds = {kind.value: _(label) for kind, label in KIND_LABELS.items()}
    labels = {p.label: calendar_label(_, p) for p in CalendarPeriod.recent(period.kind, today, 6)}
    if period.label not in labels:
        labels[period.label] = calendar_label(_, period)
    settings = _nav(who, "", "/dashboard", "period", kinds, period.kind.value) + (
        _nav(
            who,
            _("Other periods:"),
            "/dashboard",
            "at",
            labels,
            period.label,
            period=period.kind.value,
        )
        if period.kind is not PeriodKind.ALL
        else ""
    )
    body = (
        f"<h2>{html.escape(calendar_label(_, period))}</h2>"
        + tiles(shown.reports, _)
        + "".join(_shown(report, _, period.kind) for report in shown.reports)
        + f"<h2>{heading}</h2>{survey_list}"
    )
    return page(who, _("Wasl dashboard"), body, settings)


def tiles(shown: Sequence[Report], _: Translator) -> str:
    """The period's headline figures: each report's first table's total (people, updates,
    messages: each counted once), where it is published."""
    found = []
    for report in shown:
        if not report.sections or report.empty:
            continue
        figure = report.sections[0].table.total
        value = _.number(figure) if figure is not None else f"<{report.k}"
        found.append(
            f'<div class="tile"><b>{html.escape(value)}</b>{html.escape(report.title)}</div>'
        )
    return f'<div class="tiles">{"".join(found)}</div>' if found else ""


@dataclass(frozen=True, slots=True)
class Download:
    """A report as a file: the same cells as the page, for a briefing or further analysis."""

    content: bytes
    media_type: str
    filename: str


FORMATS = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8"}


async def survey_page(
    app: App, who: Viewer, slug: str, by: str | None, file_format: str | None = None
) -> tuple[int, str | Download]:
    """One closed survey's results, split as asked: the HTTP status and the page, or the
    report as a spreadsheet (`file_format` "xlsx" or "csv")."""
    _ = who.translator
    now = app.core.clock.now()
    exporting = file_format if file_format in FORMATS else None
    limits = Limits.of(app.core.config)
    async with app.store.transaction() as tx:
        view = await reports.survey_view(tx, who.actor, slug, by, _, now, limits, export=exporting)
        trend = None
        family = family_of(slug)
        if family is not None and not exporting and who.actor.role.allows(Role.SECRETARIAT):
            trend = await survey_trend(tx, who.actor, family, _, now, limits)
    if view.survey is None:
        missing = _("There is no survey called {slug}.", slug=slug[:48])
        return 404, page(who, _("Wasl dashboard"), f"<p>{html.escape(missing)}</p>")
    title = view.survey.definition.title(_.locale)
    report, breakdown = view.report, view.breakdown
    if report is None:
        return 200, page(who, title, f'<p class="note">{html.escape(view.problem or "")}</p>')
    if exporting:
        render = render_xlsx if exporting == "xlsx" else render_csv
        content = await asyncio.to_thread(render, report, _)  # a spreadsheet takes a while
        return 200, Download(content, FORMATS[exporting], file_name(report, exporting))
    here = _survey_path(slug)
    splits = {b.value: _(BREAKDOWN_LABELS[b]) for b in view.choices}
    files = {f: f.upper() for f in FORMATS}
    body = _nav(who, _("Split by:"), here, "by", splits, breakdown.value) + _shown(report, _)
    if trend is not None and slug in trend.slugs:
        body += trend_table(trend, _)
    settings = _nav(who, _("Download:"), here, "format", files, by=breakdown.value)
    return 200, page(who, title, body, settings)


def trend_table(trend: Trend, _: Translator) -> str:
    """The change between a repeated survey's rounds, per answer (as the country brief shows
    it): shares of each round's published figures, none where a round hides the answer."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in trend_header(trend, _))
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in trend_rows(trend, _)
    )
    return (
        f'<section class="report"><h2>{html.escape(trend_heading(trend, _))}</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def refused(app: App) -> str:
    """A short page for a bad or expired link, in the default language (nobody is known)."""
    _ = app.catalogs.get(app.catalogs.default)
    message = _(
        "This link has expired or is not valid. Send {command} to the bot for a new one.",
        command="/dashboard",
    )
    return document(_, "Wasl", f"<p>{html.escape(message)}</p>")
