"""Keys derived from the one secret key that lives outside the database (WASL_SECRET_KEY).

Each use gets its own key, `derive(master, purpose, *context)`: HKDF-SHA256 (RFC 5869) with the
purpose and context as its `info`, so a key made for one purpose opens nothing else, and a copy
of the database, which holds no key, cannot recompute any hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

KEY_BYTES = 32
MIN_KEY_BYTES = 16


class InvalidKey(ValueError):
    """A secret key that is not usable (not base64, or too short)."""


def generate() -> str:
    """A fresh secret key, 32 random bytes in URL-safe base64 (`wasl secret generate`)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


def decode(text: str) -> bytes:
    """The key's bytes from its URL-safe base64 text (padding optional)."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidKey("not URL-safe base64") from error
    if len(raw) < MIN_KEY_BYTES:
        raise InvalidKey(f"shorter than {MIN_KEY_BYTES} bytes")
    return raw


def ephemeral() -> bytes:
    """A key for this process only (the terminal bot and tests): nothing made with it survives
    a restart."""
    return secrets.token_bytes(KEY_BYTES)


def _part(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(4, "big") + raw  # length-prefixed: ("ab", "c") ≠ ("a", "bc")


def derive(master: bytes, purpose: str, *context: str | bytes, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 of `master` for `purpose` (and `context`, e.g. a survey's salt)."""
    if not master:
        raise InvalidKey("empty master key")
    prk = hmac.new(b"wasl-hkdf-v1", master, hashlib.sha256).digest()  # extract
    info = _part(purpose) + b"".join(_part(c) for c in context)
    out, block, counter = b"", b"", 1
    while len(out) < length:  # expand
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def keyed_hash(key: bytes, message: str) -> str:
    """HMAC-SHA256 of `message` under `key`, as hex."""
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
