"""Translation and locale formatting: gettext catalogs managed with Babel, CLDR data from Babel."""

from __future__ import annotations

import io
import logging
import unicodedata
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.core.ids import plain

log = logging.getLogger(__name__)

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "ar", "fr")
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

    def __call__(self, message: str, /, **params: Any) -> str:
        text = self._translations.gettext(message)
        return text.format(**params) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """ngettext with `{n}` available as a placeholder, formatted for the locale."""
        text = self._translations.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    @property
    def rtl(self) -> bool:
        return self._babel.text_direction == "rtl"

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
        if (messages / f"{DOMAIN}.mo").exists():
            return Translations.load(str(self.directory), [code], DOMAIN)
        po = messages / f"{DOMAIN}.po"
        if po.exists():
            # No compiled catalog (an editable install without `make install`): compile in memory.
            with po.open("rb") as f:
                catalog = read_po(f, locale=code)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            return Translations(buffer, DOMAIN)
        if code != "en":
            log.warning("event=catalog_missing locale=%s", code)
        return NullTranslations()

    def get(self, locale: str | None) -> Translator:
        """The translator for `locale`, or for the default when it is not supported."""
        return self._translators.get(self.negotiate(locale), self._translators[self.default])

    def negotiate(self, hint: str | None) -> str:
        """Best supported locale for a platform language code such as "fr-CA" or "ar"."""
        return negotiate(hint, self.supported, self.default)


@cache
def negotiate(hint: str | None, supported: tuple[str, ...], default: str) -> str:
    """Best supported locale for a language hint; `default` when nothing fits."""
    if not hint:
        return default
    found = Locale.negotiate([hint.replace("-", "_")], list(supported), sep="_")
    return str(found) if found else default
