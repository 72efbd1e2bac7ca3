"""One base for the app's training threads: a QObject moved to a QThread, driven by queued calls.

A long loop inside a slot blocks its thread's event loop (queued slots would never run), so the
loop polls a thread-safe queue between slices of work instead. What the GUI thread asks for is
queued as a bound method (typed, named methods on the subclasses, never command strings), carried
out between slices under one lock, and counted until done. Results leave as copied snapshots at a
capped rate, never one signal per step. The loop parks for a frame while the GUI thread paints
(hold_for_frame / release_frame): pyqtgraph's paint code is Python and needs the interpreter lock
that a torch loop retakes after every op.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

SNAPSHOT_INTERVAL = 1 / 30  # at most ~30 snapshots a second, however fast training runs
# Longest the loop stays parked for one frame: a lost release only costs this much.
FRAME_HOLD_MAX = 0.1
IDLE_WAIT = 0.05  # how long an idle loop waits for a command before looking again
# Engines whose loop never releases the interpreter lock (NumPy on tiny arrays) work in short
# slices and hand the lock over after each one, or the GUI thread would starve. Torch engines
# release it inside every op; a sleep(0) per slice only added a syscall and a lock handover.
LOCK_HOLDING_ENGINES = frozenset({"numpy"})
LOCK_HOLDING_SLICE_SECONDS = 0.002

Call = tuple[Callable[..., None], tuple[Any, ...], bool]  # method, arguments, is a setup


class LoopWorker(QObject):
    """A command loop for a worker thread: queued calls, slices of work, capped snapshots.

    Subclasses implement prepare() (once, in the thread), work_slice() (one slice while
    active), make_snapshot(points) and report_error(text); and add public methods that queue
    their private counterparts with call()."""

    snapshot = Signal(object)  # a frozen snapshot of the model, safe to keep on any thread
    parked = Signal()  # the loop has stopped for a frame (hold_for_frame) and waits
    failed = Signal(str)  # an unexpected exception, with its traceback
    finished = Signal()

    snapshot_points_range = (200, 4000)

    def __init__(self, snapshot_points: int) -> None:
        super().__init__()
        self._commands: queue.Queue[Call] = queue.Queue()
        self._count_lock = threading.Lock()
        self._pending_setups = 0
        # Guards the model against reads from the GUI thread (export) while the loop changes it.
        self._lock = threading.RLock()
        self._active = False  # training: the loop works slices instead of waiting
        self._stopping = False
        self._stopped = False
        self._dirty = False  # something changed since the last snapshot
        self._last_emit = 0.0
        self._snapshot_interval = SNAPSHOT_INTERVAL
        self._snapshot_points = snapshot_points
        # Set while the GUI thread is not drawing (see the module docstring).
        self._frame_clear = threading.Event()
        self._frame_clear.set()

    # ---- thread-safe API (called from the GUI thread) ----------------------------------
    def call(self, method: Callable[..., None], *args: Any, setup: bool = False) -> None:
        """Queue method(*args) for the loop; a setup call is counted in pending_setups()."""
        if setup:
            with self._count_lock:
                self._pending_setups += 1
        self._commands.put((method, args, setup))

    def stop(self) -> None:
        """End the loop (after the calls queued before this one)."""
        self.call(self._stop)
        self.release_frame()

    def pending_commands(self) -> int:
        """Calls queued and not yet carried out, with their signals emitted (thread-safe)."""
        return self._commands.unfinished_tasks

    def pending_setups(self) -> int:
        """Setup calls queued and not yet carried out (thread-safe)."""
        with self._count_lock:
            return self._pending_setups

    def is_active(self) -> bool:
        """Whether the loop is training (thread-safe read of a flag)."""
        return self._active

    def set_snapshot_interval(self, seconds: float) -> None:
        """Build snapshots about this often (never above ~30 a second)."""
        self.call(self._set_snapshot_interval, seconds)

    def set_snapshot_points(self, points: int) -> None:
        """Decimate the snapshots' series to about this many points (the plots' width)."""
        self.call(self._set_snapshot_points, points)

    def hold_for_frame(self) -> bool:
        """Park the loop after its current slice while the GUI thread draws a frame
        (release_frame() ends it, FRAME_HOLD_MAX bounds it). True if the loop is training,
        and so will emit parked once it has stopped."""
        self._frame_clear.clear()
        return self._active

    def release_frame(self) -> None:
        """Let the loop continue after a frame (thread-safe)."""
        self._frame_clear.set()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the loop between two calls or slices while the block runs (thread-safe): the
        model stays as it is for another thread to read, and calls queued meanwhile run after
        the block, in order."""
        with self._lock:
            yield

    @property
    def is_stopped(self) -> bool:
        """Whether the loop has returned."""
        return self._stopped

    # ---- the loop (runs in the worker thread) -------------------------------------------
    def work(self) -> None:
        """Run the loop until stop()."""
        try:
            self.prepare()
            while not self._stopping:
                # A frame asked for parks the loop before the calls queued meanwhile are carried
                # out: the frame shows what it was asked for, and a drag's newest change waits
                # in its slot to be taken, once, as soon as the frame releases the loop.
                # Outside the lock: an export from the GUI thread must not wait on a frame.
                if self._active and not self._frame_clear.is_set():
                    self.parked.emit()
                    if not self._frame_clear.wait(FRAME_HOLD_MAX):
                        self._frame_clear.set()  # a lost release costs no more than this
                self._drain(block=not self._active)
                if self._stopping:
                    break
                # No slice once a frame is asked for: the loop parks for it first.
                if self._active and self._frame_clear.is_set():
                    self._guarded(self.work_slice)
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
            self._execute(item)
            # A frame asked for comes before the calls queued after this one (a drag queues
            # one a mouse move): the loop would otherwise run on while the frame draws.
            if self._stopping or not self._frame_clear.is_set():
                return
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return

    def wait_for_call(self, seconds: float) -> None:
        """Wait up to seconds for one queued call and carry it out (a throttled loop idles
        here, still listening)."""
        try:
            item = self._commands.get(timeout=seconds)
        except queue.Empty:
            return
        self._execute(item)

    def _execute(self, item: Call) -> None:
        """Carry out one queued call, then count it done (its signals are sent by then)."""
        method, args, setup = item
        try:
            self._guarded(method, *args)
        finally:
            if setup:
                with self._count_lock:
                    self._pending_setups -= 1
            self._commands.task_done()

    def _guarded(self, func: Callable[..., None], *args: Any) -> None:
        """Run func under the lock; an exception becomes a signal, never a dead thread."""
        try:
            with self._lock:
                func(*args)
        except Exception as exc:
            was_active = self._active
            self._active = False
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.failed.emit(f"{detail}\n\n{traceback.format_exc(limit=6)}")
            self.report_error(was_active)

    def _maybe_emit(self) -> None:
        if self._dirty and time.perf_counter() - self._last_emit >= self._snapshot_interval:
            with self._lock:
                self.emit_snapshot()

    def emit_snapshot(self) -> None:
        """Send a snapshot of the model now (a no-op when there is nothing to show)."""
        snap = self.make_snapshot(self._snapshot_points)
        if snap is None:
            return
        self.snapshot.emit(snap)
        self.snapshot_sent()

    def snapshot_sent(self) -> None:
        """Note that the window has the model as it is now (the next snapshot waits its turn)."""
        self._last_emit = time.perf_counter()
        self._dirty = False

    def _stop(self) -> None:
        self._active = False
        self._stopping = True

    def _set_snapshot_interval(self, seconds: float) -> None:
        # A snapshot of a long run costs the training thread ~1-2 ms: build them about as
        # often as the window draws them.
        self._snapshot_interval = max(float(seconds), SNAPSHOT_INTERVAL)

    def _set_snapshot_points(self, points: int) -> None:
        lo, hi = self.snapshot_points_range
        self._snapshot_points = min(max(int(points), lo), hi)

    # ---- for subclasses ------------------------------------------------------------------
    def prepare(self) -> None:
        """Once, in the worker thread, before the loop (say, import torch)."""

    def work_slice(self) -> None:
        """One slice of training while active (under the lock)."""
        raise NotImplementedError

    def make_snapshot(self, points: int) -> object | None:
        """A frozen snapshot with series of about points points, or None."""
        raise NotImplementedError

    def report_error(self, was_active: bool) -> None:
        """After failed: say in the state signals that the loop no longer trains."""


class WorkerHost:
    """Starts a LoopWorker in its own QThread and shuts both down cleanly."""

    def __init__(self, worker: LoopWorker, name: str) -> None:
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = worker
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.work)
        # Direct: the GUI thread may be blocked in wait(), so a queued quit would never run.
        worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self._started = False

    def start(self) -> None:
        """Start the thread (and so the loop); later calls do nothing."""
        if not self._started:
            self._started = True
            self.thread.start()

    def is_running(self) -> bool:
        """Whether the thread runs."""
        return self.thread.isRunning()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the loop, quit and join the thread; True if it ended in time."""
        self._started = True  # a host shut down before it started never starts
        if not self.thread.isRunning():
            return True
        self.worker.stop()
        return self.thread.wait(timeout_ms)
