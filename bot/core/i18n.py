"""Translation and locale formatting: gettext catalogs managed with Babel, CLDR data from Babel."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.core.ids import plain

log = logging.getLogger(__name__)

# Every language with a catalog under locales/: adding one is its catalog and its code here.
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en",
    "ar",
    "fr",
    "ur",
    "fa",
    "ps",
    "ckb",
    "id",
    "sw",
    "so",
    "ha",
    "bn",
    "es",
)
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


class Translator:
    """Translates and formats for one locale. Call it like gettext: `_("Hi {name}", name=n)`."""

    def __init__(self, locale: str, translations: NullTranslations) -> None:
        self.locale = locale
        self._translations = translations
        self._babel = Locale.parse(locale)

        self.rtl = self._babel.text_direction == "rtl"

    def __call__(self, message: str, /, **params: Any) -> str:
        """The message in this locale, its `{placeholders}` filled; in right-to-left text a
        value that is not right-to-left itself (a number, a code, a command, a Latin name) is
        isolated, and so is a right-to-left value in left-to-right text (`isolate`)."""
        text = self._translations.gettext(message)
        if not params:
            return text
        return text.format(**{name: isolate(value, self.rtl) for name, value in params.items()})

    def plural(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """ngettext with `{n}` available as a placeholder, formatted for the locale."""
        text = self._translations.ngettext(singular, plural, n)
        values = {"n": self.number(n), **params}
        return text.format(**{name: isolate(value, self.rtl) for name, value in values.items()})

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self._babel)

    def date(self, value: datetime) -> str:
        return format_date(value, format="medium", locale=self._babel)

    def datetime(self, value: datetime) -> str:
        return format_datetime(value, format="medium", locale=self._babel)

    def language_name(self, code: str) -> str:
        """A language's name in this locale, e.g. "arabe" for ar in French."""
        try:
            name = Locale.parse(code).get_display_name(self._babel)
        except (ValueError, UnknownLocaleError):
            return code
        return name or code

    def country_name(self, code: str) -> str:
        """A country's name in this locale from CLDR, e.g. "العراق" for IQ in Arabic."""
        return str(self._babel.territories.get(code.upper(), code.upper()))

    def countries(self) -> dict[str, str]:
        """ISO 3166 alpha-2 code → name in this locale, for real countries only."""
        return country_names(self.locale)


# Unicode bidi isolates (UAX #9): a value between FSI and PDI takes its direction from its own
# first letter (left to right for a number) and does not reorder the text around it, so
# "أرسلي /help" or "#12" or "@amina" read right on Telegram, WhatsApp and the web. Two
# invisible code points (6 bytes) per value.
FSI, PDI = "\u2068", "\u2069"
# Bidi classes that do not read right to left: letters, European digits and their signs.
_NOT_RTL = frozenset({"L", "EN", "ES", "ET", "CS"})
_RTL = frozenset({"R", "AL"})


def isolate(value: object, rtl: bool) -> object:
    """`value` as interpolated into a message whose text is right to left (`rtl`) or not:
    between FSI and PDI when its direction may differ from the text's, else unchanged.

    Right-to-left text isolates anything but right-to-left words (numbers, codes, commands,
    @usernames, URLs, Latin names); left-to-right text isolates values holding right-to-left
    letters. A value of several lines is left alone: each line is a paragraph of its own,
    and an isolate ends with its paragraph.
    """
    text = value if isinstance(value, str) else str(value)
    if not text or "\n" in text or (not rtl and text.isascii()):
        return value
    kinds = _NOT_RTL if rtl else _RTL
    if any(unicodedata.bidirectional(ch) in kinds for ch in text):
        return f"{FSI}{text}{PDI}"
    return value


@cache
def country_names(locale: str) -> dict[str, str]:
    """ISO 3166 alpha-2 code → name in `locale` (CLDR), for real countries only."""
    return {
        code: str(name)
        for code, name in Locale.parse(locale).territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }


# CLDR territories that are not countries a practitioner works in.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ"})


def native_language_name(code: str) -> str:
    """A language's name in itself ("العربية", "Français"), capitalised as a button label."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def fold(text: str) -> str:
    """Lower-case, strip accents and Arabic diacritics, unify alef forms and apostrophes and
    quotes (a phone keyboard types ' where a label has ’), drop invisible marks (`plain`):
    for forgiving search and for matching a typed label or command word."""
    decomposed = unicodedata.normalize("NFKD", plain(text).casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return kept.translate(_FOLD).strip()


_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ة": "ه",
        "ى": "ي",
        # Persian, Urdu, Pashto and Sorani letters typed on an Arabic keyboard (common in Iraq
        # and the Gulf) and the reverse: one form each.
        "ی": "ي",
        "ې": "ي",
        "ک": "ك",
        "ہ": "ه",
        "ھ": "ه",
        "ە": "ه",
        "ـ": None,
        "’": "'",
        "‘": "'",
        "ʼ": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "«": '"',
        "»": '"',
    }
)


class Catalogs:
    """The translators for every supported locale, loaded once."""

    def __init__(
        self,
        directory: Path = LOCALES_DIR,
        supported: tuple[str, ...] = SUPPORTED_LOCALES,
        default: str = "en",
    ) -> None:
        self.directory = directory
        self.supported = supported
        self.default = default if default in supported else supported[0]
        self._translators = {code: Translator(code, self._load(code)) for code in supported}

    def _load(self, code: str) -> NullTranslations:
        messages = self.directory / code / "LC_MESSAGES"
        # No compiled catalog (an editable install without `make install`): the .po is used.
        for path in (messages / f"{DOMAIN}.mo", messages / f"{DOMAIN}.po"):
            try:
                version = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            return _read_catalog(path, code, version)
        if code != "en":
            log.warning("event=catalog_missing locale=%s", code)
        return NullTranslations()

    def get(self, locale: str | None) -> Translator:
        """The translator for `locale`, or for the default when it is not supported."""
        return self._translators.get(self.negotiate(locale), self._translators[self.default])

    def negotiate(self, hint: str | None) -> str:
        """Best supported locale for a platform language code such as "fr-CA" or "ar"."""
        return negotiate(hint, self.supported, self.default)


# What a platform may send that Babel's CLDR aliases (`in` → id, `prs` → fa-AF, `pbu` → ps,
# `per` → fa, `ajp` → apc…) do not bring to a language Wasl could speak: the individual
# languages of a macrolanguage we have (CLDR's language matching has them, Babel does not
# ship it). Each maps to a code that is used only when it is supported.
LANGUAGE_ALIASES: dict[str, str] = {
    # Kurdish: Telegram sends "ku"; read as Central Kurdish (Sorani, Arabic script), the
    # Kurdish Wasl has, unless it is written in Latin letters (Kurmanji): see `_kurdish`.
    "ku": "ckb",
    "sdh": "ckb",  # Southern Kurdish, written in Arabic script like Sorani
    "pbt": "ps",  # Southern Pashto
    "pst": "ps",  # Central Pashto
    "haz": "fa",  # Hazaragi, a Persian (Dari) variety
    # Spoken Arabic varieties read Modern Standard Arabic.
    "apc": "ar",  # Levantine
    "acm": "ar",  # Iraqi
    "afb": "ar",  # Gulf
    "ars": "ar",  # Najdi
    "acq": "ar",  # Ta'izzi-Adeni (Yemen)
    "ayh": "ar",  # Hadrami (Yemen)
    "ayn": "ar",  # Sanaani (Yemen)
    "ayl": "ar",  # Libyan
    "arz": "ar",  # Egyptian
    "aeb": "ar",  # Tunisian
    "arq": "ar",  # Algerian
    "ary": "ar",  # Moroccan
    "shu": "ar",  # Chadian
}


@dataclass(frozen=True, slots=True)
class LanguageTag:
    """The parts of a platform's language code that matter here ("fa-AF", "ku_Latn", "IN")."""

    language: str
    script: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, hint: str | None) -> LanguageTag | None:
        """Lenient: either separator, any case, extensions ignored; None for no language."""
        parts = re.split(r"[-_]", (hint or "").strip())
        language = parts[0].lower()
        if not (2 <= len(language) <= 8 and language.isascii() and language.isalpha()):
            return None
        script = region = None
        for part in parts[1:]:
            if len(part) == 1:
                break  # an extension ("-u-nu-arab") or private use: the rest is not ours
            if len(part) == 4 and part.isascii() and part.isalpha() and script is None:
                script = part.title()
            elif (len(part) == 2 and part.isascii() and part.isalpha()) or (
                len(part) == 3 and part.isdigit()
            ):
                region = region or part.upper()
        return cls(language, script, region)


def _kurdish(tag: LanguageTag) -> bool:
    """Kurdish written in Latin letters (Kurmanji: "ku-Latn", or "ku-TR", where CLDR says
    Kurdish is written so), which a Sorani catalog does not serve. A bare "ku" is not."""
    script = tag.script
    if script is None and tag.region is not None:
        likely = _likely(f"{tag.language}_{tag.region}") or _likely(tag.language)
        if likely.endswith(f"_{tag.region}"):
            script = likely.split("_")[1]
    return script == "Latn"


def _likely(code: str) -> str:
    """CLDR's likely subtags: "ps" → "ps_Arab_AF"; "" when it has none."""
    return str(get_global("likely_subtags").get(code, ""))


@cache
def resolve(hint: str | None, supported: tuple[str, ...]) -> str | None:
    """The supported language a platform's language code means, or None when none fits.

    "fa-AF", "prs" (Dari) → fa; "ku", "ckb", "ku-IQ" → ckb; "pbt", "pbu" → ps; "in" (the old
    code) → id; "ar-IQ", "es-CO", "ur-PK" → their language; "pt-BR" → None. CLDR's aliases
    (Babel) first, then `LANGUAGE_ALIASES` for what they lack.
    """
    tag = LanguageTag.parse(hint)
    if tag is None:
        return None
    language = tag.language
    for _ in range(3):  # an alias may lead to another ("kur" → ku → ckb)
        if language in supported:
            return language
        ours = LANGUAGE_ALIASES.get(language)
        if ours is not None and not (language == "ku" and _kurdish(tag)):
            language = ours
            continue
        cldr = get_global("language_aliases").get(language)
        if cldr is None:
            break
        language = cldr.split("_")[0]
    found = Locale.negotiate([str(hint).strip().replace("-", "_")], list(supported), sep="_")
    return str(found) if found else None


@cache
def negotiate(hint: str | None, supported: tuple[str, ...], default: str) -> str:
    """Best supported locale for a language hint; `default` when nothing fits."""
    return resolve(hint, supported) or default


def region_of(hint: str | None) -> str | None:
    """The country a platform's language code names ("fa-AF" → AF), or, when it names none,
    where CLDR says its language is mostly spoken ("ps" → AF, "ur" → PK, "prs" → AF)."""
    tag = LanguageTag.parse(hint)
    if tag is None:
        return None
    if tag.region is not None:
        return tag.region if tag.region.isalpha() else None
    ours = LANGUAGE_ALIASES.get(tag.language)
    if ours is not None and not (tag.language == "ku" and _kurdish(tag)):
        likely = _likely(ours)
    else:
        alias = str(get_global("language_aliases").get(tag.language, ""))
        likely = alias if alias.count("_") else _likely(alias or tag.language)
    region = likely.rsplit("_", 1)[-1] if "_" in likely else ""
    return region if len(region) == 2 and region.isalpha() else None


@cache
def country_languages(country: str | None, supported: tuple[str, ...]) -> tuple[str, ...]:
    """The supported languages spoken in `country`, most speakers first (CLDR's territory
    data: Iraq → ar, en, ckb, fa; Afghanistan → fa, ps)."""
    if not country:
        return ()
    spoken = get_global("territory_languages").get(country.upper(), {})
    ranked = sorted(spoken.items(), key=lambda item: -float(item[1]["population_percent"] or 0))
    # CLDR's "ku" there is Kurmanji (Latin letters); its Sorani is "ckb" (or "ku_Arab").
    found = (resolve(code, supported) for code, _ in ranked if code != "ku")
    return tuple(dict.fromkeys(code for code in found if code is not None))


def likely_languages(
    supported: tuple[str, ...],
    default: str,
    *,
    first: Iterable[str | None] = (),
    country: str | None = None,
) -> list[str]:
    """Every supported language, the likeliest for her first: `first` (her platform's
    language, her current one), then the languages of her country, then the default, then
    the rest in their usual order."""
    ordered = [
        *(code for code in first if code in supported),
        *country_languages(country, supported),
        default,
        *supported,
    ]
    return list(dict.fromkeys(code for code in ordered if code in supported))


@lru_cache(maxsize=64)
def _read_catalog(path: Path, code: str, version: int) -> NullTranslations:
    """A catalog read once per file and version, then shared by every `Catalogs` (one per app,
    one per test harness: thirteen catalogs cost 40 ms to read). Only ever read after."""
    if path.suffix == ".mo":
        with path.open("rb") as f:
            return Translations(f, DOMAIN)
    with path.open("rb") as f:
        catalog = read_po(f, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, DOMAIN)
