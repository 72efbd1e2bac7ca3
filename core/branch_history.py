"""A branch's history: its parent's records up to the fork step, then its own (core.branches).

Nothing of the parent's is copied: the branch reads the parent's buffers (core.history.History)
up to the fork each time, so a parent that goes on recording and thinning is read as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.decimate import envelope, even_indices
from core.history import _EPOCH_FIELDS, History, _min_max_rows, epoch_series, rates_at


class _Rows:
    """Step rows read from a history (views): step, values [loss, params...], lr, and the
    summaries (lows, highs) of the first r rows, which stand for merged cells."""

    def __init__(
        self,
        step: np.ndarray,
        values: np.ndarray,
        lr: np.ndarray,
        lows: np.ndarray,
        highs: np.ndarray,
        grid: tuple[int, int],
    ) -> None:
        self.step, self.values, self.lr = step, values, lr
        self.lows, self.highs, self.grid = lows, highs, grid

    @property
    def r(self) -> int:
        """Leading rows that stand for merged cells."""
        return self.lows.shape[0]


def _rows_upto(history: History, upto: int) -> list[_Rows]:
    """Views (not copies) of a history's step rows at or before step upto, in order. A merged
    row whose cell reaches past upto counts as its own row alone: its summary holds steps
    after upto (the parent's steps after a branch's fork)."""
    if isinstance(history, BranchHistory):
        return history._segments(upto)
    n = int(np.searchsorted(history._step[: history._n], upto, side="right"))
    r = min(history._merged, n)
    if r == n and 0 < n < history._n and history._step[n] > upto + 1:
        r -= 1
    grid = (history._width, history._per_octave)
    lows, highs = history._lows[:r], history._highs[:r]
    return [_Rows(history._step[:n], history._vals[:n], history._lr[:n], lows, highs, grid)]


def _epochs_upto(history: History, upto: int) -> list[dict[str, np.ndarray]]:
    """Views of a history's epoch records at or before step upto, in order."""
    if isinstance(history, BranchHistory):
        return history._epoch_segments(upto)
    n = int(np.searchsorted(history._epochs["step"][: history._n_epochs], upto, side="right"))
    return [{name: buf[:n] for name, buf in history._epochs.items()}]


def row_at(history: History, step: int) -> np.ndarray | None:
    """Params a history recorded at exactly step (None if that row is not stored: thinned, or
    never recorded)."""
    if isinstance(history, BranchHistory):
        return history.row_at(step)
    n = history._n
    i = int(np.searchsorted(history._step[:n], step))
    return history._vals[i, 1:].copy() if i < n and history._step[i] == step else None


def _events_upto(history: History, upto: int) -> list[tuple[int, str]]:
    """A history's events at or before step upto."""
    return [e for e in history.events() if e[0] <= upto]


class BranchHistory(History):
    """A branch's history: the parent's records up to the fork step, read through (shared, not
    copied: the parent may go on recording, and only its rows up to the fork are read), then the
    branch's own records, which this History's buffers hold and thin like any History (and
    which are all memory_bytes counts).

    Reads (steps, rows, series, lrs, epochs, events, params_at, last_step, to_state) show the
    whole branch from step 0; recording appends to the branch's own part. Parents may be
    branches."""

    def __init__(self, parent: History, fork_step: int, max_bytes: int | None = None) -> None:
        """Start a branch of parent after its step fork_step (no own records yet)."""
        super().__init__(
            parent.n_params,
            parent.param_names,
            parent._max_bytes if max_bytes is None else max_bytes,
        )
        if fork_step < 0:
            raise ValueError(f"fork_step must be at least 0, got {fork_step}")
        self.parent = parent
        self.fork_step = int(fork_step)

    def _own_rows(self, upto: int | None = None) -> _Rows:
        """The branch's own records (at or before upto), as History stores them."""
        n, r = self._n, self._merged
        if upto is not None:
            n = int(np.searchsorted(self._step[:n], upto, side="right"))
            r = min(r, n)
            if r == n and 0 < n < self._n and self._step[n] > upto + 1:
                r -= 1  # see _rows_upto
        grid = (self._width, self._per_octave)
        lows, highs = self._lows[:r], self._highs[:r]
        return _Rows(self._step[:n], self._vals[:n], self._lr[:n], lows, highs, grid)

    def _segments(self, upto: int | None = None) -> list[_Rows]:
        """Views of every step row at or before upto: the parent's part, then the own."""
        limit = self.fork_step if upto is None else min(upto, self.fork_step)
        return [*_rows_upto(self.parent, limit), self._own_rows(upto)]

    def _epoch_segments(self, upto: int | None = None) -> list[dict[str, np.ndarray]]:
        limit = self.fork_step if upto is None else min(upto, self.fork_step)
        n = self._n_epochs
        if upto is not None:
            n = int(np.searchsorted(self._epochs["step"][:n], upto, side="right"))
        own = {name: buf[:n] for name, buf in self._epochs.items()}
        return [*_epochs_upto(self.parent, limit), own]

    def _whole(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the whole branch's (step, values, lr, lows, highs): the summaries cover
        every row up to the last one that stands for a merged cell (a row standing for itself
        is its own least and most)."""
        segs = self._segments()
        step = np.concatenate([seg.step for seg in segs])
        values = np.concatenate([seg.values for seg in segs])
        lr = np.concatenate([seg.lr for seg in segs])
        r, lo = 0, 0
        for seg in segs:
            if seg.r:
                r = lo + seg.r
            lo += seg.step.shape[0]
        lows, highs = values[:r].copy(), values[:r].copy()
        lo = 0
        for seg in segs:
            lows[lo : lo + seg.r], highs[lo : lo + seg.r] = seg.lows, seg.highs
            lo += seg.step.shape[0]
            if lo >= r:
                break
        return step, values, lr, lows, highs

    # ---------------------------------------------------------------- read access

    @property
    def n_steps_recorded(self) -> int:
        """Step rows of the whole branch (the parent's part included)."""
        return sum(seg.step.shape[0] for seg in self._segments())

    @property
    def n_epochs_recorded(self) -> int:
        """Epoch records of the whole branch."""
        return sum(len(seg["epoch"]) for seg in self._epoch_segments())

    @property
    def last_step(self) -> int:
        """The newest step of the branch: its own newest, else the parent's at the fork."""
        if self._n:
            return int(self._step[self._n - 1])
        steps = [seg.step for seg in _rows_upto(self.parent, self.fork_step) if seg.step.size]
        return int(steps[-1][-1]) if steps else -1

    @property
    def own_steps_recorded(self) -> int:
        """Step rows the branch holds itself (the memory it costs)."""
        return self._n

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (step, loss, params) of the whole branch."""
        segs = self._segments()
        values = np.concatenate([seg.values for seg in segs])
        return np.concatenate([seg.step for seg in segs]), values[:, 0], values[:, 1:]

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """History.rows of the whole branch."""
        step, values, _, lows, highs = self._whole()
        if not lows.shape[0]:
            return step, np.asfortranarray(values), None, None
        return step, np.asfortranarray(values), np.asfortranarray(lows), np.asfortranarray(highs)

    def lrs(self) -> np.ndarray:
        """The rate of each step row of the whole branch (aligned with steps())."""
        return np.concatenate([seg.lr for seg in self._segments()])

    def lrs_at(self, steps: np.ndarray) -> np.ndarray:
        """History.lrs_at on the whole branch."""
        segs = self._segments()
        stored = np.concatenate([seg.step for seg in segs])
        return rates_at(stored, np.concatenate([seg.lr for seg in segs]), steps)

    def series(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """History.series of the whole branch."""
        step, values, _, lows, highs = self._whole()
        summary = (lows, highs) if lows.shape[0] else (None, None)
        x, y = envelope(step, values, max_points, *summary)
        return x, np.ascontiguousarray(y[:, 0]), np.ascontiguousarray(y[:, 1:])

    def epoch_series(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """History.epoch_series of the whole branch."""
        cols = self.epochs()
        return epoch_series(cols, len(cols["epoch"]), max_points)

    def epochs(self, max_points: int | None = None) -> dict[str, np.ndarray]:
        """Copies of the epoch columns of the whole branch (at most max_points rows if given)."""
        segs = self._epoch_segments()
        cols = {name: np.concatenate([seg[name] for seg in segs]) for name in segs[0]}
        n = len(cols["epoch"])
        if max_points is None or n <= max_points:
            return cols
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        idx = even_indices(n, max_points)
        return {name: col[idx] for name, col in cols.items()}

    def events(self) -> list[tuple[int, str]]:
        """The parent's events up to the fork, then the branch's own."""
        return [*_events_upto(self.parent, self.fork_step), *self._events]

    def decimated(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At most max_points rows of the whole branch (History.decimated's rule)."""
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        step, loss, params = self.steps()
        if step.shape[0] <= max_points:
            return step, loss, params
        idx = _min_max_rows(loss, (max_points - 2) // 2)
        return step[idx], loss[idx], params[idx]

    def params_at(self, step: int) -> np.ndarray | None:
        """Params at the stored step nearest to but not after step, anywhere on the branch."""
        for seg in reversed(self._segments(step)):
            if seg.step.size:
                return seg.values[-1, 1:].copy()
        return None

    def row_at(self, step: int) -> np.ndarray | None:
        """Params recorded at exactly step on the branch (None if that row is not stored)."""
        for seg in reversed(self._segments(step)):
            if seg.step.size:
                return seg.values[-1, 1:].copy() if seg.step[-1] == step else None
        return None

    # ------------------------------------------------------------ save and load

    def to_state(self) -> dict[str, Any]:
        """The whole branch as one plain History's state (History.from_state reads it); past
        what one History holds, its oldest rows are merged as thinning merges them."""
        step, values, lr, lows, highs = self._whole()
        whole = History(self.n_params, self.param_names, self._max_bytes)
        # The coarsest grid any part was merged on: later merges go on from it.
        grids = [seg.grid for seg in self._segments()]
        whole._width = max(width for width, _ in grids)
        whole._per_octave = min(per_octave for _, per_octave in grids)
        whole._put(step, values, lr, lows, highs)
        cols = self.epochs()
        whole.record_epochs(*(cols[name] for name in _EPOCH_FIELDS))
        whole._events = self.events()
        return whole._buffer_state()

    def own_state(self) -> dict[str, Any]:
        """The branch's own records only, as History.to_state gives them (for run files)."""
        return self._buffer_state()

    @classmethod
    def from_own_state(
        cls, parent: History, fork_step: int, state: Mapping[str, Any]
    ) -> BranchHistory:
        """A branch of parent at fork_step holding the own records of own_state()."""
        branch = cls(parent, fork_step, int(state["max_bytes"]))
        branch._load_state(state)
        if branch._n and branch._step[0] <= fork_step:
            raise ValueError("a branch's own records must follow its fork step")
        return branch
