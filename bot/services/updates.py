"""Field updates: a member submits one; an urgent one alerts the coordinators of its country
at once (the administrators when it has none), and the caller is told who was really reached.

A member's own update is not written to the audit log: the update row already says who wrote
it, until retention or /forget removes that link, and an audit entry would keep the link longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.actors import Actor, NotAllowed, require
from bot.core.i18n import Catalogs, Translator
from bot.core.messages import MediaKind, MediaRef
from bot.core.models import Role
from bot.core.ports import Transaction
from bot.core.spheres import SPHERE_BY_CODE, SPHERES
from bot.core.updates import MAX_UPDATE
from bot.services import notices

EXCERPT = 300  # how much of her text an urgent notice quotes
ATTACHABLE = frozenset(
    {MediaKind.PHOTO, MediaKind.VOICE, MediaKind.AUDIO, MediaKind.VIDEO, MediaKind.DOCUMENT}
)


class BadUpdate(ValueError):
    """An update the service refuses: empty, too long, no sphere, an attachment of a kind
    an update cannot carry."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What she wants to share."""

    country: str
    locale: str
    spheres: Sequence[str]
    urgent: bool
    keep_if_shared: bool  # the text may outlive retention if shared (never with her name)
    text: str | None
    media: MediaRef | None = None
    quotable: bool = False  # may be quoted, without her name, in country briefs (asked; no)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored update, and for an urgent one who was alerted (`people` 0: nobody)."""

    update_id: int
    alerted: notices.Reached | None = None


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


async def submit(
    tx: Transaction, catalogs: Catalogs, actor: Actor, draft: Draft, now: datetime
) -> Submitted:
    """Store her update (counted in the anonymous tallies) and, when urgent, alert."""
    require(actor, Role.MEMBER, "update.submit")
    if actor.member is None:
        raise NotAllowed(Role.MEMBER, "update.submit")
    text = (draft.text or "").strip() or None
    if text is None and draft.media is None:
        raise BadUpdate("an update needs words or an attachment")
    if text is not None and len(text) > MAX_UPDATE:
        raise BadUpdate(f"an update has at most {MAX_UPDATE} characters")
    if draft.media is not None and draft.media.kind not in ATTACHABLE:
        raise BadUpdate(f"an update cannot carry a {draft.media.kind.value}")
    spheres = [s for s in draft.spheres if s in SPHERE_BY_CODE]
    if not spheres:
        raise BadUpdate("an update concerns at least one sphere")
    update_id = await tx.updates.submit(
        author_id=actor.member.id,
        country=draft.country,
        locale=draft.locale,
        urgent=draft.urgent,
        text=text,
        media_kind=draft.media.kind if draft.media else None,
        media_ref=draft.media.ref if draft.media else None,
        keep_if_shared=draft.keep_if_shared,
        spheres=spheres,
        now=now,
        quotable=draft.quotable and text is not None,
    )
    if not draft.urgent:
        return Submitted(update_id)
    alerted = await alert(tx, catalogs, actor, update_id, draft.country, text, spheres, now)
    return Submitted(update_id, alerted)


async def alert(
    tx: Transaction,
    catalogs: Catalogs,
    actor: Actor,
    update_id: int,
    country: str,
    text: str | None,
    spheres: Sequence[str],
    now: datetime,
) -> notices.Reached:
    """Tell the country's coordinators about an urgent update at once, through the outbox;
    the administrators when the country has none; never its author. Who was reached."""
    quoted = excerpt(text or "")

    def render(_: Translator) -> str:
        names = _(", ").join(_(s.label) for s in SPHERES if s.code in spheres)
        return _(
            "Urgent update #{id} from {country} ({spheres}):\n“{excerpt}”",
            id=update_id,
            country=_.country_name(country),
            spheres=names,
            excerpt=quoted,
        )

    notice = notices.Notice(
        title=f"urgent update #{update_id}",
        text=render,
        button_label=lambda _: _("Open the queue"),
        button_payload="cmd:moderate",
        source_update_id=update_id,  # its texts go with the update (/forget, retention)
    )
    return await notices.send(
        tx,
        catalogs,
        notice,
        now,
        roles=(Role.COORDINATOR,),
        countries=(country,),
        exclude=(actor.member_id,) if actor.member_id is not None else (),
        fallback=Role.ADMIN,
    )
