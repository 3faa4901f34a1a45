"""Campaigns as the core sees them: who gets what, in which language, when."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.callbacks import Callback


class CampaignKind(StrEnum):
    """What is sent; alerts go out before everything else."""

    ALERT = "alert"
    CAMPAIGN = "campaign"
    SURVEY = "survey"
    REMINDER = "reminder"
    DIGEST = "digest"
    NOTICE = "notice"  # to coordinators: an urgent update, an approval request


PRIORITY = {
    CampaignKind.ALERT: 0,
    CampaignKind.NOTICE: 1,
    CampaignKind.REMINDER: 5,
    CampaignKind.SURVEY: 5,
    CampaignKind.CAMPAIGN: 10,
    CampaignKind.DIGEST: 20,
}


class CampaignStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"  # waiting for its time (or recurring)
    SENT = "sent"  # a one-off that has fired
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives it. An empty list means "any". Paused and unreachable members never do."""

    countries: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    spheres: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    exclude: tuple[int, ...] = ()  # member ids left out (the author of an approval request)

    def to_json(self) -> dict[str, list[Any]]:
        return {k: list(getattr(self, k)) for k in _AUDIENCE_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(**{k: tuple(data.get(k, ())) for k in _AUDIENCE_FIELDS})


_AUDIENCE_FIELDS = ("countries", "locales", "spheres", "roles", "exclude")


@dataclass(frozen=True, slots=True)
class CampaignButton:
    """A button under a campaign message: a label per language and a payload."""

    labels: dict[str, str]
    payload: str


@dataclass(slots=True)
class Campaign:
    """A message to many, stored so that a restart loses nothing."""

    id: int
    kind: CampaignKind
    status: CampaignStatus
    title: str
    default_locale: str
    texts: dict[str, str]
    audience: Audience
    schedule: str
    run_at: datetime | None
    cron: str | None
    timezone: str
    created_at: datetime
    created_by: int | None = None
    approved_by: int | None = None
    buttons: list[CampaignButton] = field(default_factory=list)
    template_name: str | None = None
    template_language: str | None = None

    def text_for(self, locale: str) -> str:
        """Her language, else the campaign's default language, else English, else any."""
        for candidate in (locale, self.default_locale, "en"):
            if self.texts.get(candidate):
                return self.texts[candidate]
        return next(iter(self.texts.values()))

    def labels_for(self, locale: str) -> list[tuple[str, str]]:
        """(label, payload) for each button, in her language with the same fallbacks."""
        out = []
        for button in self.buttons:
            labels = button.labels
            label = labels.get(locale) or labels.get(self.default_locale) or labels.get("en")
            out.append((label or next(iter(labels.values())), button.payload))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCampaign:
    """What creating a campaign needs: what, to whom, in which languages, when, by whom."""

    kind: CampaignKind
    status: CampaignStatus
    title: str
    texts: dict[str, str]
    default_locale: str
    audience: Audience
    schedule: str = "now"  # now | at | cron
    run_at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"
    created_by: int | None = None
    buttons: Sequence[CampaignButton] = ()
    template_name: str | None = None
    template_language: str | None = None
    source_update_id: int | None = None  # its copies go with that update (/forget, retention)


MAX_TEXT = 4000  # under Telegram's 4096 and WhatsApp's 4096, leaving room for a header


def check_texts(texts: dict[str, str], supported: tuple[str, ...]) -> str | None:
    """Why these campaign texts cannot be sent (an English reason), or None when they can."""
    filled = {k: v.strip() for k, v in texts.items() if v and v.strip()}
    if not filled:
        return "the campaign has no text in any language"
    unknown = sorted(set(filled) - set(supported))
    if unknown:
        return f"unsupported language(s): {', '.join(unknown)}"
    for locale, text in filled.items():
        if len(text) > MAX_TEXT:
            return f"the {locale} text has {len(text)} characters; the limit is {MAX_TEXT}"
    return None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a campaign's delivery has gone, by outcome."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    cancelled: int = 0
    needs_template: int = 0
    uncertain: int = 0  # timed out after it may have reached her: not sent again

    @property
    def remaining(self) -> int:
        done = (
            self.sent
            + self.failed
            + self.unreachable
            + self.skipped
            + self.cancelled
            + self.needs_template
            + self.uncertain
        )
        return self.total - done

    @property
    def finished(self) -> bool:
        return self.remaining == 0


@dataclass(frozen=True, slots=True)
class ApproveCampaign(Callback, prefix="campaign-ok", version=1):
    """The "Approve #N" button under an approval request or a campaign shown."""

    campaign_id: int


@dataclass(frozen=True, slots=True)
class CancelCampaign(Callback, prefix="campaign-x", version=1):
    """The "Cancel #N" button under a campaign shown or just sent."""

    campaign_id: int
