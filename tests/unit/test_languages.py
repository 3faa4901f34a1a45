"""Which language a platform's language code means, and which languages she most likely reads:
with the thirteen languages the alliance speaks, whether or not their catalogs are here yet."""

from __future__ import annotations

import pytest

from bot.core.i18n import (
    SUPPORTED_LOCALES,
    Catalogs,
    LanguageTag,
    country_languages,
    likely_languages,
    negotiate,
    region_of,
)

THIRTEEN = ("en", "ar", "fr", "ur", "fa", "ps", "ckb", "id", "sw", "so", "ha", "bn", "es")


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("fa-AF", "fa"),
        ("prs", "fa"),  # Dari
        ("prs-AF", "fa"),
        ("ku", "ckb"),  # Telegram's Kurdish: the Sorani catalog
        ("ku-IQ", "ckb"),
        ("ku-Arab", "ckb"),
        ("kur", "ckb"),  # ISO 639-2, through CLDR's alias to ku
        ("ckb", "ckb"),
        ("ckb-IR", "ckb"),
        ("sdh", "ckb"),
        ("ku-Latn", "en"),  # Kurmanji in Latin letters: no Sorani for her, the default
        ("ku-TR", "en"),
        ("pbt", "ps"),
        ("pbu", "ps"),
        ("ps-PK", "ps"),
        ("pt-BR", "en"),  # not supported: the default
        ("ar-IQ", "ar"),
        ("acm", "ar"),  # Iraqi Arabic
        ("es-CO", "es"),
        ("es-419", "es"),
        ("ur-PK", "ur"),
        ("bn-BD", "bn"),
        ("sw-KE", "sw"),
        ("swc", "sw"),
        ("so-SO", "so"),
        ("ha-NG", "ha"),
        ("id-ID", "id"),
        ("in", "id"),  # the old code for Indonesian
        ("IN-id", "id"),
        ("FA_af", "fa"),
        ("  fr-CA ", "fr"),
        ("ar-u-nu-arab", "ar"),
        ("en_", "en"),
        (None, "en"),
        ("", "en"),
        ("x", "en"),
        ("zz", "en"),
        ("12", "en"),
        ("😀", "en"),
    ],
)
def test_a_platform_code_means_the_best_supported_language(
    hint: str | None, expected: str
) -> None:
    assert negotiate(hint, THIRTEEN, "en") == expected
    assert Catalogs(supported=THIRTEEN).get(hint).locale == expected


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("fa-AF", "en"), ("ku", "en"), ("in", "en"), ("ar-IQ", "ar"), ("fr-CA", "fr"), ("AR", "ar")],
)
def test_only_supported_languages_are_chosen(hint: str, expected: str) -> None:
    assert SUPPORTED_LOCALES == ("en", "ar", "fr")
    assert negotiate(hint, SUPPORTED_LOCALES, "en") == expected
    assert negotiate(hint, SUPPORTED_LOCALES, "fr") == (expected if expected != "en" else "fr")


def test_a_missing_catalog_speaks_the_default() -> None:
    catalogs = Catalogs(supported=THIRTEEN)
    urdu = catalogs.get("ur-PK")
    assert urdu.locale == "ur" and urdu.rtl
    assert urdu("Help") == "Help"  # no Urdu catalog in this branch: English words
    assert catalogs.get("ar")("Help") != "Help"


def test_a_tag_is_read_leniently() -> None:
    assert LanguageTag.parse("fa_af") == LanguageTag("fa", None, "AF")
    assert LanguageTag.parse("uz-arab-AF") == LanguageTag("uz", "Arab", "AF")
    assert LanguageTag.parse("es-419") == LanguageTag("es", None, "419")
    assert LanguageTag.parse("en-x-private-GB") == LanguageTag("en")
    assert LanguageTag.parse("") is None and LanguageTag.parse("-") is None


@pytest.mark.parametrize(
    ("hint", "country"),
    [
        ("fa-AF", "AF"),
        ("prs", "AF"),
        ("ps", "AF"),
        ("pbu", "AF"),
        ("ur", "PK"),
        ("ku", "IQ"),  # read as Sorani: where Sorani is spoken
        ("ckb", "IQ"),
        ("so", "SO"),
        ("bn", "BD"),
        ("es-CO", "CO"),
        ("es-419", None),  # a region that is no country
        (None, None),
    ],
)
def test_her_country_is_guessed_from_her_language(hint: str | None, country: str | None) -> None:
    assert region_of(hint) == country


def test_the_languages_of_a_country_come_from_cldr() -> None:
    assert country_languages("AF", THIRTEEN) == ("fa", "ps")
    assert country_languages("IQ", THIRTEEN)[:3] == ("ar", "en", "ckb")
    assert country_languages("PK", THIRTEEN)[:2] == ("ur", "en")
    assert "ha" in country_languages("NG", THIRTEEN)
    assert country_languages("SO", THIRTEEN)[0] == "so"
    assert country_languages("IQ", SUPPORTED_LOCALES) == ("ar", "en")
    assert country_languages("XX", THIRTEEN) == () and country_languages(None, THIRTEEN) == ()


def test_the_likeliest_languages_come_first() -> None:
    afghan = likely_languages(THIRTEEN, "en", first=["fa"], country="AF")
    assert afghan[:3] == ["fa", "ps", "en"]
    assert sorted(afghan) == sorted(THIRTEEN), "every language, once"
    iraqi_kurd = likely_languages(THIRTEEN, "en", first=[None, "ckb"], country="IQ")
    assert iraqi_kurd[:4] == ["ckb", "ar", "en", "fa"]
    unknown = likely_languages(THIRTEEN, "en", first=["pt"])
    assert unknown == list(THIRTEEN), "nothing known: the default, then the usual order"
