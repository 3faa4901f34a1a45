"""Typed button payloads: a small frozen dataclass per kind of button, packed into the short
string a platform carries back ("tip:1:3:youth") and unpacked into the same typed value.

Every payload carries its kind's version, so a button from an older release is recognised as
old (and answered as such) instead of being misread. A packed payload must fit Telegram's
64-byte `callback_data`; packing refuses anything longer.

    @dataclass(frozen=True, slots=True)
    class TipPage(Callback, prefix="tip", version=1):
        page: int
        sphere: str = ""

    TipPage(3, "youth").pack()        # "tip:1:3:youth"
    TipPage.unpack("tip:1:3:youth")   # TipPage(page=3, sphere="youth")
    TipPage.unpack("tip:0:3")         # None, and TipPage.is_old("tip:0:3") is True
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar, Self

MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit (WhatsApp allows 256)
SEPARATOR = ":"


class PayloadTooLong(ValueError):
    """A packed payload would not fit a platform's button."""


class Callback:
    """Base of typed button payloads: subclass as a frozen dataclass with `prefix=` and
    `version=` class arguments. Fields may be str, int, bool, a str-valued Enum, or optional
    ones of these; only the last field may contain ":" (it takes the rest of the payload)."""

    prefix: ClassVar[str] = ""
    version: ClassVar[int] = 1

    def __init_subclass__(cls, prefix: str | None = None, version: int | None = None) -> None:
        super().__init_subclass__()
        # dataclass(slots=True) re-creates the class without these arguments: keep the
        # values the first creation set.
        if prefix is not None:
            if SEPARATOR in prefix or not prefix:
                raise ValueError(f"bad callback prefix {prefix!r}")
            cls.prefix = prefix
        if version is not None:
            cls.version = version

    def pack(self) -> str:
        """The payload string; PayloadTooLong past 64 bytes."""
        fields = _fields(type(self))
        parts = [self.prefix, str(self.version)]
        for index, (name, _) in enumerate(fields):
            text = _text(getattr(self, name))
            if SEPARATOR in text and index < len(fields) - 1:
                raise ValueError(f"{type(self).__name__}.{name} may not contain {SEPARATOR!r}")
            parts.append(text)
        packed = SEPARATOR.join(parts)
        if len(packed.encode()) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLong(packed)
        return packed

    @classmethod
    def unpack(cls, payload: str | None) -> Self | None:
        """The value this payload packs, or None when it is another kind, an older version or
        malformed (a forged or truncated payload)."""
        if payload is None:
            return None
        head, _, rest = payload.partition(SEPARATOR)
        if head != cls.prefix:
            return None
        got_version, _, rest = rest.partition(SEPARATOR)
        if got_version != str(cls.version):
            return None
        fields = _fields(cls)
        if not fields:
            return cls() if rest == "" else None
        raw = rest.split(SEPARATOR, len(fields) - 1)
        if len(raw) != len(fields):
            return None
        try:
            return cls(
                **{name: convert(text) for (name, convert), text in zip(fields, raw, strict=True)}
            )
        except (ValueError, TypeError):
            return None

    @classmethod
    def is_old(cls, payload: str | None) -> bool:
        """True for a payload of this kind packed by another version (a button from before
        an upgrade), to be answered as an old button rather than misread."""
        if payload is None:
            return False
        head, _, rest = payload.partition(SEPARATOR)
        return head == cls.prefix and rest.partition(SEPARATOR)[0] != str(cls.version)


def _fields(cls: Any) -> tuple[tuple[str, Callable[[str], Any]], ...]:
    found: tuple[tuple[str, Callable[[str], Any]], ...] | None = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))
        _FIELDS[cls] = found
    return found


_FIELDS: dict[type, tuple[tuple[str, Callable[[str], Any]], ...]] = {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _converter(hint: Any) -> Callable[[str], Any]:
    args = typing.get_args(hint)
    if type(None) in args:  # X | None: "" is None
        inner = _converter(next(a for a in args if a is not type(None)))
        return lambda text: None if text == "" else inner(text)
    if hint is bool:
        return _bool
    if hint is int:
        return _int
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if hint is str:
        return str
    raise TypeError(f"unsupported callback field type {hint!r}")


def _int(text: str) -> int:
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise ValueError(text)
    return int(text)


def _bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"
