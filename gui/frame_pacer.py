"""Frames of live views, paced: park the training loop, update, wait for the paints, release.

One pacer serves each live tab (the training dashboard and the optimizer race). A frame:

1. takes the newest snapshot offered (older ones are dropped: bursts coalesce);
2. parks the worker's loop (LoopWorker.hold_for_frame) and waits for it to stop: pyqtgraph's
   paint code is Python and holds the interpreter lock, which a torch loop retakes after every
   op; parked, the loop lets the frame have the lock outright (a 15 ms frame stretched to
   50-90 ms otherwise, bench_window); a snapshot offered meanwhile (a change the loop carried
   out on its way to the park) replaces the frame's;
3. updates the views stage by stage, waiting for each stage's paint before the next, so the
   event loop runs timers and input in between and no stall lasts a whole frame (a view
   whose drawing did not change is not waited for: it will not paint);
4. releases the loop and spaces the next frame by what this one cost.

While the views cannot be seen (window minimized, another tab shown) there is no frame at all:
no park, no update, no wait for a paint that would never come.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from gui.worker_base import LoopWorker

FRAME_MS = 33  # at most ~30 frames a second
GAP_MS = 15  # least time between the end of a frame and the start of the next
MAX_FRAME_MS = 250  # however costly frames are, at least 4 a second
HIDDEN_MS = 500  # how often to look again while nothing can be seen
PARK_TIMEOUT_MS = 40  # a frame waits at most this long for the training loop to park
PAINT_TIMEOUT_MS = 40  # ... and this long for a stage's views to paint


@dataclass
class Stage:
    """One step of a frame: update some views, then wait for these widgets to paint (all but
    those update returns: views whose drawing did not change, which will not paint)."""

    update: Callable[[], Collection[QWidget] | None]
    widgets: Sequence[QWidget] = ()


@dataclass
class _Frame:
    snapshot: object
    stages: list[Stage]
    drawing: bool = False
    held_from: float | None = None  # perf_counter when the frame began to hold the loop
    awaited: set[QWidget] = field(default_factory=set)


def paint_target(view: QWidget) -> QWidget:
    """The widget whose Paint event shows that view has painted (a plot's viewport)."""
    if isinstance(view, QAbstractScrollArea):
        return view.viewport()
    plot = getattr(view, "plot", None)
    if isinstance(plot, QAbstractScrollArea):
        return plot.viewport()
    return view


class FramePacer(QObject):
    """Draws the newest offered snapshot in paced frames (see the module docstring)."""

    # Milliseconds until the next frame, when it changes by more than a tenth: the owner asks
    # its worker for snapshots about that often (a snapshot costs the training thread).
    intervalChanged = Signal(int)
    frameEnded = Signal()

    def __init__(
        self,
        parent: QObject,
        worker: Callable[[], LoopWorker | None],
        stages: Callable[[object], list[Stage]],
        flat_out: Callable[[], bool] = lambda: False,
        share: float | None = None,
    ) -> None:
        """stages(snapshot) lists what to update (empty: nothing can be seen now); with a
        share, while flat_out() frames take at most that share of the time."""
        super().__init__(parent)
        self._worker = worker
        self._stages = stages
        self._flat_out = flat_out
        self._share = share
        self._pending: object | None = None
        self._frame: _Frame | None = None
        self._cost = 0.0  # smoothed seconds a frame holds the training loop
        self._interval_ms = FRAME_MS
        self._reported_ms = FRAME_MS
        self._next_at = 0.0  # perf_counter before which no frame starts
        self._ended_at = 0.0  # perf_counter at the end of the last frame
        self._filtered: set[QWidget] = set()
        self.frames = 0  # frames drawn
        self.parks = 0  # frames that parked the training loop
        self._timer = self._single_shot(0, self._tick)
        self._park_timeout = self._single_shot(PARK_TIMEOUT_MS, self._draw)
        self._paint_timeout = self._single_shot(PAINT_TIMEOUT_MS, self._draw)
        # Moves on once the paint pass of the awaited widgets is over: the other views of the
        # stage paint in that same pass.
        self._after_paint = self._single_shot(0, self._draw)

    def _single_shot(self, ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # ---- public API --------------------------------------------------------------------
    def offer(self, snapshot: object) -> None:
        """A new snapshot to draw at the next frame (replaces one not drawn yet)."""
        self._pending = snapshot
        self._schedule()

    def hurry(self) -> None:
        """Draw what is offered as soon as frames may follow each other (GAP_MS after the last
        one), not after the spacing a flat-out run's frames keep: someone waits to see it."""
        soon = self._ended_at + GAP_MS / 1000
        if soon < self._next_at:
            self._next_at = soon
            if self._timer.isActive():
                self._timer.stop()
                self._schedule()

    def take_pending(self) -> object | None:
        """The snapshot waiting for a frame, which will not be drawn by the pacer now."""
        snap, self._pending = self._pending, None
        return snap

    def cancel(self) -> None:
        """Drop the frame in hand and any pending snapshot (a new run, a rewind)."""
        self._pending = None
        if self._frame is not None:
            self._end(measure=False)

    def is_drawing(self) -> bool:
        """Whether a frame is in hand (parking or painting)."""
        return self._frame is not None

    def frame_cost_ms(self) -> float:
        """How long a frame has held the training loop lately (smoothed), in milliseconds."""
        return 1000 * self._cost

    def interval_ms(self) -> int:
        """Milliseconds between frames now."""
        return self._interval_ms

    def on_parked(self) -> None:
        """The worker's loop has parked: draw the frame that asked for it."""
        if self._frame is not None and not self._frame.drawing:
            self._draw()

    # ---- frames ------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._frame is not None or self._timer.isActive() or self._pending is None:
            return
        wait = max(0.0, self._next_at - time.perf_counter())
        self._timer.start(round(1000 * wait))

    def _tick(self) -> None:
        snap = self._pending
        if snap is None or self._frame is not None:
            return
        stages = self._stages(snap)
        if not stages:
            # Nothing can be seen: keep the snapshot for when it can, look again later, and
            # let the worker make snapshots rarely.
            self._next_at = time.perf_counter() + HIDDEN_MS / 1000
            self._report(HIDDEN_MS)
            self._schedule()
            return
        self._pending = None
        self._frame = _Frame(snap, stages)
        worker = self._worker()
        if worker is not None and worker.hold_for_frame():
            self.parks += 1
            self._park_timeout.start()  # _draw on parked, or after the timeout
        else:
            self._draw()

    def _draw(self) -> None:
        """Update the next stage of the frame in hand; its paint (or a timeout) comes back."""
        self._park_timeout.stop()
        self._paint_timeout.stop()
        frame = self._frame
        if frame is None:
            return
        if not frame.drawing and self._pending is not None:
            # Offered while the loop went to its park (a drag's change it carried out on the
            # way): draw that, not the older snapshot this frame began with.
            stages = self._stages(self._pending)
            if stages:
                frame.snapshot, frame.stages, self._pending = self._pending, stages, None
        frame.drawing = True
        if frame.held_from is None:
            frame.held_from = time.perf_counter()
        while frame.stages:
            stage = frame.stages.pop(0)
            still = stage.update() or ()
            frame.awaited = {
                w
                for w in stage.widgets
                if w not in still and w.isVisible() and not w.size().isEmpty()
            }
            for widget in frame.awaited - self._filtered:
                widget.installEventFilter(self)
                self._filtered.add(widget)
                widget.destroyed.connect(lambda _=None, w=widget: self._filtered.discard(w))
            if frame.awaited:
                self._paint_timeout.start()
                return
        self._end()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Note the paints a frame waits for; the next stage follows once they are done."""
        frame = self._frame
        if event.type() == QEvent.Type.Paint and frame is not None and obj in frame.awaited:
            frame.awaited.discard(obj)
            if not frame.awaited:
                self._paint_timeout.stop()
                self._after_paint.start()
        return False

    def _end(self, measure: bool = True) -> None:
        """Release the training loop and space the next frame by what this one cost."""
        for timer in (self._park_timeout, self._paint_timeout, self._after_paint):
            timer.stop()
        frame, self._frame = self._frame, None
        worker = self._worker()
        if worker is not None:
            worker.release_frame()
        if frame is None or not measure or frame.held_from is None:
            self._schedule()
            return
        self.frames += 1
        now = time.perf_counter()
        self._ended_at = now
        # Capped, so that a frame stretched by something else (a modal dialog, a blocked
        # event loop) is soon forgotten; smoothed, so that one slow frame (an axis relayout,
        # a busy machine) does not halve the rate.
        # Cost: the time the loop was held, from its park (or the first stage) to now; the
        # wait for the loop to reach its park (up to a slice, ~10 ms) trained on and is free.
        cost = now - frame.held_from
        if self._share is not None:
            cost = min(cost, 2 * MAX_FRAME_MS / 1000 * self._share)
        self._cost = cost if self._cost == 0 else 0.7 * self._cost + 0.3 * cost
        if self._share is not None and self._flat_out():
            interval = round(1000 * self._cost / self._share)
            interval = min(max(interval, FRAME_MS), MAX_FRAME_MS)
            gap = interval - 1000 * cost
        else:
            interval = FRAME_MS
            gap = FRAME_MS - 1000 * cost
        self._interval_ms = interval
        self._next_at = now + max(gap, GAP_MS) / 1000
        self._report(interval)
        self.frameEnded.emit()
        self._schedule()

    def _report(self, interval: int) -> None:
        if abs(interval - self._reported_ms) > 0.1 * self._reported_ms:
            self._reported_ms = interval
            self.intervalChanged.emit(interval)
