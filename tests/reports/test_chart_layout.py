"""Chart layout: the PNG's texts stay inside the image and apart from each other (a long
title, a long question, Arabic), and a group with hidden cells is never drawn as a whole bar;
the dashboard's SVG charts (bot/reports/svg.py) say the same with classes only, mirrored in
right-to-left pages, and never draw a hidden value."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, Subject
from bot.reports.disclosure import Keyed, perturb_table
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import chart
from bot.reports.svg import average_text, section_chart
from bot.services.reports import keyed_table

CATALOGS = Catalogs()
LONG_TITLE = {
    "en": "Pulse: safety, community work and the threats practitioners met this month",
    "ar": "نبض: الأمان والعمل المجتمعي والتهديدات التي واجهتها الممارسات هذا الشهر",
}
LONG_QUESTION = {
    "en": "How safe did you feel doing community work this month, at home, at work and online?",
    "ar": "ما مدى شعوركِ بالأمان أثناء عملكِ المجتمعي هذا الشهر، في البيت والعمل وعلى الإنترنت؟",
}


def survey(locale: str, rows: tuple[tuple[int, ...], ...]) -> Report:
    groups = ("IQ", "SY", "YE")[: len(rows)]
    columns = ("1", "2", "3", "4", "5")
    units = [
        ([g], [c], Keyed(n, 7 * (i + 1) + j))
        for i, (g, line) in enumerate(zip(groups, rows, strict=True))
        for j, (c, n) in enumerate(zip(columns, line, strict=True))
    ]
    # As survey results are published (the cell-key method), without noise: only cells
    # under k are hidden, and every total is published.
    table = perturb_table(keyed_table(units, groups, columns), k=5, d=0)
    section = Section(
        "safe",
        LONG_QUESTION[locale],
        SectionKind.CHOICE,
        table,
        ("Iraq", "Syria", "Yemen")[: len(rows)],
        ("1 – Not at all", "2", "3", "4", "5 – Completely"),
        values=(1.0, 2.0, 3.0, 4.0, 5.0),
    )
    return Report(
        subject=Subject.SURVEY,
        title=LONG_TITLE[locale],
        locale=locale,
        period="Dec 29, 2025 to Jan 12, 2026",
        breakdown=Breakdown.COUNTRY if len(rows) > 1 else Breakdown.NONE,
        breakdown_label="By country",
        k=5,
        generated_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        sections=(section, replace(section, key="again")),
        responses=90,
    )


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_png_texts_stay_inside_and_apart(locale: str) -> None:
    rows = ((12, 10, 9, 11, 8), (6, 7, 2, 9, 8), (10, 10, 10, 10, 10))
    figure = chart(survey(locale, rows), CATALOGS.get(locale), width_px=800)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    width, height = figure.bbox.width, figure.bbox.height
    boxes = []
    for text in figure.texts:
        if not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width, f"cut at an edge: {text.get_text()[:30]!r}"
        assert box.y0 >= 0 and box.y1 <= height, f"cut at the top or bottom: {text.get_text()!r}"
        boxes.append((text.get_text(), box))
    for i, (first, a) in enumerate(boxes):
        for second, b in boxes[i + 1 :]:
            assert not a.overlaps(b), f"{first[:20]!r} overlaps {second[:20]!r}"
    title, subtitle = boxes[0][1], boxes[1][1]
    assert title.y0 > subtitle.y1, "the subtitle is under the title"
    assert "\n" in boxes[0][0] and "\n" in boxes[2][0], "a long title and question wrap"
    axes = figure.axes[0]
    question = boxes[2][1]
    assert question.y0 > axes.get_window_extent(renderer).y1, "the question above its bars"


def test_a_group_with_hidden_cells_is_not_drawn_as_a_whole_bar() -> None:
    from matplotlib.colors import to_hex
    from matplotlib.patches import Rectangle

    rows = ((12, 10, 9, 11, 8), (6, 7, 2, 9, 8), (10, 10, 10, 10, 10))
    report = survey("en", rows)
    table = report.sections[0].table
    assert table.row_has_hidden(1) and not table.row_has_hidden(0)
    figure = chart(report, CATALOGS.get("en"), width_px=800)
    shown: dict[int, float] = {}
    grey: dict[int, float] = {}
    for bar in figure.axes[0].patches:
        assert isinstance(bar, Rectangle)
        row = round(bar.get_y() + bar.get_height() / 2)  # Iraq 2, Syria 1, Yemen 0
        into = grey if to_hex(bar.get_facecolor()) == "#dddddd" else shown
        into[row] = into.get(row, 0.0) + bar.get_width()
    assert shown[2] == pytest.approx(100) and shown[0] == pytest.approx(100)
    assert 0 < shown[1] < 100, "Syria's shown answers are not stretched to the whole bar"
    assert shown[1] + grey[1] == pytest.approx(100), "the rest is drawn grey: unknown"


def test_svg_charts_use_classes_mirror_and_hide() -> None:
    rows = ((12, 10, 9, 11, 8), (6, 7, 2, 9, 8), (10, 10, 10, 10, 10))
    for locale in ("en", "ar"):
        _ = CATALOGS.get(locale)
        section = survey(locale, rows).sections[0]
        svg = section_chart(section, _)
        assert svg.startswith('<svg class="chart"') and "style=" not in svg
        assert "<script" not in svg and "<title>" in svg
        assert f'direction="{"rtl" if _.rtl else "ltr"}"' in svg
        first = re.search(r'<text x="([^"]+)"', svg)
        assert first and first.group(1) == ("100%" if _.rtl else "0"), "names at her start"
        assert 'class="gap' in svg, "Syria's hidden part is grey"
        assert svg.count("faded") == 4, "Syria's shown answers faded"
        assert 'class="legend"' in svg
    whole = survey("en", ((12, 10, 9, 11, 2),)).sections[0]
    svg = section_chart(whole, CATALOGS.get("en"))
    assert "&lt;5" in svg, "a hidden answer shows its mark"
    assert svg.count("<rect") == 4, "and no bar"
    assert average_text(whole, 0, CATALOGS.get("en")) == "", "no average over a hidden cell"
    full = survey("en", ((12, 10, 9, 11, 8),)).sections[0]
    assert average_text(full, 0, CATALOGS.get("en")) == "Average: 2.9"


def test_svg_totals_count_people_once() -> None:
    # Nine members in Iraq, each in two spheres: the bar is nine people, not eighteen.
    units = [(["IQ"], ["youth", "vaw"], Keyed(9, 12345))]
    table = perturb_table(keyed_table(units, ["IQ"], ["youth", "vaw"]), k=5, d=0)
    section = Section(
        "membership", "Members", SectionKind.TABLE, table, ("Iraq",), ("Youth", "VAW"),
        overlapping=True,
    )  # fmt: skip
    svg = section_chart(section, CATALOGS.get("en"))
    assert ">9</text>" in svg and ">18</text>" not in svg
