"""Invitations: one way to make them (bot and CLI alike), and the links that carry them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from bot.core.models import Invite, Role
from bot.core.ports import Transaction

DEFAULT_LIFETIME = timedelta(days=7)
MIN_LIFETIME, MAX_LIFETIME = timedelta(hours=1), timedelta(days=90)
MAX_USES = 1000  # one link for a whole conference, not for the world
# `/start s_<slug>` opens a public survey (handlers/onboarding.py): no code may look like one.
# A code starting with "-" would be read as an option by `wasl invite revoke CODE`.
_RESERVED_PREFIXES = ("s_", "-")


def new_code() -> str:
    """16 characters of A-Za-z0-9_-: a valid Telegram deep-link payload, hard to guess."""
    while True:
        code = secrets.token_urlsafe(12)
        if not code.startswith(_RESERVED_PREFIXES):
            return code


async def create_invite(
    tx: Transaction,
    *,
    role: Role,
    country: str | None,
    uses: int,
    expires_at: datetime | None,
    actor: str,
    now: datetime,
    actor_member_id: int | None = None,
) -> Invite:
    """Create an invitation and write it to the audit log (who invited, which role, how many)."""
    invite = await tx.invites.create(
        code=new_code(),
        role=role,
        country=country,
        uses=uses,
        expires_at=expires_at,
        created_by=actor,
        now=now,
    )
    await tx.audit_log.append(
        actor=actor,
        action="invite.created",
        now=now,
        actor_member_id=actor_member_id,
        details={
            "invite_id": invite.id,
            "role": invite.role.value,
            "uses": uses,
            "country": country,
        },
    )
    return invite


async def revoke_invite(
    tx: Transaction,
    invite: Invite,
    *,
    actor: str,
    now: datetime,
    actor_member_id: int | None = None,
) -> bool:
    """Revoke an invitation (no one can join with it any more, not even someone half-way
    through joining) and audit it; False when it was already revoked."""
    if not await tx.invites.revoke(invite.id, now):
        return False
    await tx.audit_log.append(
        actor=actor,
        action="invite.revoked",
        now=now,
        actor_member_id=actor_member_id,
        details={"invite_id": invite.id, "role": invite.role.value},
    )
    return True


@dataclass(frozen=True, slots=True)
class InviteLinks:
    """Where the bot can be reached, to turn a code into links people can tap."""

    telegram_username: str | None = None  # without "@"
    whatsapp_number: str | None = None  # the number people write to, international digits

    def links(self, code: str) -> list[str]:
        """One link per channel the alliance runs; empty when none is known."""
        links = []
        if self.telegram_username:
            links.append(f"https://t.me/{self.telegram_username.lstrip('@')}?start={code}")
        digits = "".join(c for c in self.whatsapp_number or "" if c.isdigit())
        if digits:
            links.append(f"https://wa.me/{digits}?text={quote(f'start {code}')}")
        return links
