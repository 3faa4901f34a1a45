"""Coordinators' broadcasts: /campaign (scheduled, targeted, approved) and /alert (now, first).

Both write outbox rows in the transaction that fires them; the delivery worker sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from babel.core import get_global
from babel.dates import get_day_names

from bot.core.campaigns import (
    MAX_TEXT,
    Audience,
    Campaign,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
    Progress,
)
from bot.core.context import Context
from bot.core.i18n import N_, Catalogs, Translator, native_language_name
from bot.core.messages import Button, Outbound
from bot.core.models import Member, Role
from bot.core.ports import Store, Transaction
from bot.core.router import Router
from bot.core.spheres import SPHERE_BY_CODE
from bot.delivery.schedule import ONCE, Schedule, ScheduleError
from handlers.common import checklist, choice, command_text, sphere_options, toggle, typed_id

FLOW = "camp"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")
_DATETIME = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2})[:.h](\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Submitted:
    """What happened to a confirmed campaign."""

    campaign: Campaign
    recipients: int
    fired: bool  # rows written now (a "now" campaign or alert that needed no approval)


def zone_for(member: Member | None) -> str:
    """Her time zone: her own if known, else her country's main one (CLDR), else UTC."""
    if member is None:
        return "UTC"
    if member.timezone:
        return member.timezone
    zones = get_global("territory_zones").get(member.country or "", [])
    return str(zones[0]) if zones else "UTC"


async def submit(
    tx: Transaction,
    *,
    kind: CampaignKind,
    texts: dict[str, str],
    default_locale: str,
    audience: Audience,
    schedule: Schedule,
    now: datetime,
    author: Member | None,
    threshold: int,
    catalogs: Catalogs | None = None,
    title: str | None = None,
    template_name: str | None = None,
    template_language: str | None = None,
) -> Submitted:
    """Create a campaign; fire it at once when it is due now and needs no approval.

    Campaigns reaching more than `threshold` people wait for a second coordinator or an admin
    (an admin's own, and the CLI's, need none). Alerts are never held: they are urgent.
    """
    counts = await tx.campaigns.audience_by_locale(audience)
    recipients = sum(counts.values())
    needs_approval = (
        kind is not CampaignKind.ALERT
        and recipients > threshold
        and author is not None
        and author.role is not Role.ADMIN
    )
    status = CampaignStatus.PENDING_APPROVAL if needs_approval else CampaignStatus.SCHEDULED
    first = next(iter(texts.values()))
    campaign = await tx.campaigns.create(
        NewCampaign(
            kind=kind,
            status=status,
            title=title or _title(first),
            texts=texts,
            default_locale=default_locale,
            audience=audience,
            schedule=schedule.kind,
            run_at=schedule.run_at,
            cron=schedule.cron,
            timezone=schedule.timezone,
            created_by=author.id if author else None,
            template_name=template_name,
            template_language=template_language,
        ),
        now,
    )
    await tx.audit(
        actor=f"member:{author.id}" if author else "cli",
        actor_member_id=author.id if author else None,
        action=f"{kind.value}.created",
        now=now,
        details={"campaign_id": campaign.id, "recipients": recipients, "status": status.value},
    )
    fired = False
    if status is CampaignStatus.SCHEDULED and schedule.kind == "now":
        fired = await fire(tx, campaign, ONCE, now, watcher=author) is not None
    elif needs_approval and author is not None and catalogs is not None:
        await _ask_for_approval(tx, catalogs, campaign, author, recipients, now)
    return Submitted(campaign, recipients, fired)


async def fire(
    tx: Transaction, campaign: Campaign, key: str, now: datetime, *, watcher: Member | None
) -> tuple[int, int] | None:
    """Write the outbox rows for one occurrence; the watcher's chat will show progress."""
    return await tx.campaigns.fire(
        campaign,
        key,
        now,
        progress_channel=watcher.channel.value if watcher else None,
        progress_chat=watcher.chat_id if watcher else None,
        progress_locale=watcher.locale if watcher else None,
    )


async def _ask_for_approval(
    tx: Transaction,
    catalogs: Catalogs,
    campaign: Campaign,
    author: Member,
    recipients: int,
    now: datetime,
) -> None:
    """A notice to the other coordinators and admins, with an approve button."""
    texts = {}
    labels = {}
    for locale in catalogs.supported:  # rendered per language now, stored like any campaign
        _ = catalogs.get(locale)
        texts[locale] = _(
            "A campaign to {n} people is waiting for approval:\n\n“{title}”\n\n"
            "Approve it with /campaign approve {id}, or see it with /campaign show {id}.",
            n=_.number(recipients),
            title=campaign.title,
            id=campaign.id,
        )
        labels[locale] = _("Approve #{id}", id=campaign.id)
    notice = await tx.campaigns.create(
        NewCampaign(
            kind=CampaignKind.NOTICE,
            status=CampaignStatus.SCHEDULED,
            title=f"approval #{campaign.id}",
            texts=texts,
            default_locale="en",
            audience=Audience(
                roles=(Role.COORDINATOR.value, Role.ADMIN.value), exclude=(author.id,)
            ),
            schedule="now",
            buttons=[CampaignButton(labels, f"cmd:campaign approve {campaign.id}"[:64])],
        ),
        now,
    )
    await tx.campaigns.fire(notice, ONCE, now)


def _title(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:60] + ("…" if len(line) > 60 else "")


def progress_text(_: Translator, campaign: Campaign, progress: Progress) -> str:
    """One short progress message, edited as the broadcast goes."""
    if campaign.status is CampaignStatus.CANCELLED:
        head = _("Cancelled: “{title}”", title=campaign.title)
    elif progress.finished:
        head = _("Finished: “{title}”", title=campaign.title)
    else:
        head = _("Sending: “{title}”", title=campaign.title)
    return _(
        "{head}\nSent {sent} of {total} · failed {failed} · unreachable {unreachable} · "
        "waiting {remaining}",
        head=head,
        sent=_.number(progress.sent),
        total=_.number(progress.total),
        failed=_.number(progress.failed + progress.needs_template),
        unreachable=_.number(progress.unreachable + progress.skipped),
        remaining=_.number(progress.remaining),
    )


class CampaignFlow:
    """The /campaign and /alert conversation. Data: kind, texts, lang, countries, spheres…"""

    name = FLOW

    async def start(self, ctx: Context, kind: CampaignKind) -> None:
        ctx.state.clear()
        ctx.state.go(
            FLOW,
            "text",
            kind=kind.value,
            texts={},
            lang=ctx.locale,
            lang_default=ctx.locale,
            countries=[],
            spheres=[],
        )
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        data, step = ctx.state.data, ctx.state.step
        if step == "text":
            language = native_language_name(data["lang"])
            if data["kind"] == CampaignKind.ALERT.value:
                ask = ctx._(
                    "Write the alert in {language} (up to {max} characters).",
                    language=language,
                    max=ctx._.number(MAX_TEXT),
                )
            else:
                ask = ctx._(
                    "Write the campaign message in {language} (up to {max} characters).",
                    language=language,
                    max=ctx._.number(MAX_TEXT),
                )
            ctx.say(
                ask + "\n" + ctx._("Send {cancel} to stop.", cancel=command_text(ctx, "cancel"))
            )
        elif step == "more":
            missing = [c for c in ctx.catalogs.supported if c not in data["texts"]]
            buttons = [
                Button(
                    ctx._("Add {language}", language=native_language_name(c)), f"{FLOW}:more:{c}"
                )
                for c in missing
            ]
            buttons.append(Button(ctx._("Continue"), f"{FLOW}:more:done"))
            ctx.say(
                ctx._(
                    "Members get it in their language when you add it; otherwise they get "
                    "your text. Add another language?"
                ),
                buttons,
            )
        elif step in ("countries", "spheres"):
            self._ask_audience(ctx, step, replace=False)
        elif step == "when":
            ctx.say(
                ctx._("When should it go out?"),
                [
                    Button(ctx._("Now"), f"{FLOW}:when:now"),
                    Button(ctx._("At a set time"), f"{FLOW}:when:at"),
                    Button(ctx._("Every week"), f"{FLOW}:when:weekly"),
                ],
            )
        elif step == "at":
            ctx.say(
                ctx._(
                    "Type the date and time as YYYY-MM-DD HH:MM ({zone} time).",
                    zone=zone_for(ctx.member),
                )
            )
        elif step == "day":
            names = get_day_names("wide", locale=ctx.locale)
            ctx.say(
                ctx._("Which day of the week?"),
                [Button(str(names[i]), f"{FLOW}:day:{d}") for i, d in enumerate(DAYS)],
                columns=2,
            )
        elif step == "time":
            ctx.say(ctx._("At what time? Type HH:MM ({zone} time).", zone=zone_for(ctx.member)))
        elif step == "confirm":
            await self._preview(ctx)

    def _ask_audience(self, ctx: Context, key: str, *, replace: bool) -> None:
        """The countries or spheres checklist; nothing ticked means everyone."""
        if key == "countries":
            options = [(c, ctx._.country_name(c)) for c in ctx.config.countries]
            question = ctx._("Which countries? Tap to choose; none chosen means all.")
        else:
            options = sphere_options(ctx)
            question = ctx._("Which spheres of work? None chosen means all.")
        prefix = f"{FLOW}:{'c' if key == 'countries' else 's'}:"
        buttons = checklist(ctx, prefix, options, ctx.state.data[key])
        ctx.say(question, buttons, columns=2, replace=replace)

    async def on_input(self, ctx: Context) -> None:
        step = ctx.state.step
        inbound = ctx.inbound
        if step in ("text", "at", "time"):
            if inbound.payload is not None or inbound.media is not None or not inbound.text:
                ctx.say(ctx._("Please type it as a message."))
                await self.reprompt(ctx)
                return
            await {"text": self._got_text, "at": self._got_at, "time": self._got_time}[step](
                ctx, inbound.text
            )
            return
        tags = {
            "more": "more",
            "countries": "c",
            "spheres": "s",
            "when": "when",
            "day": "day",
            "confirm": "go",
        }
        value = choice(ctx, f"{FLOW}:{tags.get(step or '', '?')}:")
        if value is None:
            ctx.say(ctx._("Please choose one of the buttons."))
            await self.reprompt(ctx)
            return
        if step == "more":
            await self._more(ctx, value)
        elif step in ("countries", "spheres"):
            await self._toggle(ctx, step, value)
        elif step == "when":
            await self._when(ctx, value)
        elif step == "day":
            if value not in DAYS:
                await self.reprompt(ctx)
                return
            ctx.state.go(FLOW, "time", day=value)
            await self.reprompt(ctx)
        elif step == "confirm":
            await self._confirm(ctx, value)

    async def _got_text(self, ctx: Context, text: str) -> None:
        text = text.strip()
        if len(text) > MAX_TEXT:
            ctx.say(
                ctx._(
                    "That is {n} characters; the limit is {max}. Please shorten it and "
                    "send it again.",
                    n=ctx._.number(len(text)),
                    max=ctx._.number(MAX_TEXT),
                )
            )
            return
        texts = dict(ctx.state.data["texts"])
        texts[ctx.state.data["lang"]] = text
        ctx.state.go(FLOW, "more", texts=texts)
        await self.reprompt(ctx)

    async def _more(self, ctx: Context, value: str) -> None:
        if value in ctx.catalogs.supported and value not in ctx.state.data["texts"]:
            ctx.state.go(FLOW, "text", lang=value)
        elif value == "done":
            ctx.state.go(FLOW, "countries")
        await self.reprompt(ctx)

    async def _toggle(self, ctx: Context, key: str, value: str) -> None:
        allowed = ctx.config.countries if key == "countries" else SPHERE_BY_CODE
        pressed = toggle(ctx, key, value, allowed)
        if pressed == "changed":
            self._ask_audience(ctx, key, replace=True)
            return
        if pressed == "done" and key == "countries":
            ctx.state.go(FLOW, "spheres")
        elif pressed == "done" and ctx.state.data["kind"] == CampaignKind.ALERT.value:
            ctx.state.go(FLOW, "confirm", schedule="now")
        elif pressed == "done":
            ctx.state.go(FLOW, "when")
        await self.reprompt(ctx)

    async def _when(self, ctx: Context, value: str) -> None:
        if value == "now":
            ctx.state.go(FLOW, "confirm", schedule="now")
        elif value == "at":
            ctx.state.go(FLOW, "at")
        elif value == "weekly":
            ctx.state.go(FLOW, "day")
        await self.reprompt(ctx)

    async def _got_at(self, ctx: Context, text: str) -> None:
        match = _DATETIME.match(text)
        zone = zone_for(ctx.member)
        try:
            if match is None:
                raise ValueError
            year, month, day, hour, minute = (int(g) for g in match.groups())
            when = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
            Schedule("at", run_at=when, timezone=zone).validate(ctx.now)
        except ScheduleError:
            ctx.say(ctx._("That time is in the past. Please type a time to come."))
            return
        except ValueError:
            ctx.say(ctx._("I could not read that. Please type it like 2026-12-01 09:00."))
            return
        ctx.state.go(FLOW, "confirm", schedule="at", run_at=when.isoformat(), tz=zone)
        await self.reprompt(ctx)

    async def _got_time(self, ctx: Context, text: str) -> None:
        match = _TIME.match(text)
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            ctx.say(ctx._("I could not read that. Please type a time like 09:00."))
            return
        hour, minute = int(match.group(1)), int(match.group(2))
        cron = f"{minute} {hour} * * {ctx.state.data['day']}"
        ctx.state.go(
            FLOW,
            "confirm",
            schedule="cron",
            cron=cron,
            tz=zone_for(ctx.member),
            at_time=time(hour, minute).isoformat(timespec="minutes"),
        )
        await self.reprompt(ctx)

    def _draft(self, ctx: Context) -> tuple[CampaignKind, Audience, Schedule]:
        data = ctx.state.data
        audience = Audience(countries=tuple(data["countries"]), spheres=tuple(data["spheres"]))
        kind = CampaignKind(data["kind"])
        schedule = Schedule(
            data.get("schedule", "now"),
            run_at=datetime.fromisoformat(data["run_at"]) if data.get("run_at") else None,
            cron=data.get("cron"),
            timezone=data.get("tz", "UTC"),
        )
        return kind, audience, schedule

    async def _preview(self, ctx: Context) -> None:
        kind, audience, schedule = self._draft(ctx)
        texts: dict[str, str] = ctx.state.data["texts"]
        counts = await ctx.tx.campaigns.audience_by_locale(audience)
        total = sum(counts.values())
        if total == 0:
            ctx.say(
                ctx._("Nobody matches this audience. Please choose other countries or spheres.")
            )
            ctx.state.go(FLOW, "countries", countries=[], spheres=[])
            await self.reprompt(ctx)
            return
        for locale, text in texts.items():
            ctx.say(
                ctx._("Preview ({language}):", language=native_language_name(locale))
                + "\n\n"
                + text
            )
        lines = [ctx._("Recipients: {n}", n=ctx._.number(total))]
        for locale, n in counts.items():
            version = locale if locale in texts else ctx.state.data["lang_default"]
            lines.append(
                ctx._(
                    "• {language}: {n} (get the {version} text)",
                    language=native_language_name(locale),
                    n=ctx._.number(n),
                    version=native_language_name(version),
                )
            )
        lines.append(_when_text(ctx, schedule))
        if (
            kind is not CampaignKind.ALERT
            and total > ctx.config.approval_threshold
            and ctx.role is not Role.ADMIN
        ):
            lines.append(
                ctx._(
                    "More than {n} people: another coordinator or an admin will be "
                    "asked to approve it.",
                    n=ctx._.number(ctx.config.approval_threshold),
                )
            )
        ctx.say(
            "\n".join(lines),
            [
                Button(
                    ctx._("Send") if schedule.kind == "now" else ctx._("Schedule"),
                    f"{FLOW}:go:send",
                ),
                Button(ctx._("Cancel"), f"{FLOW}:go:cancel"),
            ],
        )

    async def _confirm(self, ctx: Context, value: str) -> None:
        if value != "send":
            ctx.state.clear()
            ctx.say(ctx._("Cancelled. Nothing was sent."))
            return
        kind, audience, schedule = self._draft(ctx)
        if schedule.kind == "at" and schedule.run_at is not None and schedule.run_at < ctx.now:
            ctx.say(ctx._("That time is in the past. Please type a time to come."))
            ctx.state.go(FLOW, "at")
            return
        texts: dict[str, str] = ctx.state.data["texts"]
        result = await submit(
            ctx.tx,
            kind=kind,
            texts=texts,
            default_locale=ctx.state.data["lang_default"],
            audience=audience,
            schedule=schedule,
            now=ctx.now,
            author=ctx.member,
            threshold=ctx.config.approval_threshold,
            catalogs=ctx.catalogs,
        )
        ctx.state.clear()
        n = result.recipients
        if result.campaign.status is CampaignStatus.PENDING_APPROVAL:
            ctx.say(
                ctx._.plural(
                    "Saved as #{id}. It will go to {n} person once another coordinator or "
                    "an admin approves it.",
                    "Saved as #{id}. It will go to {n} people once another coordinator or "
                    "an admin approves it.",
                    n,
                    id=result.campaign.id,
                )
            )
        elif result.fired:
            ctx.say(
                ctx._.plural(
                    "Sending #{id} to {n} person. I will show the progress here.",
                    "Sending #{id} to {n} people. I will show the progress here.",
                    n,
                    id=result.campaign.id,
                )
            )
        else:
            ctx.say(
                ctx._(
                    "Scheduled as #{id}. {when}",
                    id=result.campaign.id,
                    when=_when_text(ctx, schedule),
                )
            )


def _when_text(ctx: Context, schedule: Schedule) -> str:
    if schedule.kind == "now":
        return ctx._("When: now.")
    if schedule.kind == "at" and schedule.run_at is not None:
        return ctx._(
            "When: {time} ({zone}).", time=ctx._.datetime(schedule.run_at), zone=schedule.timezone
        )
    following = schedule.next_time(ctx.now)
    return ctx._(
        "When: every week; next on {time} ({zone}).",
        time=ctx._.datetime(following) if following else "—",
        zone=schedule.timezone,
    )


def register(router: Router) -> None:
    flow = CampaignFlow()
    router.flow(flow, role=Role.COORDINATOR)

    @router.command("alert", N_("Send an urgent alert"), role=Role.COORDINATOR)
    async def cmd_alert(ctx: Context, arg: str) -> None:
        await flow.start(ctx, CampaignKind.ALERT)

    @router.command("campaign", N_("Create and follow campaigns"), role=Role.COORDINATOR)
    async def cmd_campaign(ctx: Context, arg: str) -> None:
        words = arg.split()
        if not words:
            await flow.start(ctx, CampaignKind.CAMPAIGN)
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


STATUS_NAMES = {
    CampaignStatus.PENDING_APPROVAL: N_("waiting for approval"),
    CampaignStatus.SCHEDULED: N_("scheduled"),
    CampaignStatus.SENT: N_("sent"),
    CampaignStatus.CANCELLED: N_("cancelled"),
}


async def _list(ctx: Context) -> None:
    campaigns = [
        c for c in await ctx.tx.campaigns.find(limit=10) if c.kind is not CampaignKind.NOTICE
    ]
    if not campaigns:
        ctx.say(ctx._("No campaigns yet."))
        return
    lines = [f"#{c.id} · {ctx._(STATUS_NAMES[c.status])} · {c.title}" for c in campaigns]
    ctx.say("\n".join(lines))


async def _show(ctx: Context, campaign_id: int) -> None:
    campaign = await ctx.tx.campaigns.get(campaign_id)
    if campaign is None:
        ctx.say(ctx._("There is no campaign #{id}.", id=campaign_id))
        return
    progress = await ctx.tx.campaigns.progress(campaign_id)
    text = progress_text(ctx._, campaign, progress)
    reasons = await ctx.tx.campaigns.failure_reasons(campaign_id)
    if reasons:
        text += "\n" + "\n".join(f"• {reason}: {ctx._.number(n)}" for reason, n in reasons.items())
    ctx.say(f"#{campaign.id} · {ctx._(STATUS_NAMES[campaign.status])}\n{text}")


async def _approve(ctx: Context, campaign_id: int) -> None:
    campaign = await ctx.tx.campaigns.get(campaign_id)
    assert ctx.member is not None
    if campaign is None or campaign.status is not CampaignStatus.PENDING_APPROVAL:
        ctx.say(ctx._("Campaign #{id} is not waiting for approval.", id=campaign_id))
        return
    if campaign.created_by == ctx.member.id and ctx.member.role is not Role.ADMIN:
        ctx.say(ctx._("Another coordinator or an admin has to approve your own campaign."))
        return
    await ctx.tx.campaigns.set_status(
        campaign_id, CampaignStatus.SCHEDULED, ctx.now, approved_by=ctx.member.id
    )
    await ctx.tx.audit(
        actor=f"member:{ctx.member.id}",
        actor_member_id=ctx.member.id,
        action="campaign.approved",
        now=ctx.now,
        details={"campaign_id": campaign_id},
    )
    if campaign.schedule == "now":
        await fire(ctx.tx, campaign, ONCE, ctx.now, watcher=ctx.member)
        ctx.say(ctx._("Approved. Campaign #{id} is being sent.", id=campaign_id))
    else:
        ctx.say(ctx._("Approved. Campaign #{id} will go out as scheduled.", id=campaign_id))


async def _cancel(ctx: Context, campaign_id: int) -> None:
    campaign = await ctx.tx.campaigns.get(campaign_id)
    assert ctx.member is not None
    if campaign is None or campaign.status is CampaignStatus.CANCELLED:
        ctx.say(ctx._("There is no campaign #{id} to cancel.", id=campaign_id))
        return
    stopped = await ctx.tx.campaigns.cancel(campaign_id, ctx.now)
    progress = await ctx.tx.campaigns.progress(campaign_id)
    await ctx.tx.audit(
        actor=f"member:{ctx.member.id}",
        actor_member_id=ctx.member.id,
        action="campaign.cancelled",
        now=ctx.now,
        details={"campaign_id": campaign_id, "stopped": stopped},
    )
    ctx.say(
        ctx._(
            "Cancelled #{id}. Already sent: {sent}. Not sent: {stopped}.",
            id=campaign_id,
            sent=ctx._.number(progress.sent),
            stopped=ctx._.number(stopped),
        )
    )


async def fire_due(store: Store, now: datetime) -> list[tuple[int, str, int]]:
    """Fire every scheduled campaign whose time has come: (campaign id, key, recipients).

    Safe to run from several processes and after a restart: each occurrence key fires once.
    """
    async with store.transaction() as tx:
        candidates = await tx.campaigns.find([CampaignStatus.SCHEDULED], limit=10_000)
    fired: list[tuple[int, str, int]] = []
    for campaign in candidates:
        schedule = Schedule(campaign.schedule, campaign.run_at, campaign.cron, campaign.timezone)
        async with store.transaction() as tx:
            try:
                key = schedule.due(
                    now, await tx.campaigns.last_fired(campaign.id), since=campaign.created_at
                )
            except ScheduleError:
                continue  # validated at creation; a zone removed from tzdata since is skipped
            if key is None:
                continue
            watcher = (
                await tx.get_member_by_id(campaign.created_by) if campaign.created_by else None
            )
            result = await fire(tx, campaign, key, now, watcher=watcher)
            if result is not None:
                fired.append((campaign.id, key, result[1]))
    return fired


async def render_progress(
    store: Store, catalogs: Catalogs, campaign_id: int, occurrence_id: int, locale: str
) -> tuple[Outbound, bool] | None:
    """The progress message for one occurrence, and whether it is finished."""
    async with store.transaction() as tx:
        campaign = await tx.campaigns.get(campaign_id)
        if campaign is None:
            return None
        progress = await tx.campaigns.progress(campaign_id, occurrence_id)
    finished = progress.finished or campaign.status is CampaignStatus.CANCELLED
    return Outbound(progress_text(catalogs.get(locale), campaign, progress)), finished
