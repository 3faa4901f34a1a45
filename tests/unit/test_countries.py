"""Country search: a name in any shipped language finds the country, answered in hers."""

from __future__ import annotations

import pytest

from bot.core.countries import MAX_MATCHES, find_countries
from bot.core.i18n import Catalogs

CATALOGS = Catalogs()


@pytest.mark.parametrize("typed", ["Soudan", "السودان", "sudan", "SD", "  soudan "])
def test_an_english_speaker_finds_sudan_by_its_name_in_any_shipped_language(typed: str) -> None:
    matches = find_countries(CATALOGS, CATALOGS.get("en"), typed)
    assert matches[0] == ("SD", "Sudan")


def test_the_answer_is_in_her_language_whatever_language_she_typed_in() -> None:
    assert find_countries(CATALOGS, CATALOGS.get("ar"), "Iraq")[0] == ("IQ", "العراق")
    assert find_countries(CATALOGS, CATALOGS.get("fr"), "العراق")[0] == ("IQ", "Irak")


def test_an_exact_name_comes_before_names_that_only_start_with_it() -> None:
    codes = [code for code, _ in find_countries(CATALOGS, CATALOGS.get("en"), "Niger")]
    assert codes[0] == "NE" and "NG" in codes


def test_nothing_typed_or_nothing_matching_finds_nothing_and_lists_stay_short() -> None:
    en = CATALOGS.get("en")
    assert find_countries(CATALOGS, en, "   ") == []
    assert find_countries(CATALOGS, en, "Atlantis") == []
    assert len(find_countries(CATALOGS, en, "a")) == MAX_MATCHES
