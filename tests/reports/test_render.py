"""Rendering a disclosed report: text, CSV, XLSX, Markdown and PNG, in English and Arabic."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, Subject
from bot.reports import render
from bot.reports.disclosure import CountTable, disclose
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import (
    render_csv,
    render_markdown,
    render_png,
    render_text,
    render_xlsx,
    shape,
)

CATALOGS = Catalogs()


def report(locale: str = "en", breakdown: Breakdown = Breakdown.COUNTRY) -> Report:
    threat = disclose(
        CountTable(("IQ", "SY", "YE"), ("yes", "no"), ((12, 30), (8, 20), (1, 2))), k=5
    )
    note = disclose(CountTable(("",), ("n",), ((7,),)), k=5)
    return Report(
        subject=Subject.SURVEY,
        title="Pulse | safety",
        locale=locale,
        period="All time",
        breakdown=breakdown,
        breakdown_label="By country",
        k=5,
        generated_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        sections=(
            Section(
                "threat",
                "Were you threatened?",
                SectionKind.CHOICE,
                threat,
                ("Iraq", "Syria", "Yemen"),
                ("Yes", "No"),
            ),
            Section("note", "Anything else?", SectionKind.TEXT, note, ("All",), ("answers",)),
        ),
        responses=73,
        reference="pulse-test",
    )


def test_text_summary_is_short_and_counts_hidden_groups() -> None:
    _ = CATALOGS.get("en")
    text = render_text(report(), _)
    assert "73 responses." in text
    assert "Iraq — No: 71% · Yes: 29%" in text
    assert "Yemen" not in text, "a wholly hidden group is only counted"
    assert "2 groups hidden to protect small groups." in text, "Syria protects Yemen"
    assert "*" not in text, "no group is partly hidden"
    assert "7 free-text answers, withheld" in text
    short = render_text(report(), _, limit=120)
    assert len(short) < 250 and "More in the file." in short


def test_csv_has_a_bom_hidden_marks_and_withheld_totals() -> None:
    data = render_csv(report(), CATALOGS.get("en"))
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    yemen = {r["answer"]: r for r in rows if r["group"] == "Yemen"}
    assert yemen["Yes"]["count"] == "<5" and yemen["Yes"]["hidden"] == "small"
    assert yemen["Total"]["count"] == "" and yemen["Total"]["hidden"] == "withheld"
    iraq = {r["answer"]: r for r in rows if r["group"] == "Iraq"}
    assert iraq["Total"]["count"] == "42" and iraq["No"]["percent of shown"] == "71.4"


def test_xlsx_has_a_sheet_per_table_and_notes_right_to_left_in_arabic() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(report("ar"), CATALOGS.get("ar"))))
    notes = CATALOGS.get("ar")("notes")
    assert book.sheetnames == ["1 threat", "2 note", notes], "the notes tab named in Arabic"
    assert notes != "notes"
    assert book[notes].sheet_view.rightToLeft
    values = [c for row in book["1 threat"].iter_rows(values_only=True) for c in row]
    assert "<5" in values and "—" in values, "hidden cells and withheld totals"


def test_markdown_escapes_table_characters() -> None:
    text = render_markdown(report(), CATALOGS.get("en"))
    assert text.startswith("# Pulse \\| safety")
    assert "| Iraq | 12 (29%) | 30 (71%) | 42 |" in text
    assert "| Yemen | <5 | <5 | — |" in text


@pytest.mark.parametrize("locale", ["en", "ar", "fr"])
@pytest.mark.parametrize("breakdown", [Breakdown.NONE, Breakdown.COUNTRY])
def test_png_is_a_phone_sized_chart(locale: str, breakdown: Breakdown) -> None:
    data = render_png(report(locale, breakdown), CATALOGS.get(locale))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    assert width == 800


def test_arabic_is_shaped_only_where_matplotlib_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    word = "العراق"
    assert shape("Iraq") == "Iraq"
    monkeypatch.setattr(render, "lays_out_complex_text", lambda: True)
    assert shape(word) == word, "matplotlib with libraqm shapes it itself"
    monkeypatch.setattr(render, "lays_out_complex_text", lambda: False)
    shaped = shape(word)
    assert shaped != word and any("\ufe70" <= ch <= "\ufeff" for ch in shaped)
    assert shaped[0] != word[0], "in visual order: the last letter first"
