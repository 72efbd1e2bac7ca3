"""A History's saved form: the plain arrays and lists of History.to_state, and their loading
(validated, so a damaged run file is refused rather than half read).

HistoryState is a mixin of core.history.History (its own methods, kept here so that the history
module holds the recording, thinning and reads). The record layout both modules share (the
state version, the epoch columns) is defined here: core.history imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# 2: merged rows carry their cells' lows and highs. The "lr" column is optional in either
# version (states saved before rates were recorded have none: unknown, nan).
STATE_VERSION = 2
_EPOCH_FIELDS = ("epoch", "step", "train_loss", "val_loss", "seconds")
_EPOCH_DTYPES = (np.int64, np.int64, np.float64, np.float64, np.float64)
_EPOCH_START = 64  # epoch rows allocated at first; the buffers double when full


class HistoryState:
    """A History's conversion of its own buffers to and from to_state's plain mapping."""

    # What the History this mixes into keeps (core.history, named here, not imported: it
    # imports this module). It also provides _append(steps, losses, params, lrs), which
    # loading calls so that a state larger than today's capacity is thinned as it goes in.
    _n_params: int
    _param_names: list[str]
    _max_bytes: int
    _cap: int
    _step: np.ndarray
    _vals: np.ndarray
    _lr: np.ndarray
    _lows: np.ndarray
    _highs: np.ndarray
    _n: int
    _merged: int
    _width: int
    _per_octave: int
    _epochs: dict[str, np.ndarray]
    _n_epochs: int
    _events: list[tuple[int, str]]

    def _buffer_state(self) -> dict[str, Any]:
        """to_state of what this object's own buffers hold."""
        n, r = self._n, self._merged
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "n_params": self._n_params,
            "max_bytes": self._max_bytes,
            "param_names": list(self._param_names),
            "step": self._step[:n].copy(),
            "loss": self._vals[:n, 0].copy(),
            "params": self._vals[:n, 1:].copy(),
            "lr": self._lr[:n].copy(),
            # Events are split into two columns so np.savez needs no pickled object arrays.
            "event_steps": np.array([s for s, _ in self._events], dtype=np.int64),
            "event_texts": [text for _, text in self._events],
            # The merged rows' cell summaries and the grid that later merges continue on.
            "merged_lows": self._lows[:r].copy(),
            "merged_highs": self._highs[:r].copy(),
            "merge_grid": np.array([self._width, self._per_octave], dtype=np.int64),
        }
        for name, buf in self._epochs.items():
            state[f"epoch_{name}"] = buf[: self._n_epochs].copy()
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        """Fill this empty history's own buffers from a to_state() mapping."""
        version = int(state["version"])
        if version not in (1, STATE_VERSION):
            raise ValueError(f"unsupported history state version {version}")
        if int(state["n_params"]) != self._n_params:
            raise ValueError("history state has another number of parameters")
        step = np.asarray(state["step"], dtype=np.int64)
        loss = np.asarray(state["loss"], dtype=np.float64)
        params = np.asarray(state["params"], dtype=np.float64).reshape(-1, self._n_params)
        if not (step.shape == loss.shape == params.shape[:1] and step.ndim == 1):
            raise ValueError("history state has step/loss/params of different lengths")
        if step.size and (step[0] < 0 or np.any(np.diff(step) <= 0)):
            raise ValueError("history state steps are not increasing")
        # States saved before the lr column was recorded have none: nan.
        lr = np.asarray(state["lr"], dtype=np.float64) if "lr" in state else None
        if lr is not None and lr.shape != step.shape:
            raise ValueError("history state has lr and step of different lengths")
        merged = 0
        if version >= 2:  # version 1 kept no summaries: its rows stand for themselves
            k = 1 + self._n_params
            lows = np.asarray(state["merged_lows"], dtype=np.float64).reshape(-1, k)
            highs = np.asarray(state["merged_highs"], dtype=np.float64).reshape(-1, k)
            merged = lows.shape[0]
            if highs.shape[0] != merged or merged > min(step.shape[0], self._cap // 4):
                raise ValueError("history state has more merged summaries than it can hold")
            if step.shape[0] > self._cap:
                raise ValueError("history state has more step rows than its capacity")
            width, per_octave = (int(v) for v in np.asarray(state["merge_grid"]).tolist())
            if width < 1 or width & (width - 1) or per_octave < 0 or per_octave & (per_octave - 1):
                raise ValueError("history state has a bad merge grid")
            self._width, self._per_octave = width, per_octave
            self._lows[:merged], self._highs[:merged] = lows, highs
        # (A version 1 state larger than today's capacity is thinned as it goes in.)
        self._append(step, loss, params, lr)
        if merged:
            self._merged = merged
        columns = [np.asarray(state[f"epoch_{name}"]) for name in _EPOCH_FIELDS]
        n_epochs = columns[0].shape[0]
        if any(column.shape != (n_epochs,) for column in columns):
            raise ValueError("history state epoch columns have different lengths")
        capacity = max(_EPOCH_START, 1 << max(n_epochs - 1, 0).bit_length())
        for name, dtype, column in zip(_EPOCH_FIELDS, _EPOCH_DTYPES, columns, strict=True):
            buf = np.empty(capacity, dtype=dtype)
            buf[:n_epochs] = column
            self._epochs[name] = buf
        self._n_epochs = n_epochs
        texts = np.asarray(state["event_texts"]).tolist()
        event_steps = np.asarray(state["event_steps"]).tolist()
        if len(texts) != len(event_steps):
            raise ValueError("history state has event steps and texts of different lengths")
        self._events = [(int(s), str(t)) for s, t in zip(event_steps, texts, strict=True)]
