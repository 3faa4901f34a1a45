"""Values in right-to-left messages (commands, codes, numbers, @usernames, URLs, Latin names)
are isolated, so they read the right way round; checked with the Unicode bidi algorithm
(python-bidi) as a phone would lay the line out."""

from __future__ import annotations

import pytest
from bidi import get_display

from bot.core.i18n import FSI, PDI, Catalogs, fold, isolate
from tests.unit.test_languages import THIRTEEN

CATALOGS = Catalogs()
RTL_THIRTEEN = Catalogs(supported=THIRTEEN)


def shown(text: str) -> str:
    """The line as drawn, left to right, without the invisible isolates."""
    return str(get_display(text)).replace(FSI, "").replace(PDI, "")


@pytest.mark.parametrize(
    "value", ["/help", "#12", "@amina_k", "https://wasl.example.org/d?t=a1/", "WhatsApp", "12,500"]
)
def test_a_latin_value_in_arabic_reads_left_to_right(value: str) -> None:
    template = "اكتبي {value} للمتابعة."
    bare = template.format(value=value)
    isolated = template.format(value=isolate(value, rtl=True))
    assert value in shown(isolated), "the value drawn as written"
    assert isolated.count(FSI) == isolated.count(PDI) == 1
    assert len(isolated) == len(bare) + 2, "two code points per value"
    if value[0] in "/#@" or value.endswith("/"):
        assert value not in shown(bare), "without the isolates the sign jumps to the other end"


def test_the_translator_isolates_values_in_right_to_left_locales() -> None:
    arabic, english = CATALOGS.get("ar"), CATALOGS.get("en")
    message = "I don't know that command. Send {help} to see what I can do."
    said = arabic(message, help="/help")
    assert f"{FSI}/help{PDI}" in said and "/help" in shown(said)
    assert (
        english(message, help="/help")
        == "I don't know that command. Send /help to see what I can do."
    )
    count = arabic.plural("Cleared {n} message.", "Cleared {n} messages.", 12)
    assert f"{FSI}12{PDI}" in count
    assert english.plural("Cleared {n} message.", "Cleared {n} messages.", 12) == (
        "Cleared 12 messages."
    )


def test_right_to_left_words_are_left_alone_in_right_to_left_text() -> None:
    arabic = CATALOGS.get("ar")
    assert isolate("العراق", rtl=True) == "العراق"
    assert isolate("کوردیی ناوەندی", rtl=True) == "کوردیی ناوەندی"
    said = arabic("Country: {country}", country=arabic.country_name("IQ"))
    assert FSI not in said


def test_right_to_left_values_are_isolated_in_left_to_right_text() -> None:
    english = CATALOGS.get("en")
    assert english("Add {language}", language="العربية") == f"Add {FSI}العربية{PDI}"
    assert english("Add {language}", language="Français") == "Add Français"
    assert isolate("اردو", rtl=False) == f"{FSI}اردو{PDI}"


def test_numbers_and_several_lines() -> None:
    assert isolate(5, rtl=True) == f"{FSI}5{PDI}"
    assert isolate(5, rtl=False) == 5, "unchanged, type and all"
    assert isolate("", rtl=True) == ""
    lines = "first line\nsecond line"
    assert isolate(lines, rtl=True) == lines, "an isolate would end with its first line"
    assert isolate("٣", rtl=True) == "٣", "Arabic-Indic digits are at home in Arabic"


@pytest.mark.parametrize("code", ["ar", "fa", "ur", "ps", "ckb"])
def test_every_right_to_left_locale_isolates(code: str) -> None:
    translator = RTL_THIRTEEN.get(code)
    assert translator.rtl
    assert FSI in translator("{value}", value="#12")


def test_a_typed_label_matches_without_the_isolates() -> None:
    english = CATALOGS.get("en")
    label = english("Add {language}", language="العربية")
    assert fold(label) == fold("add العربية")
