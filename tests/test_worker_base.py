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
