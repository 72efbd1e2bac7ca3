"""Shared pytest setup: the `slow` marker, whose tests run only with RUN_SLOW=1."""

from __future__ import annotations

import os

import pytest

WAIT_MS = 60_000  # generous: a loaded 2-core machine; tests wait on conditions, not time


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; runs only when RUN_SLOW=1 is set")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip_slow = pytest.mark.skip(reason="slow: set RUN_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def window(qtbot):
    """A window on the playground preset, unthrottled; its thread is joined at teardown."""
    from PySide6.QtWidgets import QSlider

    from core.presets import preset_config
    from gui.main_window import MainWindow

    win = MainWindow(preset_config("playground").with_value("train.epochs", 200))
    qtbot.addWidget(win)
    win.show()
    slider = win.findChild(QSlider, "speedSlider")
    slider.setValue(slider.maximum())
    qtbot.waitUntil(lambda: win._info is not None, timeout=WAIT_MS)
    yield win
    win.shutdown()
    assert not win.host.thread.isRunning()


def pytest_sessionfinish(session, exitstatus):
    """Delete every Qt widget before the interpreter tears down (its exit order can crash)."""
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    # Widgets the tests closed were only scheduled for deletion; deliver those deletes now,
    # then the ones of any widget still open, while Qt and Python are both whole.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    for widget in QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
