"""The worker loop's order around a frame: what was asked for during it comes first."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from gui.worker_base import LoopWorker, WorkerHost
from tests.conftest import WAIT_MS


class Ticker(LoopWorker):
    """A loop whose slices and calls leave a trace, in order."""

    def __init__(self) -> None:
        super().__init__(200)
        self.events: list[str] = []
        self._pause = threading.Event()

    def start_ticking(self) -> None:
        self.call(self._start)

    def note(self) -> None:
        self.call(self.events.append, "call")

    def _start(self) -> None:
        self._active = True

    def work_slice(self) -> None:
        self.events.append("slice")
        self._pause.wait(0.001)  # a slice's work

    def make_snapshot(self, points: int) -> object | None:
        return None


def test_a_call_queued_during_a_frame_comes_before_the_next_slice(qtbot):
    """A drag's change sent while the loop is parked is carried out as soon as the frame
    releases it, not after another slice: the next frame can show it."""
    worker = Ticker()
    host = WorkerHost(worker, "ticker")
    parked = threading.Event()
    worker.parked.connect(parked.set, Qt.ConnectionType.DirectConnection)
    host.start()
    try:
        worker.start_ticking()
        qtbot.waitUntil(lambda: "slice" in worker.events, timeout=WAIT_MS)
        worker.hold_for_frame()
        qtbot.waitUntil(parked.is_set, timeout=WAIT_MS)
        mark = len(worker.events)  # the loop waits for the release: nothing is added
        worker.note()
        worker.release_frame()
        qtbot.waitUntil(lambda: "call" in worker.events[mark:], timeout=WAIT_MS)
        assert worker.events[mark] == "call"
    finally:
        assert host.shutdown()


def test_a_frame_asked_for_while_calls_run_parks_the_loop_before_the_rest(qtbot):
    """A drag queues a call a mouse move: once a frame is asked for, the loop parks before
    the calls queued behind the one it is carrying out, and runs no slice until released."""
    worker = Ticker()
    host = WorkerHost(worker, "ticker")
    parks: list[int] = []
    worker.parked.connect(
        lambda: parks.append(len(worker.events)), Qt.ConnectionType.DirectConnection
    )
    host.start()
    try:
        worker.start_ticking()
        qtbot.waitUntil(lambda: "slice" in worker.events, timeout=WAIT_MS)
        worker.hold_for_frame()
        qtbot.waitUntil(lambda: len(parks) == 1, timeout=WAIT_MS)
        worker.call(lambda: (worker.events.append("first"), worker.hold_for_frame()))
        worker.call(worker.events.append, "second")
        worker.release_frame()
        qtbot.waitUntil(lambda: len(parks) == 2, timeout=WAIT_MS)
        assert worker.events[parks[0] :] == ["first"]  # parked again: no slice, no second
        worker.release_frame()
        qtbot.waitUntil(lambda: "slice" in worker.events[parks[1] :], timeout=WAIT_MS)
        assert worker.events[parks[1]] == "second"
    finally:
        assert host.shutdown()
