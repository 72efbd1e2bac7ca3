"""The training worker's calls that change a run's data or parameters under it, without a reset
(core.live_data): new targets, the data rebuilt under the current parameters, samples moved
by hand, parameters put anywhere.

A drag sends one of these per mouse move or slider step; the training thread carries out only
the newest: each kind has one slot, and one queued call takes whatever the slot holds when it
runs, so a busy thread never falls behind. Each change reaches the window as dataChanged (the
run's new RunInfo and a snapshot), never as runReset: the history stays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Signal

from core.branches import RunTree
from core.config import Config
from core.errors import UserInputError
from core.progress import Progress
from core.runinfo import RunInfo, moved_info, run_info
from core.trainer import Trainer
from gui.worker_base import LoopWorker

# For this long after the data or the parameters moved (a drag), the loop trains in slices of
# MOVING_SLICE_SECONDS: a frame showing the change parks it within that, not within a whole
# slice (20 ms, longer on a busy machine), and the change reaches the plots sooner.
MOVING_S = 0.5
MOVING_SLICE_SECONDS = 0.004


class DataWorker(LoopWorker):
    """The live data and parameter calls of the training worker (its base: gui/worker.py's
    TrainingWorker provides the run, `_trainer` and `_tree`, and the setup signals)."""

    # The run's data changed under it: its new RunInfo, a snapshot (the history is kept), and
    # whether it answers rebuild_data (the data was built anew) or a smaller change.
    dataChanged = Signal(object, object, bool)
    # The set_targets calls up to this number were carried out (the newest of them, whether it
    # changed anything; the others it replaced).
    targetsTaken = Signal(int)

    # Provided by TrainingWorker, the one class built on this one.
    _trainer: Trainer | None
    _tree: RunTree | None
    preparing: Signal
    setupFailed: Signal
    message: Signal
    _progress_reporter: Callable[[], Progress]

    def __init__(self, snapshot_points: int) -> None:
        super().__init__(snapshot_points)
        self._slots: dict[str, Any] = {}
        self._slots_lock = threading.Lock()
        self._moved: tuple[Trainer, RunInfo] | None = None  # the last info made, and whose
        self._moving_until = 0.0  # perf_counter until which slices are short

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def set_targets(
        self,
        weights: tuple[float, ...],
        bias: float,
        noise_std: float,
        record: bool = True,
        number: int = 0,
    ) -> None:
        """Move the run's targets to these true weights, bias and noise (record=False: no
        event, a gesture still under way); targetsTaken(number) says when it is done."""
        value = (tuple(float(v) for v in weights), float(bias), float(noise_std), number, record)
        self._latest("targets", self._set_targets, value, _merge_record)

    def rebuild_data(self, config: Config) -> None:
        """Build config's data (the same features) under the run, which goes on from its
        current parameters."""
        self.call(self._rebuild, config)  # not coalesced: each one is answered

    def move_samples(
        self, rows: np.ndarray, x: np.ndarray, y: np.ndarray, record: bool = True
    ) -> None:
        """Move training rows to features x (original units, one row each) and targets y."""
        moves = {int(r): (np.array(xr, dtype=np.float64), float(yr)) for r, xr, yr in zip(
            np.asarray(rows).reshape(-1), np.asarray(x).reshape(len(y), -1), y, strict=True
        )}  # fmt: skip
        self._latest("moves", self._move, (moves, record), _merge_moves)

    def place_params(self, theta: np.ndarray, record: bool = True) -> None:
        """Put the parameters at theta ([w..., b], trained units); the optimizer starts
        afresh and the path restarts there."""
        value = (np.array(theta, dtype=np.float64), record)
        self._latest("place", self._place, value, _merge_record)

    def _latest(
        self,
        kind: str,
        method: Callable[[Any], None],
        value: Any,
        merge: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        """Keep value as the newest of its kind; queue one call unless one already waits."""
        with self._slots_lock:
            queued = kind in self._slots
            if queued and merge is not None:
                value = merge(self._slots[kind], value)
            self._slots[kind] = value
        if not queued:
            self.call(self._take, kind, method)

    def slice_seconds(self, normal: float) -> float:
        """How long a slice of training runs: normal, or short while a drag moves the data."""
        return MOVING_SLICE_SECONDS if time.perf_counter() < self._moving_until else normal

    # ---- calls (run in the worker thread) ---------------------------------------------
    def _take(self, kind: str, method: Callable[[Any], None]) -> None:
        with self._slots_lock:
            value = self._slots.pop(kind)
        method(value)

    def _set_targets(self, value: tuple[tuple[float, ...], float, float, int, bool]) -> None:
        try:
            self._move_targets(value)
        finally:
            self.targetsTaken.emit(value[3])

    def _move_targets(self, value: tuple[tuple[float, ...], float, float, int, bool]) -> None:
        trainer = self._trainer
        weights, bias, noise, _, record = value
        # A file's targets do not move; other features mean a new run is on its way.
        if trainer is None or trainer.dataset.origin is None:
            return
        if len(weights) != trainer.dataset.n_features:
            return
        if self._refused(trainer.set_targets, np.array(weights), bias, noise, record):
            return
        self._data_moved(trainer)

    def _rebuild(self, config: Config) -> None:
        trainer = self._trainer
        if trainer is None:
            self.setupFailed.emit("Could not rebuild the data: there is no run yet")
            return
        from gui.worker import describe_setup  # the module that builds on this one

        self.preparing.emit(describe_setup(config))
        try:
            rebuilt = trainer.rebuilt(config.data, progress=self._progress_reporter())
        except (UserInputError, MemoryError) as exc:
            self.setupFailed.emit(f"Could not rebuild the data: {exc}")
            return
        assert self._tree is not None
        self._tree.continue_with(rebuilt)
        self._data_moved(rebuilt, rebuilt=True)

    def _move(self, value: tuple[dict[int, tuple[np.ndarray, float]], bool]) -> None:
        trainer = self._trainer
        moves, record = value
        if trainer is None or not moves:
            return
        rows = np.array(list(moves), dtype=np.int64)
        x = np.array([moves[r][0] for r in moves])
        y = np.array([moves[r][1] for r in moves])
        if self._refused(trainer.move_rows, rows, x, y, record):
            return
        self._data_moved(trainer)

    def _place(self, value: tuple[np.ndarray, bool]) -> None:
        trainer = self._trainer
        theta, record = value
        if trainer is None or self._refused(trainer.place, theta, record):
            return
        # Now, not at the next capped snapshot: the point follows the mouse.
        self._moving_until = time.perf_counter() + MOVING_S
        if trainer.step_count == 0:
            self._data_moved(trainer)  # no snapshot before a first step: the run's start moved
            return
        self._dirty = True
        self.emit_snapshot()

    def _refused(self, change: Callable[..., Any], *args: Any) -> bool:
        """Carry out a change; True (and a message) if its input was refused."""
        try:
            change(*args)
        except (UserInputError, ValueError) as exc:
            self.message.emit("error", f"That change was refused: {exc}.")
            return True
        return False

    def _data_moved(self, trainer: Trainer, rebuilt: bool = False) -> None:
        """Tell the window the run's data moved: its RunInfo (from the last one made for this
        trainer, in O(d^3), else anew) and a snapshot."""
        moved = self._moved
        if rebuilt or moved is None or moved[0] is not trainer:
            info = run_info(trainer)
        else:
            info = moved_info(trainer, moved[1])
        self._moved = (trainer, info)
        self._moving_until = time.perf_counter() + MOVING_S
        self.dataChanged.emit(info, trainer.snapshot(self._snapshot_points), rebuilt)
        self.snapshot_sent()


def _merge_record(old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    """The newest values, recorded if either asked for it."""
    return (*new[:-1], old[-1] or new[-1])


def _merge_moves(
    old: tuple[dict[int, Any], bool], new: tuple[dict[int, Any], bool]
) -> tuple[dict[int, Any], bool]:
    """Every row's newest place, recorded if either asked for it."""
    return {**old[0], **new[0]}, old[1] or new[1]
