"""Charts in the right-to-left languages (and Bengali) draw every letter: a small chart per
language, with text in that language, and every character drawn looked up in the cmap of the
fonts matplotlib was told to use (fontTools). matplotlib's own "Glyph missing" warning is an
error in this suite too."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from functools import cache

import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.text import Text

from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, Subject
from bot.reports.disclosure import CountTable, disclose
from bot.reports.fonts import NASTALIQ, families, script_of
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import chart, render_png
from tests.unit.test_languages import THIRTEEN

CATALOGS = Catalogs(supported=THIRTEEN)

# Per language: a title, a question, three groups, two answers, and the letters of its own
# that the sample must draw (the ones Arabic itself does not have).
SAMPLES = {
    "ar": (
        "نبض الأمان في العمل المجتمعي",
        "هل شعرتِ بالأمان؟ مسؤولية شيء في بيئة أقوى",
        ("العراق", "سوريا", "اليمن"),
        ("نعم", "لا"),
        "ةىءؤئ",
    ),
    "fa": (
        "گزارش ماهانهٔ پژوهش",
        "چه چیزی در خانۀ کار شما تغییر کرد؟ ژرفای گفتگو",
        ("افغانستان", "ایران", "پاکستان"),
        ("بله", "خیر"),
        "پچژگیۀ",
    ),
    "ur": (
        "ماہانہ سروے: ٹیم اور ڈیٹا",
        "کیا آپ نے بڑی تبدیلیاں دیکھیں؟",
        ("پاکستان", "افغانستان", "ایران"),
        ("ہاں", "نہیں"),
        "ٹڈڑںےھہ",
    ),
    "ps": (
        "میاشتنۍ سروې: ټولنیزه ډله",
        "ایا ښځې ګډون کوي؟ ړومبۍ ږغ، ګڼې ستونزې",
        ("افغانستان", "پاکستان", "ایران"),
        ("هو", "نه"),
        "ټډړښږګڼۍې",
    ),
    "ckb": (
        "ڕاپۆرتی مانگانە",
        "ئێوە لە کۆمەڵگە هەست بە ئاسایش دەکەن؟",
        ("عێراق", "ئێران", "سووریا"),
        ("بەڵێ", "نەخێر"),
        "ڕڵۆێە",
    ),
    "bn": (
        "মাসিক জরিপ",
        "আপনি কি নিরাপদ বোধ করেছেন?",
        ("বাংলাদেশ", "পাকিস্তান", "ইরান"),
        ("হ্যাঁ", "না"),
        "মাসিকজরপআন",
    ),
}


def sample_report(locale: str) -> Report:
    title, question, groups, answers, _letters = SAMPLES[locale]
    by_group = disclose(
        CountTable(("IQ", "SY", "YE"), ("yes", "no"), ((12, 30), (8, 20), (1, 2))), k=5
    )
    overall = disclose(CountTable(("",), ("yes", "no"), ((21, 52),)), k=5)
    return Report(
        subject=Subject.SURVEY,
        title=title,
        locale=locale,
        period="2026-01 @wasl #12",  # Latin, digits and signs in right-to-left text too
        breakdown=Breakdown.COUNTRY,
        breakdown_label=question[:12],
        k=5,
        generated_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        sections=(
            Section("by", question, SectionKind.CHOICE, by_group, groups, answers),
            Section("all", question, SectionKind.CHOICE, overall, ("",), answers),
        ),
        responses=73,
        reference="pulse",
    )


@cache
def cmap(family: str) -> frozenset[int]:
    path = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    return frozenset(TTFont(path, fontNumber=0).getBestCmap())


def drawn(text: str) -> str:
    """The characters that need a glyph: not spaces, not invisible format characters."""
    return "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc")
    )


@pytest.mark.parametrize("locale", list(SAMPLES))
def test_every_glyph_drawn_is_in_the_fonts_used(locale: str) -> None:
    _ = CATALOGS.get(locale)
    assert _.rtl == (locale != "bn")
    figure = chart(sample_report(locale), _, width_px=480)
    figure.canvas.draw()  # makes the tick labels, and warns of any glyph missing
    script_font = families(locale)[0]
    letters = set()
    missing = []
    for text in figure.findobj(Text):
        if not text.get_visible() or not text.get_text():
            continue
        fonts = list(text.get_fontfamily())
        assert fonts == families(locale), f"{text.get_text()!r} in {fonts}"
        for ch in drawn(text.get_text()):
            letters.add(ch)
            covering = [f for f in fonts if ord(ch) in cmap(f)]
            if not covering:
                missing.append(f"{ch!r} U+{ord(ch):04X} in {text.get_text()!r}")
            elif unicodedata.bidirectional(ch) in ("R", "AL") or "\u0980" <= ch <= "\u09ff":
                assert covering[0] == script_font, f"{ch!r} drawn from {covering[0]}"
    assert not missing, "no glyph in " + ", ".join(families(locale)) + ": " + "; ".join(missing)
    own = SAMPLES[locale][4]
    assert set(own) <= letters, f"the sample drew {set(own) - letters} nowhere"
    assert script_font != "DejaVu Sans", "a font made for the script, not the fallback"


@pytest.mark.parametrize("locale", ["ar", "fa", "ur", "ps", "ckb"])
def test_right_to_left_charts_are_mirrored(locale: str) -> None:
    figure = chart(sample_report(locale), CATALOGS.get(locale), width_px=480)
    for axes in figure.axes:
        assert axes.xaxis_inverted(), "bars grow leftwards"
        assert axes.yaxis.get_ticks_position() == "right", "names on the right"
    english = chart(sample_report("ar"), CATALOGS.get("en"), width_px=480)
    assert not any(axes.xaxis_inverted() for axes in english.axes)


def test_a_chart_is_a_png() -> None:
    data = render_png(sample_report("ps"), CATALOGS.get("ps"), width_px=480)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 480


def test_font_order_per_script() -> None:
    everything = {"DejaVu Sans", "Noto Sans Arabic", "Hind Siliguri", NASTALIQ[0]}
    assert families("ur", everything)[:2] == [NASTALIQ[0], "Noto Sans Arabic"]
    assert families("ur", everything - {NASTALIQ[0]})[0] == "Noto Sans Arabic"
    assert families("ps", everything)[:2] == ["Noto Sans Arabic", "DejaVu Sans"]
    assert families("bn", everything)[:2] == ["Hind Siliguri", "DejaVu Sans"]
    assert families("en", everything) == ["DejaVu Sans", "Noto Sans Arabic", "Hind Siliguri"]
    assert families("ckb", {"DejaVu Sans"}) == ["DejaVu Sans"], "a package missing"
    assert [script_of(code) for code in ("ar", "ckb", "bn", "es")] == [
        "Arab",
        "Arab",
        "Beng",
        "Latn",
    ]
