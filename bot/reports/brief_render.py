"""Render a country brief: Markdown, and a PDF of at most two pages for policy meetings.

The PDF is laid out by fpdf2 with HarfBuzz shaping (uharfbuzz) and fpdf2's own Unicode
bidirectional algorithm, in the fonts Wasl already ships for charts (bot/reports/fonts.py):
Arabic letters are joined and right-to-left lines run right to left, the page mirrored for a
right-to-left reader (docs/reports.md says why fpdf2). Charts are drawn by matplotlib, as the
reports' are. Everything here reads a `CountryBrief`, whose figures are all published ones.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.i18n import Translator
from bot.reports.brief import CountryBrief, Quote, SurveyResult, Trend, shares_of_total
from bot.reports.disclosure import Disclosed
from bot.reports.model import Report, Section, SectionKind
from bot.reports.render import WITHHELD, percent, shape

if TYPE_CHECKING:
    from fpdf import FPDF
    from matplotlib.axes import Axes

MAX_PAGES = 2
TOP_TREND_ANSWERS = 2  # a brief's trend lists each question's largest answers only
# Bidi isolates the translator puts around placeholders: fpdf2's bidi algorithm does not
# know them and its fonts have no glyph for them; the text around them is laid out alike.
_ISOLATES = str.maketrans(dict.fromkeys("\u2066\u2067\u2068\u2069"))


def plain(text: str) -> str:
    return text.translate(_ISOLATES)


def mark(table: Disclosed, row: int, column: int, _: Translator) -> str:
    value = table.cells[row][column]
    return _.number(value) if value is not None else table.mark(row, column)


def points(value: float | None, _: Translator) -> str:
    """A change in percentage points, signed: "+6", "−3", "0"; "—" when not shown."""
    if value is None:
        return WITHHELD
    whole = round(value)
    sign = "+" if whole > 0 else ("−" if whole < 0 else "")
    return f"{sign}{_.number(abs(whole))}"


def sphere_rows(brief: CountryBrief, _: Translator) -> list[list[str]]:
    """Who works where and the field updates, a row per sphere then the totals: sphere,
    members, routine updates, urgent updates."""
    members, updates = brief.members, brief.updates
    rows = []
    for code, label in zip(brief.spheres, brief.sphere_labels, strict=True):
        m = members.rows.index(code)
        line = [label, mark(members, m, 0, _)]
        if code in updates.rows:
            u = updates.rows.index(code)
            line += [mark(updates, u, 0, _), mark(updates, u, 1, _)]
        else:  # an update always concerns a sphere
            line += ["", ""]
        rows.append(line)
    total = members.total
    rows.append(
        [
            _("Total"),
            _.number(total) if total is not None else WITHHELD,
            *(_.number(t) if t is not None else WITHHELD for t in updates.column_totals),
        ]
    )
    return rows


def trend_rows(trend: Trend, _: Translator, top: int | None = None) -> list[list[str]]:
    """Question, answer, its share in each round, the change between the last two."""
    rows = []
    for question in trend.questions:
        order = sorted(
            range(len(question.answers)),
            key=lambda a: -(question.shares[a][-1] or -1.0),
        )
        chosen = order[:top] if top else list(range(len(question.answers)))
        for index, answer in enumerate(chosen):
            shares = [
                percent(s, _.locale) if s is not None else WITHHELD
                for s in question.shares[answer]
            ]
            rows.append(
                [
                    question.title if index == 0 else "",
                    question.answers[answer],
                    *shares,
                    points(question.change(answer), _),
                ]
            )
    return rows


# -- Markdown ---------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _survey_table(section: Section, _: Translator) -> list[list[str]]:
    """A survey question's two rows (the country, the whole alliance): each answer's share
    of the row's published total, or its mark."""
    table = section.table
    rows = []
    for r, label in enumerate(section.row_labels):
        shares = shares_of_total(table, r)
        cells = [
            percent(share, _.locale) if share is not None else mark(table, r, c, _)
            for c, share in enumerate(shares)
        ]
        rows.append([label, *cells])
    return rows


def render_brief_markdown(brief: CountryBrief, _: Translator) -> str:
    lines = [f"# {_md(brief_title(brief, _))}", ""]
    lines += [f"- **{_md(label)}:** {_md(value)}" for label, value in brief_meta(brief, _)]
    lines += ["", f"## {_md(spheres_heading(brief, _))}", ""]
    lines += _md_table(sphere_header(_), sphere_rows(brief, _))
    results = _("Survey results")  # outside the f-string, where pybabel finds it
    lines += ["", f"## {_md(results)}", ""]
    if not brief.surveys:
        lines.append(_("No survey closed in this period."))
    for result in brief.surveys:
        lines += [f"### {_md(result.title)}", "", f"_{_md(result.report.period)}_", ""]
        if not result.country_shown:
            lines += [_("{country}: too few answers to show.", country=brief.country_label), ""]
        for section in result.report.sections:
            lines += [f"**{_md(section.title)}**", ""]
            lines += _md_table(["", *section.column_labels], _survey_table(section, _))
            lines.append("")
        if result.trend is not None:
            lines += [f"**{_md(trend_heading(result.trend, _))}**", ""]
            lines += _md_table(trend_header(result.trend, _), trend_rows(result.trend, _))
            lines.append("")
    if brief.more_surveys:
        lines.append(more_surveys(brief, _))
    if brief.quotes:
        lines += ["", f"## {_md(quotes_heading(_))}", ""]
        lines += [f"- {_md(quoted(quote))}" for quote in brief.quotes]
    notes = _("Notes")
    lines += ["", f"## {notes}", ""]
    lines += [f"- {_md(note)}" for note in brief.notes]
    return plain("\n".join(lines)) + "\n"


# -- words shared by both outputs -------------------------------------------------------------


def brief_title(brief: CountryBrief, _: Translator) -> str:
    return _("Country brief: {country}", country=brief.country_label)


def brief_meta(brief: CountryBrief, _: Translator) -> list[tuple[str, str]]:
    return [
        (_("Period"), brief.period),
        (_("Smallest group shown (k)"), _.number(brief.k)),
        (_("Figures perturbed by at most"), f"±{_.number(brief.noise)}"),
        (_("Made"), _.datetime(brief.generated_at)),
    ]


def spheres_heading(brief: CountryBrief, _: Translator) -> str:
    return _("Who works on what in {country}, and field updates", country=brief.country_label)


def sphere_header(_: Translator) -> list[str]:
    return ["", _("Members"), _("Routine"), _("Urgent")]


def trend_heading(trend: Trend, _: Translator) -> str:
    return _("Change since the last round: {group}", group=trend.group_label)


def trend_header(trend: Trend, _: Translator) -> list[str]:
    return ["", "", *trend.rounds, _("Change (points)")]


def quotes_heading(_: Translator) -> str:
    return _("In members' words")


def quoted(quote: Quote) -> str:
    """A quote and its month: “…” (November 2026)."""
    return f"“{quote.text}” ({quote.month})"


def more_surveys(brief: CountryBrief, _: Translator) -> str:
    return _.plural(
        "{n} more survey closed in this period: see /report.",
        "{n} more surveys closed in this period: see /report.",
        brief.more_surveys,
    )


# -- charts -----------------------------------------------------------------------------------


def survey_chart(report: Report, _: Translator, *, width_in: float = 7.0) -> bytes:
    """A compact chart of a survey for a brief: per question, the country's answers and the
    whole alliance's as two bars of shares (of the answers shown), one legend line.
    Mirrored for a right-to-left reader: names on the right, bars growing leftwards."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from bot.reports.fonts import families

    fonts = families(_.locale)
    panels = [s for s in report.sections if s.kind is not SectionKind.TEXT]
    per_panel = 1.05
    height = per_panel * len(panels) + 0.25
    figure = Figure(figsize=(width_in, height), dpi=160)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        max(len(panels), 1),
        1,
        hspace=1.45,
        left=0.03 if _.rtl else 0.2,
        right=0.8 if _.rtl else 0.97,
        top=1 - 0.3 / height,
        bottom=0.38 / height,
    )
    for index, section in enumerate(panels):
        _panel(figure.add_subplot(grid[index]), section, _)
    for text in figure.findobj(Text):
        text.set_fontfamily(fonts)
    for axes in figure.axes:
        axes.tick_params(labelfontfamily=fonts)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def _panel(axes: Axes, section: Section, _: Translator) -> None:
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    table = section.table
    title = textwrap.shorten(section.title, 90, placeholder="…")
    axes.set_title(shape(title), fontsize=8.5, loc="right" if _.rtl else "left", pad=3)
    colours = colormaps["viridis" if section.kind is SectionKind.NUMBER else "tab10"]
    n_columns = len(table.columns)
    positions = [1, 0]
    left = [0.0, 0.0]
    handles = []
    for c in range(n_columns):
        colour = (
            colours(c / max(n_columns - 1, 1))
            if section.kind is SectionKind.NUMBER
            else colours(c % 10)
        )
        widths = [float(shares_of_total(table, r)[c] or 0) for r in (0, 1)]
        axes.barh(positions, widths, left=left, height=0.75, color=colour)
        for r in (0, 1):
            if widths[r] >= 9:
                axes.text(
                    left[r] + widths[r] / 2,
                    positions[r],
                    shape(percent(widths[r], _.locale)),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white",
                )
        handles.append(
            Patch(facecolor=colour, label=shape(textwrap.shorten(section.column_labels[c], 28)))
        )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    if any(table.row_has_hidden(r) for r in (0, 1)):
        rest = [max(0.0, 100 - left[r]) if table.row_has_hidden(r) else 0.0 for r in (0, 1)]
        axes.barh(positions, rest, left=left, height=0.75, color="#dddddd")
        handles.append(Patch(facecolor="#dddddd", label=shape(_("hidden"))))
    for r in (0, 1):
        if not any(table.cells[r]):
            axes.text(
                0,
                positions[r],
                " " + shape(_("hidden")) + " ",
                va="center",
                ha="right" if _.rtl else "left",
                fontsize=7,
                color="#777777",
            )
    labels = [shape(textwrap.shorten(label, 24)) for label in section.row_labels]
    axes.set_yticks(positions, labels, fontsize=7.5)
    axes.set_xlim(0, 100)
    axes.set_xticks([])
    axes.spines[["top", "right", "left", "bottom"]].set_visible(False)
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=min(len(handles), 6),
        fontsize=6.5,
        frameon=False,
        handlelength=1,
        columnspacing=1,
    )
    if _.rtl:
        axes.xaxis.set_inverted(True)
        axes.yaxis.tick_right()
        axes.tick_params(axis="y", length=0)
    else:
        axes.tick_params(axis="y", length=0)


# -- PDF --------------------------------------------------------------------------------------

_FONT_FILES = {
    # family in the PDF: (package or None for matplotlib's own, file stem), regular and bold
    "latin": ((None, "DejaVuSans"), (None, "DejaVuSans-Bold")),
    "arabic": (("fontpkg_noto_sans_arabic", "NotoSansArabic"), None),
    "bengali": (
        ("fontpkg_hind_siliguri", "HindSiliguri-Regular"),
        ("fontpkg_hind_siliguri", "HindSiliguri-Bold"),
    ),
}
_SCRIPT_FAMILY = {"Arab": "arabic", "Beng": "bengali"}


def _font_path(source: tuple[str | None, str]) -> Path | None:
    package, stem = source
    if package is None:
        from matplotlib import get_data_path

        path = Path(get_data_path()) / "fonts" / "ttf" / f"{stem}.ttf"
        return path if path.exists() else None
    try:
        root = Path(str(import_module(package).ROOT)) / "files"
    except ImportError:
        return None
    found = sorted(root.glob(f"{stem}*.ttf"))
    return found[0] if found else None


class _Page:
    """An fpdf2 document with Wasl's fonts, writing on the reader's side."""

    def __init__(self, _: Translator) -> None:
        from fpdf import FPDF

        from bot.reports.fonts import script_of

        self._ = _
        self.rtl = _.rtl
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_margins(14, 12, 14)
        pdf.set_auto_page_break(True, margin=12)
        pdf.set_creator("Wasl")
        pdf.set_lang(_.locale)
        self.bold: set[str] = set()
        have = []
        for family, (regular, bold) in _FONT_FILES.items():
            path = _font_path(regular)
            if path is None:
                continue
            pdf.add_font(family, fname=str(path))
            have.append(family)
            bold_path = _font_path(bold) if bold else None
            if bold_path is not None:
                pdf.add_font(family, style="B", fname=str(bold_path))
                self.bold.add(family)
        self.family = _SCRIPT_FAMILY.get(script_of(_.locale), "latin")
        if self.family not in have:
            self.family = "latin"
        pdf.set_fallback_fonts([f for f in have if f != self.family], exact_match=False)
        pdf.set_text_shaping(True)
        pdf.add_page()
        self.pdf: FPDF = pdf

    @property
    def width(self) -> float:
        return float(self.pdf.epw)

    def font(self, size: float, bold: bool = False) -> None:
        style = "B" if bold and self.family in self.bold else ""
        self.pdf.set_font(self.family, style=style, size=size)

    def text(self, text: str, size: float = 9.5, *, bold: bool = False, gap: float = 1) -> None:
        self.font(size, bold)
        self.pdf.multi_cell(
            0,
            size * 0.5,
            plain(text),
            align="R" if self.rtl else "L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        self.pdf.ln(gap)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        size: float = 8,
        total: bool = False,
    ) -> None:
        """A ruled table whose first column holds names; on a right-to-left page the columns
        run from the right."""
        pdf = self.pdf
        scale = self.width / sum(widths)
        widths = [w * scale for w in widths]
        height = size * 0.55
        for index, line in enumerate([header, *rows]):
            self.font(size, bold=index == 0 or (total and index == len(rows)))
            cells = list(zip(line, widths, strict=True))
            if self.rtl:
                cells.reverse()
            pdf.set_x(pdf.l_margin)
            for position, (value, width) in enumerate(cells):
                name = position == (len(cells) - 1 if self.rtl else 0)
                align = ("R" if self.rtl else "L") if name else "C"
                pdf.cell(
                    width,
                    height,
                    plain(_fit(value, width, size)),
                    border="B" if index == 0 else 0,
                    align=align,
                )
            pdf.ln(height)
        pdf.ln(1.5)

    def image(self, png: bytes, width: float) -> None:
        pdf = self.pdf
        x = pdf.l_margin + (self.width - width if self.rtl else 0)
        pdf.image(io.BytesIO(png), x=x, w=width)
        pdf.ln(1)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _fit(text: str, width_mm: float, size: float) -> str:
    """Cut a cell's text to about what its column holds (a rough average letter width)."""
    most = max(4, int(width_mm / (size * 0.19)))
    return textwrap.shorten(text, most, placeholder="…") if len(text) > most else text


def _pdf(brief: CountryBrief, _: Translator, charts: dict[str, bytes]) -> tuple[bytes, int]:
    page = _Page(_)
    page.text(brief_title(brief, _), 17, bold=True, gap=0.5)
    page.text(" · ".join(f"{label}: {value}" for label, value in brief_meta(brief, _)), 8.5)
    page.text(spheres_heading(brief, _), 12, bold=True)
    page.table(sphere_header(_), sphere_rows(brief, _), (5, 1.3, 1.3, 1.3), total=True)
    page.text(_("Survey results"), 12, bold=True)
    if not brief.surveys:
        page.text(_("No survey closed in this period."))
    for result in brief.surveys:
        _survey(page, result, brief, _, charts[result.slug])
    if brief.more_surveys:
        page.text(more_surveys(brief, _), 8.5)
    if brief.quotes:
        page.text(quotes_heading(_), 12, bold=True)
        for quote in brief.quotes:
            page.text(quoted(quote), 9, gap=0.5)
    page.text(_("Notes"), 10, bold=True, gap=0.5)
    for note in brief.notes:
        page.text("• " + note, 7.5, gap=0.3)
    return page.output(), page.pdf.page_no()


def _survey(
    page: _Page, result: SurveyResult, brief: CountryBrief, _: Translator, chart: bytes
) -> None:
    page.text(f"{result.title} ({result.report.period})", 10.5, bold=True, gap=0.5)
    if not result.country_shown:
        page.text(_("{country}: too few answers to show.", country=brief.country_label), 8.5)
    page.image(chart, page.width)
    trend = result.trend
    if trend is not None:
        page.text(trend_heading(trend, _), 9, bold=True, gap=0.3)
        widths = (3.4, 1.9, *(1.5 for _r in trend.rounds), 1.8)
        page.table(trend_header(trend, _), trend_rows(trend, _, TOP_TREND_ANSWERS), widths)


def render_brief_pdf(brief: CountryBrief, _: Translator) -> bytes:
    """The brief as a PDF of at most two pages: when the period's surveys do not fit, the
    oldest are left out (the brief says how many, and where to find them); when one alone
    does not fit, its trend's table, then the survey itself."""
    charts = {result.slug: survey_chart(result.report, _) for result in brief.surveys}
    data, pages = _pdf(brief, _, charts)
    while pages > MAX_PAGES and len(brief.surveys) > 1:
        brief = replace(brief, surveys=brief.surveys[:-1], more_surveys=brief.more_surveys + 1)
        data, pages = _pdf(brief, _, charts)
    if pages > MAX_PAGES and any(s.trend for s in brief.surveys):
        brief = replace(brief, surveys=tuple(replace(s, trend=None) for s in brief.surveys))
        data, pages = _pdf(brief, _, charts)
    if pages > MAX_PAGES and brief.surveys:
        brief = replace(brief, surveys=(), more_surveys=brief.more_surveys + 1)
        data, pages = _pdf(brief, _, charts)
    return data
