"""The vertices a drawing needs: what is dropped moves the drawing by less than one cell."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.polyline import moves_a_pixel, needed_vertices, traces_apart


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


def _distances(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance from each point ((m, 2)) to the polyline line ((k, 2)), exactly."""
    if len(line) == 1:
        return np.hypot(*(points - line[0]).T)
    a, b = line[:-1], line[1:]
    ab = b - a
    length2 = np.maximum((ab**2).sum(axis=1), 1e-300)
    t = np.clip(((points[:, None, :] - a) * ab).sum(axis=2) / length2, 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.hypot(*(points[:, None, :] - nearest).transpose(2, 0, 1)).min(axis=1)


def _along(line: np.ndarray, spacing: float = 0.05) -> np.ndarray:
    """Points along the polyline at most spacing apart (what a painter strokes)."""
    out = [line[:1]]
    for a, b in itertools.pairwise(line):
        n = max(int(np.ceil(np.hypot(*(b - a)) / spacing)), 1)
        out.append(a + np.linspace(0, 1, n + 1)[1:, None] * (b - a))
    return np.concatenate(out)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    wobble=st.floats(0.0, 1.5),
    keep=st.floats(0.2, 1.0),
    grow=st.integers(0, 5),
    reach=st.floats(0.0, 3.0),
    shift=st.floats(0.0, 2.0),
    pixel=st.sampled_from([(1.0, 1.0), (0.01, 2.5)]),
)
def test_traces_alike_draw_within_a_pixel(seed, n, wobble, keep, grow, reach, shift, pixel):
    """Whenever traces_apart says two paths draw alike, each one's stroke lies within a pixel
    of the other's, whatever they share: a path decimated anew, nudged, or grown."""
    rng = np.random.default_rng(seed)
    old = np.cumsum(rng.normal(0, 4, (n, 2)), axis=0)
    angle = rng.uniform(0, 2 * np.pi)
    new = (
        old
        + rng.uniform(-wobble, wobble, old.shape)
        + shift * np.array([np.cos(angle), np.sin(angle)])
    )
    if n > 2:
        inner = rng.random(n - 2) < keep
        new = new[np.concatenate(([True], inner, [True]))]
    if grow:
        new = np.vstack([new, new[-1] + rng.uniform(-reach, reach, (grow, 2))])
    sx, sy = pixel
    scale = np.array([sx, sy])
    apart = traces_apart(tuple((old * scale).T), tuple((new * scale).T), pixel)
    if not apart:
        assert _distances(_along(new), old).max() < 1.0
        assert _distances(_along(old), new).max() < 1.0
    if wobble == 0 and shift == 0 and keep == 1.0 and grow == 0:
        assert not apart  # the same path


def test_traces_apart_cases() -> None:
    pixel = (0.5, 0.25)  # data units per pixel
    t = np.linspace(0, 3, 400)
    x, y = 60 * np.cos(t), 20 * np.sin(t)  # an arc ~200 px across
    assert traces_apart(None, (x, y), pixel)
    assert not traces_apart((x, y), (x, y), pixel)
    # Grown by points within its last pixel's quarter: alike; by one 2 px away: apart.
    near = (np.append(x, x[-1] + 0.05), np.append(y, y[-1] - 0.02))
    assert not traces_apart((x, y), near, pixel)
    assert traces_apart((x, y), (np.append(x, x[-1] + 1.0), np.append(y, y[-1])), pixel)
    # Decimated anew (every other point, the ends kept): alike; shifted by 1.5 px: apart.
    half = np.r_[0:400:2, 399]
    assert not traces_apart((x, y), (x[half], y[half]), pixel)
    assert traces_apart((x, y), (x + 0.75, y), pixel)
    # A whole path moved by half a pixel, any way: apart (dense traces keep it strict).
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        moved = (x + 0.5 * 0.5 * np.cos(angle), y + 0.5 * 0.25 * np.sin(angle))
        assert traces_apart((x, y), moved, pixel)
    # Empty against drawn, a moved break, no pixel size yet, a path too long to trace.
    assert traces_apart((x, y), (x[:0], y[:0]), pixel)
    assert not traces_apart((x[:0], y[:0]), (x[:0], y[:0]), pixel)
    broken = y.copy()
    broken[10] = np.nan
    assert traces_apart((x, y), (x, broken), pixel)
    assert traces_apart((x, y), (x, y), (0.0, 0.25))
    zigzag = (np.arange(4000.0), np.tile([0.0, 100.0], 2000))
    assert traces_apart(zigzag, (zigzag[0], zigzag[1] + 1e-9), (1.0, 1.0))
