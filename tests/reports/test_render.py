"""Rendering a disclosed report: text, CSV, XLSX, Markdown, HTML and PNG, in English and Arabic."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from bot.core.i18n import Catalogs
from bot.core.reports import Breakdown, Subject
from bot.reports import render
from bot.reports.disclosure import CountTable, disclose
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import (
    render_csv,
    render_html,
    render_markdown,
    render_png,
    render_text,
    render_xlsx,
    safe_cell,
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
    assert yemen["Yes"]["count"] == "<5" and yemen["Yes"]["hidden"] == "small group"
    assert yemen["Total"]["count"] == "" and yemen["Total"]["hidden"] == "withheld"
    iraq = {r["answer"]: r for r in rows if r["group"] == "Iraq"}
    assert iraq["Total"]["count"] == "42" and iraq["No"]["percent of shown"] == "71.4"


@pytest.mark.parametrize(
    ("locale", "small", "linked"),
    [
        ("fr", "petit groupe", "révélerait un petit groupe"),
        ("ar", "مجموعة صغيرة", "قد تكشف مجموعة صغيرة"),
    ],
)
def test_csv_says_why_a_cell_is_hidden_in_her_language(
    locale: str, small: str, linked: str
) -> None:
    _ = CATALOGS.get(locale)
    rows = list(csv.reader(io.StringIO(render_csv(report(locale), _).decode("utf-8-sig"))))
    header, cells = rows[0], rows[1:]
    hidden = header.index(_("hidden"))
    assert header[hidden] != "hidden"
    why = {row[hidden] for row in cells if row[hidden]}
    assert why == {small, linked, _("withheld")}, why


def test_percentages_are_written_the_way_her_language_writes_them() -> None:
    """CLDR's own percent pattern: French puts a no-break space before the sign."""
    assert "71\u00a0%" in render_text(report("fr"), CATALOGS.get("fr"))
    assert "71%" in render_text(report(), CATALOGS.get("en"))


def test_xlsx_tabs_of_counts_over_time_are_named_in_her_language() -> None:
    _ = CATALOGS.get("fr")
    long = "Membres actives ayant rejoint l’alliance pendant la période choisie"
    base = report("fr")
    counts = replace(
        base,
        subject=Subject.MEMBERSHIP,
        sections=(
            replace(base.sections[0], title=long),
            replace(base.sections[0], sheet="Nouvelles : [terrain]"),
        ),
    )
    book = load_workbook(io.BytesIO(render_xlsx(counts, _)))
    assert book.sheetnames == [
        "Membres actives ayant rejoint",  # cut at a word, within Excel's 31 characters
        "Nouvelles - -terrain-",  # characters a tab may not hold replaced
        _("notes"),
    ]


def test_xlsx_has_a_sheet_per_table_and_notes_right_to_left_in_arabic() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(report("ar"), CATALOGS.get("ar"))))
    notes = CATALOGS.get("ar")("notes")
    assert book.sheetnames == ["السؤال 1", "السؤال 2", notes], "every tab named in Arabic"
    assert notes != "notes"
    assert book[notes].sheet_view.rightToLeft
    values = [c for row in book["السؤال 1"].iter_rows(values_only=True) for c in row]
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


# -- HTML ---------------------------------------------------------------------------------------

LABELS = {
    "en": ("Where?", ("Basra", "Mosul & <Nineveh>", "Erbil"), ("North", "South", "Both")),
    "ar": ("أين؟", ("البصرة", "الموصل & <نينوى>", "أربيل"), ("الشمال", "الجنوب", "كلاهما")),
}
ALLOWED_TAGS = {"section", "h2", "dl", "dt", "dd", "h3", "table", "thead", "tbody", "tr", "th"}
ALLOWED_TAGS |= {"td", "p"}


def html_report(locale: str = "en", title: str = "Pulse | safety") -> Report:
    """report() and a table whose rows are partly hidden (primary and secondary) and whose
    labels need escaping, with a section note; a shown total of 1285 (grouped in the locale)."""
    heading, rows, columns = LABELS[locale]
    where = disclose(
        CountTable(
            ("a", "b", "c"), ("n", "s", "both"), ((20, 3, 15), (1240, 40, 30), (25, 18, 22))
        ),
        k=5,
    )
    section = Section(
        "where", heading, SectionKind.CHOICE, where, rows, columns, ("Several <answers> & more",)
    )
    base = report(locale)
    return replace(base, title=title, sections=(*base.sections, section))


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, tag: str) -> list[Node]:
        return [node for node in self.walk() if node.tag == tag]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class TreeBuilder(HTMLParser):
    """A fragment as a tree; fails on a tag closed out of order or left open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [Node("#root", {})]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse_html(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    assert len(builder.stack) == 1, f"<{builder.stack[-1].tag}> left open"
    (section,) = builder.stack[0].children
    return section


def html_rows(table: Node) -> list[list[Node]]:
    return [row.children for row in table.find("tr")]


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Each Markdown table as lines of cells, header first (the separator line left out)."""
    tables: list[list[list[str]]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line[2:-2].split(" | "))
        previous = line
    return tables


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_html_tables_show_the_same_cells_as_markdown(locale: str) -> None:
    _ = CATALOGS.get(locale)
    data = html_report(locale)
    section = parse_html(render_html(data, _))
    expected = markdown_tables(render_markdown(data, _))
    tables = section.find("table")
    assert [h.text for h in section.find("h3")] == [s.title for s in data.sections]
    assert len(tables) == len(expected) == 3
    for table, (header, *lines) in zip(tables, expected, strict=True):
        (head,) = table.find("thead")
        (body,) = table.find("tbody")
        assert [th.text for th in html_rows(head)[0]] == [data.breakdown_label, *header[1:]]
        rows = html_rows(body)
        assert len(rows) == len(lines), "the groups, then the totals row when Markdown has one"
        assert [[c.text for c in row] for row in rows] == lines
        assert all(len(row) == len(header) for row in rows)
        assert all(row[0].tag == "th" and {c.tag for c in row[1:]} == {"td"} for row in rows)
    where = [[c.text for c in row] for row in html_rows(tables[2].find("tbody")[0])]
    assert where[1][0] == LABELS[locale][1][1], "the label unescaped once parsed"
    assert where[1][-1] == _.number(1310) and where[3][1] == _.number(1285)
    assert where[0][2:4] == ["<5", "x"] and where[0][1].startswith("20 (")


def test_html_marks_hidden_cells_and_withheld_totals() -> None:
    data = html_report()
    section = parse_html(render_html(data, CATALOGS.get("en")))
    for table, source in zip(section.find("table"), data.sections, strict=True):
        d = source.table
        cells = table.find("td")
        assert all("num" in td.classes() for td in cells)
        withheld = sorted(td.text for td in cells if "withheld" in td.classes())
        marks = [d.mark(r, c) for r in range(len(d.rows)) for c in range(len(d.columns))]
        totals = list(d.row_totals) if len(d.columns) > 1 else []
        totals += list(d.column_totals) if len(d.rows) > 1 else []
        totals += [d.total] if len(d.rows) > 1 and len(d.columns) > 1 else []
        expected = [m for m in marks if m in ("x", "<5")] + ["—" for t in totals if t is None]
        assert withheld == sorted(expected)
        shown = {td.text for td in cells if "withheld" not in td.classes()}
        assert not shown & {"<5", "x", "—"}
    where = section.find("table")[2].find("tbody")[0]
    first = [td.text for td in where.find("td") if "withheld" in td.classes()][:3]
    assert first == ["<5", "x", "—"], "primary, secondary, then the withheld row total"


def test_html_escapes_every_text_from_users() -> None:
    title = "<script>alert(1)</script>"
    text = render_html(html_report(title=title), CATALOGS.get("en"))
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Mosul &amp; &lt;Nineveh&gt;" in text and "&lt;5" in text
    section = parse_html(text)
    assert section.attrs == {"class": "report", "lang": "en", "dir": "ltr"}
    assert [h.text for h in section.find("h2")] == [title]
    tags = {n.tag for n in section.walk()}
    assert tags <= ALLOWED_TAGS, "no script, style or anything else"


def test_html_gives_the_meta_and_every_note() -> None:
    _ = CATALOGS.get("ar")
    data = html_report("ar")
    section = parse_html(render_html(data, _))
    assert section.attrs["dir"] == "rtl" and section.attrs["lang"] == "ar"
    (meta,) = section.find("dl")
    assert meta.classes() == {"meta"}
    pairs = [(dt.text, dd.text) for dt, dd in zip(meta.find("dt"), meta.find("dd"), strict=True)]
    assert pairs == render.meta(data, _)
    notes = [p.text for p in section.find("p") if p.classes() == {"note"}]
    assert notes == ["Several <answers> & more", *render.explanation(data, _)]


def hostile_report() -> Report:
    """Labels a coordinator or respondent could have typed, each read as a formula by Excel."""
    table = disclose(CountTable(("IQ", "SY"), ("a", "b"), ((12, 30), (8, 20))), k=5)
    return Report(
        subject=Subject.SURVEY,
        title='=HYPERLINK("http://x")',
        locale="en",
        period="All time",
        breakdown=Breakdown.COUNTRY,
        breakdown_label="By country",
        k=5,
        generated_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        sections=(
            Section(
                "q",
                '=HYPERLINK("http://x")',
                SectionKind.CHOICE,
                table,
                ("@SUM(A1)", "\tTab"),
                ("+1", "-2"),
                notes=("=1+1",),
            ),
        ),
        responses=70,
        reference="pulse-test",
    )


HOSTILE = ('=HYPERLINK("http://x")', "@SUM(A1)", "\tTab", "+1", "-2", "=1+1")


def test_safe_cell_quotes_formula_text_and_keeps_numbers() -> None:
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("-2") == "'-2", "text, even if it looks like a number"
    assert safe_cell("\rx") == "'\rx"
    assert safe_cell(-2) == -2 and safe_cell(0.5) == 0.5, "real numbers stay numbers"
    assert safe_cell("Iraq") == "Iraq" and safe_cell("") == ""


def test_csv_neutralises_cells_a_spreadsheet_would_run() -> None:
    data = render_csv(hostile_report(), CATALOGS.get("en"))
    cells = [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    for text in HOSTILE[:5]:
        assert "'" + text in cells
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert {r["count"] for r in rows} >= {"12", "30", "42"}, "counts stay plain numbers"


def test_xlsx_writes_text_as_strings_never_formulas() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(hostile_report(), CATALOGS.get("en"))))
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "no formula anywhere"
    texts = {c.value for c in cells if c.data_type == "s"}
    for text in HOSTILE:
        assert "'" + text in texts, text
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    numbers = [c.value for c in cells if c.data_type == "n"]
    assert 12 in numbers and 42 in numbers, "counts stay numeric"
    assert any(isinstance(n, float) and 0 < n < 1 for n in numbers), "shares stay numeric"
