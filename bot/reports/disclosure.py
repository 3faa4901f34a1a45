"""Disclosure control for every published count, in one place (docs/privacy.md, promise 2).

Pure: a table of counts goes in, the table that may be published comes out. Every report, chart,
file and closing-the-loop message is built from a `Disclosed` table, never from raw counts.

The rules, with k = `WASL_MIN_CELL` (default 5):

1. **Primary.** A cell with 1 to k-1 people is hidden and shown as "<5". Zero is shown as 0:
   that nobody chose something names nobody.
2. **Secondary.** Suppose a reader knew a line's exact total (a row, a column, or the single row
   of a one-dimensional table) from elsewhere: another report, the number of responses, a second
   breakdown of the same survey. A line is *protected* when, even then, no hidden cell in it can
   be pinned to one value. She knows "<5" cells lie in 0..k-1 and "x" cells (rule 2 hides only
   shown non-zero cells, which are all ≥ k) lie in k and above; the hidden cells of the line must
   add up to the total minus the shown ones. A lone hidden cell always falls to this; so do two
   "<5" cells that are both 4 when the total says 8. While some line is unprotected, its smallest
   shown non-zero cell is hidden too (shown "x"), and every line is checked again, until nothing
   changes.
3. **Last resort.** A line that is still unprotected but has no shown non-zero cell left has its
   zeros hidden as "<5" (true: 0 < 5): otherwise it would show that the whole small group gave
   the hidden answer. A line hidden entirely is as protected as the table can make it.
4. **Totals.** A row or column total is published only when no cell in it is hidden, and the
   grand total only when no cell at all is hidden; otherwise it is withheld (None). So no
   published total ever covers a hidden cell: totals cannot be used for subtraction, and rule 2
   is there for totals a reader may know from somewhere else.
5. **Percentages** are computed per row over the shown cells only, and say so when a row has
   hidden cells.

Not covered by these rules: an attacker solving the equations of several lines at once
(linear programming over the whole table), or of several tables (the breakdowns of one
survey). Rule 2 stops the subtraction within one row or column only, so survey results use
the cell-key method below too (their counters keep no record keys: a survey cell's key is a
keyed hash of its identity, see bot.services.reports.survey_cell_key).

Counts over time (field updates, membership, delivery) can be asked for every calendar period
and breakdown, so subtraction between overlapping tables is the risk there. They use the
**cell-key method** instead (`perturb`, as in the ABS TableBuilder and Eurostat's cell-key
method): every record (a member, an update) has a permanent random record key in
[0, KEY_SPACE); a cell's key is the sum of its contributors' keys modulo KEY_SPACE, and the
p-table below turns the cell key into noise in [-D, +D]. The same people always make the same
key and so the same noise: asking again, or for an overlapping table that happens to hold the
same people, gives nothing new, and two tables that differ by a few people differ by
independent noise. A figure that comes out under k, zero included, is shown as "<k", so no
count of 1..k-1 is ever published as itself, and neither a "<k" nor a published figure is a
hard bound a reader could subtract from: "<k" may hide up to k-1+D people or nobody, and a
published k may stand for k-D. (Exact zeros, "<k" meaning at least one, and "published means
at least k" are what turn one unlucky pair of noises into a disclosure.) A total is a cell of
its own, with its own contributors and noise, never the sum of perturbed cells.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.reports import KEY_SPACE

DEFAULT_MIN_CELL = 5
MIN_CELL_ENV = "WASL_MIN_CELL"
INFINITE = 10**12  # an upper bound no count reaches


def min_cell(environ: Mapping[str, str] | None = None) -> int:
    """k from `WASL_MIN_CELL` (default 5). Values under 2 would hide nothing: refused."""
    raw = (os.environ if environ is None else environ).get(MIN_CELL_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_CELL
    value = int(raw)
    if value < 2:
        raise ValueError(f"{MIN_CELL_ENV} must be at least 2, got {value}")
    return value


class Hidden(StrEnum):
    """Why a cell is not shown."""

    SMALL = "small"  # primary (or a zero hidden as a last resort): shown "<k"
    LINKED = "linked"  # secondary: a cell of k or more that would reveal a small one: "x"


@dataclass(frozen=True, slots=True)
class CountTable:
    """Counts to publish: rows × columns (a one-dimensional table has a single row)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.rows) or any(
            len(line) != len(self.columns) for line in self.counts
        ):
            raise ValueError("counts must have one value per row and column")
        if any(n < 0 for line in self.counts for n in line):
            raise ValueError("counts cannot be negative")

    @classmethod
    def from_cells(
        cls,
        cells: Mapping[tuple[str, str], int],
        rows: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> CountTable:
        """From {(row, column): n}; rows and columns default to those present, in order seen."""
        row_keys = tuple(rows) if rows is not None else tuple(dict.fromkeys(r for r, _ in cells))
        column_keys = (
            tuple(columns) if columns is not None else tuple(dict.fromkeys(c for _, c in cells))
        )
        return cls(
            row_keys,
            column_keys,
            tuple(tuple(cells.get((r, c), 0) for c in column_keys) for r in row_keys),
        )


@dataclass(frozen=True, slots=True)
class Disclosed:
    """What may be published: shown cells, hidden cells, and totals only where safe."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[int | None, ...], ...]  # None: hidden
    hidden: tuple[tuple[Hidden | None, ...], ...]
    row_totals: tuple[int | None, ...]  # None: withheld (a cell in the row is hidden)
    column_totals: tuple[int | None, ...]
    total: int | None
    k: int
    noise: int = 0  # D: figures are perturbed by at most ±D (0: exact, suppression only)

    @property
    def empty(self) -> bool:
        """No one at all in the table (nothing to hide, nothing to say), or no group to show
        (a perturbed table's rows never depend on who is in them, only on what exists, such
        as campaigns)."""
        return self.total == 0 or not self.rows

    @property
    def any_hidden(self) -> bool:
        return any(h is not None for line in self.hidden for h in line)

    @property
    def all_hidden(self) -> bool:
        """Every group is too small: nothing non-zero can be shown (suggest coarser groups)."""
        shown = [n for line in self.cells for n in line if n]
        return self.any_hidden and not shown

    def mark(self, row: int, column: int) -> str:
        """The cell as printed: the number, "<k" or "x"."""
        value = self.cells[row][column]
        if value is not None:
            return str(value)
        return f"<{self.k}" if self.hidden[row][column] is Hidden.SMALL else "x"

    def row_has_hidden(self, row: int) -> bool:
        return any(h is not None for h in self.hidden[row])

    def shares(self, row: int) -> tuple[float | None, ...]:
        """Percentages of each shown cell among the row's shown cells (None for hidden ones).

        Over shown cells only: when the row has hidden cells these are not shares of the row's
        true total, and every output says so.
        """
        line = self.cells[row]
        base = sum(n for n in line if n is not None)
        return tuple(None if n is None or base == 0 else 100.0 * n / base for n in line)


def disclose(table: CountTable, k: int | None = None) -> Disclosed:
    """Apply primary, secondary and last-resort suppression, then withhold unsafe totals."""
    k = min_cell() if k is None else k
    if k < 2:
        raise ValueError("k must be at least 2")
    counts = table.counts
    n_rows, n_columns = len(table.rows), len(table.columns)
    hidden: list[list[Hidden | None]] = [
        [Hidden.SMALL if 0 < n < k else None for n in line] for line in counts
    ]
    lines = _lines(n_rows, n_columns)
    changed = True
    while changed:
        changed = False
        for line in lines:
            if _protected(line, counts, hidden, k):
                continue
            _hide_more(line, counts, hidden)
            changed = True
    cells = tuple(
        tuple(None if hidden[r][c] is not None else counts[r][c] for c in range(n_columns))
        for r in range(n_rows)
    )
    row_totals = tuple(
        None if any(h is not None for h in hidden[r]) else sum(counts[r]) for r in range(n_rows)
    )
    column_totals = tuple(
        None
        if any(hidden[r][c] is not None for r in range(n_rows))
        else sum(counts[r][c] for r in range(n_rows))
        for c in range(n_columns)
    )
    any_hidden = any(h is not None for line in hidden for h in line)
    total = None if any_hidden else sum(sum(line) for line in counts)
    return Disclosed(
        rows=table.rows,
        columns=table.columns,
        cells=cells,
        hidden=tuple(tuple(line) for line in hidden),
        row_totals=row_totals,
        column_totals=column_totals,
        total=total,
        k=k,
    )


Line = tuple[tuple[int, int], ...]


def _lines(n_rows: int, n_columns: int) -> list[Line]:
    """Every row and column with at least two cells (a one-cell line's total is the cell)."""
    found: list[Line] = []
    if n_columns >= 2:
        found += [tuple((r, c) for c in range(n_columns)) for r in range(n_rows)]
    if n_rows >= 2:
        found += [tuple((r, c) for r in range(n_rows)) for c in range(n_columns)]
    return found


def bounds(kind: Hidden, k: int) -> tuple[int, int]:
    """What a reader can tell about a hidden cell from its mark alone."""
    return (0, k - 1) if kind is Hidden.SMALL else (k, INFINITE)


def feasible(known_sum: int, marks: Sequence[tuple[int, int]], index: int) -> tuple[int, int]:
    """The values hidden cell `index` can take when the hidden cells' sum is known.

    `marks` are each hidden cell's (low, high) bounds from its mark.
    """
    low, high = marks[index]
    others_low = sum(lo for i, (lo, _) in enumerate(marks) if i != index)
    others_high = sum(hi for i, (_, hi) in enumerate(marks) if i != index)
    return max(low, known_sum - others_high), min(high, known_sum - others_low)


def _protected(
    line: Line, counts: tuple[tuple[int, ...], ...], hidden: list[list[Hidden | None]], k: int
) -> bool:
    cells = [(r, c, kind) for r, c in line if (kind := hidden[r][c]) is not None]
    if not cells or len(cells) == len(line):
        return True
    known_sum = sum(counts[r][c] for r, c, _ in cells)
    marks = [bounds(kind, k) for _, _, kind in cells]
    for index in range(len(cells)):
        low, high = feasible(known_sum, marks, index)
        if low >= high:
            return False
    return True


def _hide_more(
    line: Line, counts: tuple[tuple[int, ...], ...], hidden: list[list[Hidden | None]]
) -> None:
    """Hide the smallest shown non-zero cell of the line; failing that, its zeros."""
    shown = [(counts[r][c], i, (r, c)) for i, (r, c) in enumerate(line) if hidden[r][c] is None]
    non_zero = [item for item in shown if item[0] > 0]
    if non_zero:
        _, _, (r, c) = min(non_zero)
        hidden[r][c] = Hidden.LINKED
        return
    for _, _, (r, c) in shown:
        hidden[r][c] = Hidden.SMALL


# -- the cell-key method (counts over time) -----------------------------------------------------

NOISE = 2  # D: no published figure differs from the true count by more than this
# The p-table: the weight of each noise value by its size (0, ±1, ±2), out of 20: half the
# figures are exact, 1 in 20 moves by 2 each way. The same row serves every true count, so the
# noise averages to zero everywhere; extreme noise is rare on purpose, since only several
# figures at opposite extremes together could narrow a hidden group down.
P_TABLE = (10, 4, 1)


def cell_key(keys: Sequence[int] | int) -> int:
    """The cell key: its contributors' record keys (or key sums) added up, modulo KEY_SPACE."""
    return (keys if isinstance(keys, int) else sum(keys)) % KEY_SPACE


def noise_row(d: int = NOISE) -> tuple[tuple[int, int], ...]:
    """The p-table's row: (noise, weight) pairs for -D..+D."""
    reach = min(d, len(P_TABLE) - 1)
    return tuple((n, P_TABLE[abs(n)]) for n in range(-reach, reach + 1))


def perturb(count: int, key: int, k: int, d: int = NOISE) -> int | None:
    """The published figure for `count` people whose cell key is `key`: the count plus the
    p-table's noise for this key, or None (shown "<k") when that comes out under k.

    So no count of 1..k-1 is ever published as itself: up to k-1-D it is always hidden, and
    k-D..k-1 is either hidden or published as k or more, as a count of k..k-1+D may be hidden.
    A published figure therefore does not prove that the group has k people, nor "<k" that it
    has fewer, nor that it has anyone: an empty cell (no contributors) is "<k" too.
    """
    if count <= 0:
        return None
    row = noise_row(d)
    total = sum(weight for _, weight in row)
    position = (key % KEY_SPACE) * total // KEY_SPACE
    for noise, weight in row:
        if position < weight:
            published = count + noise
            return published if published >= k else None
        position -= weight
    raise AssertionError("unreachable: position is below the row's total weight")


@dataclass(frozen=True, slots=True)
class Keyed:
    """A true count and its cell key (the sum of its contributors' record keys)."""

    count: int
    key: int

    def __add__(self, other: Keyed) -> Keyed:
        """The union of two disjoint groups: counts and keys add up."""
        return Keyed(self.count + other.count, cell_key(self.key + other.key))


NOBODY = Keyed(0, 0)


@dataclass(frozen=True, slots=True)
class KeyedTable:
    """True counts with their cell keys: the cells, and each total as a cell of its own
    (a total counts people: one person in two columns counts once in her row's total)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[Keyed, ...], ...]
    row_totals: tuple[Keyed, ...]
    column_totals: tuple[Keyed, ...]
    total: Keyed


def perturb_table(table: KeyedTable, k: int | None = None, d: int = NOISE) -> Disclosed:
    """Every cell and total perturbed by its own cell key; everything under k shown "<k"."""
    k = min_cell() if k is None else k
    if k < 2:
        raise ValueError("k must be at least 2")
    cells = tuple(tuple(perturb(c.count, c.key, k, d) for c in line) for line in table.cells)
    hidden = tuple(tuple(Hidden.SMALL if n is None else None for n in line) for line in cells)
    return Disclosed(
        rows=table.rows,
        columns=table.columns,
        cells=cells,
        hidden=hidden,
        row_totals=tuple(perturb(t.count, t.key, k, d) for t in table.row_totals),
        column_totals=tuple(perturb(t.count, t.key, k, d) for t in table.column_totals),
        total=perturb(table.total.count, table.total.key, k, d),
        k=k,
        noise=d,
    )
