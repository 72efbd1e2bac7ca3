"""Render docs/branch.png (a branch beside its ghost), docs/code-view.png (the Code tab while
stepping) and docs/lessons.png (a lesson passed), offscreen: python docs/make_branch_png.py."""

from __future__ import annotations

import sys
from pathlib import Path

from gui.app import ensure_app

# The momentum lesson's valley: plain gradient descent zig-zags, momentum runs along the floor.
FORK_STEP = 12
LAST_STEP = 80


def _wait(condition, seconds: float = 120.0) -> None:
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    # The deadline is checked by the poll itself: a single-shot quit left over from an earlier
    # wait ended a later one early.
    deadline = time.monotonic() + seconds
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start(10)
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError("the window did not get there in time")


def _step_to(window, step: int) -> None:
    while (window.latest_snapshot().step if window.latest_snapshot() else 0) < step:
        window.step_batch()
        _wait(window.is_idle)


def _step_of(window) -> int:
    snap = window.latest_snapshot()
    return 0 if snap is None else snap.step


def lessons(out: str = "docs/lessons.png") -> None:
    """The schedule lesson: run to the plateau, decay the rate, pass; the panel open."""
    ensure_app(offscreen=True)
    from PySide6.QtWidgets import QPushButton

    from gui import export
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    try:
        _wait(window.is_ready)
        window.actions_by_name["lessonsAction"].trigger()
        panel = window.lessons.panel
        panel.select("schedule")
        panel.set_up()
        _wait(lambda: window.is_ready() and window.is_idle())
        window.controller.set_speed(None)
        window.toggle_run()
        _wait(lambda: _step_of(window) > 2000)
        panel.findChild(QPushButton, "lessonTry0").click()
        at = _step_of(window)
        _wait(lambda: _step_of(window) > at + 1500)  # past the check's 500 steps
        window.toggle_run()
        _wait(lambda: "Well done" in panel.result.text())
        panel.hint_button.click()
        window.refresh()
        export.export_window_png(window, Path(out))
    finally:
        window.close()


def main(branch_out: str = "docs/branch.png", code_out: str = "docs/code-view.png") -> None:
    """Train the momentum lesson's set-up with SGD, branch at FORK_STEP with momentum, train the
    branch, save the window; then step a run with the Code tab forward and save it."""
    ensure_app(offscreen=True)
    from PySide6.QtWidgets import QSplitter

    from core.lessons import LESSONS
    from gui import export
    from gui.main_window import MainWindow

    config = LESSONS["momentum"].config().with_value("train.epochs", LAST_STEP)
    window = MainWindow(config)
    window.resize(1400, 900)
    window.show()
    try:
        _wait(window.is_ready)
        window.controller.set_speed(None)
        _step_to(window, LAST_STEP)
        window.rewind_to(FORK_STEP)
        window.controller.edit({"train.optimizer": "momentum", "train.momentum": 0.8})
        window.dashboard.branch_here(run=False, name="momentum 0.8")
        _wait(lambda: len(window.controller.branches().rows) == 2)
        window.landscape_view.set_pair(0, 1)  # the two correlated weights: the valley
        _step_to(window, LAST_STEP)
        window.refresh()
        export.export_window_png(window, Path(branch_out))

        window.fit_tabs.setCurrentWidget(window.dashboard.code_view)
        window.controller.edit({"train.optimizer": "adam", "train.lr": 0.05})
        _step_to(window, _step_of(window) + 1)  # a step of Adam: its moments
        code = window.dashboard.code_view
        line = code.script().update_lines["m"]
        _wait(lambda: code.shown_value("m") is not None)  # the Adam step's own values
        top = window.findChild(QSplitter, "topSplitter")
        top.setSizes([420, 640])  # room for the lines and their values
        # The update lines in view.
        block = code.text.document().findBlockByLineNumber(max(line - 8, 0))
        code.text.verticalScrollBar().setValue(block.firstLineNumber())
        window.refresh()
        export.export_window_png(window, Path(code_out))
    finally:
        window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
    lessons(*sys.argv[3:4])
