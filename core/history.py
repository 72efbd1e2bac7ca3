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
        self._lr = np.empty(self._cap, dtype=np.float64)  # the rate each step used (nan: unknown)
        self._n = 0
        self._epochs = {
            f: np.empty(64, dtype=d) for f, d in zip(_EPOCH_FIELDS, _EPOCH_DTYPES, strict=True)
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
            self._loss[dst] = losses[src]
            self._params[dst] = params[src]
            self._lr[dst] = np.nan if lrs is None else lrs[src]
            self._n += take
            done += take

    def _thin(self) -> None:
        """Keep every other row of the oldest half (row 0 included) and all of the newest half."""
        half = self._cap // 2
        quarter = half // 2
        for buf in (self._step, self._loss, self._params, self._lr):
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

    def lrs(self) -> np.ndarray:
        """A copy of the learning rate of each stored step row (aligned with steps(); nan where
        unknown): row k holds the rate step k used, row 0 the rate the first step would use."""
        return self._lr[: self._n].copy()

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

    def lrs_at(self, steps: np.ndarray) -> np.ndarray:
        """The rate of each given step, read at the stored row at or before it (nan before the
        first): for the steps decimated() returned, their own rows."""
        idx = np.searchsorted(self._step[: self._n], np.asarray(steps), side="right") - 1
        out = np.full(idx.shape, np.nan)
        ok = idx >= 0
        out[ok] = self._lr[idx[ok]]
        return out

    def params_at(self, step: int) -> np.ndarray | None:
        """Params at the stored step nearest to but not after `step` (None if before the first)."""
        i = int(np.searchsorted(self._step[: self._n], step, side="right")) - 1
        return None if i < 0 else self._params[i].copy()

    def memory_bytes(self) -> int:
        """Bytes held by the step and epoch buffers plus the event texts."""
        arrays = self._step.nbytes + self._loss.nbytes + self._params.nbytes + self._lr.nbytes
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
            "lr": self.lrs(),
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
        # States saved before the lr column was recorded have none: nan.
        lr = np.asarray(state["lr"], dtype=np.float64) if "lr" in state else None
        if lr is not None and lr.shape != step.shape:
            raise ValueError("history state has lr and step of different lengths")
        history._append(step, loss, params, lr)
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
