"""The loss SGD settles at, as a labelled line on the loss plot (gui/theory_worker.py computes
it off the GUI thread)."""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject

from gui.style import DASH, Palette, palette_of, style_line_label


class PlateauLine(QObject):
    """A labelled dashed line on the loss plot at the loss SGD settles at."""

    def __init__(self, loss_view: Any) -> None:
        super().__init__(loss_view)
        self._view = loss_view
        self.line = pg.InfiniteLine(
            angle=0,
            label="",
            # The right end: the noise floor's label sits at the left end.
            labelOpts={"position": 0.97, "anchors": [(1, 1), (1, 0)]},
        )
        self.line.setZValue(5)
        loss_view.plotItem.addItem(self.line, ignoreBounds=True)
        self.line.hide()
        self._value = math.nan
        # A log-scale switch moves the y range: the line's position is in the axis' units.
        loss_view.plotItem.getViewBox().sigYRangeChanged.connect(self._place)
        self.set_palette(palette_of())

    def set_palette(self, palette: Palette) -> None:
        """Draw in palette's colours."""
        self.line.setPen(palette.pen("plateau", 2, DASH))
        style_line_label(self.line, palette.plateau, palette)

    def set_value(self, loss: float | None, text: str = "") -> None:
        """Draw the line at loss with its label (None or not finite: hide it)."""
        self._value = math.nan if loss is None else float(loss)
        self.line.label.setFormat(text)
        self._place()

    @property
    def value(self) -> float:
        """The loss the line stands at (nan: hidden)."""
        return self._value if self.line.isVisible() else math.nan

    @property
    def text(self) -> str:
        """The line's label."""
        return self.line.label.format

    def _place(self, *_: object) -> None:
        v = self._value
        log_y = bool(getattr(self._view, "log_y", False))
        if not math.isfinite(v) or (log_y and v <= 0):
            self.line.hide()
            return
        self.line.show()
        self.line.setPos(math.log10(v) if log_y else v)
        # A label skips its text while hidden: give it the text now that it shows.
        self.line.label.valueChanged()
