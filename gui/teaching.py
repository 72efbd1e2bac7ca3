"""Teaching aids: a residual plot, weight bars, and plain-words explanations of every view.

The two views follow gui/plots.py: they draw what they are given and hold no training state,
create their items once and update them with setData/setOpts, and move their axes themselves
(never autorange per frame) only when the data leaves the shown range or shrinks far inside it.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6 import QtCore, QtGui, QtWidgets

from core.analysis import loss_scale
from core.decimate import even_indices
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.plot_base import SHRINK, PlotView, finite_bounds, needs_refit, padded
from gui.style import DASH, Palette, palette_of

# Moving scatter points cost ~1 us each per frame: draw an evenly spread subset at most this big.
MAX_RESIDUAL_POINTS = 2000
# Residuals shrink as the model learns: refit their axis once they fill less than half of it,
# so the shape of the errors stays readable (a refit happens about once per halving).
RESIDUAL_SHRINK = 0.5
BAND_SIGMAS = 2.0  # the dashed band: about 95 % of residuals lie within 2 sigma of zero
LABEL_CHARS = 12  # feature names longer than this are shortened on the weight axis
LABEL_GAP_PX = 10  # free pixels wanted between two tick labels
LABEL_OVERHANG_PX = 45  # a tick label may reach this far past the ends of the feature axis

EXPLANATIONS: dict[str, str] = {
    "lossPlot": (
        "How wrong the model is, step by step: the light curve is the loss on each minibatch, "
        "the bold one the loss on the whole training set after each epoch, and the dashed line "
        "the noise floor no line can beat. The pink dashed line is where SGD settles with a "
        "constant learning rate when batches are drawn with replacement: every minibatch "
        "gradient is noisy, so the parameters keep jiggling around the minimum, the more the "
        "larger the rate and the smaller the batch size. Reshuffling (every row once per epoch) "
        "settles lower, because an epoch's minibatch gradients add up to the full-batch one and "
        "their noise cancels, where batches drawn with replacement repeat some rows and miss "
        "others. Raise the learning rate past the stable bound and watch it diverge, or pick a "
        "decaying schedule and watch the loss sink below the plateau."
    ),
    "fitPlot": (
        "The data and the model. With one feature you see the points, the true line (green), "
        "the least-squares line (purple) and the line being learned (red), with the current "
        "minibatch highlighted; with several features, predicted against actual values, where "
        "a perfect model puts every point on the diagonal. Add noise and watch even the best "
        "line miss the points."
    ),
    "paramPlot": (
        "Each weight and the bias against step; the dashed lines are their true values. "
        "Weights of features with a large spread move fastest, so try a preset with features "
        "on very different scales with and without standardising, or switch the optimizer to "
        "momentum or Adam and compare the paths."
    ),
    "landscapePlot": (
        "The loss as a landscape over two parameters: contour lines join settings with equal "
        "loss and the path shows where training has walked. Gradient descent steps across the "
        "contours, so long narrow valleys (features on different scales) make it zig-zag; "
        "turn standardising on and the valley becomes round and the path straight. The "
        "dashed lines are the Hessian's eigen-axes through the minimum, and SGD noise draws a "
        "cloud of minibatch gradients at the current point with the 2σ ellipse of their exact "
        "covariance: smaller batches spread it wider."
    ),
    "lrPlot": (
        "The learning rate each step used (solid) and the rate the schedule plans for the "
        "steps ahead (dashed), on the loss plot's step axis. The green band is where full-batch "
        "gradient descent is stable, η < 2/λmax with λmax the largest curvature of the loss: "
        "above it the steepest direction overshoots further at every step. Pick a schedule "
        "under the learning rate and drag the slider, which scales the whole schedule; a rate "
        "that decays lets SGD's noise die out and the loss sink below its plateau."
    ),
    "eigenPlot": (
        "Gradient descent on this quadratic loss moves along each eigen-direction of the "
        "Hessian on its own: the error along direction i shrinks by |1 − ηλᵢ| every step, so "
        "on this log scale it falls in a straight line (solid) beside the rate predicted from "
        "the rates actually used (dashed; with momentum, from the roots of its characteristic "
        "equation). The largest eigenvalue sets the stable rate, η < 2/λmax, and the smallest "
        "the slowest direction, so their ratio, the condition number in the status bar, says "
        "how slowly the last direction converges. Turn standardising on or lower the feature "
        "correlation and watch the eigenvalues draw together; SGD's noise stops the solid "
        "curves at a floor the dashed lines know nothing of."
    ),
    "residualPlot": (
        "What the model still gets wrong: each point is one sample's error (actual minus "
        "predicted) against its prediction. A good linear fit leaves a shapeless band around "
        "zero, mostly inside the dashed ±2σ lines; a curve or a funnel means a straight line "
        "cannot describe the data. Watch the band tighten as the loss falls."
    ),
    "weightBars": (
        "For each feature, the true weight (when the data is synthetic), the weight being "
        "learned and the least-squares weight, the best any linear model can do on this data. "
        "With little data or much noise the least-squares bar misses the true one; watch the "
        "learned bar grow towards the least-squares bar as training proceeds."
    ),
}


def explanation_html(view_name: str) -> str:
    """The explanation of a view as rich text, so tooltips wrap it instead of one long line."""
    return f"<p>{html.escape(EXPLANATIONS[view_name])}</p>"


class _BarSample(pg.ItemSample):
    """Legend swatch of a bar series: a filled square (pyqtgraph's also draws a line under it)."""

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        """Draw the swatch, or the 'hidden' eye like pyqtgraph when the bars are switched off."""
        if not self.item.isVisible():
            super().paint(p, *args)
            return
        p.setPen(pg.mkPen(self.item.opts["pen"]))
        p.setBrush(pg.mkBrush(self.item.opts["brush"]))
        p.drawRect(QtCore.QRectF(3, 3, 15, 15))


class _TeachingView(PlotView):
    """The views' common look, ranges and export (gui.plot_base.PlotView), legend top-left."""

    def __init__(
        self, object_name: str, title: str, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(object_name, title, parent)
        self._legend_on_top(3)

    def _keep_x(self, bounds: tuple[float, float] | None) -> None:
        """Refit x only when the data leaves the shown range or shrinks far inside it."""
        if bounds is not None and self._follow and needs_refit(*bounds, self._x_shown):
            self._set_x(*padded(*bounds))

    def _keep_y(self, bounds: tuple[float, float] | None, shrink: float = SHRINK) -> None:
        """Refit y only when the data leaves the shown range or fills less than shrink of it."""
        if bounds is None or not self._follow:
            return
        lo, hi = bounds
        # The legend's headroom counts as shown: data reaching into it forces a refit.
        shown = self._y_shown
        if shown is not None:
            span = shown[1] - shown[0]
            shown = (shown[0], shown[1] - span * self._top_room / (1 + self._top_room))
        if needs_refit(lo, hi, shown) or (
            shown is not None and 0 < hi - lo < shrink * (shown[1] - shown[0])
        ):
            y_lo, y_hi = padded(lo, hi)
            self._set_y(y_lo, y_hi + self._top_room * (y_hi - y_lo))


class ResidualView(_TeachingView):
    """Residuals (actual - predicted) against prediction, with zero and ±2σ reference lines."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("residualPlot", "Residuals", parent)
        pi = self.plotItem
        pi.setLabel("bottom", "prediction")
        pi.setLabel("left", "residual (actual − predicted)")
        self.points = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        pi.addItem(self.points)
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0)
        self.zero_line.setZValue(-5)
        pi.addItem(self.zero_line, ignoreBounds=True)
        self.band_lines = (pg.InfiniteLine(angle=0), pg.InfiniteLine(angle=0))
        for line in self.band_lines:
            line.setZValue(-4)
            pi.addItem(line, ignoreBounds=True)
            line.hide()
        # Never hold data: give the reference lines legend entries.
        self.zero_key = pg.PlotDataItem()
        self.band_key = pg.PlotDataItem()
        self.legend.addItem(self.points, "samples")
        self.legend.addItem(self.zero_key, "zero error")
        self.legend.addItem(self.band_key, "±2σ (σ = √train MSE)")
        self._fit_top_legend()
        self._x = np.zeros((0, 1))
        self._y = np.zeros(0)
        self._scale = 1.0
        self._sigma = math.nan
        self._home_x = (0.0, 1.0)
        self._fresh = True
        self._set_x(0.0, 1.0)
        self._set_y(-1.0, 1.0)
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        self.points.setBrush(palette.brush("residuals"))
        zero = palette.pen("reference", 1.5)
        band = palette.pen("current_fit", 1.5, DASH)
        for item, pen in ((self.zero_line, zero), (self.zero_key, zero), (self.band_key, band)):
            item.setPen(pen)
        for line in self.band_lines:
            line.setPen(band)

    @property
    def sigma(self) -> float:
        """The noise standard deviation estimate of the last snapshot (sqrt of the train MSE)."""
        return self._sigma

    def set_run(self, info: RunInfo) -> None:
        """Take a new run's display sample; clear the points until the first snapshot."""
        x = np.asarray(info.x, dtype=np.float64)
        keep = even_indices(x.shape[0], MAX_RESIDUAL_POINTS)
        self._x = np.ascontiguousarray(x[keep])
        self._y = np.asarray(info.y, dtype=np.float64)[keep]
        self._scale = loss_scale(info.loss_kind)
        self._sigma = math.nan
        self._last = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self.points.setData([], [])
        for line in self.band_lines:
            line.hide()
        self.plotItem.setLabel("bottom", f"predicted {info.target_name}")
        # A good model predicts over the range of the actual values: fixing x to that range up
        # front keeps the axis still while training; it only grows if predictions overshoot.
        self._home_x = finite_bounds(self._y) or (0.0, 1.0)
        self._keep_x(self._home_x)
        self._keep_y((-1.0, 1.0))
        self._fresh = True

    def update_snapshot(self, snap: Snapshot) -> None:
        """Draw the residuals of the snapshot's model and the ±2σ band of its train loss."""
        self._last = snap
        w = np.asarray(snap.weights, dtype=np.float64)
        if self._x.shape[0] == 0 or w.shape[0] != self._x.shape[1]:
            return
        # A diverging run overflows: its points are dropped, not warned about.
        with np.errstate(all="ignore"):
            pred = self._x @ w + float(snap.bias)
            res = self._y - pred
        ok = np.isfinite(pred) & np.isfinite(res)
        if not ok.all():
            pred, res = pred[ok], res[ok]
        self.points.setData(pred, res)
        mse = snap.train_loss / self._scale
        sigma = math.sqrt(mse) if math.isfinite(mse) and mse >= 0 else math.nan
        self._sigma = sigma
        if math.isfinite(sigma):
            for sign, line in zip((1.0, -1.0), self.band_lines, strict=True):
                line.setPos(sign * BAND_SIGMAS * sigma)
                line.show()
        else:
            for line in self.band_lines:
                line.hide()
        if self._fresh:
            # The first model of a run fixes the residual scale; set_run could only guess it.
            self._fresh = False
            self._y_shown = None
        self._keep_x(finite_bounds(pred, np.asarray(self._home_x)))
        # Symmetric about zero, so the eye can judge whether errors are balanced.
        top = max(
            float(np.abs(res).max()) if res.size else 0.0,
            BAND_SIGMAS * sigma if math.isfinite(sigma) else 0.0,
        )
        self._keep_y((-top, top), shrink=RESIDUAL_SHRINK)


class WeightBarsView(_TeachingView):
    """Grouped bars per feature: true, learned and least-squares weight."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("weightBars", "Weights", parent)
        pi = self.plotItem
        pi.setLabel("left", "weight (data units)")
        pi.setLabel("bottom", "feature")
        pi.setMouseEnabled(x=False, y=True)
        # The first and last names are centred near the axis ends: let them overhang a little
        # rather than vanish (pyqtgraph hides any label crossing the axis' edge by default).
        pi.getAxis("bottom").setStyle(hideOverlappingLabels=LABEL_OVERHANG_PX)

        def bars() -> pg.BarGraphItem:
            item = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.3)
            pi.addItem(item)
            return item

        # The fit view's colours: true = green, least squares = purple, current model = red.
        self.true_bars, self.learned_bars, self.ols_bars = bars(), bars(), bars()
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0)
        pi.addItem(self.zero_line, ignoreBounds=True)
        self._names: list[str] = []
        self._reference = np.zeros(0)  # true and least-squares weights: fixed for a run
        self._has_true = False
        self._set_x(-0.6, 0.6)
        self._set_y(-1.0, 1.0)
        self._style_items(self._palette)

    def _style_items(self, palette: Palette) -> None:
        for item, role in (
            (self.true_bars, "true_line"),
            (self.learned_bars, "current_fit"),
            (self.ols_bars, "least_squares"),
        ):
            item.setOpts(brush=palette.brush(role), pen=pg.mkPen(palette.color(role)))
        self.zero_line.setPen(palette.pen("reference", 1))

    @property
    def feature_names(self) -> list[str]:
        """Names of the features shown, in bar order."""
        return list(self._names)

    def set_run(self, info: RunInfo) -> None:
        """Lay out one group of bars per feature; show the true and least-squares weights."""
        names = list(info.feature_names)
        d = len(names)
        self._names = names
        self._last = None
        self._follow = True
        self._x_shown = self._y_shown = None
        ols = np.asarray(info.ols_theta, dtype=np.float64)[:d]
        true = None if info.true_theta is None else np.asarray(info.true_theta)[:d]
        self._has_true = true is not None
        pos = np.arange(d, dtype=np.float64)
        # Two or three bars share 0.8 of each unit slot, leaving a gap between features.
        series = 3 if self._has_true else 2
        width = 0.8 / series
        offsets = (np.arange(series) - (series - 1) / 2) * width
        slots = iter(offsets)
        if true is not None:
            self.true_bars.setOpts(x=pos + next(slots), height=true.astype(np.float64), width=width)
        self.true_bars.setVisible(true is not None)
        self.learned_bars.setOpts(x=pos + next(slots), height=np.zeros(d), width=width)
        self.ols_bars.setOpts(x=pos + next(slots), height=ols, width=width)
        self.legend.clear()
        if true is not None:
            self.legend.addItem(_BarSample(self.true_bars), "true")
        self.legend.addItem(_BarSample(self.learned_bars), "learned")
        self.legend.addItem(_BarSample(self.ols_bars), "least squares")
        self._fit_top_legend()
        self._reference = ols if true is None else np.concatenate([ols, true])
        self._update_ticks()
        self._set_x(-0.6, d - 0.4)
        self._keep_y(self._y_bounds(np.zeros(0)))

    def update_snapshot(self, snap: Snapshot) -> None:
        """Set the learned bars to the snapshot's weights (original units)."""
        self._last = snap
        w = np.asarray(snap.weights, dtype=np.float64)
        if w.shape[0] != len(self._names):
            return
        self.learned_bars.setOpts(height=w)
        self._set_x(-0.6, len(self._names) - 0.4)
        self._keep_y(self._y_bounds(w))

    def heights(self) -> dict[str, np.ndarray]:
        """Bar heights shown per series ('true' only for synthetic data)."""
        out = {
            "learned": np.asarray(self.learned_bars.opts["height"], dtype=np.float64),
            "least squares": np.asarray(self.ols_bars.opts["height"], dtype=np.float64),
        }
        if self._has_true:
            out["true"] = np.asarray(self.true_bars.opts["height"], dtype=np.float64)
        return out

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        """Thin out the feature labels to what the new width can show."""
        super().resizeEvent(event)
        # pyqtgraph calls this from PlotWidget.__init__, before this class has set itself up.
        if getattr(self, "_names", None) is not None:
            self._update_ticks()

    # ---- helpers -----------------------------------------------------------------
    def _y_bounds(self, learned: np.ndarray) -> tuple[float, float] | None:
        # Bars grow from zero, so zero is always in range.
        bounds = finite_bounds(self._reference, learned, np.zeros(1))
        return bounds

    def _update_ticks(self) -> None:
        names = self._names
        if not names:
            self.plotItem.getAxis("bottom").setTicks([[]])
            return
        labels = [n if len(n) <= LABEL_CHARS else n[: LABEL_CHARS - 1] + "…" for n in names]
        axis = self.plotItem.getAxis("bottom")
        metrics = QtGui.QFontMetrics(axis.style.get("tickFont") or self.font())
        label_px = max(metrics.horizontalAdvance(s) for s in labels) + LABEL_GAP_PX
        plot_px = max(self.plotItem.getViewBox().width(), self.width() * 0.8, 1.0)
        # Every k-th name: labels that would overlap are thinned out rather than overprinted.
        stride = max(1, math.ceil(len(names) * label_px / plot_px))
        ticks = [(float(i), labels[i]) for i in range(0, len(names), stride)]
        axis.setTicks([ticks, []])


class ExplainButton(QtWidgets.QToolButton):
    """A small '?' button: hover or click shows what a view shows and what to try."""

    def __init__(self, view_name: str, parent: QtWidgets.QWidget | None = None) -> None:
        if view_name not in EXPLANATIONS:
            raise KeyError(f"no explanation for view {view_name!r}")
        super().__init__(parent)
        self.view_name = view_name
        self.explanation = EXPLANATIONS[view_name]
        self.setObjectName(f"explain_{view_name}")
        self.setText("?")
        self.setAutoRaise(True)
        self.setCursor(QtCore.Qt.CursorShape.WhatsThisCursor)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setAccessibleName(f"Explain {view_name}")
        self.setAccessibleDescription(self.explanation)
        # Rich text, so Qt wraps it into a readable box rather than one screen-wide line.
        self.setToolTip(explanation_html(view_name))
        self.set_palette(palette_of())
        self.clicked.connect(self.show_explanation)

    def set_palette(self, palette: Palette) -> None:
        """A round button in palette's colours (it floats over a plot)."""
        c = palette.color("legend_fill")
        fill = f"rgba({c.red()}, {c.green()}, {c.blue()}, {c.alpha()})"
        self.setStyleSheet(
            f"QToolButton {{ font-weight: bold; color: {palette.muted_text};"
            f" border: 1px solid {palette.legend_border}; border-radius: 9px;"
            f" background: {fill};"
            " min-width: 16px; max-width: 16px; min-height: 16px; max-height: 16px; }"
            f"QToolButton:hover {{ color: {palette.accent}; border-color: {palette.accent}; }}"
        )

    def show_explanation(self) -> None:
        """Show the explanation in a non-modal popup next to the button."""
        below = self.mapToGlobal(QtCore.QPoint(0, self.height()))
        QtWidgets.QToolTip.showText(below, self.toolTip(), self)


class _CornerKeeper(QtCore.QObject):
    """Keeps a button in its view's top-left corner when the view resizes."""

    def __init__(self, button: QtWidgets.QWidget, margin: int) -> None:
        super().__init__(button)
        self._button = button
        self._margin = margin

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        """Re-place the button after the view it sits on changes size."""
        if event.type() == QtCore.QEvent.Type.Resize:
            self._button.move(self._margin, self._margin)
            self._button.raise_()
        return False


def attach_explain_button(
    view: QtWidgets.QWidget, view_name: str | None = None, margin: int = 4
) -> ExplainButton:
    """Put an ExplainButton over a view's top-left corner (the title row keeps it clear)."""
    button = ExplainButton(view_name or view.objectName(), view)
    button.move(margin, margin)
    keeper = _CornerKeeper(button, margin)
    view.installEventFilter(keeper)
    button.show()
    button.raise_()
    return button
