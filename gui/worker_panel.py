"""A tab that runs work on a worker thread of its own and draws its snapshots in paced frames:
what the optimizer race and the sweep have in common."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from core.config import Config
from gui.frame_pacer import FramePacer, Stage
from gui.run_controller import ConfigModel
from gui.worker_base import LoopWorker, WorkerHost


class WorkerPanel(QWidget):
    """Owns the tab's worker host, its state, its newest snapshot and the pacer that draws it.

    A subclass sets its own state, then calls _assemble(); it supplies _build, _on_config,
    _stages, refresh, _on_snapshot, _set_state, _say, _on_failed, start and stop.
    stop_and_wait() must run before the panel is destroyed (a QThread destroyed while running
    aborts the process).
    """

    stateChanged = Signal(str)  # "idle" | "starting" | "running" | "finished" | "stopped"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    TIPS: Mapping[str, str] = {}  # tooltips of the named widgets, by objectName

    def __init__(self, name: str, model: ConfigModel | None, parent: QWidget | None) -> None:
        """A panel called name following model's configuration (None: nothing to run yet)."""
        super().__init__(parent)
        self.setObjectName(name)
        self._model = model
        self._host: WorkerHost | None = None
        self._state = "idle"
        self._latest: Any = None  # the newest snapshot received
        self._drawn: Any = None  # the snapshot the views show

    def _assemble(self) -> None:
        """Build the widgets, then start drawing frames and following the model."""
        self._build()
        self.pacer = FramePacer(self, self._worker, self._stages)
        if self._model is not None:
            self._model.configChanged.connect(self._on_config)
            self._on_config(self._model.config())

    def _named(self, widget: QWidget, name: str) -> QWidget:
        widget.setObjectName(name)
        widget.setToolTip(self.TIPS[name])
        return widget

    # ---- public API ----------------------------------------------------------------
    def config(self) -> Config | None:
        """The configuration the panel follows (its model's), or None without one."""
        return None if self._model is None else self._model.config()

    def start(self) -> bool:
        """Start the panel's work; False if there is nothing to run."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the running work; what has finished keeps its results."""
        raise NotImplementedError

    def is_running(self) -> bool:
        """Whether the work is starting or running."""
        return self._state in ("starting", "running")

    def is_thread_running(self) -> bool:
        """Whether the worker thread runs."""
        return self._host is not None and self._host.is_running()

    def state(self) -> str:
        """'idle', 'starting', 'running', 'finished' or 'stopped'."""
        return self._state

    def refresh(self) -> None:
        """Draw the newest snapshot now if it has not been drawn."""
        raise NotImplementedError

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Stop the work and the worker thread and join it; True if it ended in time."""
        self.pacer.cancel()
        if self._host is None:
            return True
        ok = self._host.shutdown(timeout_ms)
        if ok and self.is_running():
            self._set_state("stopped")
        return ok

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up at once when shown again (hidden, the views skipped every frame)."""
        super().showEvent(event)
        self.pacer.take_pending()
        self.refresh()

    # ---- for subclasses ----------------------------------------------------------------
    def _build(self) -> None:
        raise NotImplementedError

    def _top_layout(self) -> tuple[QVBoxLayout, QHBoxLayout]:
        """The panel's layout and the bar of controls along its top (to be filled)."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        return layout, QHBoxLayout()

    @staticmethod
    def _side_by_side(name: str, left: QWidget, right: QWidget) -> QSplitter:
        """The panel's two views, the left one wider (3:2), in a splitter called name."""
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName(name)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        return split

    def _can_be_seen(self) -> bool:
        return self.isVisible() and not self.window().isMinimized()

    def _connect(self, host: WorkerHost) -> None:
        """Become host's panel: its snapshots, parks, state, messages and failures come here."""
        w = host.worker
        w.snapshot.connect(self._on_snapshot)
        w.parked.connect(self.pacer.on_parked)
        w.stateChanged.connect(self._set_state)
        w.message.connect(self._say)
        # A bound method of this widget, not a lambda: PySide6 runs a lambda in the emitting
        # (worker) thread, and widgets may only be touched from the GUI thread.
        w.failed.connect(self._on_failed)
        self._host = host

    def _worker(self) -> LoopWorker | None:
        return None if self._host is None else self._host.worker

    def _toggle(self) -> None:
        if self.is_running():
            self.stop()
        else:
            self.start()

    def _on_config(self, config: Config) -> None:
        raise NotImplementedError

    def _stages(self, snap: object) -> list[Stage]:
        raise NotImplementedError

    def _on_snapshot(self, snap: object) -> None:
        raise NotImplementedError

    def _set_state(self, state: str) -> None:
        raise NotImplementedError

    def _say(self, level: str, text: str) -> None:
        raise NotImplementedError

    def _on_failed(self, text: str) -> None:
        raise NotImplementedError
