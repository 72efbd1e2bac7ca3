"""The loss landscape's math: the objective over two parameters, its minimum, the axis ranges,
the colour scale and contour levels, and the gradient arrows. Qt-free; gui/landscape.py draws it.

The loss of a linear model is quadratic in its parameters, so a whole grid follows from the
run's sufficient statistics in O(grid) work whatever the number of samples. Everything is in
trained units, the space the optimizer moves in (standardised when the data is); paths, given
in original units, are converted with trained_column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis import Objective
from core.runinfo import RunInfo

__all__ = [
    "ARROW_FRACTION",
    "CURVE_POINTS",
    "DECADES",
    "GRID",
    "MARGIN",
    "N_CONTOURS",
    "SQUARE_RATIO",
    "Curve",
    "Grid",
    "Objective",
    "arrow_scale",
    "arrows",
    "contour_levels",
    "contour_segments",
    "log_excess",
    "objective_of",
    "param_range",
    "squared",
    "trained_column",
    "trained_theta",
]

GRID = 200  # grid points per axis
CURVE_POINTS = 400  # points of the 1-D loss curve
MARGIN = 0.3  # fraction of the span of the marked points left free on each side
SQUARE_RATIO = 3.0  # axes whose spans are within this ratio get the same span (true shapes)
N_CONTOURS = 9
DECADES = 4.0  # colour range below the largest excess loss shown (log scale)
ARROW_FRACTION = 0.2  # the longer gradient arrow spans this fraction of the view

Range = tuple[float, float]
# The colour scale's top moves in steps of this many decades: data that moves a little (a drag
# of a slider) then leaves the scale, its colour bar and the bar's axis as drawn.
COLOR_STEP = 0.25


def stepped_color_range(color_range: Range) -> Range:
    """The colour scale's ends rounded outwards to a COLOR_STEP of decades (both ends: a drag
    moves the span as well as the top, and each new end would relabel the bar)."""
    lo, hi = color_range
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return color_range
    return math.floor(lo / COLOR_STEP) * COLOR_STEP, math.ceil(hi / COLOR_STEP) * COLOR_STEP


def objective_of(info: RunInfo) -> Objective:
    """The training objective of a run, from its static facts."""
    if info.stats is None:
        raise ValueError("RunInfo lacks the statistics a landscape needs (use run_info)")
    return Objective(info.stats, info.loss_kind, float(info.l2_penalty), bool(info.fit_bias))


@dataclass(frozen=True)
class Grid:
    """The objective over a pair of parameters, ready to draw."""

    u: np.ndarray  # x axis values
    v: np.ndarray  # y axis values
    z: np.ndarray  # objective[row=v, col=u]
    log: np.ndarray  # log10 of the excess over the minimum: the colours
    color_range: Range  # the colour scale's ends
    levels: np.ndarray  # contour levels of log, increasing
    segments: tuple[np.ndarray, np.ndarray]  # contour line segments, as point pairs

    @classmethod
    def compute(
        cls,
        objective: Objective,
        theta: np.ndarray,
        pair: tuple[int, int],
        ranges: tuple[Range, Range],
        floor: float,
        n: int = GRID,
    ) -> Grid:
        """The grid over pair = (i, j) in ranges, the others held at theta; floor is the
        objective's minimum value."""
        (x0, x1), (y0, y1) = ranges
        u, v = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        z = objective.grid(theta, pair[0], pair[1], u, v)
        log, lo, hi = log_excess(z, floor)
        levels = contour_levels(lo, hi)
        return cls(u, v, z, log, (lo, hi), levels, contour_segments(u, v, log, levels))


@dataclass(frozen=True)
class Curve:
    """The objective along one parameter (a model with one weight and no bias)."""

    coef: np.ndarray  # [a, b, c]: objective = a*t^2 + b*t + c
    u: np.ndarray
    z: np.ndarray

    @classmethod
    def compute(
        cls, objective: Objective, theta: np.ndarray, k: int, x_range: Range, n: int = CURVE_POINTS
    ) -> Curve:
        """The curve along parameter k over x_range, the others held at theta."""
        coef = objective.curve(theta, k)
        u = np.linspace(x_range[0], x_range[1], n)
        return cls(coef, u, np.polyval(coef, u))

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """The objective at parameter values t."""
        return np.polyval(self.coef, t)

    def y_range(self, marks: Iterable[float] = ()) -> Range:
        """A loss axis showing the curve and the marked points, from zero when all are above."""
        values = [self.z, np.asarray(list(marks), dtype=np.float64)]
        lo = min(float(np.min(m)) for m in values if m.size)
        hi = max(float(np.max(m)) for m in values if m.size)
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        lo = min(lo, 0.0)
        return lo - 0.05 * span, hi + 0.05 * span


def trained_theta(theta: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """[w..., b] in original units as the model sees it: w * scale, b + w @ shift."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.append(theta[:-1] * scale, theta[-1] + theta[:-1] @ shift)


def trained_column(values: np.ndarray, k: int, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Parameter k (d: the bias) of rows [w..., b] in original units, in trained units; empty
    when the rows do not match."""
    d = len(scale)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != d + 1:
        return np.zeros(0)
    if k == d:
        return values[:, d] + values[:, :d] @ shift
    return values[:, k] * scale[k]


def param_range(
    objective: Objective,
    k: int,
    start: np.ndarray,
    minimum: np.ndarray,
    marks: Iterable[float] = (),
) -> Range:
    """Axis range of parameter k: the start, the minimum and the marks, with margins.

    At least half the distance over which the objective rises by the start's excess (or by
    the minimum's value), so a run starting at the minimum still shows a bowl."""
    values = [float(minimum[k]), float(start[k]), *(float(m) for m in marks)]
    values = [m for m in values if math.isfinite(m)]
    lo, hi = min(values), max(values)
    curvature = objective.curvature(k)
    rise = objective.value(start) - objective.value(minimum)
    if not rise > 0:
        rise = max(objective.value(minimum), 1e-6)
    least = 0.5 * math.sqrt(2.0 * rise / curvature) if curvature > 0 else 1.0
    span = max(hi - lo, least, 1e-9 * max(abs(lo), abs(hi)))
    mid = 0.5 * (lo + hi)
    half = 0.5 * span * (1.0 + 2.0 * MARGIN)
    return mid - half, mid + half


def squared(xr: Range, yr: Range, ratio: float = SQUARE_RATIO) -> tuple[Range, Range]:
    """Give both axes the larger span when they are within ratio, so shapes are true."""
    sx, sy = xr[1] - xr[0], yr[1] - yr[0]
    if max(sx, sy) > ratio * min(sx, sy):
        return xr, yr
    s = max(sx, sy)
    cx, cy = 0.5 * (xr[0] + xr[1]), 0.5 * (yr[0] + yr[1])
    return (cx - s / 2, cx + s / 2), (cy - s / 2, cy + s / 2)


def log_excess(
    z: np.ndarray, floor: float, decades: float = DECADES
) -> tuple[np.ndarray, float, float]:
    """log10 of z's excess over floor, cut `decades` below its largest value; and its ends.

    A quadratic bowl spans decades: on a linear scale it would show one flat valley."""
    excess = np.maximum(z - floor, 0.0)
    top = float(excess.max())
    tiny = max(top * 10.0**-decades, 1e-300)
    log = np.log10(excess + tiny)
    lo, hi = float(log.min()), float(log.max())
    return log, lo, (hi if hi > lo else lo + 1.0)


def contour_levels(lo: float, hi: float, n: int = N_CONTOURS) -> np.ndarray:
    """n levels evenly inside (lo, hi), increasing."""
    return np.linspace(lo, hi, n + 2)[1:-1]


def contour_segments(
    u: np.ndarray, v: np.ndarray, z: np.ndarray, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Line segments of the level sets of z[row=v, col=u], as point pairs (marching squares)."""
    levels = np.sort(np.asarray(levels, dtype=np.float64))
    # band = how many levels lie below each value: a cell is crossed by level k exactly when
    # its corners' bands straddle k, so only the few cells on a contour are worked on.
    band = np.searchsorted(levels, z, side="left")
    corners = (band[:-1, :-1], band[:-1, 1:], band[1:, 1:], band[1:, :-1])  # a, b, c, d
    lo = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    hi = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    rows, cols = np.nonzero(hi > lo)
    if rows.size == 0:
        return np.zeros(0), np.zeros(0)
    # One entry per (cell, level) pair.
    counts = (hi - lo)[rows, cols]
    rows, cols = np.repeat(rows, counts), np.repeat(cols, counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = lo[rows, cols] + (np.arange(rows.size) - first)
    level = levels[k]
    za, zb = z[rows, cols], z[rows, cols + 1]
    zc, zd = z[rows + 1, cols + 1], z[rows + 1, cols]
    u0, u1, v0, v1 = u[cols], u[cols + 1], v[rows], v[rows + 1]
    # Edges in order bottom (a-b), right (b-c), top (d-c), left (a-d).
    ends = ((za, zb), (zb, zc), (zd, zc), (za, zd))
    crossed = np.stack([(p > level) != (q > level) for p, q in ends])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = [np.clip((level - p) / (q - p), 0.0, 1.0) for p, q in ends]
    ex = np.stack([u0 + t[0] * (u1 - u0), u1, u0 + t[2] * (u1 - u0), u0])
    ey = np.stack([v0, v0 + t[1] * (v1 - v0), v1, v0 + t[3] * (v1 - v0)])
    count = crossed.sum(axis=0)
    # Two crossed edges hold one segment; four (a saddle, which a convex loss never has) two,
    # paired bottom-right and top-left.
    two = np.nonzero(count == 2)[0]
    e1 = np.argmax(crossed[:, two], axis=0)
    e2 = 3 - np.argmax(crossed[::-1, two], axis=0)
    four = np.nonzero(count == 4)[0]
    sel = np.concatenate([two, four, four])
    e1 = np.concatenate([e1, np.zeros(four.size, np.int64), np.full(four.size, 2)])
    e2 = np.concatenate([e2, np.ones(four.size, np.int64), np.full(four.size, 3)])
    xs = np.empty(2 * sel.size)
    ys = np.empty(2 * sel.size)
    xs[0::2], xs[1::2] = ex[e1, sel], ex[e2, sel]
    ys[0::2], ys[1::2] = ey[e1, sel], ey[e2, sel]
    return xs, ys


def _projected(
    gradients: Sequence[np.ndarray | None], pair: tuple[int, int]
) -> list[tuple[float, float] | None]:
    """Minus each gradient on the shown pair (i, i: along x only); None if missing or not
    finite."""
    i, j = pair
    steps: list[tuple[float, float] | None] = []
    for g in gradients:
        g = None if g is None else np.asarray(g, dtype=np.float64)
        if g is None or g.size <= max(i, j) or not np.isfinite(g).all():
            steps.append(None)
            continue
        steps.append((-float(g[i]), 0.0 if i == j else -float(g[j])))
    return steps


def arrow_scale(
    gradients: Sequence[np.ndarray | None],
    pair: tuple[int, int],
    spans: tuple[float, float],
    fraction: float = ARROW_FRACTION,
) -> float | None:
    """The factor arrows() multiplies minus these gradients by (the longest spans `fraction`
    of the view), or None when none is usable; items drawn beside the arrows (a cloud of
    minibatch gradients) use it to share their scale."""
    sx, sy = spans
    norms = [math.hypot(s[0] / sx, s[1] / sy) for s in _projected(gradients, pair) if s]
    longest = max(norms, default=0.0)
    if not longest > 0.0 or not math.isfinite(longest):
        return None
    return fraction / longest


def arrows(
    gradients: Sequence[np.ndarray | None],
    pair: tuple[int, int],
    spans: tuple[float, float],
    fraction: float = ARROW_FRACTION,
) -> list[tuple[float, float] | None]:
    """Steps (dx, dy) along minus each gradient [w..., b], projected on the shown pair (i, i:
    along x only), on one scale: the longer spans `fraction` of the view (spans: its width and
    height), so their lengths compare. None for a gradient that is missing or not finite."""
    steps = _projected(gradients, pair)
    k = arrow_scale(gradients, pair, spans, fraction)
    if k is None:
        return [None] * len(steps)
    return [None if s is None else (k * s[0], k * s[1]) for s in steps]
