"""Bounded training history (per step and per epoch) and its CSV writers.

Step records live in preallocated NumPy buffers of fixed capacity C. When the buffers are full,
all but the newest C/4 rows are merged into cells of steps (core.decimate: aligned, as wide as
needed for at most C/4 of them, finer near the start), so memory never grows and appending
costs O(1) amortised. A merged row keeps its cell's first recorded row (its step, loss,
parameters and learning rate) and, beside it, the least and the most loss and parameters
recorded anywhere in the cell: the curves of a long run keep their peaks and their shape,
whatever was merged away. Old history is evenly coarse; recent steps stay at full resolution.

A branch's history (core.branch_history.BranchHistory) reads its parent's records up to the
fork through, then its own.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.decimate import cell_firsts, cell_starts, envelope, even_indices, merge_cells
from core.files import atomic_open
from core.history_state import _EPOCH_DTYPES, _EPOCH_FIELDS, _EPOCH_START, HistoryState
from core.history_state import STATE_VERSION as STATE_VERSION

MIN_CAPACITY = 4096
MAX_CAPACITY = 262_144
# Cells per doubling of the step near the start of a run (finer than the views' 8, so their
# cells are unions of the history's).
HISTORY_PER_OCTAVE = 64
_EPOCH_START_BYTES = _EPOCH_START * 8 * len(_EPOCH_FIELDS)
# Rows written per csv.writerows call: bounds the temporary Python lists when exporting.
_CSV_CHUNK = 16_384


def step_capacity(n_params: int, max_bytes: int) -> int:
    """Rows the step buffers hold for this many parameters within max_bytes (clamped, /4)."""
    # A step, the loss and parameters and the rate as recorded; a quarter of the rows (those
    # merged) also keep the least and the most of their cells.
    k = 1 + n_params
    row_bytes = 8 * (2 + k) + 4 * k
    # The epoch buffers' first 64 rows share the budget.
    rows = min(max((max_bytes - _EPOCH_START_BYTES) // row_bytes, MIN_CAPACITY), MAX_CAPACITY)
    # A multiple of 4: thinning keeps the newest C/4 rows and merges the rest into C/4 cells.
    return rows - rows % 4


class History(HistoryState):
    """Per-step and per-epoch training records with bounded memory (saved and loaded by its
    mixin, core.history_state)."""

    def __init__(self, n_params: int, param_names: list[str], max_bytes: int = 32 * 2**20) -> None:
        """Allocate step buffers for n_params columns (weights, then the bias last)."""
        if n_params < 1:
            raise ValueError(f"n_params must be at least 1, got {n_params}")
        if len(param_names) != n_params:
            raise ValueError(f"got {len(param_names)} parameter names for {n_params} parameters")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self._n_params = int(n_params)
        self._param_names = [str(name) for name in param_names]
        self._max_bytes = int(max_bytes)
        self._cap = step_capacity(self._n_params, self._max_bytes)
        # np.empty only reserves address space; pages are committed as rows are written.
        # Columns: the loss, then the parameters. Column-major, so that merging a column's
        # cells (np.fmin.reduceat) runs along contiguous memory, ~8x faster.
        k = 1 + self._n_params
        self._step = np.empty(self._cap, dtype=np.int64)
        self._vals = np.empty((self._cap, k), dtype=np.float64, order="F")
        self._lr = np.empty(self._cap, dtype=np.float64)  # the rate each step used (nan: unknown)
        # The least and the most of each merged row's cell (rows [0, _merged), at most C/4).
        self._lows = np.empty((self._cap // 4, k), dtype=np.float64, order="F")
        self._highs = np.empty((self._cap // 4, k), dtype=np.float64, order="F")
        self._n = 0
        self._merged = 0  # leading rows that stand for merged cells
        self._width = 1  # the merge grid (core.decimate.cell_starts); it only grows coarser
        self._per_octave = HISTORY_PER_OCTAVE
        self._epochs = {
            f: np.empty(_EPOCH_START, dtype=d)
            for f, d in zip(_EPOCH_FIELDS, _EPOCH_DTYPES, strict=True)
        }
        self._n_epochs = 0
        self._events: list[tuple[int, str]] = []

    # ----------------------------------------------------------------- recording

    def record_steps(
        self,
        first_step: int,
        losses: np.ndarray,
        params: np.ndarray,
        lrs: np.ndarray | None = None,
    ) -> None:
        """Append steps first_step, first_step+1, ... with their losses, post-update params and
        the learning rate each step used (nan when not given)."""
        losses = np.asarray(losses)
        params = np.asarray(params)
        k = losses.shape[0] if losses.ndim == 1 else -1
        if k < 0 or params.shape != (k, self._n_params):
            raise ValueError(
                f"expected losses (k,) and params (k, {self._n_params}), "
                f"got {losses.shape} and {params.shape}"
            )
        lrs = np.full(k, np.nan) if lrs is None else np.asarray(lrs)
        if lrs.shape != (k,):
            raise ValueError(f"expected lrs ({k},), got {lrs.shape}")
        if k == 0:
            return
        if first_step <= self.last_step:
            raise ValueError(f"step {first_step} does not follow the last step {self.last_step}")
        self._append(np.arange(first_step, first_step + k, dtype=np.int64), losses, params, lrs)

    def _append(
        self,
        steps: np.ndarray,
        losses: np.ndarray,
        params: np.ndarray,
        lrs: np.ndarray | None = None,
    ) -> None:
        """Copy rows in with slice assignment, thinning whenever the buffers are full."""
        k = steps.shape[0]
        done = 0
        # Thinning only when more rows must go in makes the result independent of chunking; a
        # chunk larger than C simply takes several rounds, each O(C), so the cost stays O(k).
        while done < k:
            if self._n == self._cap:
                self._thin()
            take = min(k - done, self._cap - self._n)
            dst = slice(self._n, self._n + take)
            src = slice(done, done + take)
            self._step[dst] = steps[src]
            self._vals[dst, 0] = losses[src]
            self._vals[dst, 1:] = params[src]
            self._lr[dst] = np.nan if lrs is None else lrs[src]
            self._n += take
            done += take

    def _thin(self) -> None:
        """Merge all but the newest C/4 rows into at most C/4 cells of steps (frees >= C/2)."""
        keep = self._cap // 4
        fold = self._n - keep
        rows, width, per_octave = _merge_rows(
            self._step[:fold], self._width, self._per_octave, self._cap // 4
        )
        m = rows.size
        merged = self._merged
        lows, highs = merge_cells(
            rows, self._vals[:fold], self._lows[:merged], self._highs[:merged]
        )
        # Fancy indexing copies, so these never read rows already overwritten.
        self._step[:m] = self._step[rows]
        self._vals[:m] = self._vals[rows]
        self._lr[:m] = self._lr[rows]
        self._lows[:m] = lows
        self._highs[:m] = highs
        for buf in (self._step, self._vals, self._lr):
            buf[m : m + keep] = buf[fold : self._n]  # m + keep <= fold: no overlap
        self._n = m + keep
        self._merged = m
        self._width, self._per_octave = width, per_octave

    def _put(
        self,
        steps: np.ndarray,
        values: np.ndarray,
        lrs: np.ndarray,
        lows: np.ndarray | None = None,
        highs: np.ndarray | None = None,
    ) -> None:
        """Fill an empty history with rows (values: (m, 1 + n_params)) whose first len(lows)
        stand for merged cells (their least and most in lows/highs, both or neither); rows past
        what the buffers hold are merged on this history's grid, as thinning merges them."""
        r = 0 if lows is None or highs is None else lows.shape[0]
        if r == 0:
            self._append(steps, values[:, 0], values[:, 1:], lrs)
            return
        quarter = self._cap // 4
        if steps.shape[0] > self._cap or r > quarter:
            # Every summarised row is folded, so the summaries stay a prefix of <= C/4 rows.
            fold = max(steps.shape[0] - quarter, r)
            rows, self._width, self._per_octave = _merge_rows(
                steps[:fold], self._width, self._per_octave, quarter
            )
            lows, highs = merge_cells(rows, values[:fold], lows, highs)
            steps = np.concatenate((steps[rows], steps[fold:]))
            values = np.concatenate((values[rows], values[fold:]))
            lrs = np.concatenate((lrs[rows], lrs[fold:]))
            r = rows.size
        m = steps.shape[0]
        self._step[:m], self._vals[:m], self._lr[:m] = steps, values, lrs
        self._lows[:r], self._highs[:r] = lows, highs
        self._n, self._merged = m, r

    def record_epoch(
        self, epoch: int, step: int, train_loss: float, val_loss: float | None, seconds: float
    ) -> None:
        """Append one epoch-level record (every epoch is kept, never thinned)."""
        val = np.nan if val_loss is None else val_loss
        self.record_epochs(
            np.array([epoch]), np.array([step]), np.array([train_loss]), np.array([val]), seconds
        )

    def record_epochs(
        self,
        epochs: np.ndarray,
        steps: np.ndarray,
        train_loss: np.ndarray,
        val_loss: np.ndarray,
        seconds: float | np.ndarray,
    ) -> None:
        """Append many epoch records at once (val_loss nan where there is none)."""
        k = len(epochs)
        i = self._n_epochs
        size = self._epochs["epoch"].shape[0]
        if i + k > size:
            while size < i + k:
                size *= 2
            for name, buf in self._epochs.items():
                grown = np.empty(size, dtype=buf.dtype)
                grown[:i] = buf[:i]
                self._epochs[name] = grown
        values = (epochs, steps, train_loss, val_loss, seconds)
        for name, value in zip(_EPOCH_FIELDS, values, strict=True):
            self._epochs[name][i : i + k] = value
        self._n_epochs = i + k

    def record_event(self, step: int, text: str) -> None:
        """Note something that happened at a step (e.g. 'lr 0.03 -> 0.1'); kept forever."""
        self._events.append((int(step), str(text)))

    def clear(self) -> None:
        """Forget all records; the step buffers stay allocated for reuse."""
        self._n = 0
        self._merged = 0
        self._width, self._per_octave = 1, HISTORY_PER_OCTAVE
        self._n_epochs = 0
        self._events.clear()

    # -------------------------------------------------------------- read access

    @property
    def n_params(self) -> int:
        """Parameter columns per step row (weights, then the bias)."""
        return self._n_params

    @property
    def param_names(self) -> list[str]:
        """Names of the parameter columns."""
        return list(self._param_names)

    @property
    def capacity(self) -> int:
        """Maximum number of step rows held at once."""
        return self._cap

    @property
    def n_steps_recorded(self) -> int:
        """Step rows currently stored."""
        return self._n

    @property
    def n_epochs_recorded(self) -> int:
        """Epoch records stored."""
        return self._n_epochs

    @property
    def last_step(self) -> int:
        """The newest recorded step, or -1 if none (the newest row is never thinned away)."""
        return int(self._step[self._n - 1]) if self._n else -1

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return copies of (step int64 (m,), loss float64 (m,), params float64 (m, n_params))."""
        n = self._n
        return self._step[:n].copy(), self._vals[:n, 0].copy(), self._vals[:n, 1:].copy()

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Return copies of (step (m,), values (m, 1 + n_params) [loss, params...], lows,
        highs): lows/highs (r, 1 + n_params) hold the least and the most recorded in the cells
        the first r rows stand for (later rows stand for themselves); None when r is 0."""
        n, r = self._n, self._merged
        values = np.array(self._vals[:n], order="F")
        if not r:
            return self._step[:n].copy(), values, None, None
        lows, highs = (np.array(a[:r], order="F") for a in (self._lows, self._highs))
        return self._step[:n].copy(), values, lows, highs

    def lrs(self) -> np.ndarray:
        """A copy of the learning rate of each stored step row (aligned with steps(); nan where
        unknown): row k holds the rate step k used, row 0 the rate the first step would use."""
        return self._lr[: self._n].copy()

    def lrs_at(self, steps: np.ndarray) -> np.ndarray:
        """The rate of each given step, read at the stored row at or before it (nan before the
        first): for the steps series() returned, their own rows."""
        return rates_at(self._step[: self._n], self._lr[: self._n], steps)

    def rows_at(self, steps: np.ndarray) -> np.ndarray:
        """The parameters recorded at each given step, read at the stored row at or before it
        (the initial row's step before the first): whole rows as trained, where series() gives
        each column's own envelope. For the steps series() returned, their own rows."""
        n = self._n
        if n == 0:
            return np.zeros((np.size(steps), self._n_params))
        idx = np.searchsorted(self._step[:n], np.asarray(steps), side="right") - 1
        return self._vals[np.maximum(idx, 0), 1:].copy()

    def series(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, loss, params) to draw in at most max_points points: per cell of steps the
        least and the most recorded (core.decimate.envelope), first and last points exact."""
        n, r = self._n, self._merged
        summary = (self._lows[:r], self._highs[:r]) if r else (None, None)
        x, y = envelope(self._step[:n], self._vals[:n], max_points, *summary)
        return x, np.ascontiguousarray(y[:, 0]), np.ascontiguousarray(y[:, 1:])

    def epoch_series(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, train_loss, val_loss) of the epochs in at most max_points points."""
        return epoch_series(self._epochs, self._n_epochs, max_points)

    def epochs(self, max_points: int | None = None) -> dict[str, np.ndarray]:
        """Return copies of the epoch columns; val_loss is nan where it was None.

        With max_points, at most that many evenly spread rows (first and last included): a
        view of a long run copies what it draws, not every epoch (500,000 after 10^7 steps).
        """
        n = self._n_epochs
        if max_points is None or n <= max_points:
            return {name: buf[:n].copy() for name, buf in self._epochs.items()}
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        idx = even_indices(n, max_points)
        # Fancy indexing copies only the chosen rows.
        return {name: buf[idx] for name, buf in self._epochs.items()}

    def events(self) -> list[tuple[int, str]]:
        """Return the (step, text) events in recording order."""
        return list(self._events)

    def decimated(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return at most max_points rows: first, last, and per bin the min- and max-loss rows."""
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        if self._n <= max_points:
            return self.steps()
        idx = _min_max_rows(self._vals[: self._n, 0], (max_points - 2) // 2)
        # Fancy indexing copies, so the result survives later recording.
        return self._step[idx], self._vals[idx, 0], self._vals[idx, 1:]

    def params_at(self, step: int) -> np.ndarray | None:
        """Params at the stored step nearest to but not after `step` (None if before the first)."""
        i = int(np.searchsorted(self._step[: self._n], step, side="right")) - 1
        return None if i < 0 else self._vals[i, 1:].copy()

    def memory_bytes(self) -> int:
        """Bytes held by the step and epoch buffers plus the event texts."""
        arrays = self._step.nbytes + self._vals.nbytes + self._lr.nbytes
        arrays += self._lows.nbytes + self._highs.nbytes
        arrays += sum(buf.nbytes for buf in self._epochs.values())
        return arrays + sum(sys.getsizeof(text) for _, text in self._events)

    # ------------------------------------------------------------ save and load

    def to_state(self) -> dict[str, Any]:
        """Return plain arrays and lists (np.savez-friendly) that from_state restores exactly."""
        return self._buffer_state()

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> History:
        """Rebuild a History from to_state() output (also after np.savez / np.load)."""
        names = [str(name) for name in np.asarray(state["param_names"]).tolist()]
        history = History(int(state["n_params"]), names, int(state["max_bytes"]))
        history._load_state(state)
        return history


def _merge_rows(
    steps: np.ndarray, width: int, per_octave: int, max_cells: int
) -> tuple[np.ndarray, int, int]:
    """The first row of each cell of sorted steps on the finest grid at least as coarse as
    (width, per_octave) with at most max_cells cells; and that grid."""
    last = max(int(steps[-1]), 1)
    rows = cell_firsts(cell_starts(steps, width, per_octave))
    while rows.size > max_cells:
        # Coarser cells are unions of finer ones: only each cell's first step is needed.
        if width <= last or per_octave == 0:
            width *= 2
        else:
            per_octave //= 2
        rows = rows[cell_firsts(cell_starts(steps[rows], width, per_octave))]
    return rows, width, per_octave


def rates_at(stored: np.ndarray, lrs: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The rate of each of steps, read at the row of stored (sorted steps, their rates lrs) at
    or before it (nan before the first)."""
    idx = np.searchsorted(stored, np.asarray(steps), side="right") - 1
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = lrs[idx[ok]]
    return out


def epoch_series(
    epochs: Mapping[str, np.ndarray], n: int, max_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, train_loss, val_loss) of the first n epoch records in at most max_points points
    (core.decimate.envelope; val_loss nan where there is none)."""
    values = np.empty((n, 2), order="F")  # column-major: see History's step buffers
    values[:, 0] = epochs["train_loss"][:n]
    values[:, 1] = epochs["val_loss"][:n]
    x, y = envelope(epochs["step"][:n], values, max_points)
    return x, np.ascontiguousarray(y[:, 0]), np.ascontiguousarray(y[:, 1])


def _min_max_rows(loss: np.ndarray, n_bins: int) -> np.ndarray:
    """Row indices: first, last, and the argmin/argmax loss of up to n_bins interior bins."""
    n = loss.shape[0]
    inner = loss[1 : n - 1]
    picks = [np.array([0, n - 1])]
    if n_bins > 0 and inner.size:
        size = -(-inner.size // n_bins)  # ceil, so at most n_bins bins
        full = inner.size // size
        # argmin/argmax return the first NaN in a bin, so divergence stays visible when plotted.
        body = inner[: full * size].reshape(full, size)
        offsets = 1 + size * np.arange(full)
        picks += [offsets + body.argmin(axis=1), offsets + body.argmax(axis=1)]
        tail = inner[full * size :]
        if tail.size:
            start = 1 + full * size
            picks.append(np.array([start + tail.argmin(), start + tail.argmax()]))
    # unique sorts by row, i.e. by step, and drops a bin's min == max duplicate.
    return np.unique(np.concatenate(picks))


def write_steps_csv(history: History, path: str | Path) -> None:
    """Write the stored step rows as CSV: step,loss,<param names...>,lr, floats repr-exact
    (an unknown rate is an empty cell)."""
    step, loss, params = history.steps()
    lr = history.lrs()
    with atomic_open(path, "w") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["step", "loss", *history.param_names, "lr"])
        for i in range(0, step.shape[0], _CSV_CHUNK):
            part = slice(i, i + _CSV_CHUNK)
            # tolist() yields Python ints/floats, which csv writes via repr: exact round trip.
            rates = [None if math.isnan(v) else v for v in lr[part].tolist()]
            columns = [step[part].tolist(), loss[part].tolist(), *params[part].T.tolist(), rates]
            writer.writerows(zip(*columns, strict=True))


def write_epochs_csv(history: History, path: str | Path) -> None:
    """Write epoch records as CSV: epoch,step,train_loss,val_loss,seconds (blank missing val)."""
    cols = history.epochs()
    val = [None if math.isnan(v) else v for v in cols["val_loss"].tolist()]
    rows = zip(
        cols["epoch"].tolist(),
        cols["step"].tolist(),
        cols["train_loss"].tolist(),
        val,
        cols["seconds"].tolist(),
        strict=True,
    )
    with atomic_open(path, "w") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(_EPOCH_FIELDS)
        # csv writes None as an empty cell.
        writer.writerows(rows)
