"""The training worker: owns the core Trainer in its own thread (see gui/worker_base.py)."""

from __future__ import annotations

import builtins
import gc
import time
from pathlib import Path

from PySide6.QtCore import Signal

from core.branches import RunTree
from core.config import Config
from core.data import Progress
from core.errors import UserInputError
from core.history import History
from core.runfile import SavedRun, capture, restore_tree
from core.runinfo import run_info
from core.snapshot import Snapshot
from core.trainer import Trainer
from gui.worker_base import (
    IDLE_WAIT,
    LOCK_HOLDING_ENGINES,
    LOCK_HOLDING_SLICE_SECONDS,
    WorkerHost,
)
from gui.worker_branches import BranchCalls
from gui.worker_data import DataWorker

# Points per series in a snapshot, until the window says how wide its plots are: frames cost the
# GUI thread (and so, through the interpreter lock, the training thread) in proportion to the
# points drawn, and more than about one per pixel only blur into the same envelope.
SNAPSHOT_POINTS = 1000
# Work between command checks, in steps sized from the measured rate to take about this long
# (Trainer.run_steps checks a deadline only between engine chunks, and one chunk can be a whole
# epoch: ~20 ms of the module engine on the d2l workload). Short enough for a prompt pause, stop
# or frame hold (a frame waits for the slice without blocking the GUI); long enough that the
# per-slice bookkeeping stays under 1% of the training rate (measured: 2 ms slices cost ~5%,
# 8 ms ~1.7%, 30 ms ~0.4%).
SLICE_SECONDS = 0.02
PROGRESS_INTERVAL = 0.05  # seconds between progress signals while data is built


def plain_imports() -> None:
    """Undo shiboken's import hook: PySide6 routes every `import` statement through Python
    code of its own (for its optional __feature__ switches, which this app does not use), and
    torch runs import statements inside every backward pass: measured, 7% more CPU per
    training step than the command line's loop."""
    original = getattr(builtins, "__orig_import__", None)
    if original is not None:
        builtins.__import__ = original


def load_torch() -> None:
    """Import torch for a training thread: one intra-op thread, start-up objects frozen."""
    plain_imports()
    import torch

    # On two cores a multi-threaded torch loop starves the GUI thread.
    torch.set_num_threads(1)
    # The first optimizer imports torch._dynamo (~1.5 s): now, so that its objects are frozen
    # below and the first run is not built on top of it.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    # Qt, pyqtgraph and torch leave ~200,000 long-lived objects; a full collection walking
    # them took ~55 ms of the GUI thread (bench_window's worst stall). Frozen, they are
    # skipped, and what later runs allocate is collected as before.
    gc.freeze()


def describe_setup(config: Config) -> str:
    """What building a run from config is busy with, in words for the status bar."""
    d = config.data
    if d.csv_path:
        return f"Loading {Path(d.csv_path).name}…"
    k = len(d.true_weights)
    return f"Generating {d.n_samples:,} samples × {k} feature{'s' if k != 1 else ''}…"


class TrainingWorker(BranchCalls, DataWorker):
    """Owns a run (a RunTree: every branch, its active trainer the one that trains) in a worker
    thread; driven by queued calls, reports by signals."""

    runReset = Signal(object, object)  # RunInfo, initial Snapshot of the new run
    stateChanged = Signal(str)  # "running" | "paused" | "completed" | "diverged"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    preparing = Signal(str)  # a new run is being built (data generated or loaded): what
    progress = Signal(int)  # percent of the new run's data generated or read
    setupFailed = Signal(str)  # a new run could not be built (the current run is kept): why
    # Run or a step on a completed run went on past its epochs: the new epoch target.
    epochsExtended = Signal(int)

    def __init__(self) -> None:
        super().__init__(SNAPSHOT_POINTS)
        self._tree: RunTree | None = None
        self._speed: float | None = None
        self._pace_start = (0.0, 0)
        self._burst = 1  # steps per slice, resized from the measured rate (SLICE_SECONDS)

    @property
    def _trainer(self) -> Trainer | None:
        """The active branch's trainer (the one that trains), or None before the first run."""
        return None if self._tree is None else self._tree.trainer

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def configure(self, config: Config, keep_running: bool = True) -> None:
        """Build a new run from config (running on if the current one runs and keep_running)."""
        self.call(self._configure, config, keep_running, setup=True)

    def restore_run(self, run: SavedRun) -> None:
        """Continue a saved run, paused where it stood."""
        self.call(self._restore, run, setup=True)

    def run(self) -> None:
        """Train until paused, finished or diverged."""
        self.call(self._run)

    def pause(self) -> None:
        """Pause a running run (a no-op otherwise)."""
        self.call(self._pause)

    def step_batch(self) -> None:
        """Pause, then train one minibatch."""
        self.call(self._step, False)

    def step_epoch(self) -> None:
        """Pause, then train one epoch."""
        self.call(self._step, True)

    def set_hyper(self, changes: dict[str, float], record: bool = True) -> None:
        """Change lr, momentum, weight decay or betas between steps (record=False: no marker,
        a gesture still under way)."""
        self.call(self._set_hyper, dict(changes), record)

    def note(self, text: str) -> None:
        """Mark the current step with text (a whole gesture's change)."""
        self.call(self._note, text)

    def set_speed(self, speed: float | None) -> None:
        """Throttle to speed steps per second (None: as fast as it goes)."""
        self.call(self._set_speed, speed)

    def set_epochs(self, epochs: int) -> None:
        """Set the current run's epoch target."""
        self.call(self._set_epochs, epochs)

    def history_copy(self) -> History | None:
        """A consistent copy of the current run's history (safe from any thread)."""
        with self._lock:
            if self._trainer is None:
                return None
            return History.from_state(self._trainer.history.to_state())

    def saved_run(self) -> SavedRun | None:
        """The current run with every branch, copied for a run file (safe from any thread)."""
        with self._lock:
            return None if self._tree is None else capture(self._tree)

    def step_count(self) -> int:
        """Steps the active run has taken (one int read: safe from any thread without the lock,
        so a benchmark can count steps without waiting for a slice or a snapshot)."""
        trainer = self._trainer
        return 0 if trainer is None else trainer.step_count

    def snapshot_now(self, points: int) -> Snapshot | None:
        """A snapshot of the run with series of about points points (safe from any thread)."""
        with self._lock:
            return self.make_snapshot(points)

    def trained_config(self) -> Config | None:
        """The configuration the current run trains with (safe from any thread)."""
        with self._lock:
            return None if self._trainer is None else self._trainer.config

    # ---- the loop ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Load torch in this thread."""
        load_torch()

    def work_slice(self) -> None:
        """Train for about SLICE_SECONDS, or wait for the throttle's next step."""
        trainer = self._trainer
        if trainer is None:
            self._active = False
            return
        now = time.perf_counter()
        budget = 1 << 30
        if self._speed is not None:
            t0, s0 = self._pace_start
            budget = int((now - t0) * self._speed) - (trainer.step_count - s0)
            if budget <= 0:
                # Throttled: wait for the next step's turn without spinning, still listening.
                self.wait_for_call(min(IDLE_WAIT, (1 - budget) / self._speed))
                return
        holds_lock = trainer.engine.name in LOCK_HOLDING_ENGINES
        seconds = LOCK_HOLDING_SLICE_SECONDS if holds_lock else self.slice_seconds(SLICE_SECONDS)
        cpu = time.thread_time()
        ran = trainer.run_steps(min(budget, self._burst), deadline=now + seconds)
        if ran:
            self._dirty = True
            # Sized by this thread's CPU time, not wall time: time spent waiting for the
            # interpreter lock must not shrink the slices (more, smaller slices would only
            # hand the lock over more often, each handover costing both threads).
            cpu = time.thread_time() - cpu
            if cpu > 0:
                # Grow at most 2x per slice so one fast outlier cannot make a long slice.
                target = ran / cpu * seconds
                self._burst = max(1, min(int(target), 2 * self._burst))
        if trainer.stopped_reason in ("completed", "diverged"):
            self._active = False
            self._dirty = True
            self.emit_snapshot()
            self.stateChanged.emit(trainer.stopped_reason)
            if trainer.stopped_reason == "diverged":
                self.message.emit("warning", trainer.message or "Training diverged.")
            else:
                self.message.emit(
                    "info",
                    f"Finished {trainer.epoch} epochs ({trainer.step_count} steps). "
                    "Press Run to continue training, or Reset to start over.",
                )
        elif holds_lock:
            # A NumPy loop never releases the interpreter lock by itself: hand it to the GUI.
            time.sleep(0)

    def make_snapshot(self, points: int) -> Snapshot | None:
        """The trainer's snapshot, or None before the first step."""
        if self._trainer is None or self._trainer.step_count == 0:
            return None
        return self._trainer.snapshot(points)

    def report_error(self, was_active: bool) -> None:
        """A failed call leaves the run paused."""
        self.stateChanged.emit("paused")

    def _reset_pace(self) -> None:
        steps = self._trainer.step_count if self._trainer else 0
        self._pace_start = (time.perf_counter(), steps)

    # ---- calls (run in the worker thread) ---------------------------------------------
    def _configure(self, config: Config, keep_running: bool) -> None:
        """Build a new run; on bad input keep the current run and say why."""
        self.preparing.emit(describe_setup(config))
        try:
            trainer = Trainer(config, progress=self._progress_reporter())
        except (UserInputError, MemoryError) as exc:
            self.setupFailed.emit(f"Could not set up the run: {exc}")
            return
        self._install(RunTree(trainer), keep_running)

    def _progress_reporter(self) -> Progress:
        """A progress callback that emits whole percents, at most every PROGRESS_INTERVAL."""
        last = [-1, 0.0]  # percent and time of the last emit

        def report(fraction: float) -> None:
            percent, now = int(100 * fraction), time.perf_counter()
            if percent > last[0] and (now - last[1] >= PROGRESS_INTERVAL or percent == 100):
                last[:] = [percent, now]
                self.progress.emit(percent)

        return report

    def _restore(self, run: SavedRun) -> None:
        """Continue a saved run; on a bad file keep the current run and say why."""
        self.preparing.emit(describe_setup(run.config))
        try:
            tree = restore_tree(run)  # every saved branch, the active one ready to go on
        except (UserInputError, MemoryError) as exc:
            self.setupFailed.emit(f"Could not reopen the run: {exc}")
            return
        self._install(tree, keep_running=False)
        self._dirty = True
        self.emit_snapshot()

    def _install(self, tree: RunTree, keep_running: bool) -> None:
        """Make tree the current run and tell the window (paused unless keep_running)."""
        was_running = self._active
        self._tree = tree
        trainer = tree.trainer
        self._active = False
        self._dirty = False
        self.runReset.emit(run_info(trainer), trainer.snapshot())
        self.stateChanged.emit("paused")
        if was_running and keep_running:
            self._run()

    def _run(self) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        if trainer.stopped_reason == "diverged":
            self.message.emit("warning", trainer.message or "Training diverged: lower the rate.")
            self.stateChanged.emit("diverged")
            return
        if trainer.done:
            trainer.extend_epochs(trainer.epoch + trainer.config.train.epochs)
            self.epochsExtended.emit(trainer.config.train.epochs)
        trainer.stopped_reason = None
        self._active = True
        self._reset_pace()
        self.stateChanged.emit("running")

    def _pause(self) -> None:
        if self._active:
            self._active = False
            self._dirty = True
            self.emit_snapshot()
            self.stateChanged.emit("paused")

    def _step(self, epoch: bool) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        self._pause()
        if trainer.stopped_reason == "diverged":
            self.message.emit("warning", trainer.message or "Training diverged.")
            return
        if trainer.done:
            trainer.extend_epochs(trainer.epoch + 1)
            self.epochsExtended.emit(trainer.config.train.epochs)
        if trainer.stopped_reason == "completed":
            trainer.stopped_reason = None
        if epoch:
            trainer.run_epoch()
        else:
            trainer.step()
        self._dirty = True
        self.emit_snapshot()
        if trainer.stopped_reason == "diverged":
            self.stateChanged.emit("diverged")
            self.message.emit("warning", trainer.message or "Training diverged.")

    def _set_hyper(self, changes: dict[str, float], record: bool) -> None:
        if self._trainer is not None:
            self._trainer.set_hyper(record, **changes)
            self._changed()

    def _note(self, text: str) -> None:
        if self._trainer is not None:
            self._trainer.note(text)
            self._changed()

    def _changed(self) -> None:
        """The run changed without a step: a paused run shows it now (a running one in its
        next snapshot), so a marker is in the snapshot by the time the call counts as done."""
        self._dirty = True
        if not self._active and self._trainer is not None and self._trainer.step_count:
            self.emit_snapshot()

    def _set_speed(self, speed: float | None) -> None:
        self._speed = speed
        self._reset_pace()

    def _set_epochs(self, epochs: int) -> None:
        if self._trainer is not None:
            self._trainer.extend_epochs(max(epochs, 1))


def training_host() -> WorkerHost:
    """A TrainingWorker in its own (not yet started) thread."""
    return WorkerHost(TrainingWorker(), "trainingThread")
