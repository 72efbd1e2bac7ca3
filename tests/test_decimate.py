"""Tests for core.decimate: evenly spread indices, step cells and min/max envelopes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.decimate import cell_starts, cells, envelope, even_indices
from core.history import History


def test_even_indices() -> None:
    np.testing.assert_array_equal(even_indices(5, 10), np.arange(5))
    np.testing.assert_array_equal(even_indices(101, 5), [0, 25, 50, 75, 100])
    np.testing.assert_array_equal(even_indices(7, 1), [0])
    assert even_indices(0, 3).size == 0
    with pytest.raises(ValueError, match="max_points"):
        even_indices(5, 0)


def slow_cell_start(step: int, width: int, per_octave: int) -> int:
    """cell_starts for one step, written out."""
    if per_octave == 0:
        w = width
    else:
        octave = 1 << (max(step, 1).bit_length() - 1)
        w = min(max(octave // per_octave, 1), width)
    return step - step % w


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(0, 10**12), min_size=1, max_size=200),
    width=st.sampled_from([1, 2, 8, 1024, 2**20]),
    per_octave=st.sampled_from([0, 1, 4, 8, 64]),
)
def test_cell_starts_match_the_rule(steps: list[int], width: int, per_octave: int) -> None:
    steps = sorted(steps)
    got = cell_starts(np.array(steps), width, per_octave)
    assert got.tolist() == [slow_cell_start(s, width, per_octave) for s in steps]


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.integers(0, 10**9), min_size=1, max_size=200))
def test_coarser_cells_are_unions_of_finer_ones(steps: list[int]) -> None:
    # What lets the history's cells sit inside the views' cells.
    s = np.array(sorted(steps))
    fine = cell_starts(s, 64, 64)
    for width, per_octave in ((64, 8), (1024, 8), (1024, 0)):
        coarse = cell_starts(s, width, per_octave)
        np.testing.assert_array_equal(cell_starts(fine, width, per_octave), coarse)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 5000),
    max_points=st.integers(2, 600),
    gap=st.integers(1, 1000),
    seed=st.integers(0, 2**32 - 1),
)
def test_envelope_bounds_ends_and_extremes(n: int, max_points: int, gap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.integers(1, gap + 1, size=n)) - 1
    y = np.column_stack((rng.normal(size=n), np.cumsum(rng.normal(size=n))))
    ox, oy = envelope(x, y, max_points)
    assert len(ox) == len(oy) <= max_points
    assert ox[0] == x[0] and ox[-1] == x[-1]
    np.testing.assert_array_equal(oy[0], y[0])
    np.testing.assert_array_equal(oy[-1], y[-1])
    assert np.all(np.diff(ox) >= 0)
    # Every column's least and most survive (given room for one cell), and no point is made up.
    if max_points >= 4:
        np.testing.assert_array_equal(oy.min(axis=0), y.min(axis=0))
        np.testing.assert_array_equal(oy.max(axis=0), y.max(axis=0))
    for k in range(2):
        assert np.isin(oy[:, k], y[:, k]).all()
    # Called again on a copy: the same points.
    again = envelope(x.copy(), y.copy(), max_points)
    np.testing.assert_array_equal(again[0], ox)
    np.testing.assert_array_equal(again[1], oy)


def test_envelope_of_one_column_and_of_short_series() -> None:
    x = np.arange(10)
    y = np.arange(10.0)
    ox, oy = envelope(x, y, 100)
    np.testing.assert_array_equal(ox, x)
    np.testing.assert_array_equal(oy, y)
    assert oy.ndim == 1
    ox, oy = envelope(np.arange(10_000), np.sin(np.arange(10_000) / 300.0), 100)
    assert oy.ndim == 1 and len(ox) <= 100
    with pytest.raises(ValueError, match="max_points"):
        envelope(x, y, 1)


def test_envelope_skips_nan_inside_a_cell_and_keeps_the_last_point() -> None:
    y = np.linspace(1.0, 2.0, 10_000)
    y[5000] = np.nan
    y[-1] = np.inf  # a run that diverged on its last step
    ox, oy = envelope(np.arange(10_000), y, 200)
    assert np.isfinite(oy[:-1]).all() and oy[-1] == np.inf and ox[-1] == 9999


def test_merged_history_draws_what_the_raw_record_draws() -> None:
    # The shape survives thinning: per view cell, the least and the most of a run kept in a
    # bounded history are those of every recorded step.
    rng = np.random.default_rng(7)
    n = 600_000
    loss = rng.exponential(size=n)
    walk = np.cumsum(rng.normal(size=(n, 2)), axis=0)
    h = History(2, ["w", "b"], max_bytes=1)  # the smallest capacity: 4096 rows
    h.record_steps(0, loss, walk)
    assert h.n_steps_recorded < n // 100
    _, merged_loss, merged_params = h.series(800)
    raw = np.column_stack((loss, walk))
    firsts = cells(np.arange(n), (800 - 2) // 2)
    lows = np.minimum.reduceat(raw, firsts, axis=0)
    highs = np.maximum.reduceat(raw, firsts, axis=0)
    got = np.column_stack((merged_loss, merged_params))
    # Each cell's low and high are drawn, and nothing outside them.
    for k in range(3):
        assert np.isin(lows[:-1, k], got[:, k]).all()
        assert np.isin(highs[:-1, k], got[:, k]).all()
    assert np.isin(got[1:-1, 0], np.concatenate((lows[:, 0], highs[:, 0]))).all()
