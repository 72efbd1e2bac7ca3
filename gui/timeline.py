"""The rewind bar: a slider over the recorded steps and a button back to the live run."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from gui.live_label import LiveLabel


class TimelineBar(QWidget):
    """Scrub through the recorded history; the right end is the live run."""

    scrubbed = Signal(int)  # a past step the user chose
    liveRequested = Signal()  # back to the live end

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        title = QLabel("Rewind")
        title.setToolTip("Scrub through the recorded steps of this run")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("timelineSlider")
        self.slider.setRange(0, 0)
        self.slider.setToolTip(
            "Drag back to see the fit, parameters and landscape at any past step (a cursor on "
            "the loss plot shows where). Training pauses while you look; drag to the right end, "
            "press Live or Run to continue from where the run really is. Nothing recorded is lost."
        )
        self.label = LiveLabel("live", widest="step 10,000,000 of 10,000,000")
        self.label.setObjectName("timelineLabel")
        self.label.setMinimumWidth(150)
        self.live_button = QPushButton("Live")
        self.live_button.setObjectName("liveButton")
        self.live_button.setToolTip("Jump back to the live end of the run (End)")
        self.live_button.setShortcut("End")
        self.live_button.setEnabled(False)
        layout.addWidget(title)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.live_button)
        self._live = True
        self.slider.valueChanged.connect(self._on_value)
        self.live_button.clicked.connect(self.go_live)

    def last_step(self) -> int:
        """The newest recorded step (the live end)."""
        return self.slider.maximum()

    def is_live(self) -> bool:
        """Whether the bar follows the live run (not rewound)."""
        return self._live

    def set_last_step(self, step: int) -> None:
        """Extend the range to the newest step; a live bar stays at the right end."""
        step = max(int(step), 0)
        if step == self.slider.maximum():
            return
        self.slider.blockSignals(True)
        self.slider.setMaximum(step)
        if self._live:
            self.slider.setValue(step)
        self.slider.blockSignals(False)
        if self._live:
            self.label.setText(f"live · step {step:,}")

    def show_step(self, step: int) -> None:
        """Put the handle at a past step without announcing it (a reviewed step)."""
        self._live = False
        self.live_button.setEnabled(True)
        self.slider.blockSignals(True)
        self.slider.setValue(step)
        self.slider.blockSignals(False)
        self._set_review_label(step)

    def go_live(self) -> None:
        """Return to the live end and say so."""
        was_live = self._live
        self._live = True
        self.live_button.setEnabled(False)
        self.slider.blockSignals(True)
        self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self.label.setText(f"live · step {self.slider.maximum():,}")
        if not was_live:
            self.liveRequested.emit()

    def _on_value(self, value: int) -> None:
        if value >= self.slider.maximum():
            self.go_live()
            return
        self._live = False
        self.live_button.setEnabled(True)
        self._set_review_label(value)
        self.scrubbed.emit(value)

    def _set_review_label(self, step: int) -> None:
        self.label.setText(f"step {step:,} of {self.slider.maximum():,}")
