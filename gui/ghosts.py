"""Ghosts: the other branches of a run drawn dimmed under the live curves, from the step where
each leaves the active branch: its loss, its parameter curves and its landscape path.

Kept cheap: the items are made and filled only when the branches change (or the step axis, the
landscape's pair or the palette does), never per frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject

from core.branch_summary import Ghost
from core.runinfo import RunInfo
from gui.landscape import LandscapeView
from gui.plots import LossView, ParamView
from gui.style import Palette, palette_of

GHOST_ALPHA = 90  # parameter curves and landscape paths: their own colour, this opaque (0-255)
GHOST_Z = -1  # under the live curves, above the true-value lines (-5)
TINY_LOSS = 1e-300  # a zero loss on a log axis


class GhostLayer(QObject):
    """The ghosts drawn on the loss, parameter and landscape views."""

    def __init__(
        self,
        loss_view: LossView,
        param_view: ParamView,
        landscape_view: LandscapeView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ghostLayer")
        self._loss_view, self._param_view, self._landscape = loss_view, param_view, landscape_view
        self._ghosts: tuple[Ghost, ...] = ()
        self._fit_bias = True
        self._loss_items: list[pg.PlotDataItem] = []
        self._param_items: list[list[pg.PlotDataItem]] = []
        self._path_items: list[pg.PlotDataItem] = []
        self._palette = palette_of()
        landscape_view.map.pair_changed.connect(self._draw_paths)

    # ---- what is drawn ---------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """A new run (or branch): whether its bias is a parameter the plots draw."""
        self._fit_bias = bool(info.fit_bias)

    def set_ghosts(self, ghosts: Sequence[Ghost]) -> None:
        """Draw these branches as ghosts (none: clear them)."""
        self._ghosts = tuple(ghosts)
        self._remove_items()
        for ghost in self._ghosts:
            self._loss_items.append(self._item(self._loss_view.plotItem))
            n = ghost.params.shape[1] if ghost.params.ndim == 2 else 0
            self._param_items.append([self._item(self._param_view.plotItem) for _ in range(n)])
            self._path_items.append(self._item(self._landscape.plotItem))
        self._style_items()
        self.redraw()
        # The step axes reach the ghosts' ends: a former continuation stays in sight.
        reach = max((float(g.steps[-1]) for g in self._ghosts if g.steps.size), default=0.0)
        self._loss_view.extend_steps(reach)
        self._param_view.extend_steps(reach)

    def ghosts(self) -> tuple[Ghost, ...]:
        """The branches drawn as ghosts."""
        return self._ghosts

    def drawn(self) -> dict[str, int]:
        """How many ghost curves of each view hold points (loss, params, paths)."""

        def count(items: list[pg.PlotDataItem]) -> int:
            return sum(1 for item in items if item.getData()[0] is not None and item.isVisible())

        return {
            "loss": count(self._loss_items),
            "params": count([i for row in self._param_items for i in row]),
            "paths": count(self._path_items),
        }

    def redraw(self) -> None:
        """Fill every ghost item from the ghosts (after a change of the step axis)."""
        log_x = self._loss_view.log_steps
        for ghost, loss, params in zip(
            self._ghosts, self._loss_items, self._param_items, strict=True
        ):
            steps, losses, values = ghost.steps, ghost.losses, ghost.params
            if log_x:  # log10 of step 0 is -inf
                keep = steps >= 1
                steps, losses, values = steps[keep], losses[keep], values[keep]
            if self._loss_view.log_y:
                losses = np.maximum(losses, TINY_LOSS)
            loss.setData(steps, losses)
            for k, item in enumerate(params):
                bias_hidden = k == len(params) - 1 and not self._fit_bias
                item.setVisible(not bias_hidden)
                item.setData(steps, values[:, k])
        self._draw_paths()

    def _draw_paths(self) -> None:
        landscape = self._landscape
        for ghost, item in zip(self._ghosts, self._path_items, strict=True):
            if landscape.map.info is None:
                item.setData([], [])
                continue
            x, y = landscape.map.path_xy(ghost.params)
            item.setData(x, y)

    # ---- look ----------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        """Draw the ghosts in palette's colours."""
        self._palette = palette
        self._style_items()

    def _style_items(self) -> None:
        p = self._palette
        for item in self._loss_items:
            item.setPen(p.pen("ghost", 1.5))
        for row in self._param_items:
            for k, item in enumerate(row):
                item.setPen(p.pen(p.color(p.param(k), GHOST_ALPHA), 1.5))
        for item in self._path_items:
            item.setPen(p.pen(p.color("path", GHOST_ALPHA), 2))

    # ---- items ---------------------------------------------------------------------------
    @staticmethod
    def _item(plot_item: pg.PlotItem) -> pg.PlotDataItem:
        item = pg.PlotDataItem()
        item.setZValue(GHOST_Z)
        plot_item.addItem(item)
        return item

    def _remove_items(self) -> None:
        for item in self._loss_items:
            self._loss_view.plotItem.removeItem(item)
        for row in self._param_items:
            for item in row:
                self._param_view.plotItem.removeItem(item)
        for item in self._path_items:
            self._landscape.plotItem.removeItem(item)
        self._loss_items, self._param_items, self._path_items = [], [], []
