"""The vertices a drawing needs: what is dropped moves the drawing by less than one cell."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.polyline import moves_a_pixel, needed_vertices


def check_within_a_cell(x: np.ndarray, y: np.ndarray, keep: np.ndarray, cell: float) -> None:
    """Between two kept neighbours every dropped point lies in a band less than a cell high
    that holds both, and between them along x."""
    kept = np.flatnonzero(keep)
    assert kept[0] == 0 and kept[-1] == len(x) - 1
    for a, b in itertools.pairwise(kept):
        if b - a < 2:
            continue
        ys, xs = y[a : b + 1], x[a : b + 1]
        assert np.all(np.isfinite(ys)) and np.all(np.isfinite(xs))
        assert ys.max() - ys.min() < cell, (a, b)
        assert min(x[a], x[b]) <= xs.min() and xs.max() <= max(x[a], x[b]), (a, b)


def series(seed: int, n: int, jitter: float, flat_from: int) -> tuple[np.ndarray, np.ndarray]:
    """A run's curve in pixels: a fall over flat_from points, then jitter about a level."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 500, n))
    y = 200 + jitter * rng.standard_normal(n)
    y[:flat_from] = np.linspace(0, 200, flat_from) + rng.standard_normal(flat_from)
    return x, y


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    jitter=st.sampled_from([0.0, 0.05, 0.3, 0.6, 2.0, 40.0]),
    flat=st.floats(0, 1),
    cell=st.sampled_from([0.25, 1.0, 2.0]),
)
def test_dropped_points_stay_within_a_cell_of_the_segment_that_replaces_them(
    seed, n, jitter, flat, cell
):
    x, y = series(seed, n, jitter, int(flat * n))
    keep = needed_vertices(x, y, cell)
    assert keep.shape == (n,) and keep.dtype == bool
    if n:
        check_within_a_cell(x, y, keep, cell)


@settings(max_examples=100, deadline=None)
@given(
    x=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=200),
    data=st.data(),
)
def test_any_order_of_x_and_non_finite_points(x, data):
    # Not only time series: x may go back and forth, and points may be NaN or infinite.
    n = len(x)
    y = data.draw(
        st.lists(
            st.one_of(st.floats(0, 3), st.sampled_from([np.nan, np.inf, -np.inf])),
            min_size=n,
            max_size=n,
        )
    )
    x, y = np.array(x), np.array(y)
    keep = needed_vertices(x, y)
    assert keep[~np.isfinite(y)].all()  # a break in the line stays where it was
    check_within_a_cell(x, y, keep, 1.0)


def test_a_converged_run_needs_a_few_vertices_and_a_noisy_one_all():
    x, y = series(1, 1341, 0.1, 50)
    assert needed_vertices(x, y).sum() < 100  # of 1341: the fall and a few on the level
    x, y = series(1, 1341, 40.0, 0)
    assert needed_vertices(x, y).sum() > 1300  # jumps of many pixels: nothing to drop
    flat = np.full(5000, 7.0)
    assert np.flatnonzero(needed_vertices(np.arange(5000.0), flat)).tolist() == [0, 4999]


def test_short_series_are_kept_and_bad_arguments_are_refused():
    for n in range(3):
        assert needed_vertices(np.zeros(n), np.zeros(n)).all()
    with pytest.raises(ValueError, match="one length"):
        needed_vertices(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="cell must be positive"):
        needed_vertices(np.zeros(3), np.zeros(3), 0.0)


def test_a_move_of_less_than_the_tolerance_of_a_pixel_is_not_a_change():
    x, y = np.array([0.0, 1.0, np.nan, 2.0]), np.array([0.0, 2.0, np.nan, 1.0])
    pixel = (0.01, 0.02)  # data units per pixel
    assert moves_a_pixel(None, (x, y), pixel)
    assert not moves_a_pixel((x, y), (x + 0.002, y - 0.004), pixel)  # 0.2 px each way
    assert moves_a_pixel((x, y), (x + 0.003, y), pixel)  # 0.3 px
    assert moves_a_pixel((x, y), (x, y + 0.006), pixel)
    assert moves_a_pixel((x, y), (x[:3], y[:3]), pixel)  # another count
    moved_break = np.array([0.0, np.nan, 1.0, 2.0])
    assert moves_a_pixel((x, y), (moved_break, y), pixel)
    up, down = np.array([0.0, np.inf, np.nan, 2.0]), np.array([0.0, -np.inf, np.nan, 2.0])
    assert moves_a_pixel((up, y), (down, y), pixel)
    assert moves_a_pixel((x, y), (x, y), (0.0, 0.02))  # no pixel size yet: draw
