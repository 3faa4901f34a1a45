"""Ids typed by a person or carried by a button: checked in one place before any query."""

from __future__ import annotations

import re
import unicodedata

# Every id column is a 32-bit INTEGER on PostgreSQL; SQLite's are 64-bit, but no id there
# grows past this either. A larger number cannot name a row, and would overflow the driver.
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")
# C0 control characters except tab and newline (and carriage return, folded into newline).
# PostgreSQL refuses NUL in text; the others only ever come from a forged or broken client.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain(text: str | None) -> str:
    """What she typed, as read for a command, a button's label or a number: without the
    invisible format characters that keyboards and copy-paste add (right-to-left and
    left-to-right marks U+200F/U+200E, the Arabic letter mark U+061C, a byte order mark
    U+FEFF, zero-width spaces and joiners, bidi embeddings and isolates, soft hyphens) and
    without surrounding whitespace. Her words themselves are stored as she wrote them."""
    if not text:
        return ""
    if text.isascii():
        return text.strip()
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def parse_id(text: str | None) -> int | None:
    """The id in `text` ("12", or "#12" as lists show it), or None unless it is ASCII digits
    naming 1 ≤ id ≤ MAX_ID. "²", "-1", "1e3", " 12 " padding aside, and 10**20 are refused.
    Invisible marks around it ("\u200f12") are not part of it."""
    if text is None:
        return None
    text = plain(text).removeprefix("#")
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def clean_text(text: str | None) -> str | None:
    """`text` without NUL and the other C0 control characters (tab and newline stay; a
    carriage return becomes a newline)."""
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)
