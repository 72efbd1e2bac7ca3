"""The landscape map's side of data that moves under a running fit (core.live_data): a new
objective from the moved statistics, its minimum and the true point move; the pair, the path
and (while the marks stay inside them) the ranges stay. A mixin of gui.landscape_map's
LandscapeMap (its own method, kept here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.landscape import objective_of, trained_theta
from core.runinfo import RunInfo

if TYPE_CHECKING:
    from gui.landscape_map import LandscapeMap

EDGE = 0.05  # moved marks closer than this fraction of the view to its edge re-range it


class MapFollowing:
    """LandscapeMap.follow_data."""

    def follow_data(self: LandscapeMap, info: RunInfo) -> None:
        """Take the run's moved data (the same parameters): a new objective, minimum and true
        point, regridded over the same pair; the ranges stay while those marks lie inside."""
        old = self._info
        if old is None or info.stats is None or info.stats.n_features != self._d:
            self.set_run(info)
            return
        self._info = info
        objective = self._objective = objective_of(info)
        self._min_theta = objective.minimum(info.ols_trained)
        if self._true.size and info.true_theta is not None:
            self._true = trained_theta(info.true_theta, info.shift, info.scale)
        (x0, x1), (y0, y1) = self._range
        marks = [self.point(self._min_theta)] + (
            [self.point(self._true)] if self._true.size else []
        )
        # Inside by a little: a star on the very edge is cut in half.
        ex, ey = EDGE * (x1 - x0), EDGE * (y1 - y0)
        inside = all(x0 + ex <= x <= x1 - ex and y0 + ey <= y <= y1 - ey for x, y in marks)
        if self.is_1d or not inside:
            self._set_pair(self._pair)
            return
        self._compute_grid()
        mx, my = marks[0]
        self.minimum.setData([mx], [my])
        if self._true.size:
            self.true_point.setData([marks[1][0]], [marks[1][1]])
        # Same pair and ranges: what owners drew on the map stays where it is, unless the
        # trained units moved (rebuilt data standardised anew), in which paths are drawn.
        if not (np.array_equal(old.shift, info.shift) and np.array_equal(old.scale, info.scale)):
            self.pair_changed.emit()
