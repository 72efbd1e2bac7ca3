"""Qt helpers the GUI benchmarks share; import it once QT_QPA_PLATFORM is set (it loads Qt)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

POLL_MS = 10  # how often spin() looks at its condition


class PaintCounter(QObject):
    """Counts the paint events of the widgets it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Count a paint; let every event through."""
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def spin(seconds: float, until: Callable[[], bool] | None = None) -> bool:
    """Run the event loop for up to seconds, or until the condition holds (polled 10 ms);
    return whether it holds (True without one)."""
    if until is not None and until():
        return True
    loop = QEventLoop()
    done = QTimer()
    done.setSingleShot(True)
    done.timeout.connect(loop.quit)
    poll = QTimer()
    if until is not None:
        poll.timeout.connect(lambda: loop.quit() if until() else None)
        poll.start(POLL_MS)
    done.start(max(int(seconds * 1000), 0))
    loop.exec()
    poll.stop()
    done.stop()
    return until() if until is not None else True
