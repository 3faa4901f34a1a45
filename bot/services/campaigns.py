"""Campaigns and alerts: submit one (held for a second approval above the threshold), approve,
cancel, fire an occurrence, fire what is due, and say how far delivery has gone.

The bot's /campaign and /alert, `wasl campaign …` and the scheduler all come here, so they
follow the same rules: who may, when a second approval is needed, what an alert looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.core.actors import Actor, audit, require
from bot.core.campaigns import (
    ApproveCampaign,
    Audience,
    Campaign,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
    Progress,
)
from bot.core.i18n import N_, Catalogs, Translator
from bot.core.messages import Outbound
from bot.core.models import Member, Role
from bot.core.ports import Store, Transaction
from bot.core.schedule import ONCE, Schedule, ScheduleError
from bot.services import notices

# The first line of an alert as she receives it, in her language, on every channel.
ALERT_MARK = N_("⚠️ Alert")


class NobodyMatches(ValueError):
    """The audience matches no active member: nothing is created."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A campaign as its author wrote it, before it is created."""

    kind: CampaignKind
    texts: dict[str, str]
    default_locale: str
    audience: Audience
    schedule: Schedule
    title: str | None = None
    template_name: str | None = None
    template_language: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """What happened to a confirmed campaign."""

    campaign: Campaign
    recipients: int
    fired: bool  # rows written now (a "now" campaign or alert that needed no approval)

    @property
    def pending(self) -> bool:
        return self.campaign.status is CampaignStatus.PENDING_APPROVAL


class Approval(StrEnum):
    SENDING = "sending"  # approved, and a "now" campaign went out
    SCHEDULED = "scheduled"  # approved; it goes out at its time
    NOT_WAITING = "not_waiting"  # no such campaign, or it is not waiting for approval
    OWN = "own"  # a coordinator may not approve her own


@dataclass(frozen=True, slots=True)
class Cancelled:
    sent: int  # already handed to the platform
    stopped: int  # messages that will not go


@dataclass(frozen=True, slots=True)
class Shown:
    campaign: Campaign
    progress: Progress
    reasons: dict[str, int]


def needs_approval(actor: Actor, kind: CampaignKind, recipients: int, threshold: int) -> bool:
    """More than `threshold` people need a second coordinator or an admin, unless an admin
    member wrote it. Alerts are never held: they are urgent. The command line follows the
    same rule as a coordinator (its operator approves with `wasl campaign approve`)."""
    admin = actor.member is not None and actor.member.role is Role.ADMIN
    return kind is not CampaignKind.ALERT and recipients > threshold and not admin


async def audience(tx: Transaction, actor: Actor, who: Audience) -> dict[str, int]:
    """How many active members the audience reaches, per language (for the preview)."""
    require(actor, Role.COORDINATOR, "campaign.preview")
    return await tx.campaigns.audience_by_locale(who)


async def submit(
    tx: Transaction,
    actor: Actor,
    draft: Draft,
    now: datetime,
    *,
    threshold: int,
    catalogs: Catalogs,
) -> Submitted:
    """Create a campaign; fire it at once when it is due now and needs no approval, otherwise
    ask the other coordinators and admins to approve it. NobodyMatches when nobody would
    receive it; ScheduleError when its time cannot work."""
    kind = draft.kind
    require(actor, Role.COORDINATOR, f"{kind.value}.create")
    draft.schedule.validate(now)
    recipients = sum((await tx.campaigns.audience_by_locale(draft.audience)).values())
    if recipients == 0:
        raise NobodyMatches("nobody matches this audience")
    held = needs_approval(actor, kind, recipients, threshold)
    status = CampaignStatus.PENDING_APPROVAL if held else CampaignStatus.SCHEDULED
    schedule = draft.schedule
    campaign = await tx.campaigns.create(
        NewCampaign(
            kind=kind,
            status=status,
            title=draft.title or title_of(next(iter(draft.texts.values()))),
            texts=draft.texts,
            default_locale=draft.default_locale,
            audience=draft.audience,
            schedule=schedule.kind,
            run_at=schedule.run_at,
            cron=schedule.cron,
            timezone=schedule.timezone,
            created_by=actor.member_id,
            template_name=draft.template_name,
            template_language=draft.template_language,
        ),
        now,
    )
    await audit(
        tx,
        actor,
        f"{kind.value}.created",
        now,
        campaign_id=campaign.id,
        recipients=recipients,
        status=status.value,
    )
    fired = False
    if not held and schedule.kind == "now":
        fired = await fire(tx, catalogs, campaign, ONCE, now, watcher=actor.member) is not None
    elif held:
        await _ask_for_approval(tx, catalogs, actor, campaign, recipients, now)
    return Submitted(campaign, recipients, fired)


async def _ask_for_approval(
    tx: Transaction,
    catalogs: Catalogs,
    actor: Actor,
    campaign: Campaign,
    recipients: int,
    now: datetime,
) -> None:
    """A notice to the other coordinators and admins, with an Approve button."""
    notice = notices.Notice(
        title=f"approval #{campaign.id}",
        text=lambda _: _(
            "A campaign to {n} people is waiting for approval:\n\n“{title}”\n\n"
            "Approve it with /campaign approve {id}, or see it with /campaign show {id}.",
            n=_.number(recipients),
            title=campaign.title,
            id=campaign.id,
        ),
        button_label=lambda _: _("Approve #{id}", id=campaign.id),
        button_payload=ApproveCampaign(campaign.id).pack(),
    )
    exclude = (actor.member_id,) if actor.member_id is not None else ()
    await notices.send(
        tx, catalogs, notice, now, roles=(Role.COORDINATOR, Role.ADMIN), exclude=exclude
    )


async def approve(
    tx: Transaction, actor: Actor, campaign_id: int, now: datetime, *, catalogs: Catalogs
) -> Approval:
    """Approve a campaign waiting for it (not one's own, unless an admin); a "now" campaign
    then goes out, its progress shown to the approver."""
    require(actor, Role.COORDINATOR, "campaign.approve")
    campaign = await tx.campaigns.get(campaign_id)
    if campaign is None or campaign.status is not CampaignStatus.PENDING_APPROVAL:
        return Approval.NOT_WAITING
    own = actor.member is not None and campaign.created_by == actor.member.id
    if own and actor.role is not Role.ADMIN:
        return Approval.OWN
    await tx.campaigns.set_status(
        campaign_id, CampaignStatus.SCHEDULED, now, approved_by=actor.member_id
    )
    await audit(tx, actor, "campaign.approved", now, campaign_id=campaign_id)
    if campaign.schedule != "now":
        return Approval.SCHEDULED
    await fire(tx, catalogs, campaign, ONCE, now, watcher=actor.member)
    return Approval.SENDING


async def cancel(
    tx: Transaction, actor: Actor, campaign_id: int, now: datetime
) -> Cancelled | None:
    """Cancel a campaign and every message of it not yet sent; None when there is no such
    campaign or it was already cancelled."""
    require(actor, Role.COORDINATOR, "campaign.cancel")
    campaign = await tx.campaigns.get(campaign_id)
    if campaign is None or campaign.status is CampaignStatus.CANCELLED:
        return None
    stopped = await tx.campaigns.cancel(campaign_id, now)
    progress = await tx.campaigns.progress(campaign_id)
    await audit(tx, actor, "campaign.cancelled", now, campaign_id=campaign_id, stopped=stopped)
    return Cancelled(progress.sent, stopped)


async def recent(
    tx: Transaction, actor: Actor, *, limit: int = 10, notices: bool = False
) -> list[Campaign]:
    """The newest campaigns (without the notices to coordinators, unless asked)."""
    require(actor, Role.COORDINATOR, "campaign.list")
    found = await tx.campaigns.find(limit=limit if notices else limit * 3)
    if not notices:
        found = [c for c in found if c.kind is not CampaignKind.NOTICE]
    return found[:limit]


async def show(tx: Transaction, actor: Actor, campaign_id: int) -> Shown | None:
    """One campaign, its progress and why messages failed."""
    require(actor, Role.COORDINATOR, "campaign.show")
    campaign = await tx.campaigns.get(campaign_id)
    if campaign is None:
        return None
    progress = await tx.campaigns.progress(campaign_id)
    return Shown(campaign, progress, await tx.campaigns.failure_reasons(campaign_id))


def delivered(campaign: Campaign, catalogs: Catalogs) -> Campaign:
    """The campaign as members receive it: an alert starts with a marked line in each one's
    language, so it never looks like any other message. The stored texts are unchanged."""
    if campaign.kind is not CampaignKind.ALERT:
        return campaign
    texts = {
        locale: f"{catalogs.get(locale)(ALERT_MARK)}\n{campaign.text_for(locale)}"
        for locale in catalogs.supported
    }
    return replace(campaign, texts=texts)


async def fire(
    tx: Transaction,
    catalogs: Catalogs,
    campaign: Campaign,
    key: str,
    now: datetime,
    *,
    watcher: Member | None,
) -> tuple[int, int] | None:
    """Write the outbox rows for one occurrence; the watcher's chat will show progress.
    None when this occurrence was already fired."""
    return await tx.campaigns.fire(
        delivered(campaign, catalogs),
        key,
        now,
        progress_channel=watcher.channel.value if watcher else None,
        progress_chat=watcher.chat_id if watcher else None,
        progress_locale=watcher.locale if watcher else None,
    )


def schedule_of(campaign: Campaign) -> Schedule:
    return Schedule(campaign.schedule, campaign.run_at, campaign.cron, campaign.timezone)


async def fire_due(store: Store, catalogs: Catalogs, now: datetime) -> list[tuple[int, str, int]]:
    """Fire every scheduled campaign whose time has come: (campaign id, key, recipients).

    Safe to run from several processes and after a restart: each occurrence key fires once.
    """
    async with store.transaction() as tx:
        candidates = await tx.campaigns.find([CampaignStatus.SCHEDULED], limit=10_000)
    fired: list[tuple[int, str, int]] = []
    for campaign in candidates:
        async with store.transaction() as tx:
            try:
                key = schedule_of(campaign).due(
                    now, await tx.campaigns.last_fired(campaign.id), since=campaign.created_at
                )
            except ScheduleError:
                continue  # validated at creation; a zone removed from tzdata since is skipped
            if key is None:
                continue
            watcher = await tx.members.by_id(campaign.created_by) if campaign.created_by else None
            result = await fire(tx, catalogs, campaign, key, now, watcher=watcher)
            if result is not None:
                fired.append((campaign.id, key, result[1]))
    return fired


def title_of(text: str) -> str:
    """A campaign's title when none is given: the start of its first line."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:60] + ("…" if len(line) > 60 else "")


def when_text(_: Translator, schedule: Schedule, now: datetime) -> str:
    """When it goes out, in a short line: now, at a time, or every week and next when."""
    if schedule.kind == "now":
        return _("When: now.")
    zone = ZoneInfo(schedule.timezone)
    if schedule.kind == "at" and schedule.run_at is not None:
        return _(
            "When: {time} ({zone}).",
            time=_.datetime(schedule.run_at.astimezone(zone)),
            zone=schedule.timezone,
        )
    following = schedule.next_time(now)
    return _(
        "When: every week; next on {time} ({zone}).",
        time=_.datetime(following.astimezone(zone)) if following else "—",
        zone=schedule.timezone,
    )


def progress_text(
    _: Translator, campaign: Campaign, progress: Progress, now: datetime | None = None
) -> str:
    """One short progress message, edited as the broadcast goes. Before anything was sent:
    when it will go (or that it waits for approval), never "Finished · Sent 0 of 0"."""
    if progress.total == 0 and campaign.status is CampaignStatus.PENDING_APPROVAL:
        return _("Waiting for approval: “{title}”", title=campaign.title)
    if progress.total == 0 and campaign.status is CampaignStatus.SCHEDULED:
        schedule = schedule_of(campaign)
        zone = ZoneInfo(campaign.timezone)
        if schedule.kind == "at" and schedule.run_at is not None:
            return _(
                "Scheduled for {time} ({zone}): “{title}”",
                time=_.datetime(schedule.run_at.astimezone(zone)),
                zone=campaign.timezone,
                title=campaign.title,
            )
        following = schedule.next_time(now) if schedule.kind == "cron" and now else None
        if following is not None:
            return _(
                "Every week; next on {time} ({zone}): “{title}”",
                time=_.datetime(following.astimezone(zone)),
                zone=campaign.timezone,
                title=campaign.title,
            )
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


async def render_progress(
    store: Store, catalogs: Catalogs, campaign_id: int, occurrence_id: int, locale: str
) -> tuple[Outbound, bool] | None:
    """The progress message for one occurrence (for the delivery worker to edit in the
    watcher's chat), and whether it is finished."""
    async with store.transaction() as tx:
        campaign = await tx.campaigns.get(campaign_id)
        if campaign is None:
            return None
        progress = await tx.campaigns.progress(campaign_id, occurrence_id)
    finished = progress.finished or campaign.status is CampaignStatus.CANCELLED
    return Outbound(progress_text(catalogs.get(locale), campaign, progress)), finished
