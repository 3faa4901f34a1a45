"""Disclosure control on hand-built tables, and a property: nothing hidden can be worked out
by subtraction within its row or column, even by a reader who knows the line's total. Then the
cell-key method of counts over time: the p-table's bounds, and the same contributors always
getting the same noise (Promise 2: no group smaller than k can be recovered)."""

from __future__ import annotations

from collections import Counter
from itertools import product
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.reports import KEY_SPACE
from bot.reports.disclosure import (
    NOISE,
    P_TABLE,
    CountTable,
    Disclosed,
    Hidden,
    Keyed,
    KeyedTable,
    bounds,
    cell_key,
    disclose,
    min_cell,
    noise_row,
    perturb,
    perturb_table,
)

S, X = "<5", "x"


def table(*rows: tuple[int, ...]) -> CountTable:
    return CountTable(
        tuple(f"r{i}" for i in range(len(rows))),
        tuple(f"c{j}" for j in range(len(rows[0]))),
        tuple(rows),
    )


def marks(result: Disclosed) -> list[list[str]]:
    return [
        [result.mark(r, c) for c in range(len(result.columns))] for r in range(len(result.rows))
    ]


def test_primary_hides_small_non_zero_cells_and_keeps_zeros() -> None:
    result = disclose(table((12, 0, 30), (20, 8, 9)), k=5)
    assert marks(result) == [["12", "0", "30"], ["20", "8", "9"]]
    assert result.row_totals == (42, 37) and result.column_totals == (32, 8, 39)
    assert result.total == 79 and not result.any_hidden


def test_zero_cells_are_not_sensitive() -> None:
    result = disclose(table((0, 10, 20), (0, 0, 7)), k=5)
    assert not result.any_hidden
    assert result.shares(1) == (0.0, 0.0, 100.0)


def test_a_lone_hidden_cell_in_a_row_takes_the_next_smallest_with_it() -> None:
    result = disclose(table((3, 50, 60)), k=5)
    assert marks(result) == [[S, X, "60"]]
    assert result.hidden[0] == (Hidden.SMALL, Hidden.LINKED, None)
    assert result.row_totals == (None,) and result.total is None
    shares = result.shares(0)
    assert shares[0] is None and shares[1] is None and shares[2] == pytest.approx(100.0)


def test_secondary_suppression_runs_through_rows_and_columns_until_stable() -> None:
    result = disclose(
        table(
            (2, 40, 41, 60),
            (30, 31, 33, 70),
            (45, 46, 47, 80),
        ),
        k=5,
    )
    # Row 0: the 2 takes the row's next smallest (40). Column 0 now has one hidden cell (2),
    # column 1 one (40): each takes its own next smallest, which lands in row 1 (30, 31).
    assert marks(result) == [
        [S, X, "41", "60"],
        [X, X, "33", "70"],
        ["45", "46", "47", "80"],
    ]
    assert result.row_totals == (None, None, 218)
    assert result.column_totals == (None, None, 121, 210)
    assert result.total is None


def test_two_small_cells_that_a_known_total_would_pin_are_protected() -> None:
    # Both "<5" and a total of 8 would say "4 and 4": a third cell is hidden too.
    result = disclose(table((4, 4, 30)), k=5)
    assert marks(result) == [[S, S, X]]


def test_small_cells_that_a_known_total_cannot_pin_need_no_partner() -> None:
    # 1 + 1 = 2: each could be 0, 1 or 2 as far as a reader knows, so nothing more is hidden.
    result = disclose(table((1, 1, 30)), k=5)
    assert marks(result) == [[S, S, "30"]]


def test_totals_never_cover_a_hidden_cell() -> None:
    result = disclose(table((1, 20, 30), (25, 26, 27)), k=5)
    for r, total in enumerate(result.row_totals):
        assert (total is None) == result.row_has_hidden(r)
    for c, total in enumerate(result.column_totals):
        hidden = any(result.hidden[r][c] is not None for r in range(2))
        assert (total is None) == hidden


def test_a_small_group_alone_in_its_line_hides_its_zeros_too() -> None:
    # Otherwise "<5, 0, 0" would say the whole small group gave the first answer.
    result = disclose(table((3, 0, 0)), k=5)
    assert marks(result) == [[S, S, S]]
    assert result.all_hidden


def test_everything_hidden_when_every_group_is_small() -> None:
    result = disclose(table((1, 2), (3, 4)), k=5)
    assert result.all_hidden
    assert all(t is None for t in (*result.row_totals, *result.column_totals, result.total))


def test_an_empty_table_is_empty_not_hidden() -> None:
    result = disclose(table((0, 0), (0, 0)), k=5)
    assert result.empty and not result.all_hidden


def test_a_one_column_table_is_protected_down_its_column() -> None:
    with pytest.raises(ValueError, match="one value per row"):
        CountTable(("IQ", "YE"), ("n",), ((40,), (2,), (3,)))
    column = CountTable(("IQ", "YE", "LB"), ("n",), ((40,), (2,), (35,)))
    assert marks(disclose(column, k=5)) == [["40"], [S], [X]]


def test_k_comes_from_the_environment() -> None:
    assert min_cell({}) == 5
    assert min_cell({"WASL_MIN_CELL": "10"}) == 10
    with pytest.raises(ValueError, match="at least 2"):
        min_cell({"WASL_MIN_CELL": "1"})
    assert marks(disclose(table((7, 30)), k=10)) == [["<10", X]]


# -- the property -------------------------------------------------------------------------------


def possible_values(kinds: list[Hidden], known: int, k: int) -> list[set[int]]:
    """By enumeration: every value each hidden cell of a line can take, given its mark's
    bounds and the line's hidden sum (the line's total minus its shown cells)."""
    ranges = [range(lo, min(hi, known) + 1) for lo, hi in (bounds(kind, k) for kind in kinds)]
    found: list[set[int]] = [set() for _ in kinds]
    for combo in product(*ranges):
        if sum(combo) == known:
            for i, value in enumerate(combo):
                found[i].add(value)
    return found


small_counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda n_rows: st.integers(1, 4).flatmap(
            lambda n_cols: st.lists(
                st.lists(small_counts, min_size=n_cols, max_size=n_cols),
                min_size=n_rows,
                max_size=n_rows,
            )
        )
    ),
    st.sampled_from([3, 5]),
)
def test_no_hidden_cell_can_be_worked_out_within_its_row_or_column(
    counts: list[list[int]], k: int
) -> None:
    result = disclose(table(*(tuple(line) for line in counts)), k=k)
    n_rows, n_cols = len(counts), len(counts[0])
    for r in range(n_rows):
        for c in range(n_cols):
            value, kind = counts[r][c], result.hidden[r][c]
            if kind is None:
                assert result.cells[r][c] == value, "shown cells are true"
            else:
                low, high = bounds(kind, k)
                assert low <= value <= high, "a mark never lies about its cell"
            if 0 < value < k:
                assert kind is Hidden.SMALL, "every small group is hidden"
    lines = []
    if n_cols >= 2:
        lines += [([(r, c) for c in range(n_cols)], result.row_totals[r]) for r in range(n_rows)]
    if n_rows >= 2:
        lines += [
            ([(r, c) for r in range(n_rows)], result.column_totals[c]) for c in range(n_cols)
        ]
    for line, published in lines:
        hidden = [(r, c) for r, c in line if result.hidden[r][c] is not None]
        if published is not None:
            assert not hidden, "a published total covers no hidden cell"
        if not hidden or len(hidden) == len(line):
            continue  # nothing hidden, or the whole line is (its total is withheld)
        # Even a reader who knows this line's total from elsewhere cannot pin a hidden cell.
        known = sum(counts[r][c] for r, c in hidden)
        kinds = [result.hidden[r][c] for r, c in hidden]
        options = possible_values([kind for kind in kinds if kind is not None], known, k)
        for (r, c), values in zip(hidden, options, strict=True):
            assert counts[r][c] in values
            assert len(values) >= 2, f"cell {(r, c)} would be pinned to {values}"


# -- the cell-key method (counts over time) -----------------------------------------------------

keys = st.integers(0, KEY_SPACE - 1)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 400), keys, st.sampled_from([3, 5, 10]))
def test_a_perturbed_figure_is_never_under_k_and_never_off_by_more_than_d(
    count: int, key: int, k: int
) -> None:
    published = perturb(count, key, k)
    if count <= k - 1 - NOISE:
        assert published is None, "0..k-1-D are always shown <k"
    if published is not None:
        assert published >= k, "nothing under k is ever published"
        assert abs(published - count) <= NOISE
        assert published != count or count >= k, "1..k-1 are never published as themselves"
    elif count >= k + NOISE:
        raise AssertionError("a count of k+D or more is always published")


@given(st.lists(keys, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_the_same_contributors_always_get_the_same_noise(
    contributors: list[int], random: Random
) -> None:
    shuffled = contributors[:]
    random.shuffle(shuffled)
    n = len(contributors) + 4
    assert cell_key(contributors) == cell_key(shuffled)
    assert perturb(n, cell_key(contributors), 5) == perturb(n, cell_key(shuffled), 5)
    together = Keyed(0, 0)
    for key in shuffled:
        together += Keyed(1, key)
    assert together == Keyed(len(contributors), cell_key(contributors))


def test_the_p_table_is_unbiased_and_follows_its_weights() -> None:
    row = noise_row()
    assert sum(n * w for n, w in row) == 0, "no noise on average"
    assert row == tuple((n, P_TABLE[abs(n)]) for n in range(-NOISE, NOISE + 1))
    # Evenly spread cell keys land on each noise value in proportion to its weight.
    step = KEY_SPACE // 2000
    seen = Counter((perturb(40, key, 5) or 0) - 40 for key in range(0, KEY_SPACE, step))
    total = sum(P_TABLE[abs(n)] for n in range(-NOISE, NOISE + 1))
    for n in range(-NOISE, NOISE + 1):
        assert seen[n] == pytest.approx(2000 * P_TABLE[abs(n)] / total, abs=2)


def test_a_new_contributor_changes_the_key_and_so_draws_fresh_noise() -> None:
    base = [123, 456_789, 2_000_000_000]
    assert cell_key(base) == sum(base) % KEY_SPACE
    noises = set()
    for extra in range(0, KEY_SPACE, KEY_SPACE // 50):
        noises.add(perturb(41, cell_key([*base, extra]), 5))
    assert len(noises) == 2 * NOISE + 1, "different people, independent noise"


def test_a_perturbed_table_perturbs_each_total_as_its_own_cell() -> None:
    def group(n: int, key: int) -> Keyed:
        return Keyed(n, key)

    table = KeyedTable(
        rows=("IQ", "YE"),
        columns=("youth", "vaw"),
        cells=((group(30, 11), group(12, 22)), (group(1, 33), group(0, 0))),
        row_totals=(group(35, 44), group(1, 33)),  # people: 30 + 12 overlap in 7 of them
        column_totals=(group(31, 44), group(12, 22)),
        total=group(36, 77),
    )
    result = perturb_table(table, k=5)
    assert result.noise == NOISE
    assert result.cells[1] == (None, None) and result.hidden[1] == (Hidden.SMALL, Hidden.SMALL)
    assert result.mark(1, 1) == "<5", "a zero is shown <k like any small count"
    assert result.row_totals[1] is None
    assert result.total is not None and abs(result.total - 36) <= NOISE
    assert result.row_totals[0] == perturb(35, 44, 5), "not the sum of the perturbed cells"
    assert result.all_hidden is False and result.any_hidden
