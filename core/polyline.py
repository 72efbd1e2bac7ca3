"""Which vertices of a polyline its drawing needs, at the size it is drawn.

A long series drawn in a plot a few hundred pixels wide has several points per pixel, and
most of a converged run's points lie within one pixel of each other: the parameters, the
loss and the learning rate are flat for most of a long run. A painter strokes every segment
it is given, so a frame paid for vertices that change no pixel. `needed_vertices` splits the
points into aligned blocks of 4, 16, 64, ... points; a block is flat when all its points lie
within less than one cell (a pixel) of height and, along x, between the block's first and
last points. The points inside a flat block that no larger flat block holds are dropped: the
segment from the block's first point to its last lies in the same band of less than a cell,
and covers the same span of x, as the points it replaces, so the drawing moves by less than
one cell. Non-finite points are always kept (they break the line), and so is every point of a
block that is not flat (a steep stretch keeps all its detail).
"""

from __future__ import annotations

import math

import numpy as np

BLOCK = 4  # block sizes: 4, 16, 64, ... points


def _fold(a: np.ndarray) -> np.ndarray:
    """The minimum over each group of BLOCK neighbours along the last axis (pairwise: several
    times faster than np.minimum.reduce over a reshaped axis)."""
    b = a.reshape(*a.shape[:-1], -1, BLOCK)
    return np.minimum(np.minimum(b[..., 0], b[..., 1]), np.minimum(b[..., 2], b[..., 3]))


def needed_vertices(px: np.ndarray, py: np.ndarray, cell: float = 1.0) -> np.ndarray:
    """Mask of the points of the polyline (px, py), in device units, that its drawing needs on
    a grid of cell-sized squares; the first and last points are always kept."""
    x = np.asarray(px, dtype=np.float64)
    y = np.asarray(py, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"px and py must be 1-D and of one length, got {x.shape} and {y.shape}")
    if not cell > 0:
        raise ValueError(f"cell must be positive, got {cell}")
    n = x.size
    if n < 3:
        return np.ones(n, dtype=bool)
    size = BLOCK
    while size < n:
        size *= BLOCK
    # Extents as minima only (y, -y and, unless x never decreases, x, -x), padded with copies
    # of the last point up to whole blocks: a copy changes no block's extent, and the last
    # block ends on the last point. Along a time series every block lies between its ends.
    series = bool(np.all(x[1:] >= x[:-1]))
    ext = np.empty((2 if series else 4, size))
    for row, values in ((0, y), (2, x))[: 1 if series else 2]:
        ext[row, :n], ext[row, n:] = values, values[-1]
        np.negative(ext[row], out=ext[row + 1])
    xs = ext[-2]
    drop = np.zeros(size, dtype=bool)
    block = BLOCK
    with np.errstate(invalid="ignore"):  # inf - inf: not flat
        while block <= size:
            ext = _fold(ext)
            m = -(-n // block)  # blocks holding real points
            part = ext[:, :m]
            flat = -part[1] - part[0] < cell
            if not series:
                first, last = xs[::block][:m], xs[block - 1 :: block][:m]
                flat &= (part[2] >= np.minimum(first, last)) & (-part[3] <= np.maximum(first, last))
            if not flat.any():
                # A block is flat only if its parts are: none larger will be.
                break
            drop.reshape(-1, block)[:m][flat, 1:-1] = True
            block *= BLOCK
    keep = ~drop[:n]
    keep[0] = keep[-1] = True
    return keep


def _drawn_size(sx: float, sy: float) -> bool:
    """Whether a pixel's size in data units is known (a view not laid out yet has none)."""
    return sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)


def moves_a_pixel(
    old: tuple[np.ndarray, np.ndarray] | None,
    new: tuple[np.ndarray, np.ndarray],
    pixel: tuple[float, float],
    tolerance: float = 0.25,
) -> bool:
    """Whether drawing the points new instead of old would move any of them by more than
    tolerance of a pixel (pixel: data units per pixel along x and y); a different count or
    a different place of the non-finite points (the breaks in a line) always does."""
    if old is None:
        return True
    ox, oy = (np.asarray(a, dtype=np.float64) for a in old)
    nx, ny = (np.asarray(a, dtype=np.float64) for a in new)
    if ox.shape != nx.shape or oy.shape != ny.shape:
        return True
    sx, sy = pixel
    if not _drawn_size(sx, sy):
        return True
    for o, n, size in ((ox, nx, sx), (oy, ny, sy)):
        finite = np.isfinite(n)
        if not np.array_equal(finite, np.isfinite(o)):
            return True
        if not np.array_equal(n[~finite], o[~finite], equal_nan=True):
            return True  # inf moved to nan, or +inf to -inf
        if finite.any() and float(np.max(np.abs(n[finite] - o[finite]))) > tolerance * size:
            return True
    return False


# A trace samples a polyline this often per cell along its longer axis; more samples than this
# are not compared (a long, jagged path is still moving: drawing it again is the answer).
MAX_TRACE_SAMPLES = 50_000


def _trace(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer cells (column and row) that the polyline (x, y), in cell units, passes through,
    sampled at most one cell apart along each axis; None past MAX_TRACE_SAMPLES."""
    if x.size > 1:
        dx, dy = np.diff(x), np.diff(y)
        steps = np.maximum(np.ceil(np.maximum(np.abs(dx), np.abs(dy))).astype(np.int64), 1)
        total = int(steps.sum())
        if total > MAX_TRACE_SAMPLES:
            return None
        seg = np.repeat(np.arange(dx.size), steps)
        t = (np.arange(total) - np.repeat(np.cumsum(steps) - steps, steps)) / steps[seg]
        x = np.append(x[seg] + t * dx[seg], x[-1])
        y = np.append(y[seg] + t * dy[seg], y[-1])
    return np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)


def _alike(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether every cell of each trace equals or touches (8 neighbours) a cell of the other."""
    lo_x = min(a[0].min(), b[0].min()) - 1
    lo_y = min(a[1].min(), b[1].min()) - 1
    width = int(max(a[1].max(), b[1].max()) - lo_y) + 2
    ka, kb = (np.unique((c[0] - lo_x) * width + (c[1] - lo_y)) for c in (a, b))
    for cells, of in ((ka, kb), (kb, ka)):
        near = np.zeros(cells.size, dtype=bool)
        for shift in (i * width + j for i in (-1, 0, 1) for j in (-1, 0, 1)):
            want = cells + shift
            at = np.minimum(np.searchsorted(of, want), of.size - 1)
            near |= of[at] == want
        if not near.all():
            return False
    return True


def traces_apart(
    old: tuple[np.ndarray, np.ndarray] | None,
    new: tuple[np.ndarray, np.ndarray],
    pixel: tuple[float, float],
    cell: float = 0.25,
) -> bool:
    """Whether the polyline new would be drawn more than about a pixel away from old anywhere
    (pixel: data units per pixel along x and y). Both are traced on a grid of cell-pixel
    squares; they draw alike when each one's trace lies in or beside the other's cells, so no
    point of one is more than ~3.5 cells from the other (0.9 px at a quarter pixel), whatever
    their vertices: a path decimated anew, or grown by points within its last pixel, draws
    alike. Non-finite points compare as moves_a_pixel does (a break moved is a change)."""
    if old is None:
        return True
    ox, oy = (np.asarray(a, dtype=np.float64) for a in old)
    nx, ny = (np.asarray(a, dtype=np.float64) for a in new)
    sx, sy = pixel
    if not _drawn_size(sx, sy):
        return True
    if ox.size == 0 or nx.size == 0 or ox.shape != oy.shape or nx.shape != ny.shape:
        return ox.size != nx.size or ox.shape != oy.shape or nx.shape != ny.shape
    finite = (np.isfinite(a).all() for a in (ox, oy, nx, ny))
    if not all(finite):
        return moves_a_pixel(old, new, pixel, cell)
    # A shared prefix draws alike: only the rest is traced (a grown path: its new tail).
    n = min(ox.size, nx.size)
    differ = np.flatnonzero((ox[:n] != nx[:n]) | (oy[:n] != ny[:n]))
    first = int(differ[0]) if differ.size else n
    if first == ox.size == nx.size:
        return False
    start = max(first - 1, 0)
    size_x, size_y = sx * cell, sy * cell
    traces = [_trace(x[start:] / size_x, y[start:] / size_y) for x, y in ((ox, oy), (nx, ny))]
    if traces[0] is None or traces[1] is None:
        return True
    return not _alike(traces[0], traces[1])
