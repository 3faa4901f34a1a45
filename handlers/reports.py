"""/report for the secretariat: what (survey results, field updates, membership), which
survey or which calendar period, how to split it; then a short summary, a chart and a
spreadsheet.

A flow on the conversation engine. The reports themselves, their disclosure control, the role
check and the audit are the reports service's (bot/services/reports.py), shared with the CLI,
the dashboard and the scheduler.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import Conversation, Kind, Option, Step, Turn
from bot.core.i18n import N_
from bot.core.messages import Outbound, OutboundFile
from bot.core.models import Role
from bot.core.reports import Breakdown, CalendarPeriod, PeriodKind, Subject
from bot.core.router import Router
from bot.reports.model import Report
from bot.reports.render import render_png, render_text, render_xlsx
from bot.services import reports
from bot.services.reports import (
    BREAKDOWN_LABELS,
    KIND_LABELS,
    XLSX,
    Ask,
    Limits,
    Remedy,
    ReportError,
)

FLOW = "rep"

SUBJECT_LABELS = {
    Subject.SURVEY: N_("Survey results"),
    Subject.UPDATES: N_("Field updates"),
    Subject.MEMBERSHIP: N_("Membership"),
}


class SurveyChoice(BaseModel):
    """A closed survey with answers, as its button shows it."""

    id: int
    title: str


class ReportState(BaseModel):
    """What she has chosen so far."""

    subject: Subject | None = None
    surveys: list[SurveyChoice] = []
    survey_id: int | None = None
    kind: PeriodKind | None = None
    breakdowns: list[Breakdown] = []


# -- the steps ----------------------------------------------------------------------------------


async def _subject(turn: Turn[ReportState], value: str) -> str | None:
    ctx, state = turn.ctx, turn.state
    subject = Subject(value)
    state.subject = subject
    if subject is not Subject.SURVEY:
        state.breakdowns = list(reports.offered_breakdowns(subject))
        return "calendar"
    found = await reports.closed_surveys(ctx.tx, ctx._)
    if not found:
        ctx.state.clear()
        ctx.say(ctx._("No closed survey has answers yet, so there are no results to show."))
        return None
    state.surveys = [SurveyChoice(id=i, title=title[:60]) for i, _slug, title in found]
    return "survey"


async def _survey(turn: Turn[ReportState], value: str) -> str | None:
    ctx, state = turn.ctx, turn.state
    try:
        survey = await reports.survey_by_id(ctx.tx, ctx._, int(value), ctx.now)
    except ReportError as error:
        ctx.say(str(error))
        return "survey"
    state.survey_id = survey.id  # survey results: the whole survey, no period
    state.breakdowns = list(reports.offered_breakdowns(Subject.SURVEY, survey))
    return "by"


def _calendar(turn: Turn[ReportState], value: str) -> None:
    turn.state.kind = PeriodKind(value)


async def _by(turn: Turn[ReportState], value: str) -> str | None:
    """Make the report and send it; when it would show nothing, say why and ask again for the
    one choice that can help (or end, when none can)."""
    ctx, state = turn.ctx, turn.state
    assert state.subject is not None
    by = Breakdown(value)
    try:
        ask = await _ask(ctx, state, by)
        report = await reports.make_report(
            ctx.tx, ctx.actor, ask, ctx._, ctx.now, Limits.of(ctx.config)
        )
    except ReportError as error:
        ctx.say(str(error))
        step = {
            Remedy.BREAKDOWN: "by",
            Remedy.PERIOD: "calendar",
            Remedy.SURVEY: "survey" if state.surveys else None,
        }.get(error.remedy)
        if step is None:
            ctx.state.clear()
        return step
    ctx.state.clear()
    _send(ctx, report)
    return None


async def _ask(ctx: Context, state: ReportState, by: Breakdown) -> Ask:
    subject = state.subject or Subject.SURVEY
    if subject is Subject.SURVEY:
        survey = await reports.survey_by_id(ctx.tx, ctx._, state.survey_id or 0, ctx.now)
        return Ask(subject, by, survey=survey)
    kind = state.kind or PeriodKind.MONTH
    return Ask(subject, by, period=CalendarPeriod.recent(kind, ctx.now.date())[0])


def _send(ctx: Context, report: Report) -> None:
    """The summary now; the chart and the spreadsheet after the commit."""
    _ = ctx._
    ctx.say(render_text(report, _))

    async def files() -> list[Outbound]:
        # Drawing takes a moment of CPU: after the commit and off the event loop, so neither
        # the database nor other chats wait for it.
        chart, sheet = await asyncio.gather(
            asyncio.to_thread(render_png, report, _),
            asyncio.to_thread(render_xlsx, report, _),
        )
        return [
            Outbound(
                _("Chart: {title}", title=report.title),
                file=OutboundFile(reports.file_name(report, "png"), chart, "image/png"),
            ),
            Outbound(
                _("Spreadsheet: {title} (a sheet per table, and notes)", title=report.title),
                file=OutboundFile(reports.file_name(report, "xlsx"), sheet, XLSX),
            ),
        ]

    ctx.reply.later.append(files)


async def _finish(turn: Turn[ReportState]) -> None:
    """Nothing left to do: the last step sends the report itself, as a report that would
    show nothing sends her back to the choice that can help."""


async def _cancelled(turn: Turn[ReportState]) -> None:
    turn.ctx.say(turn._("Cancelled."))


REPORT: Conversation[ReportState] = Conversation(
    FLOW,
    ReportState,
    [
        Step(
            name="subject",
            kind=Kind.CHOICE,
            ask=lambda t: t._("What would you like a report on?"),
            options=lambda t: [Option(s.value, t._(label)) for s, label in SUBJECT_LABELS.items()],
            answer=_subject,
            cancel=True,
        ),
        Step(
            name="survey",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Which survey? (closed surveys with answers)"),
            options=lambda t: [Option(str(s.id), s.title) for s in t.state.surveys],
            skip=lambda t: t.state.subject is not Subject.SURVEY,
            answer=_survey,
            cancel=True,
        ),
        Step(
            name="calendar",
            kind=Kind.CHOICE,
            ask=lambda t: t._(
                "For which period? Counts over time come for whole calendar periods only."
            ),
            options=lambda t: [Option(k.value, t._(label)) for k, label in KIND_LABELS.items()],
            skip=lambda t: t.state.subject is Subject.SURVEY,
            answer=_calendar,
            cancel=True,
        ),
        Step(
            name="by",
            kind=Kind.CHOICE,
            ask=lambda t: t._("How should the numbers be split?"),
            options=lambda t: [
                Option(b.value, t._(BREAKDOWN_LABELS[b])) for b in t.state.breakdowns
            ],
            answer=_by,
            columns=2,
            cancel=True,
        ),
    ],
    finish=_finish,
    cancelled=_cancelled,
)


async def start(ctx: Context, arg: str) -> None:
    """/report: choose what; /report <survey>: that survey's results, straight to the split."""
    slug = arg.strip()
    if not slug:
        await REPORT.start(ctx, ReportState())
        return
    try:
        survey = await reports.find_survey(ctx.tx, ctx._, slug, ctx.now)
    except ReportError as error:
        ctx.state.clear()
        ctx.say(str(error))
        return
    state = ReportState(
        subject=Subject.SURVEY,
        survey_id=survey.id,
        breakdowns=list(reports.offered_breakdowns(Subject.SURVEY, survey)),
    )
    await REPORT.start(ctx, state, at="by")


def register(router: Router) -> None:
    router.flow(REPORT, role=Role.SECRETARIAT)

    @router.command(
        "report", N_("Reports: survey results, updates, membership"), role=Role.SECRETARIAT
    )
    async def cmd_report(ctx: Context, arg: str) -> None:
        await start(ctx, arg)
