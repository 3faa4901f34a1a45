"""Render a disclosed report: a short text for the chat, a PNG chart, CSV, XLSX, Markdown and
HTML.

Everything here reads a `Report`, whose tables already went through disclosure control: the
renderers never see a raw count of a small group, a person, a chat id or a free-text answer.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

from babel.numbers import format_percent

from bot.core.i18n import N_, Translator
from bot.core.reports import Breakdown, Subject
from bot.reports.disclosure import Disclosed, Hidden
from bot.reports.model import Report, Section, SectionKind

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TEXT_LIMIT = 3500  # a chat message stays well under Telegram's 4096 characters
TOP_ANSWERS = 3
MAX_GROUPS = 8
WITHHELD = "—"  # a total that is not published
# Why a cell is hidden, in the CSV's "hidden" column.
HIDDEN_LABELS = {
    Hidden.SMALL: N_("small group"),
    Hidden.LINKED: N_("would reveal a small group"),
}
# Bidi marks, embeddings and isolates (not the zero-width joiners Persian words need).
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


# -- shared helpers -------------------------------------------------------------------------

# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV
# injection"): a title or label a coordinator typed could otherwise run in a reader's Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value as every export writes it: text that a spreadsheet would take for a formula gets
    a leading single quote; numbers (negative ones too) stay numbers.

    CSV, XLSX (the CLI, the dashboard and /report) all go through here.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def percent(value: float, locale: str) -> str:
    """41% in her locale's way of writing it: the locale's own CLDR pattern and symbols
    ("41 %" in French), rounded to a whole percent."""
    return format_percent(value / 100, locale=locale)


def cell(section: Section, row: int, column: int, _: Translator) -> str:
    """A cell as printed: its number in her locale, or its mark when hidden."""
    value = section.table.cells[row][column]
    return _.number(value) if value is not None else section.table.mark(row, column)


def total(value: int | None, _: Translator) -> str:
    return _.number(value) if value is not None else WITHHELD


def perturbed(report: Report) -> bool:
    """Its figures went through the cell-key method (counts over time), not suppression."""
    return any(s.table.noise for s in report.sections)


def explanation(report: Report, _: Translator) -> list[str]:
    """How to read the numbers: the same words in every output."""
    k = report.k
    if perturbed(report):
        # The report's own notes say how figures are perturbed and small groups hidden.
        return [
            _(
                "A total is a figure of its own, perturbed like the others: it need not be "
                "the sum of the figures shown. A total under {k} is shown as “—”.",
                k=k,
            ),
            *report.notes,
        ]
    lines = [
        _(
            "Groups of fewer than {k} people are shown as “<{k}”. A cell that would let "
            "such a group be worked out from a total is hidden too, shown as “x”.",
            k=k,
        ),
        _(
            "A total is given only when nothing in its row or column is hidden; otherwise "
            "it is shown as “—”."
        ),
        _(
            "Percentages are of the cells shown only: in a row with hidden cells they are "
            "not shares of the whole row."
        ),
    ]
    return lines + list(report.notes)


def meta(report: Report, _: Translator) -> list[tuple[str, str]]:
    """The facts about a report, as (label, value) pairs."""
    rows = [(_("Report"), report.title)]
    if report.reference:
        rows.append((_("Reference"), report.reference))
    rows += [
        (_("Period"), report.period),
        (_("Breakdown"), report.breakdown_label),
        (_("Smallest group shown (k)"), _.number(report.k)),
    ]
    if perturbed(report):
        noise = max(s.table.noise for s in report.sections)
        rows.append((_("Figures perturbed by at most"), f"±{_.number(noise)}"))
    if report.subject is Subject.SURVEY:
        rows.append((_("Responses"), responses(report, _)))
    rows.append((_("Made"), f"{_.datetime(report.generated_at)} UTC"))
    return rows


def responses(report: Report, _: Translator) -> str:
    if report.responses is None:
        return _("fewer than {k}", k=report.k)
    return _.number(report.responses)


def _shown_parts(
    section: Section, row: int, _: Translator, *, as_share: bool
) -> tuple[list[str], int]:
    """The row's largest shown cells, largest first, and how many cells it has hidden."""
    table = section.table
    shares = table.shares(row)
    shown = [
        (value, column)
        for column, value in enumerate(table.cells[row])
        if value is not None and value > 0
    ]
    shown.sort(key=lambda item: (-item[0], item[1]))
    parts = []
    for value, column in shown[:TOP_ANSWERS]:
        share = shares[column]
        amount = percent(share, _.locale) if as_share and share is not None else _.number(value)
        parts.append(f"{section.column_labels[column]}: {amount}")
    hidden = sum(1 for h in table.hidden[row] if h is not None)
    return parts, hidden


# -- text ---------------------------------------------------------------------------------------


def render_text(report: Report, _: Translator, *, limit: int = TEXT_LIMIT) -> str:
    """A short summary for the chat; the full tables go in the file."""
    head = [f"📊 {report.title}", f"{report.period} · {report.breakdown_label}"]
    if report.subject is Subject.SURVEY:
        if report.responses is None:
            head.append(_("Fewer than {k} responses.", k=report.k))
        else:
            head.append(_.plural("{n} response.", "{n} responses.", report.responses))
    head.append(_("Groups of fewer than {k} people are hidden.", k=report.k))
    if perturbed(report):
        head += list(report.notes)
    text = "\n".join(head)
    for index, section in enumerate(report.sections, 1):
        block = "\n".join([f"\n{index}. {section.title}", *_section_lines(report, section, _)])
        if len(text) + len(block) > limit:
            text += "\n\n" + _("More in the file.")
            break
        text += "\n" + block
    return text + _footnote(report.sections, _, "\n\n")


def _partly_hidden(section: Section) -> bool:
    """Some group shows some cells and hides others (its name gets a "*")."""
    table = section.table
    return any(table.row_has_hidden(r) and any(table.cells[r]) for r in range(len(table.rows)))


def _footnote(sections: Sequence[Section], _: Translator, before: str) -> str:
    """What the "*" after a group's name means, when some group has one."""
    hidden = [s for s in sections if _partly_hidden(s)]
    if any(s.kind in (SectionKind.CHOICE, SectionKind.NUMBER) for s in hidden):
        return before + _("* Some cells hidden: shares are of the cells shown.")
    if hidden:
        return before + _("* Some cells of this group are hidden.")
    return ""


def _section_lines(report: Report, section: Section, _: Translator) -> list[str]:
    table = section.table
    if section.kind is SectionKind.TEXT:
        count = cell(section, 0, 0, _)
        return [_("{n} free-text answers, withheld to protect who wrote them.", n=count)]
    if table.empty:
        return [_("No answers.")]
    if not section.shown:
        return [_("Every group is too small to show.")]
    as_share = section.kind is not SectionKind.TABLE
    lines, too_small, listed = [], 0, 0
    for row in range(len(table.rows)):
        parts, hidden = _shown_parts(section, row, _, as_share=as_share)
        if not parts:
            too_small += 1 if hidden else 0
            continue
        if listed == MAX_GROUPS:
            listed += 1
            continue
        listed += 1
        mark = " *" if hidden else ""
        prefix = (
            "" if report.breakdown is Breakdown.NONE else f"{section.row_labels[row]}{mark} — "
        )
        lines.append(prefix + " · ".join(parts))
    if listed > MAX_GROUPS:
        lines.append(_("…and more groups in the file."))
    if too_small:
        lines.append(
            _.plural(
                "{n} group hidden to protect small groups.",
                "{n} groups hidden to protect small groups.",
                too_small,
            )
        )
    return lines


# -- CSV ----------------------------------------------------------------------------------------


def render_csv(report: Report, _: Translator) -> bytes:
    """Long format, one line per cell; UTF-8 with a BOM so Excel reads Arabic correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = [
        _("section"),
        _("question"),
        _("group"),
        _("answer"),
        _("count"),
        _("hidden"),
        _("percent of shown"),
    ]
    writer.writerow([safe_cell(value) for value in header])
    for section in report.sections:
        for row in _csv_rows(section, _):
            writer.writerow([safe_cell(value) for value in row])
    if perturbed(report):
        for line in explanation(report, _):
            writer.writerow([safe_cell(value) for value in (_("notes"), line, "", "", "", "", "")])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_rows(section: Section, _: Translator) -> Iterator[list[str]]:
    table = section.table
    for r in range(len(table.rows)):
        shares = table.shares(r)
        for c in range(len(table.columns)):
            value = table.cells[r][c]
            hidden = table.hidden[r][c]
            share = shares[c]
            yield [
                section.key,
                section.title,
                section.row_labels[r],
                section.column_labels[c],
                str(value) if value is not None else table.mark(r, c),
                _(HIDDEN_LABELS[hidden]) if hidden is not None else "",
                f"{share:.1f}" if share is not None and value else "",
            ]
        if len(table.columns) > 1:
            row_total = table.row_totals[r]
            yield [
                section.key,
                section.title,
                section.row_labels[r],
                _("Total"),
                str(row_total) if row_total is not None else "",
                "" if row_total is not None else _("withheld"),
                "",
            ]


# -- Markdown -----------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, _: Translator) -> str:
    lines = [f"# {_md(report.title)}", ""]
    lines += [f"- **{label}:** {_md(value)}" for label, value in meta(report, _)]
    for index, section in enumerate(report.sections, 1):
        lines += ["", f"## {index}. {_md(section.title)}", ""]
        lines += _markdown_table(section, _)
        lines += [f"\n_{_md(note)}_" for note in section.notes]
    notes = _("Notes")  # outside the f-string, where pybabel finds it
    lines += ["", f"## {notes}", ""]
    lines += [f"- {_md(line)}" for line in explanation(report, _)]
    return "\n".join(lines) + "\n"


def _markdown_table(section: Section, _: Translator) -> list[str]:
    columns, rows = _grid(section, _)
    header = ["", *columns]
    lines = [
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for label, cells in rows:
        lines.append("| " + " | ".join([_md(label), *(c.text for c in cells)]) + " |")
    return lines


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str  # a number in her locale (with its share), a hidden mark or a withheld total
    withheld: bool


def _grid(section: Section, _: Translator) -> tuple[list[str], list[tuple[str, list[_Cell]]]]:
    """A section's table as Markdown and HTML print it: the column labels (then "Total" when
    there is a total column), and each row's label and cells (then the totals row, if any)."""
    table = section.table
    with_total = len(table.columns) > 1
    columns = [*section.column_labels] + ([_("Total")] if with_total else [])
    as_share = section.kind in (SectionKind.CHOICE, SectionKind.NUMBER)
    rows = []
    for r in range(len(table.rows)):
        shares = table.shares(r)
        cells = []
        for c in range(len(table.columns)):
            text = cell(section, r, c, _)
            share = shares[c]
            if as_share and share is not None and table.cells[r][c]:
                text += f" ({percent(share, _.locale)})"
            cells.append(_Cell(text, table.cells[r][c] is None))
        if with_total:
            cells.append(_total_cell(table.row_totals[r], _))
        rows.append((section.row_labels[r], cells))
    if len(table.rows) > 1:
        totals = [_total_cell(t, _) for t in table.column_totals]
        if with_total:
            totals.append(_total_cell(table.total, _))
        rows.append((_("Total"), totals))
    return columns, rows


def _total_cell(value: int | None, _: Translator) -> _Cell:
    return _Cell(total(value, _), value is None)


# -- HTML ---------------------------------------------------------------------------------------


def render_html(
    report: Report, _: Translator, chart: Callable[[Section], str] | None = None
) -> str:
    """The report as an HTML fragment for the dashboard: the Markdown's tables and notes,
    each table after its `chart` (markup the caller made from the same section), and the
    facts about the report (period, k, when made) after the data.

    Every text is escaped: titles, labels and notes come from users' content. Number cells
    have the class "num", hidden cells and withheld totals "withheld"; styling is the page's.
    """
    direction = "rtl" if _.rtl else "ltr"
    lines = [
        f'<section class="report" lang="{escape(_.locale)}" dir="{direction}">',
        f"<h2>{escape(report.title)}</h2>",
    ]
    for section in report.sections:
        lines.append(f"<h3>{escape(section.title)}</h3>")
        if chart is not None:
            lines.append(chart(section))
        lines += _html_table(section, report.breakdown_label, _)
        lines += [f'<p class="note">{escape(note)}</p>' for note in section.notes]
    lines.append('<dl class="meta">')
    lines += [
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in meta(report, _)
    ]
    lines.append("</dl>")
    lines += [f'<p class="note">{escape(line)}</p>' for line in explanation(report, _)]
    lines.append("</section>")
    return "\n".join(lines) + "\n"


def _html_table(section: Section, corner: str, _: Translator) -> list[str]:
    columns, rows = _grid(section, _)
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in [corner, *columns])
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for label, cells in rows:
        tds = "".join(
            f'<td class="num{" withheld" if c.withheld else ""}">{escape(c.text)}</td>'
            for c in cells
        )
        lines.append(f'<tr><th scope="row">{escape(label)}</th>{tds}</tr>')
    return [*lines, "</tbody>", "</table>"]


# -- XLSX ---------------------------------------------------------------------------------------


def render_xlsx(report: Report, _: Translator) -> bytes:
    """One sheet per table, then a "notes" sheet: what, when, k and how to read the numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    bold = Font(bold=True)
    rtl = _.rtl
    # Translators: the name of a spreadsheet tab (at most 31 characters, no / \ ? * [ ]).
    notes_name = _sheet_name(_("notes"), set())
    used: set[str] = {notes_name.lower()}
    for index, section in enumerate(report.sections, 1):
        sheet = book.create_sheet(_sheet_name(_sheet_title(report, section, index, _), used))
        sheet.sheet_view.rightToLeft = rtl
        _append(sheet, [section.title])
        sheet["A1"].font = Font(bold=True, size=13)
        _append(sheet, [])
        _xlsx_table(sheet, section, _, bold)
        for note in section.notes:
            _append(sheet, [note])
        sheet.column_dimensions["A"].width = 28
        for column in range(2, len(section.column_labels) + 3):
            sheet.column_dimensions[_column_letter(column)].width = 14
    notes = book.create_sheet(notes_name)
    notes.sheet_view.rightToLeft = rtl
    for label, value in meta(report, _):
        _append(notes, [label, value])
        notes.cell(row=notes.max_row, column=1).font = bold
    _append(notes, [])
    for line in explanation(report, _):
        _append(notes, [line])
        notes.cell(row=notes.max_row, column=1).alignment = Alignment(wrap_text=False)
    notes.column_dimensions["A"].width = 30
    notes.column_dimensions["B"].width = 50
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _append(sheet: Any, values: Sequence[object]) -> None:
    """Add a row whose text cells are strings, never formulas (we write no formula)."""
    sheet.append([safe_cell(value) for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _xlsx_table(sheet: Any, section: Section, _: Translator, bold: Any) -> None:
    table = section.table
    with_total = len(table.columns) > 1
    header = ["", *section.column_labels] + ([_("Total")] if with_total else [])
    _append(sheet, header)
    header_row = sheet.max_row
    for c in range(1, len(header) + 1):
        sheet.cell(row=header_row, column=c).font = bold
    for r in range(len(table.rows)):
        values: list[object] = [section.row_labels[r]]
        values += [
            table.cells[r][c] if table.cells[r][c] is not None else table.mark(r, c)
            for c in range(len(table.columns))
        ]
        if with_total:
            row_total = table.row_totals[r]
            values.append(row_total if row_total is not None else WITHHELD)
        _append(sheet, values)
    if len(table.rows) > 1:
        totals: list[object] = [_("Total")]
        totals += [t if t is not None else WITHHELD for t in table.column_totals]
        if with_total:
            totals.append(table.total if table.total is not None else WITHHELD)
        _append(sheet, totals)
    if section.kind in (SectionKind.CHOICE, SectionKind.NUMBER):
        _append(sheet, [])
        _append(sheet, [_("Percent of the cells shown")])
        sheet.cell(row=sheet.max_row, column=1).font = bold
        _append(sheet, ["", *section.column_labels])
        for r in range(len(table.rows)):
            shares = table.shares(r)
            _append(
                sheet,
                [
                    section.row_labels[r],
                    *(
                        round(s / 100, 4) if s is not None and table.cells[r][c] else None
                        for c, s in enumerate(shares)
                    ),
                ],
            )
            for c in range(2, len(shares) + 2):
                sheet.cell(row=sheet.max_row, column=c).number_format = "0%"


def _sheet_title(report: Report, section: Section, index: int, _: Translator) -> str:
    """A tab's name in her language: the section's own short name, "Question 3" for a
    survey's third question, else the section's title (cut to fit)."""
    if section.sheet:
        return section.sheet
    if report.subject is Subject.SURVEY:
        return _("Question {n}", n=_.number(index))
    return section.title


def _sheet_name(name: str, used: set[str]) -> str:
    """A tab name Excel accepts (at most 31 characters, none of [ ] : * ? / \\), cut at a word
    where it can be, and unlike the names already `used` (compared case-blind)."""
    name = _BIDI_CONTROLS.sub("", name)  # a tab name is a plain label: no isolates or marks
    clean = re.sub(r"[\[\]:*?/\\]", "-", name).strip() or "sheet"
    if len(clean) > 31:
        cut = clean[:31]
        space = cut.rfind(" ")
        clean = (cut[:space] if space >= 16 else cut).rstrip()
    candidate, n = clean, 2
    while candidate.lower() in used:
        candidate = f"{clean[:28]}-{n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


# -- PNG ----------------------------------------------------------------------------------------


@cache
def lays_out_complex_text() -> bool:
    """True when matplotlib shapes and orders right-to-left text itself (built with libraqm,
    as matplotlib 3.11 wheels are): shaping it again would reverse it back."""
    from matplotlib import ft2font

    return bool(getattr(ft2font, "__libraqm_version__", None))


def shape(text: str) -> str:
    """Arabic letters joined and ordered right to left for a matplotlib that draws glyphs in
    logical order (before 3.11); unchanged where matplotlib does it itself."""
    if not _ARABIC.search(text) or lays_out_complex_text():
        return text
    from arabic_reshaper import reshape
    from bidi.algorithm import get_display

    lines = (str(get_display(reshape(line))) for line in text.split("\n"))
    return "\n".join(lines).translate(_ISOLATES)  # laid out now: the isolates are done


_ISOLATES = str.maketrans(dict.fromkeys("\u2066\u2067\u2068\u2069"))


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def render_png(report: Report, _: Translator, *, width_px: int = 800) -> bytes:
    """Bar charts, one panel per table, sized for a phone: 800 px wide, large type.

    Without a breakdown: one bar per answer. With one: a bar per group, split into its
    answers (shares of the cells shown; hidden cells are left out and the group says so).
    In a right-to-left language the chart is mirrored: bars grow leftwards from the names.
    """
    figure = chart(report, _, width_px=width_px)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


# Sizes of the PNG's parts, in inches (the figure is 100 dpi: 800 px are 8 inches).
BAR_ROW = 0.42
TICKS = 0.45  # the x axis's numbers under a panel
PANEL_GAP = 0.45


def _chars(width_in: float, points: float) -> int:
    """How many characters of `points` type fit in `width_in` inches (an average Latin or
    Arabic letter is about 0.55 em wide)."""
    return max(12, int(width_in * 72 / (points * 0.58)))


def chart(report: Report, _: Translator, *, width_px: int = 800) -> Figure:
    """The figure `render_png` draws, its texts in fonts that have their letters
    (`bot.reports.fonts`).

    Laid out top to bottom in inches, each part where the ones above it end: the title
    (wrapped to the width), its subtitle, then per table its question (wrapped, from the
    reading side's edge), its bars, their axis and legend; then the footer. Nothing is
    placed by guesswork, so a long title or question, or a tall script, moves what follows
    instead of overlapping it."""
    # The object API, not pyplot: no global state, so charts can be drawn in worker threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from bot.reports.fonts import families, has_bold

    fonts = families(_.locale)
    dpi = 100
    width = width_px / dpi
    panels = [s for s in report.sections if s.kind is not SectionKind.TEXT]
    title = _wrap(report.title, _chars(width * 0.92, 18))
    subtitle = _wrap(f"{report.period} · {report.breakdown_label}", _chars(width * 0.92, 12))
    footer = _("Groups of fewer than {k} people are hidden.", k=report.k)
    if perturbed(report):
        footer += " " + _(
            "Figures are perturbed by at most ±{d}.", d=report.sections[0].table.noise
        )
    footer = "\n".join(_wrap(line, _chars(width * 0.96, 10)) for line in footer.split("\n"))
    footer += _footnote(panels, _, "\n")
    questions = [_wrap(s.title, _chars(width * 0.94, 14)) for s in panels]
    weight = "bold" if has_bold(fonts[0]) else "normal"
    title_height = _height(title, 18, fonts, weight)
    subtitle_height = _height(subtitle, 12, fonts)
    head = 0.3 + title_height + 0.1 + subtitle_height + 0.3
    question_heights = [_height(q, 14, fonts) for q in questions]
    blocks = [
        asked + 0.15 + _bars_height(s) + TICKS + _legend_height(s)
        for asked, s in zip(question_heights, panels, strict=True)
    ] or [1.0]
    foot = 0.45 + _height(footer, 10, fonts)
    height = head + sum(blocks) + PANEL_GAP * (len(blocks) - 1) + foot
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)

    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height

    side, align = (0.98, "right") if _.rtl else (0.02, "left")
    figure.text(0.5, y(0.3), shape(title), ha="center", va="top", fontsize=18, fontweight=weight)
    figure.text(
        0.5,
        y(0.3 + title_height + 0.1),
        shape(subtitle),
        ha="center",
        va="top",
        fontsize=12,
        color="#444444",
    )
    left, right = (0.05, 0.7) if _.rtl else (0.3, 0.95)  # names on her reading side
    top = head
    if not panels:
        figure.text(0.5, y(head + 0.5), shape(_("No data to chart.")), ha="center", fontsize=14)
    for question, asked, section, block in zip(
        questions, question_heights, panels, blocks, strict=True
    ):
        figure.text(side, y(top), shape(question), ha=align, va="top", fontsize=14)
        bars_top = top + asked + 0.15
        bars = _bars_height(section)
        axes = figure.add_axes((left, y(bars_top + bars), right - left, bars / height))
        _panel(axes, section, report, _, legend_at=-(TICKS + 0.05) / bars)
        top += block + PANEL_GAP
    figure.text(side, y(height - foot + 0.1), shape(footer), ha=align, va="top", fontsize=10,
                color="#555555")  # fmt: skip
    for axes in figure.axes:
        axes.tick_params(labelfontfamily=fonts)  # tick labels are made when drawn
    for text in figure.findobj(Text):
        text.set_fontfamily(fonts)
    return figure


def bar_base(table: Disclosed, row: int) -> int:
    """What a group's bar stands for as a whole: the sum of its cells; with hidden cells, its
    published total, or where that is withheld, the shown cells plus what each hidden one
    may hold at least short of k (k-1 for "<k", k for "x"), so the part shown is never
    stretched to the whole bar and the rest is drawn as unknown."""
    line = table.cells[row]
    shown = sum(n or 0 for n in line)
    if not table.row_has_hidden(row):
        return shown
    total = table.row_totals[row]
    if total is not None:
        return max(shown, total)
    return shown + sum(
        (table.k - 1 if kind is Hidden.SMALL else table.k) for kind in table.hidden[row] if kind
    )


def _height(text: str, points: float, fonts: list[str], weight: str = "normal") -> float:
    """How tall `text` is drawn, in inches, in these fonts (measured: a script's font may be
    much taller than its size says, as Arabic fonts are)."""
    return _measured(shape(text), points, tuple(fonts), weight)


@cache
def _measured(text: str, points: float, fonts: tuple[str, ...], weight: str) -> float:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    drawn = figure.text(0, 0, text, fontsize=points, fontweight=weight, fontfamily=list(fonts))
    box = drawn.get_window_extent()  # with the figure's own (Agg) renderer
    return float(box.height) / 100


def _legend_height(section: Section) -> float:
    """Inches taken below a panel by its legend (two answers per line)."""
    if len(section.table.rows) <= 1 or not section.shown or _totals_only(section):
        return 0.0
    entries = len(section.column_labels) + (1 if _any_gap(section) else 0)
    return 0.33 * ((entries + 1) // 2) + 0.1


def _bars_height(section: Section) -> float:
    if not section.shown:
        return 0.8
    rows = len(section.table.rows) if len(section.table.rows) > 1 else len(section.table.columns)
    return 0.3 + BAR_ROW * rows


def _totals_only(section: Section) -> bool:
    """A table whose columns overlap (a member in several spheres): its groups are drawn by
    their totals, people once each, not stacked by column."""
    return section.overlapping and len(section.table.columns) > 1


def _any_gap(section: Section) -> bool:
    table = section.table
    return any(table.row_has_hidden(r) and any(table.cells[r]) for r in range(len(table.rows)))


def _panel(
    axes: Axes, section: Section, report: Report, _: Translator, *, legend_at: float
) -> None:
    axes.spines[["top", "left" if _.rtl else "right"]].set_visible(False)
    table = section.table
    if not section.shown:
        axes.axis("off")
        message = _("No answers.") if table.empty else _("Every group is too small to show.")
        axes.text(0.5, 0.5, shape(message), ha="center", va="center", fontsize=13)
        return
    if len(table.rows) == 1:
        _bars(axes, section, _)
    elif _totals_only(section):
        _row_totals(axes, section, _)
    else:
        _stacked(axes, section, _, legend_at)
    if _.rtl:
        # Read from the right: names on the right, bars growing leftwards from them.
        axes.xaxis.set_inverted(True)
        axes.yaxis.tick_right()


def _row_totals(axes: Axes, section: Section, _: Translator) -> None:
    """A bar per group of its published total (people once each), scaled to the largest."""
    table = section.table
    positions = list(range(len(table.rows)))[::-1]
    values = [t or 0 for t in table.row_totals]
    axes.barh(positions, values, color="#2a7f62", height=0.7)
    axes.set_yticks(positions, [shape(_wrap(label, 22)) for label in section.row_labels],
                    fontsize=12)  # fmt: skip
    top = max(values) or 1
    axes.set_xlim(0, top * 1.25)
    axes.tick_params(axis="x", labelsize=11)
    for r, position in enumerate(positions):
        value = table.row_totals[r]
        text = _.number(value) if value is not None else WITHHELD
        axes.text(values[r] + top * 0.02, position, shape(text), va="center",
                  ha="right" if _.rtl else "left", fontsize=12)  # fmt: skip


def _bars(axes: Axes, section: Section, _: Translator) -> None:
    table = section.table
    share_mode = section.kind is not SectionKind.TABLE
    shares = table.shares(0)
    labels = [shape(_wrap(label, 26)) for label in section.column_labels]
    values = [
        (shares[c] if share_mode else table.cells[0][c]) or 0 for c in range(len(table.columns))
    ]
    positions = list(range(len(values)))[::-1]
    axes.barh(positions, values, color="#2a7f62", height=0.7)
    axes.set_yticks(positions, labels, fontsize=12)
    top = max(values) or 1
    axes.set_xlim(0, top * 1.3)
    axes.tick_params(axis="x", labelsize=11)
    for c, position in enumerate(positions):
        value = table.cells[0][c]
        if value is None:
            text = table.mark(0, c)
        elif share_mode and shares[c] is not None:
            text = f"{percent(shares[c] or 0, _.locale)} ({_.number(value)})"
        else:
            text = _.number(value)
        axes.text(
            values[c] + top * 0.02,
            position,
            shape(text),
            va="center",
            ha="right" if _.rtl else "left",  # away from the bar, whichever way it grows
            fontsize=12,
        )


def _stacked(axes: Axes, section: Section, _: Translator, legend_at: float) -> None:
    from matplotlib import colormaps
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    table = section.table
    share_mode = section.kind is not SectionKind.TABLE
    n_rows, n_columns = len(table.rows), len(table.columns)
    colours = colormaps["viridis" if section.kind is SectionKind.NUMBER else "tab10"]
    positions = list(range(n_rows))[::-1]
    widest = max((sum(n or 0 for n in line) for line in table.cells), default=0) or 1
    labels = []
    for r in range(n_rows):
        label = section.row_labels[r]
        if table.row_has_hidden(r):
            label += " *"
        labels.append(shape(_wrap(label, 22)))
    left = [0.0] * n_rows
    handles = []
    # A group with hidden cells is drawn against its own published total: its answers shown
    # take their part of it and the rest is left grey (never stretched to the whole bar).
    bases = [bar_base(table, r) for r in range(n_rows)]
    for c in range(n_columns):
        widths = []
        for r in range(n_rows):
            value = table.cells[r][c] or 0
            widths.append(100.0 * value / bases[r] if share_mode and bases[r] else float(value))
        colour = (
            colours(c / max(n_columns - 1, 1))
            if section.kind is SectionKind.NUMBER
            else (colours(c % 10))
        )
        axes.barh(positions, widths, left=left, height=0.7, color=colour)
        label = shape(_wrap(section.column_labels[c], 24))
        handles.append(Patch(facecolor=colour, label=label))
        for r, w in enumerate(widths):
            if w >= (12 if share_mode else widest * 0.08) and w > 0:
                axes.text(
                    left[r] + w / 2,
                    positions[r],
                    shape(percent(w, _.locale) if share_mode else _.number(int(w))),
                    ha="center",
                    va="center",
                    fontsize=10,
                    color="white",
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    if share_mode and _any_gap(section):
        rest = [
            100.0 - left[r] if table.row_has_hidden(r) and any(table.cells[r]) else 0.0
            for r in range(n_rows)
        ]
        axes.barh(positions, rest, left=left, height=0.7, color="#dddddd")
        handles.append(Patch(facecolor="#dddddd", label=shape(_("hidden"))))
    for r in range(n_rows):
        if not any(table.cells[r]):
            axes.text(
                0,
                positions[r],
                " " + shape(_("hidden")) + " ",
                va="center",
                ha="right" if _.rtl else "left",
                color="#777777",
            )
    axes.set_yticks(positions, labels, fontsize=12)
    axes.tick_params(axis="x", labelsize=11)
    if share_mode:
        axes.set_xlim(0, 100)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, legend_at),
        ncol=2,
        fontsize=11,
        frameon=False,
    )
