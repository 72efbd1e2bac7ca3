"""The views' common base: look, managed axis ranges (linear or log steps) and export.

Frames must stay cheap (see DESIGN.md: autoranging every frame costs more than the rest of the
frame together), so every view keeps autorange off and moves its axes itself, only when the data
leaves the shown range or shrinks far inside it. The x axis of the step plots grows in jumps
towards the run's planned length, so a long run relays its axes a few dozen times, not per frame.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # registers pg.exporters
from PySide6 import QtCore, QtGui, QtWidgets

from core.snapshot import Snapshot
from gui.axes import LogLabelAxis
from gui.export import PlotFiles
from gui.legend import HIDDEN_HINT
from gui.style import TITLE_SIZE, Palette, palette_of, style_plot

PAD = 0.05  # fraction of the data span left free on each side of a managed axis
SHRINK = 0.25  # refit an axis when the data fills less than this fraction of it
X_GROWTH = 1.5  # a step axis that overflows grows to this multiple of the newest step
LOG_FALLBACK = 1e-12  # shown in log mode when no loss is positive at all
LEGEND_MAX_HEIGHT = 0.5  # share of a plot's height kept above the data for a top legend, at most


def finite_bounds(*arrays: np.ndarray) -> tuple[float, float] | None:
    """Smallest and largest finite value over the arrays, or None if there is none."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        if a.size == 0:
            continue
        a = a[np.isfinite(a)]
        if a.size:
            lo = min(lo, float(a.min()))
            hi = max(hi, float(a.max()))
    return None if lo > hi else (lo, hi)


def padded(lo: float, hi: float, pad: float = PAD) -> tuple[float, float]:
    """lo..hi widened by pad of its span on each side (a flat span gets a unit-scale margin)."""
    span = hi - lo
    if span <= 0:
        span = max(abs(hi), 1.0) * 0.2
    return lo - pad * span, hi + pad * span


def needs_refit(lo: float, hi: float, shown: tuple[float, float] | None) -> bool:
    """Whether data spanning lo..hi has left the shown range or shrunk far inside it."""
    if shown is None:
        return True
    s_lo, s_hi = shown
    if lo < s_lo or hi > s_hi:
        return True
    span, shown_span = hi - lo, s_hi - s_lo
    return span > 0 and span < SHRINK * shown_span


class PlotView(PlotFiles, pg.PlotWidget):
    """Common look, managed axis ranges and export for the views."""

    # After each paint of the plot: the window times its frames by it (frame pacing).
    painted = QtCore.Signal()

    def __init__(
        self, object_name: str, title: str, parent: QtWidgets.QWidget | None = None
    ) -> None:
        # No SI scale factor on any axis ("loss (x1e+09)"); the step axis may be logarithmic.
        axes = {"left": LogLabelAxis("left"), "bottom": LogLabelAxis("bottom")}
        super().__init__(parent=parent, axisItems=axes)
        self.setObjectName(object_name)
        pi = self.plotItem
        pi.setTitle(title, size=TITLE_SIZE)
        # No grid: measured here, pyqtgraph's grid costs ~18 ms of a ~21 ms frame (900x600).
        pi.enableAutoRange(False)
        # The 'A' button would switch autorange back on for every later frame.
        pi.hideButtons()
        # The 'Plot Options' menu toggles log/FFT/derivative modes behind the view's back and
        # re-enables autorange; the view offers what it supports itself (set_log_y).
        pi.setMenuEnabled(False, enableViewBoxMenu=True)
        pi.setDownsampling(auto=True, mode="peak")
        pi.setClipToView(True)
        self.legend = pi.addLegend(offset=(-10, 10))
        # The application's light or dark palette; the window's theme hands over later ones.
        self._palette = palette_of()
        self._live = False  # curves drawn thin while a run trains flat out (set_live)
        style_plot(self, self._palette, self.legend)
        self._x_shown: tuple[float, float] | None = None
        self._y_shown: tuple[float, float] | None = None
        self._log_x = False  # a logarithmic step axis (set_log_steps of the step views)
        self._steps_hi = 1.0  # the last step the step axis was set to reach
        self._steps_reach = 0.0  # the step axis shows at least this far (extend_steps)
        self._top_room = 0.0  # extra y headroom (fraction of the data span) kept for a legend
        # After the user pans or zooms, the view stops moving the axes until reset_view().
        self._follow = True
        self._last: Snapshot | None = None
        pi.getViewBox().sigRangeChangedManually.connect(self._stop_following)

    # ---- look --------------------------------------------------------------------
    @property
    def palette_in_use(self) -> Palette:
        """The palette the view draws in."""
        return self._palette

    def set_palette(self, palette: Palette) -> None:
        """Draw in palette's colours from now on: background, axes, legend and every item."""
        self._palette = palette
        style_plot(self, palette, self.legend)
        self._style_items(palette)

    def _style_items(self, palette: Palette) -> None:
        """Give the view's own items (curves, lines, points) palette's colours."""

    def set_live(self, on: bool) -> None:
        """While a run trains flat out, draw the curves with 1-pixel pens (wide lines paint
        30-40% slower in Qt's raster engine: 2.5 -> 1.75 ms for the parameters plot); their
        own widths come back when it stops."""
        if on == self._live:
            return
        self._live = on
        for item in self.plotItem.listDataItems():
            pen = item.opts.get("pen")
            if pen is None:
                continue
            pen = pg.mkPen(pen)
            if on:
                item.setProperty("restingWidth", pen.widthF())
                pen.setWidthF(min(pen.widthF(), 1.0))
            else:
                pen.setWidthF(item.property("restingWidth") or pen.widthF())
            item.setPen(pen)

    # ---- ranges ------------------------------------------------------------------
    def _stop_following(self, *_: object) -> None:
        self._follow = False

    def _legend_on_top(self, max_columns: int) -> None:
        """Keep the legend in rows along the top (at most max_columns entries a row), with
        headroom above the data for it; call _fit_top_legend() whenever its entries change."""
        self._legend_columns = max_columns
        self.legend.setOffset((10, 5))
        self._top_room = 0.15
        self.plotItem.getViewBox().sigResized.connect(self._top_legend_resized)

    def _fit_top_legend(self) -> bool:
        """As many legend columns as fit the plot's width, and headroom for its rows; True if
        the headroom changed."""
        entries = max(len(self.legend.items), 1)
        vb = self.plotItem.getViewBox()
        width, height = vb.width(), vb.height()
        columns = min(entries, self._legend_columns)
        self.legend.setColumnCount(columns)
        # A narrow plot clipped the last entries off its right edge: fewer columns, more rows.
        # (It sits 10 px in from the left edge.)
        while columns > 1 and width > 0 and self.legend.boundingRect().width() > width - 12:
            columns -= 1
            self.legend.setColumnCount(columns)
        if height > 0:
            # The data must end below the legend: it takes share f of the shown height. A
            # legend that would need more is hidden (the tooltip says so) rather than drawn
            # over the data of a small window.
            f = (self.legend.boundingRect().height() + 8) / height
            shown = f <= LEGEND_MAX_HEIGHT
            self.legend.setVisible(shown)
            self._say_legend_hidden(not shown)
            top_room = f / (1 - f) if shown else 0.0
        else:
            top_room = 0.15 * -(-entries // columns)  # not laid out yet: ~one legend row each
        changed = abs(top_room - self._top_room) > 0.01
        self._top_room = top_room
        return changed

    def _say_legend_hidden(self, hidden: bool) -> None:
        tip = self.toolTip().replace(f"\n\n{HIDDEN_HINT}", "")
        tip = f"{tip}\n\n{HIDDEN_HINT}" if hidden else tip
        if tip != self.toolTip():
            self.setToolTip(tip)

    def _top_legend_resized(self, *_: object) -> None:
        if self._fit_top_legend() and self._follow:
            self._y_shown = None  # the headroom changed: refit y now
            if self._last is not None:
                self.update_snapshot(self._last)
            else:
                self._keep_y(self._idle_bounds())

    def _idle_bounds(self) -> tuple[float, float] | None:
        """What the y axis shows before a run's first snapshot (None: nothing yet)."""
        return None

    def reset_view(self) -> None:
        """Resume managing the axes after the user panned or zoomed, and refit them now."""
        self._follow = True
        self._x_shown = self._y_shown = None
        if self._last is not None:
            self.update_snapshot(self._last)

    def update_snapshot(self, snap: Snapshot) -> bool | None:
        """Draw the live state of a run; False when nothing drawn changed by a pixel (no
        repaint will come; views that do not tell return None)."""
        raise NotImplementedError

    def shown_snapshot(self) -> Snapshot | None:
        """The snapshot the view draws now (live or rewound); None before a run's first."""
        return self._last

    def _set_x(self, lo: float, hi: float) -> None:
        if self._follow and (lo, hi) != self._x_shown:
            self._x_shown = (lo, hi)
            self.plotItem.setXRange(lo, hi, padding=0)
            self._apply_range()

    def _set_y(self, lo: float, hi: float) -> None:
        if self._follow and (lo, hi) != self._y_shown:
            self._y_shown = (lo, hi)
            self.plotItem.setYRange(lo, hi, padding=0)
            self._apply_range()

    def _apply_range(self) -> None:
        # The view box applies a new range lazily, as the paint begins; the items it moves
        # (lines, labels, axes) then ask for a second paint of the whole plot. Applying it
        # now lets one paint show everything.
        self.plotItem.getViewBox().updateMatrix()

    def _keep_y(self, bounds: tuple[float, float] | None) -> None:
        """Refit y only when the data leaves the shown range or shrinks far inside it."""
        if bounds is None or not self._follow:
            return
        lo, hi = bounds
        if needs_refit(lo, hi, self._y_shown):
            y_lo, y_hi = padded(lo, hi)
            self._set_y(y_lo, y_hi + self._top_room * (y_hi - y_lo))

    def extend_steps(self, step: float) -> None:
        """Keep the step axis reaching at least this step (the end of another branch drawn
        beside the run); 0 for the run's own steps only."""
        self._steps_reach = float(step)
        if self._last is not None:
            self.update_snapshot(self._last)

    def _keep_steps_x(self, last_step: float, planned: float, stopped: bool) -> None:
        """Grow the step axis in jumps to X_GROWTH x the newest step (capped at the plan);
        fit it to the data once the run has stopped, so finished plots have no empty tail."""
        if not self._follow:
            return
        last_step = max(last_step, self._steps_reach)
        if stopped:
            self._set_steps_x(max(last_step, 1.0))
            return
        if self._x_shown is not None and self._x_of(last_step) <= self._x_shown[1]:
            return
        target = max(last_step * X_GROWTH, 10.0)
        if last_step <= planned:
            target = min(target, planned)
        self._set_steps_x(max(target, 1.0))

    def _set_steps_x(self, hi_step: float) -> None:
        """Show steps 0 (1 on a log axis) to hi_step, with a little room at both ends."""
        self._steps_hi = hi_step
        if self._log_x:
            # At least a decade, so a new run's first steps do not fill a sliver.
            self._set_x(*padded(0.0, math.log10(max(hi_step, 10.0)), PAD / 2))
        else:
            self._set_x(*padded(0.0, hi_step, PAD / 2))

    def _x_of(self, step: float) -> float:
        """Where a step sits on the x axis (log10 units on a log axis, where step 0 sits at
        the left end with step 1)."""
        return math.log10(max(step, 1.0)) if self._log_x else step

    def _drawn_steps(self, steps: np.ndarray, *series: np.ndarray) -> tuple[np.ndarray, ...]:
        """The steps and their rows that the step axis can show: from step 1 on a log axis
        (log10 of step 0 is -inf)."""
        if not self._log_x:
            return (steps, *series)
        first = int(np.searchsorted(steps, 1.0))  # steps are sorted
        return (steps[first:], *(s[first:] for s in series))

    def _set_log_steps(self, on: bool, log_y: bool = False) -> None:
        """Switch the step axis between log10 and linear; the axes follow the data again."""
        if on == self._log_x:
            return
        self._log_x = on
        if on:
            # Points at step 0 would become log10(0) = -inf: NaN bounds and a warning in
            # every paint. The next update draws from step 1 anyway (_drawn_steps).
            for item in self.plotItem.listDataItems():
                x, y = item.getOriginalDataset()
                if x is not None and len(x) and np.any(x <= 0):
                    keep = x > 0
                    item.setData(x[keep], y[keep])
        self.plotItem.setLogMode(x=on, y=log_y)
        # setLogMode switches autorange back on (every later frame would pay for it).
        self.plotItem.enableAutoRange(False)
        # A zoom in the other scale means nothing in this one.
        self._follow = True
        self._x_shown = self._y_shown = None
        self._place_step_items()
        self._set_steps_x(self._steps_hi)
        if self._last is not None:
            self.update_snapshot(self._last)
        else:
            self._keep_y(self._idle_bounds())

    def _place_step_items(self) -> None:
        """Put items placed at steps (markers, cursors) where the step axis now shows them."""

    @property
    def log_steps(self) -> bool:
        """Whether the step axis is logarithmic."""
        return self._log_x

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        """Paint, then say so (a frame ends when the views it changed have painted)."""
        super().paintEvent(event)
        self.painted.emit()

    # ---- export ------------------------------------------------------------------
    def _settle_layout(self) -> None:
        # A never-shown widget keeps its first layout (640x480) after resize(); grab() delivers
        # it. Tick labels are measured while painting, and a wider label (a new range, such as
        # 100.0012) relays the axes through a posted event: paint once and deliver it, so
        # exports never show hidden or overlapping labels.
        self.grab()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)
