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
    """The first step of the cell holding each step (sorted steps >= 0; width and per_octave:
    powers of two; per_octave 0: no refinement near the start)."""
    s = np.asarray(steps, dtype=np.int64)
    top = int(width).bit_length() - 1  # log2 of the widest cell
    starts = (s >> top) << top
    if per_octave <= 0:
        return starts
    # Refined cells are narrower than width only below width * per_octave: a prefix.
    fine = int(np.searchsorted(s, width * per_octave))
    if fine:
        # frexp gives s = m * 2**e with m in [0.5, 1): the octave of s is 2**(e - 1), and
        # its cells are 2**(e - 1) / per_octave steps wide (at least 1).
        head = s[:fine]
        _, exponent = np.frexp(head.astype(np.float64))
        shift = np.clip(exponent - int(per_octave).bit_length(), 0, top).astype(np.int64)
        starts[:fine] = (head >> shift) << shift
    return starts


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
    firsts: np.ndarray,
    values: np.ndarray,
    lows: np.ndarray | None = None,
    highs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell (rows firsts[i] up to firsts[i+1]) the least and the most of each column of
    values (m, k), where lows/highs (r, k) (both or neither) widen the first r rows: those
    rows summarise merged cells. NaN is skipped unless a cell has nothing else."""
    # fmin/fmax skip NaN, so one bad minibatch does not hide the whole cell's range.
    mins = np.fmin.reduceat(values, firsts, axis=0)
    maxs = np.fmax.reduceat(values, firsts, axis=0)
    r = 0 if lows is None else lows.shape[0]
    if r and highs is not None and lows is not None:
        # The cells that start among the summarised rows (firsts[0] is 0: at least one).
        j = int(np.searchsorted(firsts, r))
        mins[:j] = np.fmin(mins[:j], np.fmin.reduceat(lows, firsts[:j], axis=0))
        maxs[:j] = np.fmax(maxs[:j], np.fmax.reduceat(highs, firsts[:j], axis=0))
    return mins, maxs


def envelope(
    x: np.ndarray,
    values: np.ndarray,
    max_points: int,
    lows: np.ndarray | None = None,
    highs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """At most max_points points of a step series: the first and the last point as recorded,
    and for each cell of steps its minimum and maximum, in the order they rise or fall.

    x: sorted steps >= 0, (m,); values: (m,) or (m, k). lows/highs (both or neither, (r,) or
    (r, k)): the least and the most in the merged cells the first r rows stand for; later
    rows stand for themselves. A series of at most max_points rows none of which stands for
    a merged cell comes back whole. The last row counts as its value alone: its summary
    may reach past it (a rewound step inside a merged cell).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    x = np.asarray(x)
    vals = np.asarray(values)
    n = x.shape[0]
    k = 1 if vals.ndim == 1 else vals.shape[1]
    r = 0 if lows is None else min(lows.shape[0], n - 1)
    if n <= 2 or (n <= max_points and r == 0):
        return x.copy(), vals.copy()
    if max_points < 4:  # no room for a cell's low and high
        ends = np.array([0, n - 1])
        return x[ends], vals[ends]
    vals2 = vals.reshape(n, k)
    summary = (None, None)
    if r and lows is not None and highs is not None:
        summary = (np.asarray(lows)[:r].reshape(r, k), np.asarray(highs)[:r].reshape(r, k))
    firsts = cells(x, (max_points - 2) // 2)
    lasts = np.append(firsts[1:] - 1, n - 1)
    mins, maxs = merge_cells(firsts, vals2, *summary)
    with np.errstate(invalid="ignore"):
        rising = vals2[lasts] >= vals2[firsts]
    pair_x = np.column_stack((x[firsts], x[lasts])).reshape(-1)
    pair_y = np.stack((np.where(rising, mins, maxs), np.where(rising, maxs, mins)), axis=1)
    out_x = np.concatenate((x[:1], pair_x, x[-1:]))
    out_y = np.concatenate((vals2[:1], pair_y.reshape(-1, k), vals2[-1:]))
    # A point equal to the one before it (a cell of one unmerged row) adds nothing.
    same = (out_x[1:] == out_x[:-1]) & np.all(
        (out_y[1:] == out_y[:-1]) | (np.isnan(out_y[1:]) & np.isnan(out_y[:-1])), axis=1
    )
    keep = np.concatenate(([True], ~same))
    out_y = out_y[keep]
    return out_x[keep], (out_y[:, 0] if vals.ndim == 1 else out_y)
