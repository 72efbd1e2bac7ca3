"""The sweep's views: the heat map of a measure over two axes with the theory drawn on it, and
the seeds view (final parameters of N seeds against least squares' sampling ellipse)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QWidget

from core.seeds import SeedSpread, ellipse
from core.sweep import Axis
from core.sweep_run import MEASURES, CellTable, LimitLine, SweepSnapshot, cell_table
from gui.plot_base import PlotView, padded
from gui.style import LIGHT
from gui.style import pen as _pen

TEXT = LIGHT.text  # the map's labels (the sweep tab does not follow the dark theme yet)

CMAP = "viridis"
NEVER_RGBA = (205, 205, 205, 255)  # a cell whose seeds never reached tolerance
DIVERGED_PEN = "#c62828"
LIMIT_COLORS = {
    "full_batch": "#d32f2f",
    "heavy_ball": "#ef6c00",
    "nesterov": "#ad1457",
    "minibatch": "#1565c0",
}
MAX_TICKS = 9  # value labels per axis at most (every other cell beyond that)
NAMES = {
    "train.lr": "learning rate",
    "train.batch_size": "batch size",
    "train.momentum": "momentum β",
    "train.betas[0]": "β₁",
    "train.betas[1]": "β₂",
    "train.weight_decay": "weight decay",
}


def axis_title(key: str) -> str:
    """How an axis is named on the map: words, then the key."""
    name = NAMES.get(key)
    return f"{name} ({key})" if name else key


def _ticks(axis: Axis) -> list[tuple[float, str]]:
    n = len(axis.values)
    every = max(1, math.ceil(n / MAX_TICKS))
    return [(float(i), axis.label(v)) for i, v in enumerate(axis.values) if i % every == 0]


def measure_text(measure: str, value: float) -> str:
    """A measure's value as the hover and the colour bar say it."""
    if math.isnan(value):
        return "not run yet"
    if measure == "steps":
        return "never within tolerance" if math.isinf(value) else f"{value:,.0f} steps"
    if measure == "loss":
        return "not finite" if math.isinf(value) else f"{value:.4g}"
    return f"{100 * value:.0f}% diverged"


class SweepView(PlotView):
    """A measure over two axes, one coloured cell per grid point, limits drawn as curves."""

    cellClicked = Signal(int, int)  # grid indices along the x and y axes

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("sweepPlot", "Sweep: steps to tolerance", parent)
        pi = self.plotItem
        pi.setMenuEnabled(False, enableViewBoxMenu=False)
        pi.getViewBox().setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="col-major")
        pi.addItem(self.image)
        self.marks = pg.ScatterPlotItem(symbol="x", size=12, pen=_pen(DIVERGED_PEN, 2), brush=None)
        self.marks.setZValue(10)
        pi.addItem(self.marks)
        self._diverged_key = pg.PlotDataItem(
            [], [], pen=None, symbol="x", symbolPen=_pen(DIVERGED_PEN, 2), symbolBrush=None
        )
        self.hover = pg.TextItem("", color=TEXT, fill=pg.mkBrush(255, 255, 255, 230), anchor=(0, 1))
        self.hover.setObjectName("sweepHover")
        self.hover.setZValue(20)
        self.hover.hide()
        pi.addItem(self.hover, ignoreBounds=True)
        self.cmap = pg.colormap.get(CMAP)
        # The bar runs the other way: small values (few steps, low loss) are the bright end.
        # A copy: pyqtgraph hands out one shared map per name, and reversing that in place
        # turned every later landscape (a theme switch, a second window) upside down.
        bar_cmap = copy.deepcopy(pg.colormap.get(CMAP))
        bar_cmap.reverse()
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=bar_cmap, interactive=False, width=14, colorMapMenu=False
        )
        pi.layout.addItem(self.colorbar, 2, 5)  # right of the plot, as ColorBarItem would
        pi.layout.setColumnFixedWidth(4, 5)
        self.limit_curves: list[pg.PlotDataItem] = []
        self.axes: tuple[Axis, ...] = ()
        self.measure = "steps"
        self.table: CellTable | None = None
        self._snap: SweepSnapshot | None = None
        self._table_key: tuple = ()
        self._levels = (0.0, 1.0)
        # Top left: in a learning-rate sweep the slow corner, far from the divergence edge.
        self.legend.setOffset((10, 10))
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    # ---- public API ----------------------------------------------------------------
    def set_axes(self, axes: Sequence[Axis]) -> None:
        """Start over for a sweep over these axes (the first is x, the second y)."""
        self.axes = tuple(axes)
        self.table, self._snap, self._table_key = None, None, ()
        pi = self.plotItem
        nx = len(self.axes[0].values)
        ny = len(self.axes[1].values) if len(self.axes) > 1 else 1
        pi.setLabel("bottom", axis_title(self.axes[0].key), color=TEXT)
        pi.getAxis("bottom").setTicks([_ticks(self.axes[0]), []])
        if len(self.axes) > 1:
            pi.setLabel("left", axis_title(self.axes[1].key), color=TEXT)
            pi.getAxis("left").setTicks([_ticks(self.axes[1]), []])
        else:
            pi.setLabel("left", "", color=TEXT)
            pi.getAxis("left").setTicks([[(0.0, "")], []])
        self.image.setImage(np.zeros((nx, ny, 4), dtype=np.ubyte), autoLevels=False)
        self.image.setRect(-0.5, -0.5, nx, ny)
        self.marks.setData([], [])
        self.hover.hide()
        self._set_x(-0.5, nx - 0.5)
        self._set_y(-0.5, ny - 0.5)
        self.set_limits([])

    def set_measure(self, measure: str) -> None:
        """Colour the cells by 'steps', 'loss' or 'diverged'."""
        if measure not in MEASURES:
            raise ValueError(f"unknown measure {measure!r}")
        self.measure = measure
        self.plotItem.setTitle(f"Sweep: {MEASURES[measure]}", color=TEXT, size="11pt")
        self._table_key = ()
        if self._snap is not None:
            self.update_sweep(self._snap)

    def set_limits(self, lines: Sequence[LimitLine]) -> None:
        """Draw each theoretical limit where lr / limit = 1 on the map (with a legend entry)."""
        pi = self.plotItem
        for curve in self.limit_curves:
            pi.removeItem(curve)
        self.limit_curves = []
        self.legend.clear()
        for line in lines:
            color = LIMIT_COLORS.get(line.key, "#444444")
            x, y = self._isocurve(line)
            curve = pi.plot(
                x,
                y,
                pen=_pen(color, 2, Qt.PenStyle.DashLine),
                name=f"{line.name}: lr = {line.formula}",
                connect="finite",
            )
            curve.setZValue(5)
            curve.setObjectName(f"limit_{line.key}")
            self.limit_curves.append(curve)
        self.legend.addItem(self._diverged_key, "diverged")

    def update_sweep(self, snap: SweepSnapshot) -> None:
        """Colour the cells that have results (others stay blank) and mark diverged ones."""
        self._snap = snap
        key = (snap.runs_done, snap.done, self.measure, id(snap.results))
        if key == self._table_key or not self.axes:
            return
        self._table_key = key
        table = cell_table(self.axes, snap.grid_index, snap.results, self.measure)
        self.table = table
        self.image.setImage(self._rgba(table), autoLevels=False)
        i, j = np.nonzero(table.diverged > 0)
        self.marks.setData(i.astype(float), j.astype(float))

    def update_snapshot(self, snap: object) -> None:  # type: ignore[override]
        """PlotView's hook: a sweep snapshot."""
        if isinstance(snap, SweepSnapshot):
            self.update_sweep(snap)

    def hover_text(self, i: int, j: int) -> str:
        """What hovering cell (i, j) says: its settings, the measure and its spread."""
        lines = [
            f"{axis_title(a.key)} = {a.label(a.values[k])}"
            for a, k in zip(self.axes, (i, j), strict=False)
        ]
        t = self.table
        if t is None or t.finished[i, j] == 0:
            return "\n".join([*lines, "not run yet"])
        seeds = int(t.finished[i, j])
        med = measure_text(self.measure, float(t.median[i, j]))
        if seeds > 1:
            lines.append(f"median of {seeds} seeds: {med}")
            lo, hi = float(t.low[i, j]), float(t.high[i, j])
            if lo == hi or (math.isinf(lo) and math.isinf(hi)):
                lines.append("10–90% of seeds: the same")
            else:
                lo_text, hi_text = measure_text(self.measure, lo), measure_text(self.measure, hi)
                lines.append(f"10–90% of seeds: {lo_text} to {hi_text}")
        else:
            lines.append(med)
        if t.diverged[i, j] > 0:
            lines.append(
                "diverged" if seeds == 1 else f"{100 * t.diverged[i, j]:.0f}% of seeds diverged"
            )
        lines.append("click: train this cell in the Training tab")
        return "\n".join(lines)

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """The grid cell under a scene position, or None."""
        if not self.axes or not self.plotItem.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plotItem.getViewBox().mapSceneToView(scene_pos)
        i, j = round(p.x()), round(p.y())
        nx = len(self.axes[0].values)
        ny = len(self.axes[1].values) if len(self.axes) > 1 else 1
        return (i, j) if 0 <= i < nx and 0 <= j < ny else None

    def show_hover(self, i: int, j: int) -> None:
        """Show cell (i, j)'s hover text beside it."""
        self.hover.setText(self.hover_text(i, j))
        nx = len(self.axes[0].values)
        # Left of the cell in the right half, so the box stays on the plot.
        self.hover.setAnchor((1, 1) if i > nx / 2 else (0, 1))
        self.hover.setPos(i, j)
        self.hover.show()

    # ---- helpers -------------------------------------------------------------------
    def _rgba(self, t: CellTable) -> np.ndarray:
        value = t.median
        if self.measure in ("steps", "loss"):
            with np.errstate(divide="ignore", invalid="ignore"):
                shown = np.where(value > 0, np.log10(np.where(value > 0, value, 1.0)), np.nan)
            zero = value == 0
        else:
            shown, zero = value.copy(), np.zeros(value.shape, dtype=bool)
        finite = np.isfinite(shown)
        if self.measure == "diverged":
            lo, hi = 0.0, 1.0
        elif finite.any():
            lo, hi = float(shown[finite].min()), float(shown[finite].max())
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
        else:
            lo, hi = 0.0, 1.0
        shown = np.where(zero, lo, shown)
        self._levels = (lo, hi)
        self._set_colorbar(lo, hi)
        lut = self.cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
        rgba = np.zeros((*value.shape, 4), dtype=np.ubyte)
        ok = np.isfinite(shown)
        # Fewer steps, lower loss, fewer divergences: the bright end of the map.
        frac = np.clip((hi - np.where(ok, shown, hi)) / (hi - lo), 0.0, 1.0)
        rgba[ok] = lut[(frac[ok] * 255).round().astype(int)]
        rgba[np.isinf(value) & (t.finished > 0)] = NEVER_RGBA
        return rgba

    def _set_colorbar(self, lo: float, hi: float) -> None:
        bar = self.colorbar
        bar.setLevels((lo, hi))
        axis = bar.axis
        if self.measure == "diverged":
            axis.setTicks([[(v, f"{100 * v:.0f}%") for v in (0.0, 0.5, 1.0)], []])
            axis.setLabel("diverged seeds")
            return
        first, last = math.floor(lo), math.ceil(hi)
        ticks = [(float(e), f"{10.0**e:g}") for e in range(first, last + 1) if lo <= e <= hi]
        if len(ticks) < 2:
            ticks = [(lo, f"{10**lo:.3g}"), (hi, f"{10**hi:.3g}")]
        axis.setTicks([ticks, []])
        axis.setLabel("steps (log)" if self.measure == "steps" else "final loss (log)")

    def _isocurve(self, line: LimitLine) -> tuple[np.ndarray, np.ndarray]:
        ratio = np.nan_to_num(line.ratio, nan=1e30, posinf=1e30, neginf=-1e30)
        xs, ys = [], []
        if ratio.shape[0] == 1:
            ratio = np.vstack([ratio, ratio])  # one axis: the limit is a vertical line
            fy = np.array([-0.5, 0.5]) if len(self.axes) < 2 else line.fy
        else:
            fy = line.fy
        data = np.log(np.maximum(ratio.T, 1e-300))  # (x, y); crosses 0 where lr = limit
        for path in pg.functions.isocurve(data, 0.0, connected=True):
            pts = np.asarray(path, dtype=np.float64) - 0.5  # pixel centres sit at i + 0.5
            xs.extend(np.interp(pts[:, 0], np.arange(line.fx.size), line.fx))
            ys.extend(np.interp(pts[:, 1], np.arange(fy.size), fy))
            xs.append(np.nan)
            ys.append(np.nan)
        return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)

    def _moved(self, pos: QPointF) -> None:
        cell = self.cell_at(pos)
        if cell is None:
            self.hover.hide()
            return
        self.show_hover(*cell)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.cellClicked.emit(*cell)


class SeedsView(PlotView):
    """Final parameters of N seeds scattered against least squares' 95 % sampling ellipse."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("seedsPlot", "Seeds: final parameters vs σ²(XᵀX)⁻¹", parent)
        pi = self.plotItem
        self.points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(31, 119, 180, 150))
        pi.addItem(self.points)
        self.legend.addItem(self.points, "seeds (final)")
        self.ellipse = pi.plot(pen=_pen("#d62728", 2), name="95% sampling ellipse")
        self.truth = pg.ScatterPlotItem(
            symbol="star", size=16, pen=pg.mkPen("#222222"), brush=pg.mkBrush("#ffd54f")
        )
        pi.addItem(self.truth)
        self.legend.addItem(self.truth, "true parameters")
        self.spread: SeedSpread | None = None

    def set_spread(self, spread: SeedSpread) -> None:
        """Draw the seeds, the ellipse and the truth; title says the share inside."""
        self.spread = spread
        pts = spread.pair_points()[~spread.diverged]
        center = spread.true_theta[list(spread.pair)]
        ring = ellipse(center, spread.pair_cov())
        self.points.setData(pts[:, 0], pts[:, 1])
        self.ellipse.setData(ring[:, 0], ring[:, 1])
        self.truth.setData([center[0]], [center[1]])
        i, j = spread.pair
        pi = self.plotItem
        pi.setLabel("bottom", spread.names[i], color=TEXT)
        pi.setLabel("left", spread.names[j], color=TEXT)
        pi.setTitle(f"Seeds: {100 * spread.inside:.1f}% inside the 95% ellipse", color=TEXT)
        both = np.vstack([pts, ring]) if len(pts) else ring
        self._follow = True
        self._set_x(*padded(float(both[:, 0].min()), float(both[:, 0].max())))
        self._set_y(*padded(float(both[:, 1].min()), float(both[:, 1].max())))

    def update_snapshot(self, snap: object) -> None:  # type: ignore[override]
        """PlotView's hook: a seed spread."""
        if isinstance(snap, SeedSpread):
            self.set_spread(snap)
