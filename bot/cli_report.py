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
from typing import Any, TextIO

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.i18n import Translator
from bot.core.reports import (
    MEMBERSHIP_BREAKDOWNS,
    SURVEY_BREAKDOWNS,
    UPDATE_BREAKDOWNS,
    Breakdown,
    Period,
)
from bot.reports.model import Report
from bot.reports.render import render_csv, render_markdown, render_png, render_xlsx
from handlers.reports import (
    ReportError,
    check_breakdown,
    check_report,
    delivery_report,
    find_survey,
    membership_report,
    survey_report,
    updates_report,
)

Renderer = Callable[[Report, Translator], bytes | str]
FORMATS: dict[str, Renderer] = {
    "csv": render_csv,
    "xlsx": render_xlsx,
    "png": render_png,
    "md": render_markdown,
}
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
    _options(survey, SURVEY_BREAKDOWNS, period=False)
    _options(
        report.add_parser("updates", help="field updates, routine and urgent"), UPDATE_BREAKDOWNS
    )
    _options(
        report.add_parser("membership", help="active members by sphere"),
        MEMBERSHIP_BREAKDOWNS,
        period=False,
    )
    _options(report.add_parser("delivery", help="recent campaigns: sent, failed, why"), ())


def _options(
    parser: argparse.ArgumentParser, breakdowns: Sequence[Breakdown], *, period: bool = True
) -> None:
    if breakdowns:
        parser.add_argument("--by", choices=[b.value for b in breakdowns], default="none")
    parser.add_argument(
        "--format", choices=sorted(FORMATS), help="default: the extension of --out, else csv"
    )
    parser.add_argument("--out", required=True, help="the file to write; - for standard output")
    if period:
        parser.add_argument("--since", type=_day, help="first day (its whole week counts)")
        parser.add_argument("--until", type=_day, help="last day")
    parser.add_argument("--language", help="language of labels and notes (en, ar, fr)")


class Progress:
    """A progress bar on standard error, shown only once the work has taken over a second."""

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
        self.stream.write(
            f"\r[{'█' * filled}{'░' * (width - filled)}] {self.done}/{total} {stage:<20} "
            f"{elapsed:4.1f}s"
        )
        self.stream.flush()
        self.drawn = True


async def build(app: App, args: argparse.Namespace, _: Translator) -> Report:
    """The report the arguments ask for (ReportError: why there is none)."""
    now = SystemClock().now()
    k = app.settings.wasl.min_cell
    by = Breakdown(getattr(args, "by", "none"))
    period = Period(getattr(args, "since", None), getattr(args, "until", None))
    async with app.store.transaction() as tx:
        if args.subject == "survey":
            survey = await find_survey(tx, _, args.slug, now)
            check_breakdown(survey, by, _)
            report = await survey_report(tx, survey, by, k, _, now)
        elif args.subject == "updates":
            report = await updates_report(tx, by, period, k, _, now)
        elif args.subject == "membership":
            report = await membership_report(tx, by, k, _, now)
        else:
            report = await delivery_report(tx, k, _, now)
    return report


async def audit(app: App, args: argparse.Namespace, fmt: str) -> None:
    """Secretariat actions are logged: what was exported, not where it went."""
    async with app.store.transaction() as tx:
        await tx.audit(
            actor="cli",
            action="report.exported",
            now=SystemClock().now(),
            details={
                "subject": args.subject,
                "survey": getattr(args, "slug", None),
                "by": getattr(args, "by", "none"),
                "since": str(args.since) if getattr(args, "since", None) else None,
                "until": str(args.until) if getattr(args, "until", None) else None,
                "format": fmt,
            },
        )


def output_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.out).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else "csv"


async def run(app: App, args: argparse.Namespace) -> int:
    fmt = output_format(args)
    if args.out == "-" and fmt in ("xlsx", "png"):
        print(f"not written: {fmt} is a binary format, give a file with --out", file=sys.stderr)
        return 2
    _ = app.catalogs.get(args.language or app.settings.wasl.default_locale)
    try:
        async with Progress(STAGES) as progress:
            report = await build(app, args, _)
            progress.step()
            check_report(report, _)
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
        print(f"no report: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"not written: {error}", file=sys.stderr)
        return 1
    await audit(app, args, fmt)
    if args.out != "-":
        hidden = sum(1 for s in report.sections if s.table.any_hidden)
        print(
            f"wrote {args.out}: {report.title}, {len(report.sections)} table(s), "
            f"{report.breakdown_label.lower()}, k={report.k}"
            + (f", small groups hidden in {hidden}" if hidden else "")
        )
    return 0
