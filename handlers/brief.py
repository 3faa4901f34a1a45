"""/brief for the secretariat: a country brief for a policy meeting, as a PDF of at most two
pages in her language.

`/brief` asks which country (the alliance's countries as buttons); `/brief IQ` or
`/brief IQ 2026-Q3` goes straight to it. The brief covers the latest complete quarter unless
a complete quarter or month is given. The brief itself, its disclosure control, the role check
and the audit are the brief service's (bot/services/brief.py), shared with `wasl brief`.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import Conversation, Kind, Option, Step, Turn
from bot.core.i18n import N_, fold
from bot.core.ids import plain
from bot.core.messages import Outbound, OutboundFile
from bot.core.models import Role
from bot.core.reports import CalendarPeriod
from bot.core.router import Router
from bot.reports.brief import CountryBrief
from bot.reports.brief_render import brief_title, render_brief_pdf
from bot.services import brief
from bot.services.reports import Limits, ReportError

FLOW = "brief"
PDF = "application/pdf"


class BriefState(BaseModel):
    """The period she asked for (a label like 2026-Q3), when she gave one."""

    period: str | None = None


def _period(ctx: Context, label: str | None) -> CalendarPeriod | None:
    """The period asked for, or None after telling her what a period looks like."""
    try:
        return brief.brief_period(label, ctx.now.date())
    except ValueError:
        latest = brief.brief_period(None, ctx.now.date()).label
        ctx.say(
            ctx._(
                "Give a complete quarter or month, like {example}, or nothing for the latest "
                "quarter.",
                example=latest,
            )
        )
        return None


async def send_brief(ctx: Context, country: str, period: CalendarPeriod) -> None:
    """Make the brief (audited) and send it: a line now, the PDF after the commit."""
    _ = ctx._
    try:
        made = await brief.make_brief(
            ctx.tx, ctx.actor, country, period, _, ctx.now, Limits.of(ctx.config)
        )
    except ReportError as error:
        ctx.say(str(error))
        return
    ctx.say(
        _("{title}: {period}. The PDF follows.", title=brief_title(made, _), period=made.period)
    )

    async def files() -> list[Outbound]:
        # Laying out two pages takes a moment of CPU: after the commit, off the event loop.
        pdf = await asyncio.to_thread(render_brief_pdf, made, _)
        return [_document(made, pdf, ctx)]

    ctx.reply.later.append(files)


def _document(made: CountryBrief, pdf: bytes, ctx: Context) -> Outbound:
    return Outbound(
        brief_title(made, ctx._),
        file=OutboundFile(brief.brief_file_name(made, "pdf"), pdf, PDF),
    )


def _country(ctx: Context, text: str) -> str | None:
    """A country of the alliance from what she typed: its code or its name in her language."""
    wanted = fold(plain(text))
    for code, name in brief.offered_countries(ctx._, ctx.config.countries):
        if wanted in (fold(code), fold(name)):
            return code
    return None


async def _chosen(turn: Turn[BriefState], value: str) -> None:
    ctx = turn.ctx
    period = _period(ctx, turn.state.period)
    ctx.state.clear()
    if period is not None:
        await send_brief(ctx, value, period)


async def _finish(turn: Turn[BriefState]) -> None:
    """The country's answer sends the brief itself."""


async def _cancelled(turn: Turn[BriefState]) -> None:
    turn.ctx.say(turn._("Cancelled."))


BRIEF: Conversation[BriefState] = Conversation(
    FLOW,
    BriefState,
    [
        Step(
            name="country",
            kind=Kind.CHOICE,
            ask=lambda t: t._("A brief for which country?"),
            options=lambda t: [
                Option(code, name)
                for code, name in brief.offered_countries(t._, t.ctx.config.countries)
            ],
            answer=_chosen,
            columns=2,
            cancel=True,
        ),
    ],
    finish=_finish,
    cancelled=_cancelled,
)


async def start(ctx: Context, arg: str) -> None:
    """/brief [country] [period]."""
    words = arg.split()
    # A period has digits ("2026-Q3"); a country's name, of one word or several, has none.
    label = words[-1] if words and any(c.isdigit() for c in words[-1]) else None
    named = " ".join(words[:-1] if label else words)
    if label is not None and _period(ctx, label) is None:
        ctx.state.clear()
        return
    if not named:
        await BRIEF.start(ctx, BriefState(period=label))
        return
    country = _country(ctx, named)
    if country is None:
        ctx.say(ctx._("A brief is made for one of the alliance's countries."))
        await BRIEF.start(ctx, BriefState(period=label))
        return
    period = _period(ctx, label)
    ctx.state.clear()
    if period is not None:
        await send_brief(ctx, country, period)


def register(router: Router) -> None:
    router.flow(BRIEF, role=Role.SECRETARIAT)

    @router.command("brief", N_("Country brief for a policy meeting (PDF)"), role=Role.SECRETARIAT)
    async def cmd_brief(ctx: Context, arg: str) -> None:
        await start(ctx, arg)
