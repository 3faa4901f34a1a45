"""Notices: a short message to everyone with a role (in a country), in each one's language,
through the outbox — an urgent update for a country's coordinators, an approval request.

`send` says who was really reached, so the caller never claims an alert nobody received.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.campaigns import (
    Audience,
    Campaign,
    CampaignButton,
    CampaignKind,
    CampaignStatus,
    NewCampaign,
)
from bot.core.i18n import Catalogs, Translator
from bot.core.models import Role
from bot.core.ports import Transaction
from bot.core.schedule import ONCE

Render = Callable[[Translator], str]


@dataclass(frozen=True, slots=True)
class Notice:
    """What to say, rendered once per shipped language; an optional button (a command)."""

    title: str  # for the campaign list; never her words
    text: Render
    button_label: Render | None = None
    button_payload: str | None = None
    source_update_id: int | None = None  # its copies go with that update (/forget, retention)


@dataclass(frozen=True, slots=True)
class Reached:
    """Who a notice went to: how many people, and with which role (None: nobody)."""

    people: int
    role: Role | None


async def send(
    tx: Transaction,
    catalogs: Catalogs,
    notice: Notice,
    now: datetime,
    *,
    roles: Sequence[Role],
    countries: Sequence[str] = (),
    exclude: Sequence[int] = (),
    fallback: Role | None = None,
) -> Reached:
    """Send `notice` to everyone with one of `roles` (in `countries`, when given), except
    `exclude`. When nobody matches and `fallback` is given (admins), to that role instead,
    anywhere. Returns who was reached."""
    audience = Audience(
        countries=tuple(countries), roles=tuple(r.value for r in roles), exclude=tuple(exclude)
    )
    reached_role: Role | None = roles[0] if roles else None
    people = sum((await tx.campaigns.audience_by_locale(audience)).values())
    if people == 0 and fallback is not None:
        audience = Audience(roles=(fallback.value,), exclude=tuple(exclude))
        reached_role = fallback
        people = sum((await tx.campaigns.audience_by_locale(audience)).values())
    if people == 0:
        return Reached(0, None)
    texts = {locale: notice.text(catalogs.get(locale)) for locale in catalogs.supported}
    buttons = []
    if notice.button_label is not None and notice.button_payload is not None:
        labels = {
            locale: notice.button_label(catalogs.get(locale)) for locale in catalogs.supported
        }
        buttons.append(CampaignButton(labels, notice.button_payload))
    campaign = await tx.campaigns.create(
        NewCampaign(
            kind=CampaignKind.NOTICE,
            status=CampaignStatus.SCHEDULED,
            title=notice.title,
            texts=texts,
            default_locale="en",
            audience=audience,
            schedule="now",
            buttons=buttons,
            source_update_id=notice.source_update_id,
        ),
        now,
    )
    await tx.campaigns.fire(campaign, ONCE, now)
    return Reached(people, reached_role)


async def send_each(
    tx: Transaction,
    kind: CampaignKind,
    title: str,
    messages: list[tuple[int, str, str]],
    now: datetime,
    sources: Mapping[int, Sequence[int]] | None = None,
) -> int:
    """A text of its own for each (member id, channel, text) — digests, reminders, results —
    through the outbox, under one campaign row for progress and statistics.

    The row is created already "sent": it is never fired from an audience.
    """
    campaign = await _sent_campaign(tx, kind, title, now)
    fired = await tx.campaigns.fire_personal(campaign, ONCE, now, messages, sources)
    return fired[1] if fired else 0


async def _sent_campaign(
    tx: Transaction, kind: CampaignKind, title: str, now: datetime
) -> Campaign:
    """The campaign row that personal messages go out under, created already "sent"."""
    return await tx.campaigns.create(
        NewCampaign(
            kind=kind,
            status=CampaignStatus.SENT,
            title=title,
            texts={"en": title},
            default_locale="en",
            audience=Audience(),
            schedule="now",
        ),
        now,
    )


async def send_one(
    tx: Transaction,
    kind: CampaignKind,
    title: str,
    member_id: int,
    channel: str,
    text: str,
    now: datetime,
    buttons: Sequence[tuple[str, str]] = (),
) -> int:
    """A message of its own to one member, with buttons (label, payload), through the
    outbox; returns its campaign row's id, so that whatever it quotes can take it along
    (deleting the campaign row deletes its outbox rows)."""
    campaign = await _sent_campaign(tx, kind, title, now)
    await tx.campaigns.fire_personal(
        campaign, ONCE, now, [(member_id, channel, text)], buttons={member_id: buttons}
    )
    return campaign.id
