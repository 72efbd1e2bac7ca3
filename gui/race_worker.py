"""The race worker: a QObject moved to a QThread that owns a core.race.Race.

Commands arrive through a thread-safe queue polled between slices of training (a long loop
inside a slot would block the thread's event loop, so queued slots would never run). Results
leave as copied RaceSnapshots at most ~30 times a second, never one signal per step.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from core.config import Config
from core.errors import UserInputError
from core.race import Race, RaceEntry
from core.runinfo import run_info
from gui.worker import load_torch

SNAPSHOT_INTERVAL = 1 / 30  # at most ~30 snapshots a second, however fast the runs train
SNAPSHOT_POINTS = 800  # points per run and series: about one per pixel of the race plots
# Training between command checks. Torch engines release the interpreter lock inside every op;
# a NumPy loop on tiny arrays never does, so it works in short slices and yields after each.
# Short, so that a frame waits little for the loop to park (the window's worker can use 20 ms:
# four runs' bookkeeping is still well under 1% of a 10 ms slice).
SLICE_SECONDS = 0.01
TURN_SECONDS = 0.005  # one run's turn inside a slice (round robin, see Race.advance)
LOCK_HOLDING_ENGINES = frozenset({"numpy"})
LOCK_HOLDING_SLICE_SECONDS = 0.002
# Longest the loop stays parked for one frame: a lost release only costs this much.
FRAME_HOLD_MAX = 0.1
IDLE_WAIT = 0.05


class RaceWorker(QObject):
    """Owns a Race in a worker thread; driven by commands, reports by signals."""

    snapshot = Signal(object)  # core.race.RaceSnapshot
    parked = Signal()  # the loop has stopped for a frame (hold_for_frame) and waits
    raceReset = Signal(object, object)  # RunInfo of the shared data, first RaceSnapshot
    stateChanged = Signal(str)  # "idle" | "running" | "finished" | "stopped"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    failed = Signal(str)  # an unexpected exception, with its traceback
    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._commands: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self._race: Race | None = None
        self._running = False
        self._quit = False
        self._stopped = False
        self._last_emit = 0.0
        self._dirty = False
        self._snapshot_interval = SNAPSHOT_INTERVAL
        self._snapshot_points = SNAPSHOT_POINTS
        # Cleared while the GUI thread paints: a torch loop that drops and retakes the
        # interpreter lock around every op would otherwise stretch the frame (see worker.py).
        self._frame_clear = threading.Event()
        self._frame_clear.set()
        # Guards the race against reads from the GUI thread (export) while it trains.
        self._lock = threading.RLock()

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def send(self, name: str, *args: Any) -> None:
        """Queue a command: start(config, entries, tolerance), halt, set_snapshot_interval,
        set_snapshot_points, quit."""
        self._commands.put((name, args))

    def hold_for_frame(self) -> bool:
        """Park the training loop after its current slice while the GUI paints (thread-safe);
        release_frame() ends it, FRAME_HOLD_MAX bounds it. True if the race is running."""
        self._frame_clear.clear()
        return self._running

    def release_frame(self) -> None:
        """Let the training loop continue after a frame (thread-safe)."""
        self._frame_clear.set()

    def results_copy(self) -> dict[str, Any] | None:
        """The current race's results as race.json holds them, or None before any race."""
        with self._lock:
            return None if self._race is None else self._race.to_dict()

    @property
    def is_stopped(self) -> bool:
        """Whether the work loop has returned."""
        return self._stopped

    # ---- the loop (runs in the worker thread) -------------------------------------------
    def work(self) -> None:
        """Run the command/training loop until a quit command."""
        try:
            if "torch" in sys.modules:
                load_torch()
            while not self._quit:
                self._drain(block=not self._running)
                if self._quit:
                    break
                if self._running and self._race is not None:
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
            name, args = item
            self._guarded(getattr(self, f"_cmd_{name}"), *args)
            if self._quit:
                return
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return

    def _guarded(self, func: Any, *args: Any) -> None:
        """Run func; an exception becomes a signal and stops the race, never a dead thread."""
        try:
            with self._lock:
                func(*args)
        except Exception as exc:
            was_running = self._running
            self._running = False
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.failed.emit(f"{detail}\n\n{traceback.format_exc(limit=6)}")
            if was_running:
                self.stateChanged.emit("stopped")

    def _train_slice(self) -> None:
        race = self._race
        assert race is not None
        holds_lock = bool(race.implementations & LOCK_HOLDING_ENGINES)
        seconds = LOCK_HOLDING_SLICE_SECONDS if holds_lock else SLICE_SECONDS
        now = time.perf_counter()
        if race.advance(now + seconds, min(TURN_SECONDS, seconds)):
            self._dirty = True
        if race.done:
            self._running = False
            self._emit_snapshot()
            self.stateChanged.emit("finished")
            self.message.emit("info", _summary(race))
        elif holds_lock:
            # A NumPy loop never releases the interpreter lock by itself: hand it to the GUI.
            time.sleep(0)

    def _maybe_emit(self) -> None:
        if self._dirty and time.perf_counter() - self._last_emit >= self._snapshot_interval:
            with self._lock:
                self._emit_snapshot()

    def _emit_snapshot(self) -> None:
        if self._race is None:
            return
        self.snapshot.emit(self._race.snapshot(self._snapshot_points))
        self._last_emit = time.perf_counter()
        self._dirty = False

    # ---- commands ------------------------------------------------------------------------
    def _cmd_start(self, config: Config, entries: Sequence[RaceEntry], tolerance: float) -> None:
        """Build a new race and run it; on bad input keep the last results and say why."""
        if config.train.implementation not in LOCK_HOLDING_ENGINES:
            # Before the torch engines are built; a NumPy-only race need not load torch (~3 s).
            load_torch()
        try:
            race = Race(config, list(entries), tolerance)
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
        self._running = True
        self.stateChanged.emit("running")

    def _cmd_halt(self) -> None:
        """Stop the race: unfinished runs keep their results so far, marked 'stopped'."""
        if self._race is None or not self._running:
            return
        self._running = False
        self._race.stop()
        self._emit_snapshot()
        self.stateChanged.emit("stopped")

    def _cmd_set_snapshot_interval(self, seconds: float) -> None:
        self._snapshot_interval = max(float(seconds), SNAPSHOT_INTERVAL)

    def _cmd_set_snapshot_points(self, points: int) -> None:
        self._snapshot_points = min(max(int(points), 100), 4000)

    def _cmd_quit(self) -> None:
        self._running = False
        self._quit = True


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


class RaceHost:
    """Starts a RaceWorker in its own QThread and shuts both down cleanly."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("raceThread")
        self.worker = RaceWorker()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.work)
        # Direct: the GUI thread may be blocked in wait(), so a queued quit would never run.
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        """Start the thread (and so the work loop) unless it is running."""
        if not self.thread.isRunning():
            self.thread.start()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the loop, quit and join the thread; True if it ended in time."""
        if not self.thread.isRunning():
            return True
        self.worker.send("quit")
        self.worker.release_frame()
        return self.thread.wait(timeout_ms)
