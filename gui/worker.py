"""The training worker: a QObject moved to a QThread that owns the core Trainer.

Commands arrive through a thread-safe queue and are handled between chunks of steps, because a
long loop inside a slot blocks the thread's event loop (queued slots would never run). Results
leave as copied snapshots at a capped rate, never one signal per step.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from core.config import Config
from core.data import Progress
from core.errors import UserInputError
from core.history import History
from core.runfile import SavedRun, capture, restore
from core.runinfo import run_info
from core.trainer import Trainer

SNAPSHOT_INTERVAL = 1 / 30  # at most ~30 snapshots a second, however fast training runs
# Points per series in a snapshot, until the window says how wide its plots are: frames cost the
# GUI thread (and so, through the interpreter lock, the training thread) in proportion to the
# points drawn, and more than about one per pixel only blur into the same envelope.
SNAPSHOT_POINTS = 1000
SNAPSHOT_POINTS_RANGE = (200, 4000)
# Work between command checks, in steps sized from the measured rate to take about this long
# (Trainer.run_steps checks a deadline only between engine chunks, and one chunk can be a whole
# epoch: ~20 ms of the module engine on the d2l workload). Short enough for a prompt pause, stop
# or frame hold (a frame waits for the slice without blocking the GUI); long enough that the
# per-slice bookkeeping stays under 1% of the training rate (measured: 2 ms slices cost ~5%,
# 8 ms ~1.7%, 30 ms ~0.4%).
SLICE_SECONDS = 0.02
# Engines whose loop never releases the interpreter lock (NumPy on tiny arrays) work in shorter
# slices and hand the lock over after each one, or the GUI thread would starve. Torch engines
# release it inside every op; a sleep(0) per slice only added a syscall and a lock handover.
LOCK_HOLDING_ENGINES = frozenset({"numpy"})
LOCK_HOLDING_SLICE_SECONDS = 0.002
# Longest the loop stays parked for one frame: a lost release only costs this much.
FRAME_HOLD_MAX = 0.1
IDLE_WAIT = 0.05
PROGRESS_INTERVAL = 0.05  # seconds between progress signals while data is built
SETUP_COMMANDS = frozenset({"configure", "restore"})  # each ends in runReset or setupFailed


def load_torch() -> None:
    """Import torch for a training thread: one intra-op thread, start-up objects frozen."""
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


class TrainingWorker(QObject):
    """Owns a Trainer in a worker thread; driven by commands, reports by signals."""

    snapshot = Signal(object)  # core.trainer.Snapshot
    parked = Signal()  # the loop has stopped for a frame (hold_for_frame) and waits
    runReset = Signal(object, object)  # RunInfo, initial Snapshot of the new run
    stateChanged = Signal(str)  # "running" | "paused" | "completed" | "diverged"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    failed = Signal(str)  # an unexpected exception, with its traceback
    preparing = Signal(str)  # a new run is being built (data generated or loaded): what
    progress = Signal(int)  # percent of the new run's data generated or read
    setupFailed = Signal(str)  # a new run could not be built (the current run is kept): why
    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._commands: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self._trainer: Trainer | None = None
        self._running = False
        self._stop = False
        self._speed: float | None = None
        self._last_emit = 0.0
        self._dirty = False
        self._pace_start = (0.0, 0)
        self._stopped = False
        self._snapshot_interval = SNAPSHOT_INTERVAL
        self._snapshot_points = SNAPSHOT_POINTS
        self._burst = 1  # steps per slice, resized from the measured rate (SLICE_SECONDS)
        # Set while the GUI thread is not drawing. Python code in paint methods holds the
        # interpreter lock, and a torch loop that drops and retakes it around every op keeps
        # winning it back: a 15 ms frame stretched to 50-90 ms (measured, bench_window).
        # Parking the loop for the frame gives the frame the lock outright.
        self._frame_clear = threading.Event()
        self._frame_clear.set()
        # Guards the trainer against reads from the GUI thread (export) while it steps.
        self._lock = threading.RLock()
        self._count_lock = threading.Lock()
        self._pending_setups = 0

    # ---- thread-safe command API (called from the GUI thread) ---------------------------
    def send(self, name: str, *args: Any) -> None:
        """Queue a command: configure, restore, run, pause, step_batch, step_epoch, set_hyper,
        set_speed, set_epochs, set_snapshot_interval, set_snapshot_points, stop."""
        if name in SETUP_COMMANDS:
            with self._count_lock:
                self._pending_setups += 1
        self._commands.put((name, args))

    def pending_commands(self) -> int:
        """Commands sent and not yet carried out (thread-safe)."""
        return self._commands.unfinished_tasks

    def pending_setups(self) -> int:
        """Configure and restore commands sent and not yet carried out (thread-safe)."""
        with self._count_lock:
            return self._pending_setups

    def hold_for_frame(self) -> bool:
        """Park the training loop after its current slice while the GUI thread draws a frame
        (thread-safe; release_frame() ends it, FRAME_HOLD_MAX bounds it). True if the loop is
        training, and so will emit parked once it has stopped."""
        self._frame_clear.clear()
        return self._running

    def release_frame(self) -> None:
        """Let the training loop continue after a frame (thread-safe)."""
        self._frame_clear.set()

    def history_copy(self) -> History | None:
        """A consistent copy of the current run's history (safe from any thread)."""
        with self._lock:
            if self._trainer is None:
                return None
            return History.from_state(self._trainer.history.to_state())

    def saved_run(self) -> SavedRun | None:
        """The current run, copied for a run file (safe from any thread)."""
        with self._lock:
            return None if self._trainer is None else capture(self._trainer)

    def config_copy(self) -> Config | None:
        """The current run's configuration, including live changes."""
        with self._lock:
            return None if self._trainer is None else self._trainer.config.copy()

    @property
    def is_stopped(self) -> bool:
        """Whether the work loop has returned."""
        return self._stopped

    # ---- the loop (runs in the worker thread) -------------------------------------------
    def work(self) -> None:
        """Run the command/training loop until a stop command."""
        try:
            load_torch()
            while not self._stop:
                self._drain(block=not self._running)
                if self._stop:
                    break
                if self._running and self._trainer is not None:
                    # Outside the lock: an export from the GUI thread must not wait on a frame.
                    if not self._frame_clear.is_set():
                        self.parked.emit()
                        self._frame_clear.wait(FRAME_HOLD_MAX)
                    self._guarded(self._train_slice)
                self._maybe_emit()
        finally:
            self._stopped = True
            self.finished.emit()

    def _drain(self, block: bool) -> None:
        try:
            item = self._commands.get(timeout=IDLE_WAIT) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._execute(*item)
            if self._stop:
                return
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return

    def _guarded(self, func: Any, *args: Any) -> None:
        """Run func; an exception becomes a message and pauses the run, never a dead thread."""
        try:
            with self._lock:
                func(*args)
        except Exception as exc:
            self._running = False
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.failed.emit(f"{detail}\n\n{traceback.format_exc(limit=6)}")
            self.stateChanged.emit("paused")

    def _train_slice(self) -> None:
        trainer = self._trainer
        assert trainer is not None
        now = time.perf_counter()
        budget = 1 << 30
        if self._speed is not None:
            t0, s0 = self._pace_start
            budget = int((now - t0) * self._speed) - (trainer.step_count - s0)
            if budget <= 0:
                # Throttled: wait for the next step's turn without spinning, still listening.
                wait = min(IDLE_WAIT, (1 - budget) / self._speed)
                self._wait_for_command(wait)
                return
        holds_lock = trainer.engine.name in LOCK_HOLDING_ENGINES
        seconds = LOCK_HOLDING_SLICE_SECONDS if holds_lock else SLICE_SECONDS
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
            self._running = False
            self._dirty = True
            self._emit_snapshot()
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

    def _wait_for_command(self, seconds: float) -> None:
        try:
            item = self._commands.get(timeout=seconds)
        except queue.Empty:
            return
        self._execute(*item)

    def _execute(self, name: str, args: tuple[Any, ...]) -> None:
        """Carry out one queued command, then count it done (its signals are sent by then)."""
        self._guarded(getattr(self, f"_cmd_{name}"), *args)
        if name in SETUP_COMMANDS:
            with self._count_lock:
                self._pending_setups -= 1
        self._commands.task_done()

    def _maybe_emit(self) -> None:
        if self._dirty and time.perf_counter() - self._last_emit >= self._snapshot_interval:
            self._emit_snapshot()

    def _emit_snapshot(self) -> None:
        if self._trainer is None or self._trainer.step_count == 0:
            return
        self.snapshot.emit(self._trainer.snapshot(self._snapshot_points))
        self._last_emit = time.perf_counter()
        self._dirty = False

    def _reset_pace(self) -> None:
        steps = self._trainer.step_count if self._trainer else 0
        self._pace_start = (time.perf_counter(), steps)

    # ---- commands ------------------------------------------------------------------------
    def _cmd_configure(self, config: Config, keep_running: bool = True) -> None:
        """Build a new run; on bad input keep the current run and say why."""
        self.preparing.emit(describe_setup(config))
        try:
            trainer = Trainer(config, progress=self._progress_reporter())
        except (UserInputError, MemoryError) as exc:
            self.setupFailed.emit(f"Could not set up the run: {exc}")
            return
        self._install(trainer, keep_running)

    def _progress_reporter(self) -> Progress:
        """A progress callback that emits whole percents, at most every PROGRESS_INTERVAL."""
        last = [-1, 0.0]  # percent and time of the last emit

        def report(fraction: float) -> None:
            percent, now = int(100 * fraction), time.perf_counter()
            if percent > last[0] and (now - last[1] >= PROGRESS_INTERVAL or percent == 100):
                last[:] = [percent, now]
                self.progress.emit(percent)

        return report

    def _cmd_restore(self, run: SavedRun) -> None:
        """Continue a saved run; on a bad file keep the current run and say why."""
        self.preparing.emit(describe_setup(run.config))
        try:
            trainer = restore(run)
        except (UserInputError, MemoryError) as exc:
            self.setupFailed.emit(f"Could not reopen the run: {exc}")
            return
        self._install(trainer, keep_running=False)
        self._dirty = True
        self._emit_snapshot()

    def _install(self, trainer: Trainer, keep_running: bool) -> None:
        """Make trainer the current run and tell the window (paused unless keep_running)."""
        was_running = self._running
        self._trainer = trainer
        self._running = False
        self._dirty = False
        self.runReset.emit(run_info(trainer), trainer.snapshot())
        self.stateChanged.emit("paused")
        if was_running and keep_running:
            self._cmd_run()

    def _cmd_run(self) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        if trainer.stopped_reason == "diverged":
            self.message.emit("warning", trainer.message or "Training diverged: lower the rate.")
            self.stateChanged.emit("diverged")
            return
        if trainer.done:
            trainer.extend_epochs(trainer.epoch + trainer.config.train.epochs)
        trainer.stopped_reason = None
        self._running = True
        self._reset_pace()
        self.stateChanged.emit("running")

    def _cmd_pause(self) -> None:
        if self._running:
            self._running = False
            self._dirty = True
            self._emit_snapshot()
            self.stateChanged.emit("paused")

    def _step(self, epoch: bool) -> None:
        trainer = self._trainer
        if trainer is None:
            return
        self._cmd_pause()
        if trainer.stopped_reason == "diverged":
            self.message.emit("warning", trainer.message or "Training diverged.")
            return
        if trainer.done:
            trainer.extend_epochs(trainer.epoch + 1)
        if trainer.stopped_reason == "completed":
            trainer.stopped_reason = None
        if epoch:
            trainer.run_epoch()
        else:
            trainer.step()
        self._dirty = True
        self._emit_snapshot()
        if trainer.stopped_reason == "diverged":
            self.stateChanged.emit("diverged")
            self.message.emit("warning", trainer.message or "Training diverged.")

    def _cmd_step_batch(self) -> None:
        self._step(epoch=False)

    def _cmd_step_epoch(self) -> None:
        self._step(epoch=True)

    def _cmd_set_hyper(self, changes: dict[str, float]) -> None:
        if self._trainer is not None:
            self._trainer.set_hyper(**changes)
            self._dirty = True

    def _cmd_set_speed(self, speed: float | None) -> None:
        self._speed = speed
        self._reset_pace()

    def _cmd_set_snapshot_interval(self, seconds: float) -> None:
        """Build snapshots about as often as the window draws them (never above ~30 a second):
        a snapshot of a long run costs the training thread ~1-2 ms."""
        self._snapshot_interval = max(float(seconds), SNAPSHOT_INTERVAL)

    def _cmd_set_snapshot_points(self, points: int) -> None:
        """Decimate the snapshots' series to about this many points (the plots' width)."""
        lo, hi = SNAPSHOT_POINTS_RANGE
        self._snapshot_points = min(max(int(points), lo), hi)

    def _cmd_set_epochs(self, epochs: int) -> None:
        if self._trainer is not None:
            self._trainer.extend_epochs(max(epochs, 1))

    def _cmd_stop(self) -> None:
        self._running = False
        self._stop = True


class WorkerHost:
    """Starts a TrainingWorker in its own QThread and shuts both down cleanly."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("trainingThread")
        self.worker = TrainingWorker()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.work)
        # Direct: the GUI thread may be blocked in wait(), so a queued quit would never run.
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self._started = False

    def start(self) -> None:
        """Start the thread (and so the work loop); later calls do nothing."""
        if not self._started:
            self._started = True
            self.thread.start()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the loop, quit and join the thread; True if it ended in time."""
        self._started = True  # a host shut down before it started never starts
        if not self.thread.isRunning():
            return True
        self.worker.send("stop")
        return self.thread.wait(timeout_ms)
