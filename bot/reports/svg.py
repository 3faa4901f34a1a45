"""Charts as inline SVG for the web pages (the dashboard, public results): drawn on the server,
no JavaScript, nothing loaded from elsewhere, so the pages' strict Content-Security-Policy holds.

Horizontal bars, one per answer or per group, each under its own label line (a name never
has to share a line with a bar, so long names and narrow phones are fine). Positions along
the bar are percentages of the chart's width and text sizes are CSS pixels: the bars stretch
with the page while the text keeps its size. Colours and sizes come from the page's stylesheet
by class (`STYLE`), never from a style attribute; the text is real <text>, in the page's own
fonts. In a right-to-left page the chart is mirrored: names start on the right and bars grow
leftwards.

Everything here reads a `Section` of a disclosed report: hidden cells are never drawn as
values; a group with hidden cells is drawn against its own published total (or what its
hidden cells may hold at least), with the unknown part left grey, never stretched to 100%.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from bot.core.i18n import Translator
from bot.reports.model import Section, SectionKind
from bot.reports.render import WITHHELD, bar_base, percent

LINE = 18  # px: a label line
BAR = 16  # px: a bar's thickness
GAP = 10  # px: between one bar and the next label
WRAP = 34  # characters: a label longer than this wraps (fits 390 px at 14 px)
INSIDE = 12.0  # % of the width: a segment at least this wide carries its share as text
PALETTE = 8  # categorical colours s0..s7 (then they repeat)
SEQUENCE = 5  # ordered colours q0..q4 for a scale's points or number ranges
# The charts' look, for the page's stylesheet (classes only: no style attributes).
STYLE = (
    ".chart{display:block;width:100%;max-width:40rem;overflow:visible;margin:.5rem 0}"
    ".chart text{font-size:14px;fill:#222}.chart .v{font-variant-numeric:tabular-nums}"
    ".chart .in{font-size:11px;fill:#fff}.chart .gap{fill:#e4e4e4}.chart .mute{fill:#666}"
    ".chart .faded{opacity:.6}"
    ".legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0;"
    "margin:.25rem 0 1rem;font-size:.9rem}"
    ".legend li{display:flex;align-items:center;gap:.35rem}"
    ".sw{display:inline-block;width:.9rem;height:.9rem;border-radius:2px}"
    ".gap.sw{background:#e4e4e4}"
    + "".join(
        f".chart .s{i}{{fill:{c}}}.sw.s{i}{{background:{c}}}"
        for i, c in enumerate(
            ("#1b6e53", "#d95f02", "#7570b3", "#c2185b", "#66a61e", "#a6761d", "#1f78b4", "#555")
        )
    )
    + "".join(
        f".chart .q{i}{{fill:{c}}}.sw.q{i}{{background:{c}}}"
        for i, c in enumerate(("#b2182b", "#ef8a62", "#999", "#67a9cf", "#2166ac"))
    )
)


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of a bar: its width in % of the chart, its colour class, its text inside."""

    width: float
    colour: str
    inside: str = ""
    title: str = ""  # shown by a browser on hover, and read out


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar and its label line: the name at the start, the figure at the end."""

    label: str
    figure: str
    segments: tuple[Segment, ...]
    faded: bool = False


def _lines(text: str) -> list[str]:
    return textwrap.wrap(text, WRAP) or [text]


def bars(items: Sequence[Bar], title: str, *, rtl: bool) -> str:
    """An SVG of horizontal bars, mirrored when `rtl`. `title` names it for screen readers."""
    parts: list[str] = []
    y = 0
    start, end = ("100%", "0") if rtl else ("0", "100%")
    for item in items:
        lines = _lines(item.label)
        for i, line in enumerate(lines):
            y += LINE
            parts.append(f'<text x="{start}" y="{y - 4}">{escape(line)}</text>')
            if i == 0 and item.figure:
                parts.append(
                    f'<text class="v" x="{end}" y="{y - 4}" text-anchor="end">'
                    f"{escape(item.figure)}</text>"
                )
        if not item.segments:  # nothing to draw: the label line says why
            y += GAP // 2
            continue
        y += 2
        parts.append(_bar(item, y, rtl=rtl))
        y += BAR + GAP
    direction = "rtl" if rtl else "ltr"
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="100%" '
        f'height="{y}" direction="{direction}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _bar(item: Bar, y: int, *, rtl: bool) -> str:
    out = []
    left = 0.0
    for segment in item.segments:
        width = max(0.0, min(segment.width, 100.0 - left))
        if width <= 0:
            continue
        x = 100.0 - left - width if rtl else left
        faded = " faded" if item.faded and segment.colour != "gap" else ""
        tip = f"<title>{escape(segment.title)}</title>" if segment.title else ""
        out.append(
            f'<rect class="{segment.colour}{faded}" x="{x:.2f}%" y="{y}" '
            f'width="{width:.2f}%" height="{BAR}">{tip}</rect>'
        )
        if segment.inside and width >= INSIDE:
            middle = x + width / 2
            out.append(
                f'<text class="in v" x="{middle:.2f}%" y="{y + BAR - 4}" '
                f'text-anchor="middle">{escape(segment.inside)}</text>'
            )
        left += width
    return "".join(out)


def legend(labels: Sequence[str], colours: Sequence[str], extra: str = "") -> str:
    """The answers' colours as an HTML list that wraps on a narrow screen."""
    items = "".join(
        f'<li><span class="sw {c}"></span>{escape(label)}</li>'
        for label, c in zip(labels, colours, strict=True)
    )
    if extra:
        items += f'<li><span class="gap sw"></span>{escape(extra)}</li>'
    return f'<ul class="legend">{items}</ul>'


def colours(section: Section) -> list[str]:
    """A colour class per column: ordered for a scale or number ranges, distinct otherwise."""
    n = len(section.column_labels)
    if section.values and n <= SEQUENCE:
        return [f"q{round(i * (SEQUENCE - 1) / max(n - 1, 1))}" for i in range(n)]
    return [f"s{i % PALETTE}" for i in range(n)]


def average_text(section: Section, row: int, _: Translator) -> str:
    """ "Average: 3.4" (a number question's, from its ranges: "about"); "" when none."""
    value = section.average(row)
    if value is None:
        return ""
    shown = _.number(round(value, 1))
    if section.kind is SectionKind.NUMBER:
        return _("Average (from ranges): about {value}", value=shown)
    return _("Average: {value}", value=shown)


def section_chart(section: Section, _: Translator, *, total_label: str = "") -> str:
    """The chart of one table of a report ("" when it has nothing to draw): bars per answer
    without a breakdown, a bar per group split into its answers with one, and for counts
    over time a bar per group of its total (people or updates, never sphere mentions)."""
    if section.kind is SectionKind.TEXT or not section.shown:
        return ""
    table = section.table
    if section.kind is SectionKind.TABLE:
        return _totals_chart(section, _, total_label)
    if len(table.rows) == 1:
        return _answers_chart(section, _)
    return _groups_chart(section, _)


def _answers_chart(section: Section, _: Translator) -> str:
    """One bar per answer, its share of the answers shown (a hidden one: its mark, no bar)."""
    table = section.table
    shares = table.shares(0)
    palette = colours(section)
    items = []
    for c, label in enumerate(section.column_labels):
        value, share = table.cells[0][c], shares[c]
        if value is None or share is None:
            items.append(Bar(label, table.mark(0, c), ()))
            continue
        figure = f"{percent(share, _.locale)} ({_.number(value)})"
        items.append(Bar(label, figure, (Segment(share, palette[c], title=figure),)))
    return bars(items, section.title, rtl=_.rtl)


def _groups_chart(section: Section, _: Translator) -> str:
    """A bar per group split into its answers. A group with hidden cells is drawn against
    its own published total: the answers shown take their part of it, the rest stays grey
    (hidden, or changed by the noise), and the bar is faded."""
    table = section.table
    palette = colours(section)
    items = []
    any_gap = False
    for r, label in enumerate(section.row_labels):
        line = table.cells[r]
        shown = sum(n for n in line if n)
        if not shown:
            items.append(Bar(label, _("hidden"), ()))
            continue
        hidden = table.row_has_hidden(r)
        base = bar_base(table, r)
        segments = []
        for c, value in enumerate(line):
            if not value:
                continue
            share = 100.0 * value / base
            text = percent(share, _.locale)
            title = f"{section.column_labels[c]}: {text} ({_.number(value)})"
            segments.append(Segment(share, palette[c], text, title))
        if hidden:
            any_gap = True
            segments.append(Segment(100.0 - 100.0 * shown / base, "gap", title=_("hidden")))
        figure = average_text(section, r, _)
        items.append(Bar(label + (" *" if hidden else ""), figure, tuple(segments), hidden))
    chart = bars(items, section.title, rtl=_.rtl)
    return chart + legend(section.column_labels, palette, _("hidden") if any_gap else "")


def _totals_chart(section: Section, _: Translator, total_label: str) -> str:
    """Counts over time: a bar per group of its own total (a total counts people, or
    updates, once; a member in two spheres is one member), scaled to the largest."""
    table = section.table
    one_column = len(table.columns) == 1
    figures = [
        table.cells[r][0] if one_column else table.row_totals[r] for r in range(len(table.rows))
    ]
    top = max((n for n in figures if n), default=0)
    if not top:
        return ""
    items = []
    for r, label in enumerate(section.row_labels):
        value = figures[r]
        if value is None:
            mark = table.mark(r, 0) if one_column else WITHHELD
            items.append(Bar(label, mark, ()))
            continue
        width = 100.0 * value / top
        items.append(Bar(label, _.number(value), (Segment(width, "s0", title=_.number(value)),)))
    title = f"{section.title} · {total_label}" if total_label else section.title
    return bars(items, title, rtl=_.rtl)
