"""A one-line label for text that changes many times a second (the status bar, the timeline)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

PAD_PX = 2  # room above and below the text


class LiveLabel(QWidget):
    """Text that only repaints itself when it changes.

    QLabel.setText asks for a new layout, and the request climbs parent by parent to the window,
    which lays everything out again: done for every snapshot while a run trains flat out, the
    GUI thread worked 1.9% of the time between frames, taking the interpreter lock from the
    training thread (a probe without those updates trained ~4% faster). This label's size does
    not follow its text: text wider than the label is elided, and the whole of it is the
    tooltip."""

    def __init__(self, text: str = "", widest: str = "", parent: QWidget | None = None) -> None:
        """widest: a sample of the longest text expected, for the size hint."""
        super().__init__(parent)
        self._text = ""
        self._widest = widest
        self._tip = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        """The text shown (whole, even when elided on screen)."""
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name, for its callers)
        """Show text; nothing is laid out again."""
        if text != self._text:
            self._text = text
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Wide enough for the widest expected text, one line high."""
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance(self._widest), metrics.height() + 2 * PAD_PX)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """One line high, as narrow as the layout needs."""
        return QSize(0, self.fontMetrics().height() + 2 * PAD_PX)

    def paintEvent(self, event: QPaintEvent) -> None:
        """The text, elided on the right when it does not fit."""
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        # The tooltip is for text the label cannot show whole.
        tip = self._text if shown != self._text else ""
        if tip != self._tip:
            self._tip = tip
            self.setToolTip(tip)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(self.rect(), flags, shown)
