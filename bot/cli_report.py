"""`wasl report …`: survey results, update counts, membership and delivery as CSV, XLSX, PNG or
Markdown. The same disclosure-controlled reports as /report: there is no way to get a raw row."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.core.actors import CLI
from bot.core.clock import SystemClock
from bot.core.i18n import Translator
from bot.core.reports import (
    MEMBERSHIP_BREAKDOWNS,
    SURVEY_BREAKDOWNS,
    UPDATE_BREAKDOWNS,
    Breakdown,
    CalendarPeriod,
    PeriodKind,
    Subject,
)
from bot.reports.brief import CountryBrief
from bot.reports.brief_render import brief_title, render_brief_markdown, render_brief_pdf
from bot.reports.model import Report
from bot.reports.render import render_csv, render_markdown, render_png, render_xlsx
from bot.services import brief, peers, reports
from bot.services.brief import brief_period
from bot.services.reports import Ask, Limits, ReportError

if TYPE_CHECKING:
    from bot.app import App

Renderer = Callable[[Report, Translator], bytes | str]
FORMATS: dict[str, Renderer] = {
    "csv": render_csv,
    "xlsx": render_xlsx,
    "png": render_png,
    "md": render_markdown,
}
WHO_WORKS_WHERE = "whowhere"  # `wasl report whowhere`
STAGES = ("counting", "hiding small groups", "rendering", "writing")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-30: {text!r}") from error


def add_parsers(sub: Any) -> None:
    report = sub.add_parser(
        "report", help="aggregated reports: small groups hidden, never a raw row"
    ).add_subparsers(dest="subject", required=True)
    survey = report.add_parser("survey", help="a closed survey's results, every question")
    survey.add_argument("slug")
    # Results once, for the whole survey: no --since/--until.
    _options(survey, SURVEY_BREAKDOWNS)
    for name, help_text, breakdowns in (
        ("updates", "field updates, routine and urgent", UPDATE_BREAKDOWNS),
        (
            "membership",
            "active members who joined in the period, by sphere",
            MEMBERSHIP_BREAKDOWNS,
        ),
        ("delivery", "campaigns created in the period: sent, failed, why", ()),
    ):
        parser = report.add_parser(name, help=help_text)
        _options(parser, breakdowns)
        parser.add_argument(
            "--period",
            choices=[k.value for k in PeriodKind],
            default=PeriodKind.MONTH.value,
            help="a whole calendar period (ISO week, month, quarter) or all time",
        )
        parser.add_argument(
            "--at",
            help="which one: 2026-W47, 2026-11 or 2026-Q4 (default: the latest complete one)",
        )
        # Refused with an explanation (a range could be differenced against another).
        parser.add_argument("--since", help=argparse.SUPPRESS)
        parser.add_argument("--until", help=argparse.SUPPRESS)
    # The all-time membership figures by country and sphere, as /peers shows coordinators.
    _options(report.add_parser(WHO_WORKS_WHERE, help="members by country and sphere"), ())


def add_brief_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "brief",
        help="a country brief for policy meetings (PDF or Markdown, at most two pages)",
    )
    parser.add_argument("country", help="the country's two-letter code, one of WASL_COUNTRIES")
    parser.add_argument(
        "--period",
        help="a complete quarter or month: 2026-Q4 or 2026-11 (default: the latest quarter)",
    )
    parser.add_argument(
        "--format", choices=sorted(BRIEF_FORMATS), help="default: the extension of --out, else pdf"
    )
    parser.add_argument("--out", help="the file to write (default: wasl-brief-…); - for md")
    parser.add_argument("--language", help="the reader's language (en, ar, fr…)")


def _options(parser: argparse.ArgumentParser, breakdowns: Sequence[Breakdown]) -> None:
    if breakdowns:
        parser.add_argument("--by", choices=[b.value for b in breakdowns], default="none")
    parser.add_argument(
        "--format", choices=sorted(FORMATS), help="default: the extension of --out, else csv"
    )
    parser.add_argument("--out", required=True, help="the file to write; - for standard output")
    parser.add_argument("--language", help="language of labels and notes (en, ar, fr)")


class UsageError(ValueError):
    """Arguments that ask for something reports do not offer (the message says why)."""


def calendar_period(args: argparse.Namespace, today: date) -> CalendarPeriod:
    """The calendar period asked for by --period and --at; UsageError for a date range."""
    if getattr(args, "since", None) or getattr(args, "until", None):
        raise UsageError(
            f"--since/--until are not offered for {args.subject}: counts over time come for "
            "whole calendar periods only, so that no two reports can be subtracted to single "
            "someone out. Use --period week|month|quarter|all and --at 2026-W47|2026-11|2026-Q4"
        )
    kind = PeriodKind(args.period)
    if kind is PeriodKind.ALL or not args.at:
        if args.at and kind is PeriodKind.ALL:
            raise UsageError("--at is not used with --period all")
        return CalendarPeriod.recent(kind, today)[0]
    try:
        return CalendarPeriod.parse(kind, args.at, today)
    except ValueError as error:
        raise UsageError(
            f"--at: {error} (a complete {kind.value}, like "
            f"{CalendarPeriod.recent(kind, today)[0].label})"
        ) from error


class Progress:
    """Progress on standard error, shown only once the work has taken over a second: a bar
    redrawn in place on a terminal; elsewhere (a log, a pipe) one plain line per stage."""

    def __init__(
        self,
        stages: Sequence[str],
        stream: TextIO | None = None,
        *,
        after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stages = stages
        self.stream = stream or sys.stderr
        self.after = after
        self.clock = clock
        self.done = 0
        self.drawn = False
        self.terminal = _is_terminal(self.stream)
        self._said = -1  # the last stage written as a plain line
        self._started = 0.0
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._started = self.clock()
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.drawn:
            if exc[0] is None:
                self.done = len(self.stages)
                self.draw()
            if self.terminal:
                self.stream.write("\n")
            self.stream.flush()

    def step(self) -> None:
        """One stage finished (and the next one started)."""
        self.done = min(self.done + 1, len(self.stages))
        self._draw_if_due()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self._draw_if_due()

    def _draw_if_due(self) -> None:
        if self.drawn or self.clock() - self._started >= self.after:
            self.draw()

    def draw(self, width: int = 24) -> None:
        total = len(self.stages)
        filled = round(width * self.done / total)
        stage = self.stages[min(self.done, total - 1)] if self.done < total else "done"
        elapsed = self.clock() - self._started
        self.drawn = True
        if not self.terminal:
            if self._said != self.done:  # a line per stage, not one per tick
                self._said = self.done
                self.stream.write(f"report: {self.done}/{total} {stage} {elapsed:.1f}s\n")
                self.stream.flush()
            return
        self.stream.write(
            f"\r[{'█' * filled}{'░' * (width - filled)}] {self.done}/{total} {stage:<20} "
            f"{elapsed:4.1f}s"
        )
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


async def build(app: App, args: argparse.Namespace, _: Translator, fmt: str = "csv") -> Report:
    """The report the arguments ask for, with something to show (ReportError: why there is
    none). The reports service audits the export (what was exported, not where it went)."""
    now = SystemClock().now()
    config = app.core.config
    limits = Limits(
        app.settings.wasl.min_cell, config.secret_key, tuple(app.settings.wasl.countries)
    )
    if args.subject == WHO_WORKS_WHERE:
        async with app.store.transaction() as tx:
            return await peers.who_works_where(tx, CLI, _, now, limits.k, limits.countries)
    by = Breakdown(getattr(args, "by", "none"))
    subject = Subject(args.subject)
    async with app.store.transaction() as tx:
        if subject is Subject.SURVEY:
            survey = await reports.find_survey(tx, _, args.slug, now)
            ask = Ask(subject, by, survey=survey)
        else:
            ask = Ask(subject, by, period=calendar_period(args, now.date()))
        return await reports.make_report(
            tx, CLI, ask, _, now, limits, action="report.exported", format=fmt
        )


def output_format(args: argparse.Namespace) -> str:
    """--format, else the extension of --out, else csv. UsageError when the extension names
    another format or none Wasl writes (`--out x.pdf` must not quietly hold a CSV)."""
    suffix = "" if args.out == "-" else Path(args.out).suffix.lower().lstrip(".")
    if not suffix:
        return str(args.format or "csv")
    if args.format and suffix != args.format:
        raise UsageError(
            f"--out {args.out} ends in .{suffix} but --format is {args.format}: "
            f"name the file .{args.format}, or leave --format out"
        )
    if suffix not in FORMATS:
        raise UsageError(
            f"--out {args.out}: .{suffix} is not a format reports are written in "
            f"({', '.join(sorted(FORMATS))})"
        )
    return suffix


async def run(app: App, args: argparse.Namespace) -> int:
    try:
        fmt = output_format(args)
    except UsageError as error:
        print(f"no report: {error}", file=sys.stderr)
        return 2
    if args.out == "-" and fmt in ("xlsx", "png"):
        print(f"not written: {fmt} is a binary format, give a file with --out", file=sys.stderr)
        return 2
    _ = app.catalogs.get(args.language or app.settings.wasl.default_locale)
    try:
        async with Progress(STAGES) as progress:
            report = await build(app, args, _, fmt)
            progress.step()
            progress.step()
            content = await asyncio.to_thread(FORMATS[fmt], report, _)
            progress.step()
            if args.out == "-":
                sys.stdout.write(content if isinstance(content, str) else content.decode())
            else:
                data = content.encode("utf-8") if isinstance(content, str) else content
                await asyncio.to_thread(Path(args.out).write_bytes, data)
            progress.step()
    except ReportError as error:
        print(_("No report: {reason}", reason=str(error)), file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"no report: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"not written: {error}", file=sys.stderr)
        return 1
    if args.out != "-":
        print(summary(report, args.out, _))
    return 0


def summary(report: Report, out: str, _: Translator) -> str:
    """What was written, in the report's language from end to end."""
    parts = [
        report.title,
        _.plural("{n} table", "{n} tables", len(report.sections)),
        report.breakdown_label[:1].lower() + report.breakdown_label[1:],
        report.period,
        _("smallest group shown: {k}", k=_.number(report.k)),
    ]
    if hidden := sum(1 for s in report.sections if s.table.any_hidden):
        parts.append(
            _.plural(
                "small groups hidden in {n} table", "small groups hidden in {n} tables", hidden
            )
        )
    if noise := _noise(report):
        parts.append(_("figures perturbed by at most ±{d}", d=_.number(noise)))
    return _("Wrote {file}: {summary}", file=out, summary=_(", ").join(parts))


def _noise(report: Report) -> int:
    return max((s.table.noise for s in report.sections), default=0)


# -- wasl brief ---------------------------------------------------------------------------------

BRIEF_FORMATS: dict[str, Callable[[CountryBrief, Translator], bytes | str]] = {
    "pdf": render_brief_pdf,
    "md": render_brief_markdown,
}


def brief_format(args: argparse.Namespace) -> str:
    """--format, else the extension of --out, else pdf (UsageError when they disagree)."""
    out = args.out or ""
    suffix = "" if out in ("", "-") else Path(out).suffix.lower().lstrip(".")
    if not suffix:
        return str(args.format or ("md" if out == "-" else "pdf"))
    if args.format and suffix != args.format:
        raise UsageError(
            f"--out {out} ends in .{suffix} but --format is {args.format}: "
            f"name the file .{args.format}, or leave --format out"
        )
    if suffix not in BRIEF_FORMATS:
        raise UsageError(f"--out {out}: a brief is written as .pdf or .md, not .{suffix}")
    return suffix


async def run_brief(app: App, args: argparse.Namespace) -> int:
    """`wasl brief IQ --period 2026-Q4 --format pdf`: the country's brief, audited."""
    now = SystemClock().now()
    try:
        fmt = brief_format(args)
        period = brief_period(args.period, now.date())
    except (UsageError, ValueError) as error:
        print(f"no brief: {error}", file=sys.stderr)
        return 2
    if args.out == "-" and fmt == "pdf":
        print("not written: pdf is a binary format, give a file with --out", file=sys.stderr)
        return 2
    _ = app.catalogs.get(args.language or app.settings.wasl.default_locale)
    limits = Limits(
        app.settings.wasl.min_cell,
        app.core.config.secret_key,
        tuple(app.settings.wasl.countries),
    )
    country = args.country.strip().upper()
    try:
        async with app.store.transaction() as tx:
            made = await brief.make_brief(
                tx, CLI, country, period, _, now, limits, action="brief.exported", fmt=fmt
            )
        content = await asyncio.to_thread(BRIEF_FORMATS[fmt], made, _)
        out = args.out or brief.brief_file_name(made, fmt)
        if out == "-":
            sys.stdout.write(content if isinstance(content, str) else content.decode())
            return 0
        data = content.encode("utf-8") if isinstance(content, str) else content
        await asyncio.to_thread(Path(out).write_bytes, data)
    except ReportError as error:
        print(_("No report: {reason}", reason=str(error)), file=sys.stderr)
        return 2
    except OSError as error:
        print(f"not written: {error}", file=sys.stderr)
        return 1
    print(_("Wrote {file}: {summary}", file=out, summary=brief_title(made, _)))
    return 0
