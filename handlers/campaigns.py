"""Coordinators' broadcasts: /campaign (scheduled, targeted, approved) and /alert (now, first).

The conversation gathers the texts, the audience and the time, shows a preview and asks to
confirm; `bot.services.campaigns` does the rest (approval, firing, cancelling), the same for
the bot, the command line and the scheduler.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.core import get_global
from babel.dates import get_day_names
from pydantic import BaseModel, ConfigDict

from bot.core.campaigns import (
    MAX_TEXT,
    ApproveCampaign,
    Audience,
    CampaignKind,
    CampaignStatus,
    CancelCampaign,
)
from bot.core.context import Context
from bot.core.conversation import END, Conversation, Invalid, Kind, Option, Step, Turn
from bot.core.i18n import N_
from bot.core.messages import Button
from bot.core.models import Member, Role
from bot.core.router import Router
from bot.core.schedule import Schedule, ScheduleError
from bot.core.spheres import SPHERES
from bot.services import campaigns as service
from handlers.common import command_text, typed_id

FLOW = "camp"
EVERY = "*"  # the "every country" / "every sphere" option
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2})[:.h](\d{2})\s*$")

NOBODY = N_("Nobody matches this audience. Please choose other countries or spheres.")
PAST = N_("That time is in the past. Please type a time to come.")


def zone_for(member: Member | None) -> str:
    """Her time zone: her own if known, else her country's main one (CLDR), else UTC."""
    if member is None:
        return "UTC"
    if member.timezone:
        return member.timezone
    zones = get_global("territory_zones").get(member.country or "", [])
    return str(zones[0]) if zones else "UTC"


class CampaignDraft(BaseModel):
    """What she has chosen so far. Empty countries or spheres: every one (said so)."""

    model_config = ConfigDict(extra="forbid")

    kind: CampaignKind = CampaignKind.CAMPAIGN
    texts: dict[str, str] = {}
    lang: str = "en"  # the language she is writing in now
    default: str = "en"  # her first text's language: the fallback for the others
    countries: list[str] = []
    spheres: list[str] = []
    counts: dict[str, int] = {}  # recipients per language, counted when the audience is chosen
    when: str = "now"  # now | at | weekly
    run_at: datetime | None = None
    day: str = ""
    cron: str | None = None
    tz: str = "UTC"

    @property
    def alert(self) -> bool:
        return self.kind is CampaignKind.ALERT

    @property
    def audience(self) -> Audience:
        return Audience(countries=tuple(self.countries), spheres=tuple(self.spheres))

    @property
    def schedule(self) -> Schedule:
        if self.when == "at":
            return Schedule("at", run_at=self.run_at, timezone=self.tz)
        if self.when == "weekly":
            return Schedule("cron", cron=self.cron, timezone=self.tz)
        return Schedule("now")


DraftTurn = Turn[CampaignDraft]


# -- the texts -----------------------------------------------------------------------------------


def _ask_text(turn: DraftTurn) -> str:
    _ = turn._
    # Her own language's name for it ("Arabic", "arabe"), not the language's own ("العربية"),
    # which would mix scripts and directions in the middle of her sentence.
    language = _.language_name(turn.state.lang)
    if turn.state.alert:
        # Translators: {language} is the language's name in yours, e.g. "Arabic".
        ask = _(
            "Write the alert in {language} (up to {max} characters).",
            language=language,
            max=_.number(MAX_TEXT),
        )
    else:
        # Translators: {language} is the language's name in yours, e.g. "Arabic".
        ask = _(
            "Write the campaign message in {language} (up to {max} characters).",
            language=language,
            max=_.number(MAX_TEXT),
        )
    return ask + "\n" + _("Send {cancel} to stop.", cancel=command_text(turn.ctx, "cancel"))


def _parse_text(turn: DraftTurn, text: str) -> str:
    if len(text) > MAX_TEXT:
        raise Invalid(
            turn._(
                "That is {n} characters; the limit is {max}. Please shorten it and send it again.",
                n=turn._.number(len(text)),
                max=turn._.number(MAX_TEXT),
            ),
            reask=False,
        )
    return text


def _got_text(turn: DraftTurn, text: str) -> str:
    turn.state.texts[turn.state.lang] = text
    return "more"


def _more_options(turn: DraftTurn) -> list[Option]:
    _ = turn._
    missing = [c for c in turn.ctx.catalogs.supported if c not in turn.state.texts]
    # Translators: a button; {language} is the language's name in yours, e.g. "Arabic".
    options = [Option(c, _("Add {language}", language=_.language_name(c))) for c in missing]
    return [*options, Option("done", _("Continue"))]


def _more(turn: DraftTurn, value: str) -> str | None:
    if value == "done":
        return None
    turn.state.lang = value
    return "text"


# -- the audience --------------------------------------------------------------------------------


def _country_options(turn: DraftTurn) -> list[Option]:
    """Every country, then hers (even outside WASL_COUNTRIES: a coordinator in Sudan can
    reach Sudan), then the alliance's."""
    _ = turn._
    member = turn.ctx.member
    own = [member.country] if member is not None and member.country else []
    codes = own + [c for c in turn.ctx.config.countries if c not in own]
    return [Option(EVERY, _("Every country"))] + [Option(c, _.country_name(c)) for c in codes]


def _sphere_options(turn: DraftTurn) -> list[Option]:
    _ = turn._
    return [Option(EVERY, _("Every sphere"))] + [Option(s.code, _(s.label)) for s in SPHERES]


def _ticked(chosen: list[str]) -> list[str]:
    return chosen or [EVERY]


def _tick(chosen: list[str], value: str) -> None:
    """Every one clears the list; a single one is added or removed (none left: every one)."""
    if value == EVERY:
        chosen.clear()
    elif value in chosen:
        chosen.remove(value)
    else:
        chosen.append(value)


async def _count(turn: DraftTurn) -> int:
    counts = await service.audience(turn.ctx.tx, turn.ctx.actor, turn.state.audience)
    turn.state.counts = counts
    return sum(counts.values())


async def _countries_chosen(turn: DraftTurn, value: list[str]) -> str | None:
    if await _count(turn) == 0:
        turn.ctx.say(turn._(NOBODY))
        return "countries"
    return None


async def _spheres_chosen(turn: DraftTurn, value: list[str]) -> str | None:
    if await _count(turn) == 0:
        turn.ctx.say(turn._(NOBODY))
        return "countries"
    return "confirm" if turn.state.alert else None


# -- when ------------------------------------------------------------------------------------


def _when(turn: DraftTurn, value: str) -> str:
    turn.state.when = value
    return {"now": "confirm", "at": "at", "weekly": "day"}[value]


def _parse_at(turn: DraftTurn, text: str) -> datetime:
    match = _DATETIME.match(text)
    zone = zone_for(turn.ctx.member)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute = (int(g) for g in match.groups())
        when = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
        Schedule("at", run_at=when, timezone=zone).validate(turn.ctx.now)
    except ScheduleError:
        raise Invalid(turn._(PAST), reask=False) from None
    except ValueError:
        raise Invalid(
            turn._("I could not read that. Please type it like 2026-12-01 09:00."), reask=False
        ) from None
    return when


def _got_at(turn: DraftTurn, when: datetime) -> str:
    turn.state.run_at, turn.state.tz = when, zone_for(turn.ctx.member)
    return "confirm"


def _day_options(turn: DraftTurn) -> list[Option]:
    names = get_day_names("wide", locale=turn.ctx.locale)
    return [Option(d, str(names[i])) for i, d in enumerate(DAYS)]


def _parse_time(turn: DraftTurn, text: str) -> tuple[int, int]:
    match = _TIME.match(text)
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise Invalid(turn._("I could not read that. Please type a time like 09:00."), reask=False)
    return int(match.group(1)), int(match.group(2))


def _got_time(turn: DraftTurn, at: tuple[int, int]) -> None:
    hour, minute = at
    turn.state.cron = f"{minute} {hour} * * {turn.state.day}"
    turn.state.tz = zone_for(turn.ctx.member)


# -- the preview and the confirmation ------------------------------------------------------------


def _preview(turn: DraftTurn) -> str:
    """The question at the confirmation: each text as members will read it (its own message,
    said again whenever the question is), then who gets it in which language, and when."""
    ctx, _, state = turn.ctx, turn._, turn.state
    for locale, text in state.texts.items():
        shown = f"{ctx.catalogs.get(locale)(service.ALERT_MARK)}\n{text}" if state.alert else text
        preview = _("Preview ({language}):", language=_.language_name(locale))
        ctx.say(preview + "\n\n" + shown)
    total = sum(state.counts.values())
    lines = [_("Recipients: {n}", n=_.number(total))]
    for locale, n in state.counts.items():
        version = locale if locale in state.texts else state.default
        lines.append(
            _(
                "• {language}: {n} (get the {version} text)",
                language=_.language_name(locale),
                n=_.number(n),
                version=_.language_name(version),
            )
        )
    countries = [_.country_name(c) for c in state.countries]
    spheres = [_(s.label) for s in SPHERES if s.code in state.spheres]
    lines.append(
        _("Countries: {list}", list=_(", ").join(countries) if countries else _("every country"))
    )
    lines.append(
        _("Spheres: {list}", list=_(", ").join(spheres) if spheres else _("every sphere"))
    )
    lines.append(service.when_text(_, state.schedule, ctx.now))
    threshold = ctx.config.approval_threshold
    if ctx.member is not None and service.needs_approval(ctx.actor, state.kind, total, threshold):
        lines.append(
            _(
                "More than {n} people: another coordinator or an admin will be "
                "asked to approve it.",
                n=_.number(threshold),
            )
        )
    return "\n".join(lines)


def _confirm_options(turn: DraftTurn) -> list[Option]:
    _ = turn._
    send = _("Send") if turn.state.when == "now" else _("Schedule")
    return [Option("yes", send), Option("no", _("Cancel"))]


def _confirmed(turn: DraftTurn, yes: bool) -> str | None:
    if not yes:
        turn.ctx.state.clear()
        turn.ctx.say(turn._("Cancelled. Nothing was sent."))
        return None
    state = turn.state
    if state.when == "at" and state.run_at is not None and state.run_at < turn.ctx.now:
        turn.ctx.say(turn._(PAST))
        return "at"
    return END


async def _finish(turn: DraftTurn) -> None:
    ctx, state = turn.ctx, turn.state
    draft = service.Draft(
        kind=state.kind,
        texts=state.texts,
        default_locale=state.default,
        audience=state.audience,
        schedule=state.schedule,
    )
    try:
        result = await service.submit(
            ctx.tx,
            ctx.actor,
            draft,
            ctx.now,
            threshold=ctx.config.approval_threshold,
            catalogs=ctx.catalogs,
        )
    except service.NobodyMatches:
        ctx.say(ctx._(NOBODY))
        return
    except ScheduleError:
        ctx.say(ctx._(PAST))
        return
    n, campaign_id = result.recipients, result.campaign.id
    cancel = [Button(ctx._("Cancel #{id}", id=campaign_id), CancelCampaign(campaign_id).pack())]
    if result.pending:
        ctx.say(
            ctx._.plural(
                "Saved as #{id}. It will go to {n} person once another coordinator or "
                "an admin approves it.",
                "Saved as #{id}. It will go to {n} people once another coordinator or "
                "an admin approves it.",
                n,
                id=campaign_id,
            ),
            cancel,
        )
    elif result.fired:
        ctx.say(
            ctx._.plural(
                "Sending #{id} to {n} person. I will show the progress here.",
                "Sending #{id} to {n} people. I will show the progress here.",
                n,
                id=campaign_id,
            ),
            cancel,
        )
    else:
        when = service.when_text(ctx._, state.schedule, ctx.now)
        ctx.say(ctx._("Scheduled as #{id}. {when}", id=campaign_id, when=when), cancel)


CAMPAIGN = Conversation(
    FLOW,
    CampaignDraft,
    [
        Step(name="text", kind=Kind.TEXT, ask=_ask_text, parse=_parse_text, answer=_got_text),
        Step(
            name="more",
            kind=Kind.CHOICE,
            ask=lambda t: t._(
                "Members get it in their language when you add it; otherwise they get "
                "your text. Add another language?"
            ),
            options=_more_options,
            answer=_more,
        ),
        Step(
            name="countries",
            kind=Kind.CHECKLIST,
            ask=lambda t: t._("Which countries? Tap to choose, then Done."),
            options=_country_options,
            chosen=lambda t: _ticked(t.state.countries),
            tick=lambda t, v: _tick(t.state.countries, v),
            answer=_countries_chosen,
            columns=2,
        ),
        Step(
            name="spheres",
            kind=Kind.CHECKLIST,
            ask=lambda t: t._("Which spheres of work? Tap to choose, then Done."),
            options=_sphere_options,
            chosen=lambda t: _ticked(t.state.spheres),
            tick=lambda t, v: _tick(t.state.spheres, v),
            answer=_spheres_chosen,
            columns=2,
        ),
        Step(
            name="when",
            kind=Kind.CHOICE,
            ask=lambda t: t._("When should it go out?"),
            options=lambda t: [
                Option("now", t._("Now")),
                Option("at", t._("At a set time")),
                Option("weekly", t._("Every week")),
            ],
            answer=_when,
        ),
        Step(
            name="at",
            kind=Kind.TEXT,
            ask=lambda t: t._(
                "Type the date and time as YYYY-MM-DD HH:MM ({zone} time).",
                zone=zone_for(t.ctx.member),
            ),
            parse=_parse_at,
            answer=_got_at,
        ),
        Step(
            name="day",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Which day of the week?"),
            options=_day_options,
            answer=lambda t, v: setattr(t.state, "day", v),
            columns=2,
        ),
        Step(
            name="time",
            kind=Kind.TEXT,
            ask=lambda t: t._(
                "At what time? Type HH:MM ({zone} time).", zone=zone_for(t.ctx.member)
            ),
            parse=_parse_time,
            answer=_got_time,
        ),
        Step(
            name="confirm",
            kind=Kind.CONFIRM,
            ask=_preview,
            options=_confirm_options,
            answer=_confirmed,
        ),
    ],
    finish=_finish,
    version=2,
)


# -- /campaign list | show | approve | cancel, and the Approve / Cancel buttons ------------------

STATUS_NAMES = {
    CampaignStatus.PENDING_APPROVAL: N_("waiting for approval"),
    CampaignStatus.SCHEDULED: N_("scheduled"),
    CampaignStatus.SENT: N_("sent"),
    CampaignStatus.CANCELLED: N_("cancelled"),
}


async def _list(ctx: Context) -> None:
    campaigns = await service.recent(ctx.tx, ctx.actor, limit=10)
    if not campaigns:
        ctx.say(ctx._("No campaigns yet."))
        return
    lines = [f"#{c.id} · {ctx._(STATUS_NAMES[c.status])} · {c.title}" for c in campaigns]
    ctx.say("\n".join(lines))


async def _show(ctx: Context, campaign_id: int) -> None:
    shown = await service.show(ctx.tx, ctx.actor, campaign_id)
    if shown is None:
        ctx.say(ctx._("There is no campaign #{id}.", id=campaign_id))
        return
    campaign, progress = shown.campaign, shown.progress
    text = service.progress_text(ctx._, campaign, progress, ctx.now)
    if shown.reasons:
        text += "\n" + "\n".join(
            f"• {reason}: {ctx._.number(n)}" for reason, n in shown.reasons.items()
        )
    buttons = []
    own = ctx.member is not None and campaign.created_by == ctx.member.id
    if campaign.status is CampaignStatus.PENDING_APPROVAL and (not own or ctx.role is Role.ADMIN):
        buttons.append(
            Button(ctx._("Approve #{id}", id=campaign.id), ApproveCampaign(campaign.id).pack())
        )
    if campaign.status is not CampaignStatus.CANCELLED and (
        campaign.status is not CampaignStatus.SENT or not progress.finished
    ):
        buttons.append(
            Button(ctx._("Cancel #{id}", id=campaign.id), CancelCampaign(campaign.id).pack())
        )
    ctx.say(f"#{campaign.id} · {ctx._(STATUS_NAMES[campaign.status])}\n{text}", buttons)


async def _approve(ctx: Context, campaign_id: int) -> None:
    outcome = await service.approve(ctx.tx, ctx.actor, campaign_id, ctx.now, catalogs=ctx.catalogs)
    if outcome is service.Approval.NOT_WAITING:
        ctx.say(ctx._("Campaign #{id} is not waiting for approval.", id=campaign_id))
    elif outcome is service.Approval.OWN:
        ctx.say(ctx._("Another coordinator or an admin has to approve your own campaign."))
    elif outcome is service.Approval.SENDING:
        ctx.say(ctx._("Approved. Campaign #{id} is being sent.", id=campaign_id))
    else:
        ctx.say(ctx._("Approved. Campaign #{id} will go out as scheduled.", id=campaign_id))


async def _cancel(ctx: Context, campaign_id: int) -> None:
    cancelled = await service.cancel(ctx.tx, ctx.actor, campaign_id, ctx.now)
    if cancelled is None:
        ctx.say(ctx._("There is no campaign #{id} to cancel.", id=campaign_id))
        return
    ctx.say(
        ctx._(
            "Cancelled #{id}. Already sent: {sent}. Not sent: {stopped}.",
            id=campaign_id,
            sent=ctx._.number(cancelled.sent),
            stopped=ctx._.number(cancelled.stopped),
        )
    )


def register(router: Router) -> None:
    router.flow(CAMPAIGN, role=Role.COORDINATOR)

    async def start(ctx: Context, kind: CampaignKind) -> None:
        draft = CampaignDraft(kind=kind, lang=ctx.locale, default=ctx.locale)
        await CAMPAIGN.start(ctx, draft)

    @router.command("alert", N_("Send an urgent alert"), role=Role.COORDINATOR)
    async def cmd_alert(ctx: Context, arg: str) -> None:
        await start(ctx, CampaignKind.ALERT)

    @router.command(
        "campaign",
        N_("Create a campaign; also: list, show N, approve N, cancel N"),
        role=Role.COORDINATOR,
    )
    async def cmd_campaign(ctx: Context, arg: str) -> None:
        words = arg.split()
        if not words:
            await start(ctx, CampaignKind.CAMPAIGN)
            return
        action, rest = words[0].lower(), words[1:]
        if action == "list":
            await _list(ctx)
        elif action in ("show", "approve", "cancel") and not rest:
            ctx.say(
                ctx._(
                    "Please add the campaign number, for example: {example}",
                    example=f"{command_text(ctx, 'campaign')} {action} 12",
                )
            )
        elif action in ("show", "approve", "cancel"):
            target = typed_id(ctx, rest[0])
            if target is not None:
                await {"show": _show, "approve": _approve, "cancel": _cancel}[action](ctx, target)
        else:
            ctx.say(
                ctx._(
                    "Use {c} to create one, or {c} list, {c} show N, {c} approve N, {c} cancel N.",
                    c=command_text(ctx, "campaign"),
                )
            )

    @router.button(ApproveCampaign, role=Role.COORDINATOR)
    async def on_approve(ctx: Context, pressed: ApproveCampaign) -> None:
        await _approve(ctx, pressed.campaign_id)

    @router.button(CancelCampaign, role=Role.COORDINATOR)
    async def on_cancel(ctx: Context, pressed: CancelCampaign) -> None:
        await _cancel(ctx, pressed.campaign_id)
