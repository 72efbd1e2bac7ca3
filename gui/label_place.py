"""Labels of lines kept off each other: a marker's label moves along its line until it clears
the labels of the plot's horizontal lines (the noise floor, the SGD plateau)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyqtgraph as pg

from core.trainer_record import is_divergence

# Fractions of the view's height tried in turn for a vertical line's label: the first is
# where it sits when nothing is in the way.
SPOTS = (0.35, 0.55, 0.15, 0.75)


def level_line_labels(plot: pg.PlotItem) -> list[pg.InfLineLabel]:
    """The shown labels of the horizontal lines in plot."""
    return [
        item.label
        for item in plot.items
        if isinstance(item, pg.InfiniteLine)
        and item.angle % 180 == 0
        and item.isVisible()
        and isinstance(getattr(item, "label", None), pg.InfLineLabel)
        and item.label.isVisible()
        and item.label.format
    ]


def keep_clear(
    label: pg.InfLineLabel, others: Sequence[pg.InfLineLabel], spots: Sequence[float] = SPOTS
) -> float:
    """Put label at the first of spots along its line where it overlaps none of others (the
    first spot if none is clear); return the spot."""
    for other in others:
        other.updatePosition()  # their view may have moved since they were placed
    blocked = [other.sceneBoundingRect() for other in others]
    for spot in spots:
        label.setPosition(spot)
        rect = label.sceneBoundingRect()
        if not any(rect.intersects(b) for b in blocked):
            return spot
    label.setPosition(spots[0])
    return spots[0]


def clear_change_labels(plot: pg.PlotItem, markers: Iterable[pg.InfiniteLine]) -> None:
    """Move the shown labels of markers (a divergence's keeps its place) off the labels of
    plot's horizontal lines."""
    others = level_line_labels(plot)
    for marker in markers:
        if marker.label.isVisible() and not is_divergence(marker.label.format):
            keep_clear(marker.label, others)
