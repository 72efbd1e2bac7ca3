"""The frame pacer counts what a frame holds the training loop, not the wait for its park."""

from __future__ import annotations

import types

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

import gui.frame_pacer as fp
from gui.frame_pacer import FramePacer, Stage
from tests.conftest import WAIT_MS

SHARE = 0.04


class Clock:
    """perf_counter that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


class Loop:
    """A training loop that is training: it parks when asked, and the test says when."""

    def __init__(self) -> None:
        self.held = self.released = 0

    def hold_for_frame(self) -> bool:
        self.held += 1
        return True

    def release_frame(self) -> None:
        self.released += 1


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(fp, "time", types.SimpleNamespace(perf_counter=c.perf_counter))
    return c


def paced(clock, loop, update_s):
    owner = QObject()

    def update() -> None:
        clock.now += update_s

    pacer = FramePacer(owner, lambda: loop, lambda snap: [Stage(update)], lambda: True, SHARE)
    return owner, pacer


def test_the_wait_for_the_park_is_not_part_of_a_frame_s_cost(qtbot, clock):
    loop = Loop()
    _owner, pacer = paced(clock, loop, update_s=0.008)  # the owner keeps the pacer alive
    pacer.offer("snapshot")
    qtbot.waitUntil(pacer.is_drawing, timeout=WAIT_MS)
    assert loop.held == 1 and pacer.frames == 0
    clock.now += 0.015  # the loop finishes its slice (it trains meanwhile), then parks
    pacer.on_parked()
    assert pacer.frames == 1 and loop.released == 1 and not pacer.is_drawing()
    assert pacer.frame_cost_ms() == pytest.approx(8.0)  # held 8 ms, not 23
    # Flat out, frames are spaced so that they hold the loop SHARE of the time.
    assert pacer.interval_ms() == round(8.0 / SHARE)


def test_without_a_park_the_cost_is_the_drawing(qtbot, clock):
    owner = QObject()
    pacer = FramePacer(owner, lambda: None, lambda snap: [Stage(lambda: None)])
    pacer.offer("snapshot")
    qtbot.waitUntil(lambda: pacer.frames == 1, timeout=WAIT_MS)
    assert pacer.frame_cost_ms() == 0.0  # the clock did not move while it drew
    assert pacer.interval_ms() == fp.FRAME_MS  # not flat out: the usual pace


def test_a_view_whose_drawing_did_not_change_is_not_waited_for(qtbot):
    """A stage waits for the paints of its views except those its update says are still: a
    converged landscape repaints nothing, and waiting for its paint would stall the frame
    for PAINT_TIMEOUT_MS."""
    owner = QObject()
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    still: list[QWidget] = []
    pacer = FramePacer(owner, lambda: None, lambda snap: [Stage(lambda: still, [widget])])

    def frame(snapshot: str) -> None:
        pacer.offer(snapshot)
        pacer._timer.stop()
        pacer._tick()  # the frame's stage runs now

    frame("moving")
    assert pacer.is_drawing() and pacer._paint_timeout.isActive()  # awaits the paint
    pacer.cancel()
    still.append(widget)
    frame("still")
    assert pacer.frames == 1 and not pacer.is_drawing()  # over at once: nothing to await
    assert not pacer._paint_timeout.isActive()


def test_a_snapshot_offered_while_the_loop_parks_is_the_one_drawn(qtbot, clock):
    """A drag's change, carried out by the loop on its way to the park, arrives while the frame
    waits for it: that frame draws the change, not the older snapshot it began with."""
    loop = Loop()
    drawn: list[str] = []
    owner = QObject()
    pacer = FramePacer(owner, lambda: loop, lambda snap: [Stage(lambda: drawn.append(snap))])
    pacer.offer("before")
    qtbot.waitUntil(pacer.is_drawing, timeout=WAIT_MS)
    pacer.offer("moved")  # the loop's dataChanged, just before its parked
    pacer.on_parked()
    assert drawn == ["moved"] and pacer.frames == 1 and loop.released == 1
    assert pacer.take_pending() is None  # nothing left to draw a second time
