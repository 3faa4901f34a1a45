"""Promise 5: a database copy alone reverses nothing. Keys derive from WASL_SECRET_KEY only."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from bot.config import WaslSettings
from bot.core import keys


def test_a_generated_key_decodes_to_32_fresh_bytes() -> None:
    first, second = keys.generate(), keys.generate()
    assert first != second
    assert len(keys.decode(first)) == 32 and keys.decode(first) != keys.decode(second)


@pytest.mark.parametrize("bad", ["", "short", "!!!not base64!!!", "c2hvcnQ"])
def test_an_unusable_key_is_refused(bad: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.decode(bad)


def test_derivation_is_hkdf_sha256_and_separates_purposes_and_contexts() -> None:
    master = keys.decode(keys.generate())
    one = keys.derive(master, "dashboard-link")
    assert one == keys.derive(master, "dashboard-link"), "the same key every time"
    assert one != keys.derive(master, "public-survey-respondent")
    assert keys.derive(master, "p", "ab", "c") != keys.derive(master, "p", "a", "bc")
    assert one != keys.derive(keys.decode(keys.generate()), "dashboard-link")
    # RFC 5869 with our salt and a length-prefixed info, recomputed by hand.
    prk = hmac.new(b"wasl-hkdf-v1", master, hashlib.sha256).digest()
    info = len(b"dashboard-link").to_bytes(4, "big") + b"dashboard-link"
    assert one == hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    assert len(keys.derive(master, "x", length=50)) == 50


def test_the_key_comes_from_the_variable_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name in ("WASL_SECRET_KEY", "WASL_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert WaslSettings().master_key() is None
    key = keys.generate()
    (tmp_path / "key").write_text(key + "\n")
    monkeypatch.setenv("WASL_SECRET_KEY_FILE", str(tmp_path / "key"))
    assert WaslSettings().master_key() == keys.decode(key)
    monkeypatch.setenv("WASL_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(keys.InvalidKey, match="WASL_SECRET_KEY_FILE"):
        WaslSettings().master_key()
    monkeypatch.setenv("WASL_SECRET_KEY", "nope")
    with pytest.raises(keys.InvalidKey, match="WASL_SECRET_KEY"):
        WaslSettings().master_key()
