"""Render docs/race.png: the race tab after a finished race on the playground data (offscreen)."""

from __future__ import annotations

import sys
from pathlib import Path

from gui.app import ensure_app


def main(out: str = "docs/race.png") -> None:
    """Run the default race for 5 epochs in an offscreen window and save the window."""
    ensure_app(offscreen=True)
    from PySide6.QtCore import QEventLoop, QTimer

    from gui import export
    from gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    loop = QEventLoop()
    panel = window.race_panel
    panel.stateChanged.connect(lambda s: loop.quit() if s in ("finished", "stopped") else None)
    QTimer.singleShot(300_000, loop.quit)

    def start() -> None:
        if not window.is_ready():
            QTimer.singleShot(100, start)
            return
        panel.epochs_spin.setValue(5)
        window.toggle_race()

    start()
    loop.exec()
    try:
        window.refresh()
        panel.refresh()
        export.export_window_png(window, Path(out))
    finally:
        window.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
