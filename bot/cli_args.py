"""Argument types for `wasl`: bad values end in argparse's usage error (exit 2), never a
traceback, and nothing reaches the database that could not name a row or make sense."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from bot.core.i18n import Catalogs
from bot.core.ids import MAX_ID, parse_id
from bot.core.invites import MAX_LIFETIME, MAX_USES, MIN_LIFETIME

_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def record_id(text: str) -> int:
    """A row's id: digits only, 1 to 2**31-1."""
    value = parse_id(text)
    if value is None or text.strip().startswith("#"):
        raise argparse.ArgumentTypeError(f"not an id (a number from 1 to {MAX_ID}): {text!r}")
    return value


def bounded(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""

    def parse(text: str) -> int:
        value = int(text) if re.fullmatch(r"-?[0-9]{1,10}", text.strip()) else None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"not a whole number from {low} to {high}: {text!r}")
        return value

    return parse


invite_uses = bounded(1, MAX_USES)


def duration(text: str) -> timedelta:
    """ "7d" → 7 days; also m, h and w."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration like 30m, 12h, 7d or 2w: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def invite_lifetime(text: str) -> timedelta:
    """How long an invitation works: from 1 hour to 90 days."""
    value = duration(text)
    if not MIN_LIFETIME <= value <= MAX_LIFETIME:
        raise argparse.ArgumentTypeError(f"an invitation lasts from 1h to 90d, not {text!r}")
    return value


@cache
def _countries() -> frozenset[str]:
    return frozenset(Catalogs().get("en").countries())


def country_code(text: str) -> str:
    """An ISO 3166 alpha-2 code of a real country in CLDR (not ZZ, EU, UN…)."""
    code = text.strip().upper()
    if code not in _countries():
        raise argparse.ArgumentTypeError(f"not the ISO 3166 code of a country: {text!r}")
    return code
