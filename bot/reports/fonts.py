"""Fonts for charts, so that every letter of every language Wasl speaks is drawn.

matplotlib ships DejaVu Sans, which lacks Urdu's ے, Pashto's ۍ and every Bengali letter.
Wasl installs two font packages from PyPI (OFL): Noto Sans Arabic (Arabic script, with the
Persian, Urdu, Pashto and Sorani letters) and Hind Siliguri (Bengali). A chart names a list
of families, its language's first; matplotlib takes each glyph from the first that has it.
For Urdu, a Nastaliq font comes first where the machine has one installed (none is on PyPI).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from importlib import import_module
from pathlib import Path

from babel.core import get_global

BASE = "DejaVu Sans"  # matplotlib's own: Latin, Greek, Cyrillic, signs, much of Arabic
# The packages that bring fonts, and the family each registers.
PACKAGED = {
    "fontpkg_noto_sans_arabic": "Noto Sans Arabic",
    "fontpkg_hind_siliguri": "Hind Siliguri",
}
# The family for each script (ISO 15924, as CLDR's likely subtags give it for a language).
SCRIPT_FAMILIES = {"Arab": ("Noto Sans Arabic",), "Beng": ("Hind Siliguri",)}
# Urdu is read in Nastaliq: used when installed on the machine (Debian's fonts-noto-core has
# Noto Nastaliq Urdu), otherwise the Naskh-style Noto Sans Arabic reads well too.
NASTALIQ = ("Noto Nastaliq Urdu", "Jameel Noori Nastaleeq", "Urdu Typesetting")


def script_of(locale: str) -> str:
    """The script a language is written in, from CLDR: "ur" → "Arab", "bn" → "Beng"."""
    likely = str(get_global("likely_subtags").get(locale.split("_")[0], ""))
    parts = likely.split("_")
    return parts[1] if len(parts) > 2 else "Latn"


@cache
def installed() -> frozenset[str]:
    """Register the packaged fonts with matplotlib (once), and name every family it has."""
    from matplotlib import font_manager

    for module in PACKAGED:
        try:
            root = Path(str(import_module(module).ROOT)) / "files"
        except ImportError:
            continue  # a font package missing: its script falls back to DejaVu Sans
        for path in sorted(root.glob("*.[ot]tf")):
            font_manager.fontManager.addfont(str(path))
    return frozenset(entry.name for entry in font_manager.fontManager.ttflist)


def families(locale: str, available: Collection[str] | None = None) -> list[str]:
    """The font families a chart in `locale` names, in order: a Nastaliq for Urdu where
    installed, its script's font, DejaVu Sans, then the other scripts' fonts (a chart in
    English may name an Arabic survey). Only families that are `available` (installed)."""
    have = installed() if available is None else available
    script = script_of(locale)
    wanted = [
        *(NASTALIQ if locale == "ur" else ()),
        *SCRIPT_FAMILIES.get(script, ()),
        BASE,
        *(family for fonts in SCRIPT_FAMILIES.values() for family in fonts),
    ]
    found = [family for family in dict.fromkeys(wanted) if family in have]
    return found or [BASE]


def has_bold(family: str) -> bool:
    """Whether `family` has a bold face (a variable font registers only its default)."""
    from matplotlib import font_manager

    installed()
    return any(
        entry.name == family and isinstance(entry.weight, int) and entry.weight >= 600
        for entry in font_manager.fontManager.ttflist
    )


# The fonts the dashboard serves to browsers, by the name in their URL: the same files as the
# charts', so a secretariat's browser without them still draws every letter.
WEB_FONTS = {
    "arabic.ttf": ("fontpkg_noto_sans_arabic", "NotoSansArabic"),
    "bengali.ttf": ("fontpkg_hind_siliguri", "HindSiliguri-Regular"),
}


@cache
def web_font(name: str) -> bytes | None:
    """The font file served as `name` (WEB_FONTS), None when unknown or not installed."""
    if name not in WEB_FONTS:
        return None
    module, stem = WEB_FONTS[name]
    try:
        root = Path(str(import_module(module).ROOT)) / "files"
    except ImportError:
        return None
    found = sorted(root.glob(f"{stem}*.ttf"))
    return found[0].read_bytes() if found else None
