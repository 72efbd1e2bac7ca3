"""Loss landscapes: the run's (its path, current point and gradient arrows) and the race's (every
run's path), each drawn on a LandscapeMap (gui/landscape_map.py) over math from core.landscape.

Everything is drawn in trained units, the space the optimizer moves in (standardised when the
data is); paths, given in original units, are converted.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from core.landscape import GRID, arrow_scale, arrows, contour_segments
from core.polyline import moves_a_pixel, traces_apart
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.item_cache import draw_rarely
from gui.landscape_map import HOLD_CURRENT, HOLD_MINIMUM, Entry, LandscapeMap
from gui.landscape_theory import LandscapeTheory
from gui.series_item import SeriesItem, has_points, move_points, set_visible_change
from gui.style import DASH, LIGHT, Palette, painted_as, palette_of

__all__ = ["GRID", "LandscapeView", "MultiPathLandscapeView", "contour_segments"]

MAX_PATH_SYMBOLS = 300  # 1-D path: dots up to this many points, a line beyond
HEAD_TURN_DEGREES = 1.0  # an arrow head turned by less is left as drawn


class _LandscapeWidget(QtWidgets.QWidget):
    """A widget holding a LandscapeMap, with the map's public parts at hand."""

    def __init__(self, name: str, prefix: str, hold: str, parent: QtWidgets.QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.map = LandscapeMap(prefix, hold)
        layout.addWidget(self.map)
        self.map.pair_changed.connect(self._redraw)
        # The map's widgets and items, named as the views and tests know them.
        self.plot, self.plotItem = self.map.plot, self.map.plotItem
        self.chooser, self.x_combo, self.y_combo = (
            self.map.chooser,
            self.map.x_combo,
            self.map.y_combo,
        )
        self.image, self.contours, self.curve = self.map.image, self.map.contours, self.map.curve
        self.minimum, self.true_point, self.legend = (
            self.map.minimum,
            self.map.true_point,
            self.map.legend,
        )

    def grid_params(self) -> tuple[int, int]:
        """Indices (x axis, y axis) into [w..., b] of the shown pair ((0, 0) for a 1-D curve)."""
        return self.map.grid_params()

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last grid: u (x axis values), v (y axis values), loss[row=v, col=u]; for one
        parameter v is empty and loss is the 1-D curve."""
        return self.map.grid()

    def set_pair(self, i: int, j: int) -> None:
        """Show the landscape over parameters i (x axis) and j (y axis), as the combos do."""
        self.map.set_pair(i, j)

    def reset_view(self) -> None:
        """Return to the range of the current grid after the user panned or zoomed."""
        self.map.reset_view()

    @property
    def grid_seconds(self) -> float:
        """Duration of the last grid computation and image update."""
        return self.map.grid_seconds

    def export_png(
        self, path: str | Path, width: int | None = None, palette: Palette | None = LIGHT
    ) -> None:
        """Write the plot as PNG (optionally width pixels wide), atomically; in palette's
        colours (white by default; None: as shown)."""
        with painted_as(self, palette):
            self.map.export_png(path, width, palette=None)

    def export_svg(self, path: str | Path, palette: Palette | None = LIGHT) -> None:
        """Write the plot as SVG, atomically; in palette's colours (None: as shown)."""
        with painted_as(self, palette):
            self.map.export_svg(path, palette=None)

    @property
    def palette_in_use(self) -> Palette:
        """The palette the view draws in."""
        return self._palette

    def set_palette(self, palette: Palette) -> None:
        """Draw this view's own items in palette's colours (the map follows its own)."""
        self._palette = palette
        self._style_items(palette)

    def _style_items(self, palette: Palette) -> None:
        """Give the items this view draws on the map palette's colours."""

    def _redraw(self) -> None:
        """Fill the legend and draw this view's items for a new pair or range."""
        raise NotImplementedError


class LandscapeView(_LandscapeWidget):
    """Training loss over two chosen parameters (a curve for one), path, minimum and gradients."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("landscapePlot", "", HOLD_CURRENT, parent)
        # Symbol options are given only with a symbol (1-D): alone they would switch dots on.
        self.path = SeriesItem()  # a converged path piles its points into one pixel
        draw_rarely(self.path)
        self._path_symbols = False
        self.current = pg.ScatterPlotItem(symbol="o", size=11)
        self.full_shaft = pg.PlotDataItem()
        self.batch_shaft = pg.PlotDataItem()
        head = {"angle": 0, "headLen": 13, "tipAngle": 32, "tailLen": None, "pen": None}
        self.full_head = pg.ArrowItem(**head)
        self.batch_head = pg.ArrowItem(**head)
        # Between the map's true point (1) and minimum (2) below and the current point on top.
        for z, item in (
            (0, self.path),
            (3, self.full_shaft),
            (4, self.batch_shaft),
            (5, self.full_head),
            (6, self.batch_head),
            (7, self.current),
        ):
            item.setZValue(z)
            self.plotItem.addItem(item)
        self._theta = np.zeros(0)  # current [w..., b], trained units
        self._last: Snapshot | None = None
        self._heads: list[tuple[pg.ArrowItem, float, float, float, float]] = []
        vb = self.plotItem.getViewBox()
        vb.sigRangeChanged.connect(self._place_heads)
        vb.sigResized.connect(self._place_heads)
        # The eigen-axes and the gradient cloud (its toggle in the top-right corner).
        self.theory = LandscapeTheory(self, self.plotItem)
        self.theory.changed.connect(self._redraw)
        self.set_palette(palette_of())

    def _style_items(self, palette: Palette) -> None:
        self.path.setPen(palette.pen("path", 2))
        if self._path_symbols:
            self.path.setSymbolBrush(palette.brush("path"))
        self.current.setBrush(palette.brush("point_fill"))
        self.current.setPen(palette.pen("point_edge", 1.5))
        self.full_shaft.setPen(palette.pen("gradient_full", 2.5))
        self.batch_shaft.setPen(palette.pen("gradient_batch", 2.5, DASH))
        self.full_head.setStyle(brush=palette.brush("gradient_full"))
        self.batch_head.setStyle(brush=palette.brush("gradient_batch"))

    def set_run(self, info: RunInfo) -> None:
        """Show a new run: its landscape over the default pair, with nothing drawn on it yet."""
        self._last = None
        self._theta = np.asarray(info.initial_trained, dtype=np.float64).copy()
        if info.stats is not None and self._theta.size != info.stats.n_features + 1:
            self._theta = np.zeros(info.stats.n_features + 1)
        for item in (self.path, self.current, self.full_shaft, self.batch_shaft):
            item.setData([], [])
        self._heads = []
        self.full_head.hide()
        self.batch_head.hide()
        self.theory.set_run(info)
        self.map.set_run(info)

    def follow_data(self, info: RunInfo) -> None:
        """The run's data moved under it: the landscape regrids from its new statistics (the
        minimum and true point move); the path and the pair stay."""
        self.theory.set_run(info)  # the eigen-axes cross at the moved minimum
        self.map.follow_data(info)

    def shown_snapshot(self) -> Snapshot | None:
        """The snapshot the view draws now (live or rewound); None before a run's first."""
        return self._last

    def update_snapshot(self, snap: Snapshot) -> bool:
        """Draw the live path, current point and gradients; re-grid if held values drifted.
        False when nothing drawn moved by a pixel (a converged run: no repaint to wait for)."""
        self._last = snap
        info = self.map.info
        if info is None:
            return False
        theta = np.asarray(snap.theta_trained, dtype=np.float64)
        if theta.size == self._theta.size and np.isfinite(theta).all():
            self._theta = theta.copy()
        self.map.set_range_paths([snap.param_values])
        moved = self._draw_live(snap)
        self.map.set_held(self._theta)
        return moved

    def _redraw(self) -> None:
        entries: list[Entry] = [(self.path, "optimizer path"), (self.current, "current")]
        entries += self.map.marker_entries()
        entries += [
            (self.full_shaft, "−gradient, full batch"),
            (self.batch_shaft, "−gradient, minibatch"),
        ]
        entries += self.theory.entries(not self.map.is_1d)
        self.map.show_key(entries)
        if self._last is not None:
            self._draw_live(self._last)
        else:
            self._draw_point()

    def _draw_live(self, snap: Snapshot) -> bool:
        """Draw snap's path, point and arrows, leaving what would move by less than a pixel
        as drawn (a converged run's frames then repaint nothing here); True if any moved."""
        px, py = self.map.path_xy(snap.path())
        symbols = self.map.is_1d and 0 < px.size <= MAX_PATH_SYMBOLS
        restyled = symbols != self._path_symbols
        if restyled:
            self._path_symbols = symbols
            if symbols:
                self.path.setSymbolSize(6)
                self.path.setSymbolBrush(self._palette.brush("path"))
                self.path.setSymbolPen(None)
            self.path.setSymbol("o" if symbols else None)
        moved = self._draw_point()
        if moved or restyled:
            self.path.setData(px, py)  # it ends at the point: no need to trace what moved
            moved = True
        else:
            # A path's points are its symbols in 1-D: each one counts, not only the line.
            apart = moves_a_pixel if symbols else traces_apart
            moved = set_visible_change(self.path, px, py, apart)
        return self._draw_arrows(snap) or moved

    def _draw_point(self) -> bool:
        x, y = self.map.point(self._theta)
        new = (np.array([x]), np.array([y]))
        old = self.current.getData()
        if not moves_a_pixel(old, new, self.plotItem.getViewBox().viewPixelSize()):
            return False
        move_points(self.current, *new)
        return True

    def _draw_arrows(self, snap: Snapshot) -> bool:
        """Draw the gradient arrows (and the theory's marks); True if any moved a pixel."""
        x, y = self.map.point(self._theta)
        (x0, x1), (y0, y1) = self.map.view_ranges()
        grads = [
            g if np.size(g) == self._theta.size else None for g in (snap.full_grad, snap.batch_grad)
        ]
        # One scale for both, so their relative lengths show how noisy the minibatch is (and
        # for the gradient cloud's edge, when it is shown).
        pair, spans = self.map.grid_params(), (x1 - x0, y1 - y0)
        scaled = [*grads, *self.theory.extent(snap, self._theta, pair, spans)]
        steps = arrows(scaled, pair, spans)[:2]
        scale = arrow_scale(scaled, pair, spans)
        moved = self.theory.draw(snap, self._theta, (x, y), pair, scale, spans)
        self._heads = []
        for step, shaft, head in (
            (steps[0], self.full_shaft, self.full_head),
            (steps[1], self.batch_shaft, self.batch_head),
        ):
            if step is None:
                moved = moved or has_points(shaft) or head.isVisible()
                shaft.setData([], [])
                head.hide()
                continue
            tx, ty = x + step[0], y + step[1]
            moved = set_visible_change(shaft, np.array([x, tx]), np.array([y, ty])) or moved
            if step == (0.0, 0.0):
                moved = moved or head.isVisible()
                head.hide()
                continue
            self._heads.append((head, tx, ty, step[0], step[1]))
        return self._place_heads() or moved

    def _place_heads(self, *_: object) -> bool:
        """Point the arrow heads (drawn in pixels, so their angle follows the view's aspect);
        True if one turned by a degree or moved by a quarter pixel."""
        sx, sy = self.plotItem.getViewBox().viewPixelSize()
        moved = False
        for head, tx, ty, dx, dy in self._heads:
            if sx <= 0 or sy <= 0:
                moved = moved or head.isVisible()
                head.hide()
                continue
            # ArrowItem points left at angle 0 and turns clockwise on screen (y down).
            angle = math.degrees(math.atan2(dy / sy, -dx / sx))
            pos = head.pos()
            if (
                head.isVisible()
                and abs((head.opts["angle"] - angle + 180) % 360 - 180) < HEAD_TURN_DEGREES
                and abs(pos.x() - tx) < 0.25 * sx
                and abs(pos.y() - ty) < 0.25 * sy
            ):
                continue
            head.setStyle(angle=angle)
            head.setPos(tx, ty)
            head.show()
            moved = True
        return moved


class MultiPathLandscapeView(_LandscapeWidget):
    """The landscape with several runs' paths overlaid in distinct colours, with a legend.

    Used by the optimizer race: all runs share the data and the start, so one landscape serves
    them all. With more than two parameters the others are held at their least-squares values
    (no single run's current values would be fair to the others).
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        # Distinct names: this view may live in the same window as the run's own landscape.
        super().__init__("raceLandscapePlot", "race", HOLD_MINIMUM, parent)
        self.start_point = pg.ScatterPlotItem(symbol="o", size=10)
        self.start_point.setZValue(20)
        self.plotItem.addItem(self.start_point)
        self._overlay_items: list[tuple[pg.PlotDataItem, QtWidgets.QGraphicsEllipseItem]] = []
        self._overlay_labels: list[str] = []
        self._overlay_paths: list[np.ndarray] = []
        self._fit: list[bool] = []  # paths the axes are widened to show (fit_paths)
        self._overlay_colors: list[str] = []
        self._path_width = 2.0  # (the map caches its image and contours itself)
        self.set_palette(palette_of())

    def _style_items(self, palette: Palette) -> None:
        self.start_point.setBrush(palette.brush("point_fill"))
        self.start_point.setPen(palette.pen("point_edge", 1.5))
        for (line, end), color in zip(self._overlay_items, self._overlay_colors, strict=False):
            self._style_path(line, end, color)

    def _style_path(
        self, line: pg.PlotDataItem, end: QtWidgets.QGraphicsEllipseItem, color: str
    ) -> None:
        p = self._palette
        line.setPen(p.pen(color, self._path_width))
        end.setBrush(p.brush(color))
        end.setPen(p.pen("point_fill", 1.2))

    def set_run(self, info: RunInfo) -> None:
        """Show a new race's landscape over the default pair."""
        self._fit = [False] * len(self._overlay_paths)
        self.map.set_run(info)

    def set_paths(self, labels: list[str], colors: list[str]) -> None:
        """Prepare one coloured path (and end marker) per label; clears any drawn paths."""
        for line, end in self._overlay_items:
            self.plotItem.removeItem(line)
            self.plotItem.removeItem(end)
        self._overlay_items = []
        for k, color in enumerate(colors[: len(labels)]):
            line = pg.PlotDataItem()
            # A plain ellipse of fixed pixel size: moving it every frame is a setPos, where a
            # one-point ScatterPlotItem would rebuild its spots and bounds (~1 ms a frame each).
            end = QtWidgets.QGraphicsEllipseItem(-4.5, -4.5, 9, 9)
            end.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            self._style_path(line, end, color)
            end.hide()
            # Above the grid and contours (-20, -10), below the minimum's star (2) that they
            # all converge on; later runs over earlier ones.
            line.setZValue(-5 + 0.1 * k)
            end.setZValue(-3 + 0.1 * k)
            self.plotItem.addItem(line)
            self.plotItem.addItem(end, ignoreBounds=True)
            self._overlay_items.append((line, end))
        self._overlay_labels = list(labels)
        self._overlay_colors = list(colors)
        self._overlay_paths = [np.zeros((0, 0)) for _ in labels]
        self._fit = [False] * len(labels)
        self.map.set_range_paths([])
        if self.map.info is not None:
            self._fill_legend()

    def set_path_width(self, width: float) -> None:
        """Pen width of the paths in pixels (1 paints several times faster than anything wider:
        Qt draws 1-pixel lines without its stroker)."""
        self._path_width = float(width)
        for (line, _), color in zip(self._overlay_items, self._overlay_colors, strict=False):
            line.setPen(self._palette.pen(color, self._path_width))
        for sample, _ in self.legend.items:
            sample.update()  # legend samples draw the item's pen, but only when repainted

    def update_paths(self, paths: list[np.ndarray]) -> None:
        """Draw each run's path, given as rows [w..., b] in original units (as History keeps)."""
        self._overlay_paths = [np.asarray(p, dtype=np.float64) for p in paths]
        if any(self._fit):
            self.map.set_range_paths(self._fitted())
        self._draw_overlay()

    def path_data(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The drawn x and y of path k (for tests and inspection)."""
        line, _ = self._overlay_items[k]
        x, y = line.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def fit_paths(self, include: list[bool] | None = None) -> None:
        """Widen the axes to show the drawn paths whole (those with include[k] True)."""
        self._fit = list(include) if include is not None else [True] * len(self._overlay_paths)
        self.map.set_range_paths(self._fitted())
        self.map.refit()

    def path_labels(self) -> list[str]:
        """The labels of the overlaid paths, in order."""
        return list(self._overlay_labels)

    def _fitted(self) -> list[np.ndarray]:
        return [p for p, keep in zip(self._overlay_paths, self._fit, strict=False) if keep]

    def _redraw(self) -> None:
        info = self.map.info
        assert info is not None
        x, y = self.map.point(np.asarray(info.initial_trained, dtype=np.float64))
        self.start_point.setData([x], [y])
        self._fill_legend()
        self._draw_overlay()

    def _fill_legend(self) -> None:
        entries: list[Entry] = [(self.start_point, "start"), *self.map.marker_entries()]
        entries += [
            (line, label)
            for (line, _), label in zip(self._overlay_items, self._overlay_labels, strict=False)
        ]
        self.map.show_key(entries)

    def _draw_overlay(self) -> None:
        if self.map.info is None:
            return
        for (line, end), path in zip(self._overlay_items, self._overlay_paths, strict=False):
            px, py = self.map.path_xy(path)
            if px.size == 0:
                line.setData([], [])
                end.hide()
                continue
            line.setData(px, py)
            end.setPos(float(px[-1]), float(py[-1]))
            end.setVisible(bool(np.isfinite(px[-1]) and np.isfinite(py[-1])))
