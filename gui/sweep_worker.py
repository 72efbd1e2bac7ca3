"""The sweep worker: trains a core.sweep_run.Sweep in its own thread (see gui/worker_base.py).

Two kinds of work: a map (a grid over seeds; snapshots show the cells as they finish) and a
seeds view (one configuration over N noise seeds; the spread arrives with seedsReady).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from PySide6.QtCore import Signal

from core.config import Config
from core.errors import UserInputError
from core.seeds import seed_spread, seeds_plan
from core.sweep import Axis, SweepPlan
from core.sweep_run import Sweep, SweepSnapshot, plan_limits
from gui.worker import load_torch
from gui.worker_base import (
    LOCK_HOLDING_ENGINES,
    LOCK_HOLDING_SLICE_SECONDS,
    LoopWorker,
    WorkerHost,
)

# Training between command checks (see race_worker.py): short, so a frame waits little.
SLICE_SECONDS = 0.01
FIRST_BUDGET = 4  # steps of a stack in the first slice, before its rate is known


class SweepWorker(LoopWorker):
    """Owns a Sweep in a worker thread; driven by queued calls, reports by signals."""

    sweepReset = Signal(object, object)  # first SweepSnapshot, list of LimitLine
    seedsReady = Signal(object)  # SeedSpread of a finished seeds view
    stateChanged = Signal(str)  # "idle" | "running" | "finished" | "stopped"
    message = Signal(str, str)  # level, text

    def __init__(self) -> None:
        super().__init__(1)
        self._sweep: Sweep | None = None
        self._kind = "map"
        self._config: Config | None = None
        self._rate = 0.0  # steps of a stack per second, measured
        self._map: tuple[Sweep, list] | None = None  # the last map's sweep, its limits

    def results_copy(self):
        """(plan, results per run or None, limits) of the last map's sweep, or None."""
        with self._lock:
            if self._map is None:
                return None
            sweep, limits = self._map
            return sweep.plan, list(sweep.results), limits

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def start_sweep(self, config: Config, axes: list[Axis], seeds: int, tolerance: float) -> None:
        """Plan a sweep of config over axes and seeds, and run it."""
        self.call(self._start_sweep, config, list(axes), seeds, tolerance)

    def start_seeds(self, config: Config, seeds: int) -> None:
        """Train config over seeds noise seeds (features held) for the seeds view."""
        self.call(self._start_seeds, config, seeds)

    def stop_sweep(self) -> None:
        """Stop: finished cells keep their results."""
        self.call(self._stop_sweep)

    # ---- the loop ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Set torch up for this thread if the app has loaded it."""
        if "torch" in sys.modules:
            load_torch()

    def work_slice(self) -> None:
        """Train for about a slice; say so when the sweep ends."""
        sweep = self._sweep
        if sweep is None:
            self._active = False
            return
        holds_lock = sweep.plan.base.train.implementation in LOCK_HOLDING_ENGINES
        seconds = LOCK_HOLDING_SLICE_SECONDS if holds_lock else SLICE_SECONDS
        # Chunks of a stack are checked against the deadline only between them: a budget from
        # the measured rate keeps a slice near its length.
        budget = max(1, int(self._rate * seconds)) if self._rate > 0 else FIRST_BUDGET
        before = sweep.runs_done
        t0 = time.perf_counter()
        ran = sweep.advance(t0 + seconds, budget)
        spent = time.perf_counter() - t0
        if ran and spent > 0:
            rate = ran / spent
            self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
        if ran or sweep.runs_done != before:
            self._dirty = True
        if sweep.done:
            self._finish()
        elif holds_lock:
            time.sleep(0)  # a NumPy loop never releases the interpreter lock by itself

    def make_snapshot(self, points: int) -> SweepSnapshot | None:
        """The sweep's snapshot, or None before any."""
        return None if self._sweep is None else self._sweep.snapshot()

    def report_error(self, was_active: bool) -> None:
        """A sweep that fails stops."""
        if was_active:
            self.stateChanged.emit("stopped")

    # ---- calls (run in the worker thread) ---------------------------------------------
    def _begin(self, plan: SweepPlan, kind: str) -> None:
        if plan.base.train.implementation not in LOCK_HOLDING_ENGINES:
            load_torch()
        if self._sweep is not None and not self._sweep.done:
            self._sweep.stop()
        self._sweep = Sweep(plan)
        self._kind = kind
        self._rate = 0.0
        self._dirty = False
        self._active = True

    def _start_sweep(self, config: Config, axes: list[Axis], seeds: int, tolerance: float) -> None:
        try:
            plan = SweepPlan(config, axes, seeds, tolerance)
            records, lines = plan_limits(plan)
        except (UserInputError, MemoryError) as exc:
            self.stateChanged.emit("idle" if self._sweep is None else "stopped")
            self.message.emit("error", f"Could not start the sweep: {exc}")
            return
        self._begin(plan, "map")
        self._map = (self._sweep, records)
        self.sweepReset.emit(self._sweep.snapshot(), lines)
        self.stateChanged.emit("running")

    def _start_seeds(self, config: Config, seeds: int) -> None:
        try:
            plan = seeds_plan(config, seeds)
        except UserInputError as exc:
            self.stateChanged.emit("idle" if self._sweep is None else "stopped")
            self.message.emit("error", f"Could not start the seeds view: {exc}")
            return
        self._config = config
        self._begin(plan, "seeds")
        self.stateChanged.emit("running")

    def _finish(self) -> None:
        sweep = self._sweep
        assert sweep is not None
        self._active = False
        self.emit_snapshot()
        results = [r for r in sweep.results if r is not None]
        if self._kind == "seeds" and self._config is not None:
            spread = seed_spread(
                self._config,
                np.array([r.theta for r in results]),
                np.array([r.diverged for r in results]),
            )
            self.seedsReady.emit(spread)
            self.stateChanged.emit("finished")
            self.message.emit("info", f"Seeds view: {spread.text()}.")
            return
        self.stateChanged.emit("finished")
        reached = sum(r.steps_to_tolerance is not None for r in results)
        diverged = sum(r.diverged for r in results)
        self.message.emit(
            "info",
            f"Sweep finished: {len(results)} runs in {sweep.seconds:.2g} s; {reached} came within"
            f" tolerance, {diverged} diverged. Click a cell to train it in the Training tab.",
        )

    def _stop_sweep(self) -> None:
        if self._sweep is None or not self._active:
            return
        self._active = False
        self._sweep.stop()
        self.emit_snapshot()
        self.stateChanged.emit("stopped")


def sweep_host() -> WorkerHost:
    """A SweepWorker in its own (not yet started) thread."""
    return WorkerHost(SweepWorker(), "sweepThread")
