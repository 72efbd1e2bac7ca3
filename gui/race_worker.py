"""The race worker: owns a core.race.Race in its own thread (see gui/worker_base.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal

from core.config import Config
from core.errors import UserInputError
from core.race import Race, RaceEntry, RaceSnapshot
from core.runinfo import run_info
from gui.worker import load_torch
from gui.worker_base import (
    LOCK_HOLDING_ENGINES,
    LOCK_HOLDING_SLICE_SECONDS,
    LoopWorker,
    WorkerHost,
)

SNAPSHOT_POINTS = 800  # points per run and series: about one per pixel of the race plots
# Training between command checks. Short, so that a frame waits little for the loop to park
# (the training worker can use 20 ms: four runs' bookkeeping is still well under 1% of 10 ms).
SLICE_SECONDS = 0.01
TURN_SECONDS = 0.005  # one run's turn inside a slice (round robin, see Race.advance)


class RaceWorker(LoopWorker):
    """Owns a Race in a worker thread; driven by queued calls, reports by signals."""

    raceReset = Signal(object, object)  # RunInfo of the shared data, first RaceSnapshot
    stateChanged = Signal(str)  # "idle" | "running" | "finished" | "stopped"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text

    snapshot_points_range = (100, 4000)

    def __init__(self) -> None:
        super().__init__(SNAPSHOT_POINTS)
        self._race: Race | None = None

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def start_race(
        self, config: Config, entries: Sequence[RaceEntry], tolerance: float, seeds: int = 1
    ) -> None:
        """Build a race of entries on config's data (each run over seeds seeds) and run it."""
        self.call(self._start_race, config, list(entries), tolerance, seeds)

    def stop_race(self) -> None:
        """Stop the race: unfinished runs keep their results so far, marked 'stopped'."""
        self.call(self._stop_race)

    def results_copy(self) -> dict[str, Any] | None:
        """The current race's results as race.json holds them, or None before any race."""
        with self._lock:
            return None if self._race is None else self._race.to_dict()

    # ---- the loop ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Set torch up for this thread if the app has loaded it (a NumPy race need not)."""
        if "torch" in sys.modules:
            load_torch()

    def work_slice(self) -> None:
        """Advance every run by its turn, round robin, for about a slice."""
        race = self._race
        if race is None:
            self._active = False
            return
        holds_lock = bool(race.implementations & LOCK_HOLDING_ENGINES)
        seconds = LOCK_HOLDING_SLICE_SECONDS if holds_lock else SLICE_SECONDS
        now = time.perf_counter()
        if race.advance(now + seconds, min(TURN_SECONDS, seconds)):
            self._dirty = True
        if race.done:
            self._active = False
            self.emit_snapshot()
            self.stateChanged.emit("finished")
            self.message.emit("info", _summary(race))
        elif holds_lock:
            # A NumPy loop never releases the interpreter lock by itself: hand it to the GUI.
            time.sleep(0)

    def make_snapshot(self, points: int) -> RaceSnapshot | None:
        """The race's snapshot, or None before any race."""
        return None if self._race is None else self._race.snapshot(points)

    def report_error(self, was_active: bool) -> None:
        """A race that fails stops."""
        if was_active:
            self.stateChanged.emit("stopped")

    # ---- calls (run in the worker thread) ---------------------------------------------
    def _start_race(
        self, config: Config, entries: list[RaceEntry], tolerance: float, seeds: int = 1
    ) -> None:
        """Build a new race and run it; on bad input keep the last results and say why."""
        if config.train.implementation not in LOCK_HOLDING_ENGINES:
            # Before the torch engines are built; a NumPy-only race need not load torch (~3 s).
            load_torch()
        try:
            race = Race(config, entries, tolerance, seeds)
        except (UserInputError, MemoryError) as exc:
            # State first, then the message: the panel shows the last word.
            self.stateChanged.emit("idle" if self._race is None else "stopped")
            self.message.emit("error", f"Could not start the race: {exc}")
            return
        if self._race is not None and not self._race.done:
            self._race.stop()
        self._race = race
        self._dirty = False
        self.raceReset.emit(run_info(race.runs[0].trainer), race.snapshot(self._snapshot_points))
        self._active = True
        self.stateChanged.emit("running")

    def _stop_race(self) -> None:
        if self._race is None or not self._active:
            return
        self._active = False
        self._race.stop()
        self.emit_snapshot()
        self.stateChanged.emit("stopped")


def _summary(race: Race) -> str:
    """One line per run: how it ended and when it reached tolerance."""
    parts = []
    for run in race.runs:
        reason = run.trainer.stopped_reason or "completed"
        steps = run.steps_to_tolerance
        reached = (
            "never reached tolerance" if steps is None else f"reached tolerance at step {steps}"
        )
        parts.append(f"{run.index + 1}. {run.label}: {reason}, {reached}")
    return "Race finished. " + "; ".join(parts)


def race_host() -> WorkerHost:
    """A RaceWorker in its own (not yet started) thread."""
    return WorkerHost(RaceWorker(), "raceThread")
