"""Text that changes with every snapshot repaints itself and lays nothing out again."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from gui.live_label import LiveLabel
from gui.main_window import MainWindow
from tests.conftest import WAIT_MS, settle


class EventCounter(QObject):
    """Counts the events of some types that its watched objects receive."""

    def __init__(self, *types: QEvent.Type) -> None:
        super().__init__()
        self.types = types
        self.count = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in self.types:
            self.count += 1
        return False


def test_a_new_text_lays_nothing_out_and_is_all_in_the_tooltip_when_cut(qtbot):
    box = QWidget()
    row = QHBoxLayout(box)
    label = LiveLabel("step 1", widest="step 10,000 of 10,000")
    row.addWidget(label)
    qtbot.addWidget(box)
    box.resize(400, 40)
    box.show()
    qtbot.waitExposed(box)
    QApplication.processEvents()  # the first layout
    counter = EventCounter(QEvent.Type.LayoutRequest)
    box.installEventFilter(counter)
    for step in range(2, 40):
        label.setText(f"step {step:,} of 10,000 " + "x" * step)
        QApplication.processEvents()
    assert counter.count == 0
    assert label.text().startswith("step 39")
    assert label.sizeHint().width() == label.fontMetrics().horizontalAdvance(
        "step 10,000 of 10,000"
    )
    label.setFixedWidth(60)
    label.repaint()
    assert label.toolTip() == label.text()  # cut on screen: the whole text on hover
    label.setFixedWidth(380)
    label.setText("short")
    label.repaint()
    assert label.toolTip() == ""


def test_a_training_window_is_not_laid_out_again_by_its_snapshots(window, qtbot):
    counter = EventCounter(QEvent.Type.LayoutRequest)
    window.installEventFilter(counter)
    window.controller.set_speed(None)
    window.controller.run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    first = window.latest_snapshot()
    # Several snapshots, each with a new step in the status bar and the timeline.
    qtbot.waitUntil(
        lambda: (
            (s := window.latest_snapshot()) is not None
            and first is not None
            and s.step > first.step + 2000
        ),
        timeout=WAIT_MS,
    )
    seen = counter.count
    start = window.latest_snapshot().step
    qtbot.waitUntil(lambda: window.latest_snapshot().step > start + 5000, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: f"step {window.latest_snapshot().step}" in window.status.label.text(),
        timeout=WAIT_MS,
    )
    window.removeEventFilter(counter)
    assert counter.count == seen  # QLabel.setText relaid the window out at every snapshot
    window.controller.pause()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)


def test_the_window_runs_no_python_for_its_own_events():
    # An event() override would run Python (and take the interpreter lock from the training
    # thread) for every repaint of anything in the window.
    assert "event" not in vars(MainWindow)


def test_flat_out_the_status_bar_and_timeline_repaint_only_inside_frames(window, qtbot):
    pacer = window.dashboard.pacer
    labels = {window.status.label, window.dashboard.timeline.label}
    outside: list[str] = []

    class PaintsOutsideFrames(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not pacer.is_drawing():
                outside.append(obj.objectName())
            return False

    spy = PaintsOutsideFrames()
    window.controller.set_speed(None)
    window.controller.run()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.dashboard.frames_carry_text(), timeout=WAIT_MS)
    frames = pacer.frames
    qtbot.waitUntil(lambda: pacer.frames > frames + 1, timeout=WAIT_MS)  # a frame under way
    for label in labels:
        label.installEventFilter(spy)
    start = pacer.frames
    qtbot.waitUntil(lambda: pacer.frames >= start + 6, timeout=WAIT_MS)
    for label in labels:
        label.removeEventFilter(spy)
    step = window.latest_snapshot().step
    assert outside == []
    # ... and they still follow the run (a frame or so behind the newest snapshot).
    shown = int(window.status.label.text().split("step ")[1].split()[0])
    assert 0 < shown <= step
    timeline = window.dashboard.timeline
    assert f"step {timeline.last_step():,}" in timeline.label.text()
    window.controller.pause()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    settle(window, qtbot)
    now = window.latest_snapshot().step
    assert f"step {now}" in window.status.label.text()  # paused: the newest step at once
    assert timeline.last_step() == now
