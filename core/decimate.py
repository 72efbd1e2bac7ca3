"""Thinning long series: evenly spread indices, and per-cell min/max envelopes of step series.

Steps fall into cells: aligned runs of `width` steps, finer near the start (a step in the
octave [2^k, 2^(k+1)) lies in a cell of 2^k / per_octave steps when that is smaller), so
early training keeps its detail on a log step axis. Widths are powers of two, so a cell
never straddles another and the cells of a coarser grid are unions of finer ones. The
history merges its old rows into such cells and the views' series are drawn per cell, so
the same rows and the same step range always give the same points, wherever it is asked.
"""

from __future__ import annotations

import numpy as np

# Cells per doubling of the step where the log-axis refinement is finer than the width.
PER_OCTAVE = 8


def even_indices(n: int, max_points: int) -> np.ndarray:
    """Indices of at most max_points rows spread evenly over n rows, first and last included."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    if n <= max_points:
        return np.arange(n)
    if max_points == 1:
        return np.zeros(1, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def cell_starts(steps: np.ndarray, width: int, per_octave: int = PER_OCTAVE) -> np.ndarray:
    """The first step of the cell holding each step (steps >= 0; width and per_octave: powers
    of two; per_octave 0: no refinement near the start)."""
    s = np.asarray(steps, dtype=np.int64)
    top = int(width).bit_length() - 1  # log2 of the widest cell
    if per_octave <= 0:
        return (s >> top) << top
    # frexp gives s = m * 2**e with m in [0.5, 1): the octave of s is 2**(e - 1), and its
    # cells are 2**(e - 1) / per_octave steps wide (at least 1, at most width).
    _, exponent = np.frexp(s.astype(np.float64))
    shift = np.clip(exponent - int(per_octave).bit_length(), 0, top).astype(np.int64)
    return (s >> shift) << shift


def cell_firsts(starts: np.ndarray) -> np.ndarray:
    """Index of the first row of each cell, for rows sorted by step."""
    n = starts.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], starts[1:] != starts[:-1])))


def cells(steps: np.ndarray, max_cells: int) -> np.ndarray:
    """First row of each cell of the finest grid with at most max_cells cells over these
    sorted steps (at least one): the narrowest width, with per_octave as high as fits."""
    if max_cells < 1:
        raise ValueError(f"max_cells must be at least 1, got {max_cells}")
    last = max(int(steps[-1]), 1)
    # From the linear-only estimate upwards. A coarser grid only merges cells of a finer one,
    # so after the first pass only the first step of each fine cell needs looking at.
    width = 1 << max(0, (-(-last // max_cells) - 1).bit_length())
    fine = cell_firsts(cell_starts(steps, width, PER_OCTAVE))
    firsts = steps[fine]
    while True:
        # Half the refinement before a wider linear cell; none only when nothing else fits.
        tries = (PER_OCTAVE, PER_OCTAVE // 2) if width <= last else (PER_OCTAVE // 2, 2, 1, 0)
        for per_octave in tries:
            rows = cell_firsts(cell_starts(firsts, width, per_octave))
            if rows.size <= max_cells or per_octave == 0:
                return fine[rows]
        width *= 2


def merge_cells(
    firsts: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell (rows firsts[i] up to firsts[i+1]) the smallest low and the largest high of
    each column; NaN is skipped unless a cell has nothing else."""
    # fmin/fmax skip NaN, so one bad minibatch does not hide the whole cell's range.
    return np.fmin.reduceat(lows, firsts, axis=0), np.fmax.reduceat(highs, firsts, axis=0)


def envelope(
    x: np.ndarray,
    values: np.ndarray,
    max_points: int,
    lows: np.ndarray | None = None,
    highs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """At most max_points points of a step series: the first and the last point as recorded,
    and for each cell of steps its minimum and maximum, in the order they rise or fall.

    x: sorted steps >= 0, (m,); values: (m,) or (m, k). lows/highs (both or neither, shaped
    like values): the least and the most each row stands for, when rows summarise merged
    steps; an unmerged series of at most max_points rows comes back whole. The last row
    counts as its value alone: its summary may reach past it (a rewound step inside a cell).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    x = np.asarray(x)
    vals = np.asarray(values)
    n = x.shape[0]
    if n <= 2 or (n <= max_points and lows is None):
        return x.copy(), vals.copy()
    if max_points < 4:  # no room for a cell's low and high
        ends = np.array([0, n - 1])
        return x[ends], vals[ends]
    flat = vals.ndim == 1
    vals2 = vals.reshape(n, -1)
    lo = vals2 if lows is None else np.asarray(lows).reshape(vals2.shape)
    hi = vals2 if highs is None else np.asarray(highs).reshape(vals2.shape)
    firsts = cells(x, (max_points - 2) // 2)
    lasts = np.append(firsts[1:] - 1, n - 1)
    mins, maxs = merge_cells(firsts, lo, hi)
    # The last cell: its rows' summaries but the last row's value.
    f = int(firsts[-1])
    tail = (lo[f : n - 1], hi[f : n - 1])
    if tail[0].shape[0]:
        tail_lo, tail_hi = merge_cells(np.zeros(1, dtype=np.int64), *tail)
        mins[-1] = np.fmin(tail_lo[0], vals2[-1])
        maxs[-1] = np.fmax(tail_hi[0], vals2[-1])
    else:
        mins[-1] = maxs[-1] = vals2[-1]
    with np.errstate(invalid="ignore"):
        rising = vals2[lasts] >= vals2[firsts]
    pair_x = np.column_stack((x[firsts], x[lasts])).reshape(-1)
    pair_y = np.stack((np.where(rising, mins, maxs), np.where(rising, maxs, mins)), axis=1)
    out_x = np.concatenate((x[:1], pair_x, x[-1:]))
    out_y = np.concatenate((vals2[:1], pair_y.reshape(-1, vals2.shape[1]), vals2[-1:]))
    # A point equal to the one before it (a cell of one unmerged row) adds nothing.
    same = (out_x[1:] == out_x[:-1]) & np.all(
        (out_y[1:] == out_y[:-1]) | (np.isnan(out_y[1:]) & np.isnan(out_y[:-1])), axis=1
    )
    keep = np.concatenate(([True], ~same))
    out_y = out_y[keep]
    return out_x[keep], (out_y[:, 0] if flat else out_y)
