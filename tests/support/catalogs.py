"""The catalogs under locales/, each parsed once per test process and shared by the tests that
read them (tests/unit/test_catalogs.py, tests/unit/test_typography.py)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parents[2] / "locales"
TEMPLATE = LOCALES / "messages.pot"
PO_FILES = sorted(LOCALES.glob("*/LC_MESSAGES/messages.po"))


def locale_of(path: Path) -> str:
    """The catalog's locale code, from its folder: `locales/<code>/LC_MESSAGES/messages.po`."""
    return path.parts[-3]


@cache
def load(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=None if path == TEMPLATE else locale_of(path))
