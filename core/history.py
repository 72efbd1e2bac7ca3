"""Bounded training history (per step and per epoch) and its CSV writers.

Step records live in preallocated NumPy buffers of fixed capacity C. When the buffers are full,
the oldest half is thinned to every other row, so recent steps stay at full resolution, older
history gets progressively sparser, memory never grows and appending costs O(1) amortised.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_open

MIN_CAPACITY = 4096
MAX_CAPACITY = 262_144
STATE_VERSION = 1
_EPOCH_FIELDS = ("epoch", "step", "train_loss", "val_loss", "seconds")
_EPOCH_DTYPES = (np.int64, np.int64, np.float64, np.float64, np.float64)
# Rows written per csv.writerows call: bounds the temporary Python lists when exporting.
_CSV_CHUNK = 16_384


def step_capacity(n_params: int, max_bytes: int) -> int:
    """Rows the step buffers hold for this many parameters within max_bytes (clamped, /4)."""
    row_bytes = 8 * (2 + n_params)
    rows = min(max(max_bytes // row_bytes, MIN_CAPACITY), MAX_CAPACITY)
    # A multiple of 4 makes each thinning halve the oldest half exactly (C/2 rows -> C/4 rows).
    return rows - rows % 4


class History:
    """Per-step and per-epoch training records with bounded memory."""

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
        self._step = np.empty(self._cap, dtype=np.int64)
        self._loss = np.empty(self._cap, dtype=np.float64)
        self._params = np.empty((self._cap, self._n_params), dtype=np.float64)
        self._n = 0
        self._epochs = {
            f: np.empty(64, dtype=d) for f, d in zip(_EPOCH_FIELDS, _EPOCH_DTYPES, strict=True)
        }
        self._n_epochs = 0
        self._events: list[tuple[int, str]] = []

    # ----------------------------------------------------------------- recording

    def record_steps(self, first_step: int, losses: np.ndarray, params: np.ndarray) -> None:
        """Append steps first_step, first_step+1, ... with their losses and post-update params."""
        losses = np.asarray(losses)
        params = np.asarray(params)
        k = losses.shape[0] if losses.ndim == 1 else -1
        if k < 0 or params.shape != (k, self._n_params):
            raise ValueError(
                f"expected losses (k,) and params (k, {self._n_params}), "
                f"got {losses.shape} and {params.shape}"
            )
        if k == 0:
            return
        if first_step <= self.last_step:
            raise ValueError(f"step {first_step} does not follow the last step {self.last_step}")
        self._append(np.arange(first_step, first_step + k, dtype=np.int64), losses, params)

    def _append(self, steps: np.ndarray, losses: np.ndarray, params: np.ndarray) -> None:
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
            self._loss[dst] = losses[src]
            self._params[dst] = params[src]
            self._n += take
            done += take

    def _thin(self) -> None:
        """Keep every other row of the oldest half (row 0 included) and all of the newest half."""
        half = self._cap // 2
        quarter = half // 2
        for buf in (self._step, self._loss, self._params):
            # NumPy copies through a temporary when source and destination overlap.
            buf[:quarter] = buf[:half:2]
            buf[quarter : quarter + half] = buf[half : self._cap]
        self._n = quarter + half

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
        return self._step[:n].copy(), self._loss[:n].copy(), self._params[:n].copy()

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
        idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
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
        idx = _min_max_rows(self._loss[: self._n], (max_points - 2) // 2)
        # Fancy indexing copies, so the result survives later recording.
        return self._step[idx], self._loss[idx], self._params[idx]

    def params_at(self, step: int) -> np.ndarray | None:
        """Params at the stored step nearest to but not after `step` (None if before the first)."""
        i = int(np.searchsorted(self._step[: self._n], step, side="right")) - 1
        return None if i < 0 else self._params[i].copy()

    def memory_bytes(self) -> int:
        """Bytes held by the step and epoch buffers plus the event texts."""
        arrays = self._step.nbytes + self._loss.nbytes + self._params.nbytes
        arrays += sum(buf.nbytes for buf in self._epochs.values())
        return arrays + sum(sys.getsizeof(text) for _, text in self._events)

    # ------------------------------------------------------------ save and load

    def to_state(self) -> dict[str, Any]:
        """Return plain arrays and lists (np.savez-friendly) that from_state restores exactly."""
        step, loss, params = self.steps()
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "n_params": self._n_params,
            "max_bytes": self._max_bytes,
            "param_names": list(self._param_names),
            "step": step,
            "loss": loss,
            "params": params,
            # Events are split into two columns so np.savez needs no pickled object arrays.
            "event_steps": np.array([s for s, _ in self._events], dtype=np.int64),
            "event_texts": [text for _, text in self._events],
        }
        for name, column in self.epochs().items():
            state[f"epoch_{name}"] = column
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> History:
        """Rebuild a History from to_state() output (also after np.savez / np.load)."""
        version = int(state["version"])
        if version != STATE_VERSION:
            raise ValueError(f"unsupported history state version {version}")
        names = [str(name) for name in np.asarray(state["param_names"]).tolist()]
        history = cls(int(state["n_params"]), names, int(state["max_bytes"]))
        step = np.asarray(state["step"], dtype=np.int64)
        loss = np.asarray(state["loss"], dtype=np.float64)
        params = np.asarray(state["params"], dtype=np.float64).reshape(-1, history.n_params)
        if not (step.shape == loss.shape == params.shape[:1] and step.ndim == 1):
            raise ValueError("history state has step/loss/params of different lengths")
        if step.size and (step[0] < 0 or np.any(np.diff(step) <= 0)):
            raise ValueError("history state steps are not increasing")
        history._append(step, loss, params)
        columns = [np.asarray(state[f"epoch_{name}"]) for name in _EPOCH_FIELDS]
        n_epochs = columns[0].shape[0]
        if any(column.shape != (n_epochs,) for column in columns):
            raise ValueError("history state epoch columns have different lengths")
        capacity = max(64, 1 << max(n_epochs - 1, 0).bit_length())
        for name, dtype, column in zip(_EPOCH_FIELDS, _EPOCH_DTYPES, columns, strict=True):
            buf = np.empty(capacity, dtype=dtype)
            buf[:n_epochs] = column
            history._epochs[name] = buf
        history._n_epochs = n_epochs
        texts = np.asarray(state["event_texts"]).tolist()
        event_steps = np.asarray(state["event_steps"]).tolist()
        if len(texts) != len(event_steps):
            raise ValueError("history state has event steps and texts of different lengths")
        history._events = [(int(s), str(t)) for s, t in zip(event_steps, texts, strict=True)]
        return history


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
    """Write the stored step rows as CSV: step,loss,<param names...>, floats repr-exact."""
    step, loss, params = history.steps()
    with atomic_open(path, "w") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["step", "loss", *history.param_names])
        for i in range(0, step.shape[0], _CSV_CHUNK):
            part = slice(i, i + _CSV_CHUNK)
            # tolist() yields Python ints/floats, which csv writes via repr: exact round trip.
            columns = [step[part].tolist(), loss[part].tolist(), *params[part].T.tolist()]
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


# ------------------------------------------------------------------ branches


def _rows_upto(history: History, upto: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Views (not copies) of a history's step rows at or before step upto, in order."""
    if isinstance(history, BranchHistory):
        return history._segments(upto)
    n = int(np.searchsorted(history._step[: history._n], upto, side="right"))
    return [(history._step[:n], history._loss[:n], history._params[:n])]


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
    return history._params[i].copy() if i < n and history._step[i] == step else None


def _events_upto(history: History, upto: int) -> list[tuple[int, str]]:
    """A history's events at or before step upto."""
    return [e for e in history.events() if e[0] <= upto]


class BranchHistory(History):
    """A branch's history: the parent's records up to the fork step, read through (shared, not
    copied: the parent may go on recording, and only its rows up to the fork are read), then the
    branch's own records, which this History's buffers hold and thin like any History (and
    which are all memory_bytes counts).

    Reads (steps, decimated, epochs, events, params_at, last_step, to_state) show the whole
    branch from step 0; recording appends to the branch's own part. Parents may be branches."""

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

    # Own records, as History stores them.
    def _own_rows(self, upto: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self._n
        if upto is not None:
            n = int(np.searchsorted(self._step[:n], upto, side="right"))
        return self._step[:n], self._loss[:n], self._params[:n]

    def _segments(self, upto: int | None = None) -> list[tuple[np.ndarray, ...]]:
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

    # ---------------------------------------------------------------- read access

    @property
    def n_steps_recorded(self) -> int:
        """Step rows of the whole branch (the parent's part included)."""
        return sum(len(seg[0]) for seg in self._segments())

    @property
    def n_epochs_recorded(self) -> int:
        """Epoch records of the whole branch."""
        return sum(len(seg["epoch"]) for seg in self._epoch_segments())

    @property
    def last_step(self) -> int:
        """The newest step of the branch: its own newest, else the parent's at the fork."""
        if self._n:
            return int(self._step[self._n - 1])
        rows = _rows_upto(self.parent, self.fork_step)
        steps = [seg[0] for seg in rows if len(seg[0])]
        return int(steps[-1][-1]) if steps else -1

    @property
    def own_steps_recorded(self) -> int:
        """Step rows the branch holds itself (the memory it costs)."""
        return self._n

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (step, loss, params) of the whole branch."""
        segs = self._segments()
        return tuple(np.concatenate([seg[k] for seg in segs]) for k in range(3))  # type: ignore[return-value]

    def epochs(self, max_points: int | None = None) -> dict[str, np.ndarray]:
        """Copies of the epoch columns of the whole branch (at most max_points rows if given)."""
        segs = self._epoch_segments()
        cols = {name: np.concatenate([seg[name] for seg in segs]) for name in segs[0]}
        n = len(cols["epoch"])
        if max_points is None or n <= max_points:
            return cols
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
        return {name: col[idx] for name, col in cols.items()}

    def events(self) -> list[tuple[int, str]]:
        """The parent's events up to the fork, then the branch's own."""
        return [*_events_upto(self.parent, self.fork_step), *self._events]

    def decimated(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At most max_points rows of the whole branch (History.decimated's rule)."""
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        segs = self._segments()
        total = sum(len(seg[0]) for seg in segs)
        if total <= max_points:
            return self.steps()
        loss = np.concatenate([seg[1] for seg in segs])
        idx = _min_max_rows(loss, (max_points - 2) // 2)
        step = np.concatenate([seg[0] for seg in segs])[idx]
        # Parameters are gathered from each segment, never concatenated whole.
        params = np.empty((idx.size, self.n_params))
        lo = 0
        for seg in segs:
            hi = lo + len(seg[0])
            pick = (idx >= lo) & (idx < hi)
            params[pick] = seg[2][idx[pick] - lo]
            lo = hi
        return step, loss[idx], params

    def params_at(self, step: int) -> np.ndarray | None:
        """Params at the stored step nearest to but not after step, anywhere on the branch."""
        for seg in reversed(self._segments(step)):
            if len(seg[0]):
                return seg[2][-1].copy()
        return None

    def row_at(self, step: int) -> np.ndarray | None:
        """Params recorded at exactly step on the branch (None if that row is not stored)."""
        for seg in reversed(self._segments(step)):
            if len(seg[0]):
                return seg[2][-1].copy() if seg[0][-1] == step else None
        return None

    def to_state(self) -> dict[str, Any]:
        """The whole branch as one plain History's state (History.from_state reads it)."""
        state = super().to_state()
        events = self.events()
        state["event_steps"] = np.array([s for s, _ in events], dtype=np.int64)
        state["event_texts"] = [text for _, text in events]
        return state

    def own_state(self) -> dict[str, Any]:
        """The branch's own records only, as History.to_state gives them (for run files)."""
        own = History(self.n_params, self.param_names, self._max_bytes)
        own._append(*self._own_rows())
        n = self._n_epochs
        cols = [self._epochs[name][:n] for name in _EPOCH_FIELDS]
        own.record_epochs(*cols)
        own._events = list(self._events)
        return own.to_state()

    @classmethod
    def from_own_state(
        cls, parent: History, fork_step: int, state: Mapping[str, Any]
    ) -> BranchHistory:
        """A branch of parent at fork_step holding the own records of own_state()."""
        own = History.from_state(state)
        branch = cls(parent, fork_step, int(state["max_bytes"]))
        step, loss, params = own.steps()
        if step.size and step[0] <= fork_step:
            raise ValueError("a branch's own records must follow its fork step")
        branch._append(step, loss, params)
        cols = own.epochs()
        branch.record_epochs(
            cols["epoch"], cols["step"], cols["train_loss"], cols["val_loss"], cols["seconds"]
        )
        branch._events = own.events()
        return branch
