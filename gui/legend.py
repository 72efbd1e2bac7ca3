"""Legends that never cover much of their plot: one column, two, or hidden."""

from __future__ import annotations

import pyqtgraph as pg

# At most this share of the plot's area, and of its width and of its height, under the key.
# In a small window a one-column key hid the paths it names.
MAX_SHARE = 0.3
MAX_SIDE = 0.9
HIDDEN_HINT = "The key is hidden at this size: make the plot larger to show it."


def fit_legend(legend: pg.LegendItem, view_box: pg.ViewBox) -> bool:
    """Lay the legend out in one column or two so it fits, or hide it; False if it is hidden
    for want of room (an empty one is hidden too: pyqtgraph paints its empty frame)."""
    if not legend.items:
        legend.hide()
        return True
    width, height = view_box.width(), view_box.height()
    if width <= 0 or height <= 0:
        return legend.isVisible()  # not laid out yet: leave it
    for columns in (1, 2):
        legend.setColumnCount(columns)
        rect = legend.boundingRect()
        if (
            rect.width() <= MAX_SIDE * width
            and rect.height() <= MAX_SIDE * height
            and rect.width() * rect.height() <= MAX_SHARE * width * height
        ):
            legend.show()
            return True
    legend.hide()
    return False
