"""Render docs/sweep.png: the Sweep tab after a sweep and a seeds view on the playground data
(offscreen, the window grabbed with QWidget.grab())."""

from __future__ import annotations

import sys
from pathlib import Path

from gui.app import ensure_app


def main(out: str = "docs/sweep.png") -> None:
    """Sweep learning rate x batch size (3 seeds), then the seeds view, and save the window."""
    ensure_app(offscreen=True)
    from PySide6.QtCore import QEventLoop, QTimer

    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    panel = window.sweep_panel
    window.sweep_tab_action.trigger()

    def wait_for(start) -> None:
        loop = QEventLoop()
        done = lambda s: loop.quit() if s in ("finished", "stopped") else None  # noqa: E731
        panel.stateChanged.connect(done)
        QTimer.singleShot(300_000, loop.quit)

        def go() -> None:
            if not window.is_ready():
                QTimer.singleShot(100, go)
                return
            start()

        go()
        loop.exec()
        panel.stateChanged.disconnect(done)

    panel.seeds_spin.setValue(3)
    wait_for(panel.start)
    wait_for(panel.start_seeds)
    try:
        from PySide6.QtCore import QCoreApplication, QEvent

        panel.refresh()
        panel.view.show_hover(14, 3)
        # Deliver the last messages and let the axes lay out their tick labels (measured while
        # painting) before the picture is taken.
        for _ in range(3):
            window.grab()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            QCoreApplication.processEvents()
        window.grab().save(str(Path(out)))
    finally:
        window.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
