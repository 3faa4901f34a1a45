"""Invitations: their codes, lifetimes and the links that carry them. Making, revoking and
accepting them is `bot.services.invitations`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

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
