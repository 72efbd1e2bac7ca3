"""Optimizer race panel: up to four runs on the same data from the same start, side by side.

Embedding (the main window adds it as a tab; the panel owns its own worker thread):

    from gui.race_panel import RacePanel

    self.race_panel = RacePanel()
    tabs.addTab(self.race_panel, "Optimizer race")
    self.race_panel.set_config(config)          # now, and whenever the configuration changes
    self.race_panel.message.connect(show_in_status_bar)        # optional: (level, text)
    paths += self.race_panel.export(folder)     # File > Export: race.json, race_loss.png/.svg,
                                                # race_landscape.png/.svg ([] before any race)
    self.race_panel.stop_and_wait()             # in closeEvent/shutdown, before the window goes

The race only uses the configuration's data, model, implementation and loss: each row of the
table sets its run's optimizer, learning rate, batch size and momentum. Its thread starts with
the first race; stop_and_wait() must run before the panel is destroyed (a QThread destroyed
while running aborts the process).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.analysis import loss_label
from core.config import MAX_SAMPLES, Config
from core.race import (
    DEFAULT_TOLERANCE,
    MAX_RUNS,
    MOMENTUM_OPTIMIZERS,
    RACE_JSON,
    RaceEntry,
    RaceSnapshot,
    RunSnapshot,
    optimizers_for,
)
from core.runinfo import RunInfo
from gui.controls import OPTIMIZER_LABELS, NumberSpinBox
from gui.export import write_bytes_atomic
from gui.landscape import MultiPathLandscapeView
from gui.legend import HIDDEN_HINT, fit_legend
from gui.plots import LOG_FALLBACK, PAD, TEXT, PlotView, _pen, needs_refit, padded
from gui.race_worker import RaceHost

# Tableau blue, orange, purple, brown: distinct from each other, from the landscape's pastel
# viridis and from its yellow least-squares star; friendly to common colour-vision deficiencies.
RACE_COLORS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"]
FRAME_MS = 33  # redraw at most ~30 times a second, from the latest snapshot
FRAME_GAP_MS = 15  # least time between the end of a frame and the start of the next
PARK_TIMEOUT_MS = 40  # a frame waits at most this long for the training loop to park
PAINT_TIMEOUT_MS = 40  # ... and this long for its views to paint (hidden ones never do)
X_GROWTH = 1.5
# Curve and path pen widths during and after a race (whole pixels: 2.5 rasterises as 2 or 3
# pixels depending on where a line falls, so equal lines looked unequal).
LIVE_WIDTH, FINAL_WIDTH = 1.0, 2.0
MAX_PATH_POINTS = 300  # landscape path points drawn per run (the loss curves keep more)
CEILING = 10.0  # the loss axis ends this many times above the initial loss
X_MODES = {"step": "step", "epoch": "epoch", "seconds": "training seconds (each run's own)"}
# Suggested optimizer for each new row: the first not yet in the table.
SUGGESTED = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adamw", "adagrad")
MAX_EPOCHS = 100_000
OPTIMIZER_CHARS = 9  # characters the optimizer column shows whole ("Momentum …")

# Two-line headers: on one line they were cut in a narrow window.
COLUMNS = [
    "Run",
    "Optimizer",
    "Learning\nrate",
    "Batch\nsize",
    "Momentum",
    "Steps to\ntolerance",
    "Seconds to\ntolerance",
    "Final\nloss",
    "Status",
]
COL_RUN, COL_OPT, COL_LR, COL_BATCH, COL_MOM, COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS = range(
    len(COLUMNS)
)
HEADER_TIPS = [
    "Run number and its colour in the plots",
    "Optimizer of this run",
    "Learning rate of this run",
    "Minibatch size of this run (capped at the number of training samples)",
    "Momentum coefficient (momentum and Nesterov only)",
    "First step at which the run's training loss came within the tolerance of the least-squares"
    " loss (blank: not yet, or never)",
    "The run's own training seconds to that step (time inside its optimizer loop)",
    "Loss of the run on the whole training set: live during the race, final after it",
    "running, completed, diverged (the run stopped; the others continue) or stopped",
]
TOOLTIPS = {
    "raceTable": (
        "One row per run: all runs train on the same data from the same initial parameters.\n"
        "Edit a run's optimizer, learning rate, batch size and momentum here; the result\n"
        "columns fill in as the race goes."
    ),
    "raceButton": "Start a race of the runs in the table; press again to stop it",
    "addRunButton": f"Add a run (up to {MAX_RUNS})",
    "removeRunButton": "Remove the selected run, or the last one (at least one stays)",
    "toleranceSpin": (
        "A run has reached the least-squares loss once its training loss is at most this\n"
        "much above it: train_loss − ols_loss ≤ tolerance × ols_loss (for noiseless data,\n"
        "whose least-squares loss is ~0, a billionth of the initial loss is used instead)"
    ),
    "raceEpochsSpin": "Epochs each run trains (every run makes the same passes over the data)",
    "raceXAxisCombo": (
        "Horizontal axis of the loss plot: steps (minibatch updates), epochs (passes over the\n"
        "data, fair between batch sizes) or each run's own training seconds"
    ),
    "raceStatusLabel": "What the race is doing",
    "raceLossPlot": (
        "Loss on the whole training set of each run (log scale). Dashed: the least-squares\n"
        "loss; dotted: the tolerance; stars: where each run first came within it"
    ),
    "raceLandscapePlot": (
        "The training loss over two parameters with every run's path from the shared start\n"
        "(white dot) towards the least-squares minimum (star)"
    ),
}


def color_icon(color: str) -> QIcon:
    """A small square of a run's colour, for the table."""
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def format_loss(value: float | None) -> str:
    """Loss text with four significant digits ('—' when unknown)."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _thin(rows: np.ndarray, limit: int) -> np.ndarray:
    """At most limit rows, evenly spread, first and last kept."""
    if len(rows) <= limit:
        return rows
    return rows[np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(np.int64))]


def finish_text(snap: RaceSnapshot) -> str:
    """One line on who won: the fewest steps and the fewest seconds to tolerance."""
    reached = [r for r in snap.runs if r.steps_to_tolerance is not None]
    if not reached:
        return "Finished: no run came within the tolerance. More epochs or other rates?"
    by_steps = min(reached, key=lambda r: r.steps_to_tolerance or 0)
    by_time = min(reached, key=lambda r: r.seconds_to_tolerance or 0.0)
    text = f"Finished. Fewest steps: run {by_steps.index + 1} ({by_steps.steps_to_tolerance:,})"
    if by_time is not by_steps:
        text += f"; least time: run {by_time.index + 1} ({by_time.seconds_to_tolerance:.3g} s)"
    return text + "."


class RaceLossView(PlotView):
    """Each run's training loss on one log-scale plot, with the least-squares loss and tolerance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("raceLossPlot", "Race: loss on the whole training set", parent)
        pi = self.plotItem
        pi.setLogMode(x=False, y=True)
        # setLogMode switches autorange back on: every later frame would pay for it.
        pi.enableAutoRange(False)
        pi.setLabel("bottom", "step", color=TEXT)
        pi.setLabel("left", "training loss", color=TEXT)
        # Unlabelled lines (their labels would sit on the converged curves); the legend
        # names them through pen-only stand-ins.
        ols_pen = _pen("#2ca02c", 2, Qt.PenStyle.DashLine)
        tol_pen = _pen("#555555", 1.5, Qt.PenStyle.DotLine)
        self.ols_line = pg.InfiniteLine(angle=0, pen=ols_pen)
        self.tol_line = pg.InfiniteLine(angle=0, pen=tol_pen)
        self._ols_key = pg.PlotDataItem(pen=ols_pen)
        self._tol_key = pg.PlotDataItem(pen=tol_pen)
        for line in (self.ols_line, self.tol_line):
            line.setZValue(-5)
            pi.addItem(line, ignoreBounds=True)
            line.hide()
        # Decades on a log axis need no SI prefix ('x1e+09' once a run diverges).
        pi.getAxis("left").enableAutoSIPrefix(False)
        self.curves: list[pg.PlotDataItem] = []
        # Where each run reached tolerance: one scatter for all runs, in log10 units (a
        # ScatterPlotItem has no log mode), redrawn only when a star appears or moves.
        self.marks = pg.ScatterPlotItem(symbol="star", size=16, pen=pg.mkPen("#222222"))
        self.marks.setZValue(10)
        pi.addItem(self.marks, ignoreBounds=True)
        self._marks_key: tuple = ()
        self._colors: list[str] = []
        self._width = FINAL_WIDTH
        self._mode = "step"
        self._last_race: RaceSnapshot | None = None
        self._ols = math.nan
        self._threshold = math.nan
        self._initial = math.nan
        self._set_x(0.0, 10.0)
        self._set_y(-1.0, 1.0)
        pi.getViewBox().sigResized.connect(self._fit_legend)

    # ---- public API ----------------------------------------------------------------
    def set_race(self, snap: RaceSnapshot, colors: list[str]) -> None:
        """Start over for a new race: one curve and tolerance marker per run."""
        pi = self.plotItem
        for item in self.curves:
            pi.removeItem(item)
        self.legend.clear()
        self.curves = []
        self.marks.setData([], [])
        self._marks_key = ()
        self._colors = list(colors)
        for run in snap.runs:
            color = colors[run.index % len(colors)]
            curve = pi.plot(pen=_pen(color, self._width), name=f"{run.index + 1}. {run.label}")
            self.curves.append(curve)
        self.legend.addItem(self._ols_key, "least squares")
        self.legend.addItem(self._tol_key, f"tolerance ({100 * snap.tolerance:g} %)")
        self._fit_legend()
        pi.setLabel("left", f"training loss ({loss_label(snap.loss_kind)})", color=TEXT)
        self._ols, self._threshold = snap.ols_loss, snap.threshold
        self._initial = snap.initial_loss
        self._place_lines()
        self._last_race = None
        self._follow = True
        self._x_shown = self._y_shown = None
        self.update_snapshot(snap)

    def _fit_legend(self, *_: object) -> None:
        # The runs' colours stay named in the table when the key is hidden.
        shown = fit_legend(self.legend, self.plotItem.getViewBox())
        tip = TOOLTIPS["raceLossPlot"]
        self.setToolTip(tip if shown else f"{tip}\n\n{HIDDEN_HINT}")

    def set_live(self, on: bool) -> None:
        """Thin curves while a race runs (1-pixel lines paint twice as fast), bold after."""
        self._width = LIVE_WIDTH if on else FINAL_WIDTH
        for curve, color in zip(self.curves, self._colors, strict=False):
            curve.setPen(_pen(color, self._width))
        for sample, _ in self.legend.items:
            sample.update()  # legend samples draw the curve's pen, but only when repainted

    def set_x_axis(self, mode: str) -> None:
        """Plot against 'step', 'epoch' or 'seconds' (each run's own training time)."""
        if mode not in X_MODES:
            raise ValueError(f"unknown x axis {mode!r} (one of {', '.join(X_MODES)})")
        if mode == self._mode:
            return
        self._mode = mode
        self.plotItem.setLabel("bottom", X_MODES[mode], color=TEXT)
        self._x_shown = None
        if self._last_race is not None:
            self.update_snapshot(self._last_race)

    @property
    def x_axis(self) -> str:
        """The current horizontal axis: 'step', 'epoch' or 'seconds'."""
        return self._mode

    def update_snapshot(self, snap: RaceSnapshot) -> None:  # type: ignore[override]
        """Draw every run's loss curve and where it reached tolerance."""
        self._last_race = snap
        tiny = self._smallest_positive(snap)
        last_x, planned, ys = 0.0, 0.0, []
        stars: list[tuple[float, str]] = []
        for run, curve in zip(snap.runs, self.curves, strict=False):
            x = self._x_of(run.loss_steps, run.loss_seconds, run.n_batches)
            y = np.maximum(run.loss_values, tiny)
            curve.setData(x, y)
            ys.append(y)
            if x.size:
                last_x = max(last_x, float(x[-1]))
            planned = max(planned, self._planned(run))
            at = self._reached_x(run)
            if at is not None:
                stars.append((at, self._colors[run.index % len(self._colors)]))
        star_y = math.log10(max(snap.threshold, tiny, 1e-300))
        key = (star_y, *stars)
        if key != self._marks_key:
            self._marks_key = key
            self.marks.setData(
                [x for x, _ in stars],
                [star_y] * len(stars),
                brush=[pg.mkBrush(c) for _, c in stars],
            )
        self._keep_x(last_x, planned, snap.done)
        self._keep_y(self._y_bounds(ys, tiny))

    def reset_view(self) -> None:
        """Resume managing the axes after the user panned or zoomed, and refit them now."""
        self._follow = True
        self._x_shown = self._y_shown = None
        if self._last_race is not None:
            self.update_snapshot(self._last_race)

    def curve_data(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The drawn x and y of run k's curve (y in loss units, not log10)."""
        x, y = self.curves[k].getData()
        if x is None:
            return np.zeros(0), np.zeros(0)
        # getData returns what is drawn: log10 of y in log mode.
        return np.asarray(x), 10.0 ** np.asarray(y)

    # ---- helpers -------------------------------------------------------------------
    def _x_of(self, steps: np.ndarray, seconds: np.ndarray, n_batches: int) -> np.ndarray:
        if self._mode == "epoch":
            return steps / max(n_batches, 1)
        if self._mode == "seconds":
            return seconds
        return steps

    def _planned(self, run: RunSnapshot) -> float:
        if self._mode == "step":
            return float(run.total_steps)
        if self._mode == "epoch":
            return float(run.total_steps) / max(run.n_batches, 1)
        return math.inf

    def _reached_x(self, run: RunSnapshot) -> float | None:
        steps = run.steps_to_tolerance
        if steps is None:
            return None
        if self._mode == "seconds":
            return run.seconds_to_tolerance
        if self._mode == "epoch":
            return steps / max(run.n_batches, 1)
        return float(steps)

    def _keep_x(self, last: float, planned: float, done: bool) -> None:
        """Grow the x axis in jumps (capped at the plan); fit it to the data once done."""
        if not self._follow:
            return
        if done or last <= 0:
            hi = last if last > 0 else (planned if math.isfinite(planned) and planned > 0 else 1)
            self._set_x(*padded(0.0, hi, PAD / 2))
            return
        if (
            self._x_shown is not None
            and last <= self._x_shown[1]
            and not needs_refit(0.0, last, self._x_shown)
        ):
            return
        target = last * X_GROWTH
        if last <= planned:
            target = min(target, planned)
        self._set_x(*padded(0.0, target, PAD / 2))

    @staticmethod
    def _smallest_positive(snap: RaceSnapshot) -> float:
        tiny = math.inf
        for run in snap.runs:
            positive = run.loss_values[run.loss_values > 0]
            if positive.size:
                tiny = min(tiny, float(positive.min()))
        return tiny if math.isfinite(tiny) else LOG_FALLBACK

    def _y_bounds(self, ys: list[np.ndarray], tiny: float) -> tuple[float, float] | None:
        values = [y[np.isfinite(y)] for y in ys]
        values = [v for v in values if v.size]
        extra = [v for v in (self._ols, self._threshold) if math.isfinite(v) and v > 0]
        if not values and not extra:
            return None
        lo = min([float(v.min()) for v in values] + extra)
        hi = max([float(v.max()) for v in values] + extra)
        if math.isfinite(self._initial) and self._initial > 0:
            # A diverging run leaves through the top instead of squashing the others.
            hi = min(hi, CEILING * self._initial)
        return math.log10(max(lo, tiny, 1e-300)), math.log10(max(hi, tiny, 1e-300))

    def _place_lines(self) -> None:
        # InfiniteLine ignores log mode: positions are given in log10 units.
        for line, value in ((self.ols_line, self._ols), (self.tol_line, self._threshold)):
            if math.isfinite(value) and value > 0:
                line.setPos(math.log10(value))
                line.show()
            else:
                line.hide()


class LrSpinBox(NumberSpinBox):
    """A learning-rate spin box: shortest exact text, multiplicative steps."""

    def __init__(self) -> None:
        super().__init__(1e-12, 1e3, 0.01, decimals=12, log_steps=True)


@dataclass
class _Row:
    """The input widgets of one table row."""

    optimizer: QComboBox
    lr: NumberSpinBox
    batch: QSpinBox
    momentum: QDoubleSpinBox


class RacePanel(QWidget):
    """A table of runs, a start/stop button, overlaid loss curves and landscape paths."""

    stateChanged = Signal(str)  # "idle" | "starting" | "running" | "finished" | "stopped"
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text

    def __init__(self, config: Config | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("racePanel")
        self._config: Config | None = None
        self._rows: list[_Row] = []
        self._touched = False  # the user edited the runs: set_config keeps them
        self._epochs_touched = False
        self._rows_stale = False  # set_config came during a race: apply it after
        self._state = "idle"
        self._error: str | None = None  # why the current race stopped early, if it failed
        self._host: RaceHost | None = None
        self._latest: RaceSnapshot | None = None
        self._drawn: RaceSnapshot | None = None
        self._info: RunInfo | None = None
        self._build()
        # Frames: on each tick with a new snapshot the training loop is parked, the views are
        # updated and painted, then the loop resumes. pyqtgraph's paint code is Python: with
        # the loop running, a torch thread that retakes the interpreter lock after every op
        # stretches a frame several times over (DESIGN.md, and gui/main_window.py does the same).
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)  # rescheduled after each frame (_end_frame)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame_tick)
        self._frame_start = 0.0
        self._park_timeout = QTimer(self)
        self._park_timeout.setSingleShot(True)
        self._park_timeout.setInterval(PARK_TIMEOUT_MS)
        self._park_timeout.timeout.connect(self._draw_frame)
        self._paint_timeout = QTimer(self)
        self._paint_timeout.setSingleShot(True)
        self._paint_timeout.setInterval(PAINT_TIMEOUT_MS)
        self._paint_timeout.timeout.connect(self._draw_frame)  # the next stage regardless
        self._frame_state: str | None = None  # None, "parking" or "painting"
        self._frame_snap: RaceSnapshot | None = None
        self._stages: list[tuple[Callable[[RaceSnapshot], None], QWidget]] = []
        self._unpainted: set[QWidget] = set()
        for view in (self.loss_view.viewport(), self.landscape.plot.viewport()):
            view.installEventFilter(self)
        if config is not None:
            self.set_config(config)

    # ---- construction --------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        bar = QHBoxLayout()
        self.add_button = self._named(QPushButton("Add run"), "addRunButton")
        self.remove_button = self._named(QPushButton("Remove run"), "removeRunButton")
        self.tolerance_spin = self._named(QDoubleSpinBox(), "toleranceSpin")
        self.tolerance_spin.setDecimals(2)
        self.tolerance_spin.setRange(0.01, 100.0)
        self.tolerance_spin.setSingleStep(0.5)
        self.tolerance_spin.setSuffix(" %")
        self.tolerance_spin.setValue(DEFAULT_TOLERANCE * 100)
        self.epochs_spin = self._named(QSpinBox(), "raceEpochsSpin")
        self.epochs_spin.setRange(1, MAX_EPOCHS)
        self.epochs_spin.setGroupSeparatorShown(True)
        self.x_combo = self._named(QComboBox(), "raceXAxisCombo")
        for mode, text in (("step", "steps"), ("epoch", "epochs"), ("seconds", "seconds")):
            self.x_combo.addItem(text, mode)
        self.race_button = self._named(QPushButton("Start race"), "raceButton")
        self.race_button.setMinimumWidth(110)
        self.status_label = self._named(
            QLabel("Set up to four runs and press Start race."), "raceStatusLabel"
        )
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # Two rows, so the panel fits beside the control column in a narrow window.
        bar.addWidget(self.race_button)
        bar.addWidget(self.add_button)
        bar.addWidget(self.remove_button)
        bar.addSpacing(12)
        bar.addWidget(self.status_label, 1)
        layout.addLayout(bar)
        options = QHBoxLayout()
        options.addWidget(QLabel("Tolerance:"))
        options.addWidget(self.tolerance_spin)
        options.addSpacing(12)
        options.addWidget(QLabel("Epochs:"))
        options.addWidget(self.epochs_spin)
        options.addSpacing(12)
        options.addWidget(QLabel("Plot against:"))
        options.addWidget(self.x_combo)
        options.addStretch(1)
        layout.addLayout(options)

        self.table = self._named(QTableWidget(0, len(COLUMNS)), "raceTable")
        for col, (name, tip) in enumerate(zip(COLUMNS, HEADER_TIPS, strict=True)):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(col, item)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # The optimizer's name must show whole ("Momentum" was cut in a narrow window).
        for col in (COL_RUN, COL_OPT):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.table)

        self.loss_view = RaceLossView()
        self.loss_view.setToolTip(TOOLTIPS["raceLossPlot"])
        self.landscape = MultiPathLandscapeView()
        self.landscape.setToolTip(TOOLTIPS["raceLandscapePlot"])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("raceSplitter")
        split.addWidget(self.loss_view)
        split.addWidget(self.landscape)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)

        self.add_button.clicked.connect(lambda: self.add_run())
        self.remove_button.clicked.connect(lambda: self.remove_run())
        self.race_button.clicked.connect(self._toggle)
        self.x_combo.currentIndexChanged.connect(
            lambda _: self.loss_view.set_x_axis(str(self.x_combo.currentData()))
        )
        self.epochs_spin.valueChanged.connect(self._epochs_edited)
        self._fit_table_height()
        self._update_buttons()

    def _named(self, widget: QWidget, name: str) -> QWidget:
        widget.setObjectName(name)
        widget.setToolTip(TOOLTIPS[name])
        return widget

    def _fit_table_height(self) -> None:
        # Room for MAX_RUNS rows, so adding a run never shifts the plots.
        rows = self.table.verticalHeader().defaultSectionSize() * MAX_RUNS
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + rows + frame)

    # ---- public API ----------------------------------------------------------------
    def set_config(self, config: Config) -> None:
        """Use config's data, model and implementation for the next race (a running race keeps
        its own); untouched rows and epochs follow the configuration."""
        self._config = config.copy()
        if self.is_running():
            # The table describes the running race: it follows once the race has ended.
            self._rows_stale = True
            return
        self._follow_config()

    def _follow_config(self) -> None:
        config = self._config
        if config is None:
            return
        self._rows_stale = False
        allowed = optimizers_for(config.train.implementation)
        if not self._touched or not self._rows:
            self._seed_rows(config)
        for row in self._rows:
            self._fill_optimizers(row.optimizer, allowed)
        if not self._epochs_touched:
            with QSignalBlocker(self.epochs_spin):
                self.epochs_spin.setValue(min(config.train.epochs, MAX_EPOCHS))
        self._update_buttons()

    def base_config(self) -> Config | None:
        """The configuration the next race starts from (its epochs as set in the panel)."""
        if self._config is None:
            return None
        return self._config.with_value("train.epochs", int(self.epochs_spin.value()))

    def entries(self) -> list[RaceEntry]:
        """The runs the table describes."""
        out = []
        for row in self._rows:
            optimizer = str(row.optimizer.currentData())
            out.append(
                RaceEntry(
                    optimizer=optimizer,
                    lr=float(row.lr.value()),
                    batch_size=int(row.batch.value()),
                    momentum=float(row.momentum.value())
                    if optimizer in MOMENTUM_OPTIMIZERS
                    else None,
                )
            )
        return out

    def run_count(self) -> int:
        """Number of runs in the table."""
        return len(self._rows)

    def add_run(self, entry: RaceEntry | None = None) -> int:
        """Append a run (default: the next untried optimizer, the last row's settings); return
        its row, or -1 if the table is full or a race is running."""
        if len(self._rows) >= MAX_RUNS or self.is_running():
            return -1
        self._touched = True
        return self._append_row(entry or self._suggest())

    def remove_run(self, row: int | None = None) -> bool:
        """Remove a run (default: the selected one, else the last); at least one stays."""
        if len(self._rows) <= 1 or self.is_running():
            return False
        if row is None:
            selected = self.table.selectionModel().selectedRows()
            row = selected[0].row() if selected else len(self._rows) - 1
        if not 0 <= row < len(self._rows):
            return False
        self._touched = True
        self.table.removeRow(row)
        del self._rows[row]
        self._renumber()
        self._update_buttons()
        return True

    def tolerance(self) -> float:
        """The tolerance as a fraction (0.01 = within 1 % of the least-squares loss)."""
        return float(self.tolerance_spin.value()) / 100.0

    def set_tolerance(self, fraction: float) -> None:
        """Set the tolerance as a fraction of the least-squares loss."""
        self.tolerance_spin.setValue(100.0 * fraction)

    def start(self) -> bool:
        """Start a race of the table's runs; False if there is no configuration yet."""
        config = self.base_config()
        if config is None:
            self._say("error", "No configuration yet: the race needs data to train on.")
            return False
        if self._host is None or self._host.worker.is_stopped:
            self._make_host()
        assert self._host is not None
        self._host.start()
        self._error = None
        self._host.worker.send("start", config, self.entries(), self.tolerance())
        self._set_state("starting")
        return True

    def stop(self) -> None:
        """Stop the running race; the runs keep their results so far."""
        if self._host is not None and self.is_running():
            self._host.worker.send("halt")

    def is_running(self) -> bool:
        """Whether a race is starting or running."""
        return self._state in ("starting", "running")

    def state(self) -> str:
        """'idle', 'starting', 'running', 'finished' or 'stopped'."""
        return self._state

    def latest_snapshot(self) -> RaceSnapshot | None:
        """The newest snapshot of the race received from the worker."""
        return self._latest

    def results(self) -> dict | None:
        """The current race's results (as race.json holds them), or None before any race."""
        return None if self._host is None else self._host.worker.results_copy()

    def refresh(self) -> None:
        """Update the views with the latest snapshot now if it has not been drawn."""
        snap = self._latest
        if snap is None or snap is self._drawn:
            return
        self._drawn = snap
        self._update_loss(snap)
        self._update_landscape(snap)

    def _update_loss(self, snap: RaceSnapshot) -> None:
        self.loss_view.update_snapshot(snap)
        self._show_results(snap)

    def _update_landscape(self, snap: RaceSnapshot) -> None:
        self.landscape.update_paths([_thin(run.path, MAX_PATH_POINTS) for run in snap.runs])

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Note the paints a frame waits for; the frame ends once they are done."""
        if event.type() == QEvent.Type.Paint and obj in self._unpainted:
            self._unpainted.discard(obj)
            if not self._unpainted:
                self._paint_timeout.stop()
                # Runs after this paint pass (the filter sees the paint before it happens).
                QTimer.singleShot(0, self._draw_frame)
        return False

    def export(self, folder: Path) -> list[Path]:
        """Write race.json, race_loss.png/.svg and race_landscape.png/.svg into folder; return
        the paths ([] before the first race). OSError names the file that failed."""
        results = self.results()
        if results is None:
            return []
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.refresh()
        path = folder / RACE_JSON
        write_bytes_atomic(path, (json.dumps(results, indent=2, allow_nan=False) + "\n").encode())
        written = [path]
        for name, view in (("race_loss", self.loss_view), ("race_landscape", self.landscape)):
            png, svg = folder / f"{name}.png", folder / f"{name}.svg"
            view.export_png(png)
            view.export_svg(svg)
            written += [png, svg]
        return written

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Stop the race and the worker thread and join it; True if it ended in time."""
        self._timer.stop()
        self._end_frame()
        if self._host is None:
            return True
        ok = self._host.shutdown(timeout_ms)
        if ok and self.is_running():
            self._set_state("stopped")
        return ok

    # ---- rows ----------------------------------------------------------------------
    def _seed_rows(self, config: Config) -> None:
        """Default runs: the configuration's own optimizer, then two others to race it."""
        while self._rows:
            self.table.removeRow(len(self._rows) - 1)
            self._rows.pop()
        t = config.train
        own = RaceEntry(
            optimizer=t.optimizer, lr=t.lr, batch_size=t.batch_size, momentum=t.momentum
        )
        self._append_row(own)
        allowed = optimizers_for(t.implementation)
        for name in ("momentum", "adam"):
            if name != t.optimizer and name in allowed and len(self._rows) < 3:
                self._append_row(
                    RaceEntry(optimizer=name, lr=t.lr, batch_size=t.batch_size, momentum=0.9)
                )

    def _suggest(self) -> RaceEntry:
        used = {str(r.optimizer.currentData()) for r in self._rows}
        impl = self._config.train.implementation if self._config else "module"
        allowed = optimizers_for(impl)
        name = next((o for o in SUGGESTED if o in allowed and o not in used), "sgd")
        if self._rows:
            last = self._rows[-1]
            return RaceEntry(
                optimizer=name,
                lr=float(last.lr.value()),
                batch_size=int(last.batch.value()),
                momentum=0.9,
            )
        return RaceEntry(optimizer=name, lr=0.01, batch_size=10, momentum=0.9)

    def _append_row(self, entry: RaceEntry) -> int:
        row = len(self._rows)
        self.table.insertRow(row)
        impl = self._config.train.implementation if self._config else "module"
        combo = QComboBox()
        combo.setToolTip(HEADER_TIPS[COL_OPT])
        # Sized for "Momentum", not for the longest name: the column fits it to its contents.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(OPTIMIZER_CHARS)
        self._fill_optimizers(combo, optimizers_for(impl), entry.optimizer or "sgd")
        lr = LrSpinBox()
        lr.setToolTip("Learning rate of this run (type any value, e.g. 3e-3)")
        lr.setValue(entry.lr if entry.lr is not None else 0.01)
        batch = QSpinBox()
        batch.setRange(1, MAX_SAMPLES)
        batch.setValue(entry.batch_size if entry.batch_size is not None else 10)
        batch.setToolTip(HEADER_TIPS[COL_BATCH])
        mom = QDoubleSpinBox()
        mom.setDecimals(3)
        mom.setRange(0.0, 0.999)
        mom.setSingleStep(0.05)
        mom.setValue(entry.momentum if entry.momentum is not None else 0.9)
        mom.setToolTip(HEADER_TIPS[COL_MOM])
        for col, widget in ((COL_OPT, combo), (COL_LR, lr), (COL_BATCH, batch), (COL_MOM, mom)):
            self.table.setCellWidget(row, col, widget)
        for col in (COL_RUN, COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS):
            item = QTableWidgetItem("")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(HEADER_TIPS[col])
            if col != COL_RUN:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)
        r = _Row(combo, lr, batch, mom)
        self._rows.append(r)
        combo.currentIndexChanged.connect(lambda _: self._row_edited(r))
        lr.valueChanged.connect(lambda _: self._row_edited(r))
        batch.valueChanged.connect(lambda _: self._row_edited(r))
        mom.valueChanged.connect(lambda _: self._row_edited(r))
        self._row_edited(r, user=False)
        self._renumber()
        self._update_buttons()
        return row

    @staticmethod
    def _fill_optimizers(
        combo: QComboBox, allowed: tuple[str, ...], want: str | None = None
    ) -> None:
        current = want or (str(combo.currentData()) if combo.count() else "sgd")
        with QSignalBlocker(combo):
            combo.clear()
            for name in allowed:
                # Short names: the table has little room ("Momentum (heavy ball)" -> "Momentum").
                combo.addItem(OPTIMIZER_LABELS.get(name, name).split(" (")[0], name)
            index = combo.findData(current)
            if index < 0:
                # The implementation cannot run it: fall back to its closest kin.
                index = combo.findData(
                    "adam" if current in ("adamw", "rmsprop", "adagrad") else "sgd"
                )
            combo.setCurrentIndex(max(index, 0))

    def _row_edited(self, row: _Row, user: bool = True) -> None:
        if user:
            self._touched = True
        uses = str(row.optimizer.currentData()) in MOMENTUM_OPTIMIZERS
        row.momentum.setEnabled(uses and not self.is_running())

    def _renumber(self) -> None:
        # Results belong to the race that made them: a changed table shows none.
        self._drawn = self._latest
        for k in range(len(self._rows)):
            for col in (COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS):
                self.table.item(k, col).setText("")
            item = self.table.item(k, COL_RUN)
            item.setText(str(k + 1))
            item.setIcon(color_icon(RACE_COLORS[k % len(RACE_COLORS)]))
            item.setToolTip(f"Run {k + 1}: {HEADER_TIPS[COL_RUN].lower()}")

    def _epochs_edited(self) -> None:
        self._epochs_touched = True

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.add_button.setEnabled(not running and len(self._rows) < MAX_RUNS)
        self.remove_button.setEnabled(not running and len(self._rows) > 1)
        self.tolerance_spin.setEnabled(not running)
        self.epochs_spin.setEnabled(not running)
        for row in self._rows:
            for widget in (row.optimizer, row.lr, row.batch):
                widget.setEnabled(not running)
            self._row_edited(row, user=False)
        self.race_button.setText("Stop race" if running else "Start race")
        self.race_button.setEnabled(self._config is not None or running)

    # ---- frames --------------------------------------------------------------------
    def _frame_tick(self) -> None:
        snap = self._latest
        if self._frame_state is not None:
            return
        if snap is None or snap is self._drawn:
            if self.is_running():
                self._timer.start(FRAME_MS // 2)  # nothing new yet: look again soon
            return
        self._frame_start = time.perf_counter()
        self._frame_state = "parking"
        if self._host is not None and self._host.worker.hold_for_frame():
            self._park_timeout.start()  # _draw_frame on parked, or after the timeout
        else:
            self._draw_frame()

    def _on_parked(self) -> None:
        # The loop re-parks after FRAME_HOLD_MAX: only the first signal of a frame counts.
        if self._frame_state == "parking":
            self._draw_frame()

    def _draw_frame(self) -> None:
        """Draw the frame in hand in two stages, the loss plot (and table), then the landscape,
        each painted before the next: the event loop runs in between, so no stall holds both."""
        self._park_timeout.stop()
        if self._frame_state == "parking":
            snap = self._latest
            if snap is None:
                self._end_frame()
                return
            self._drawn = snap
            self._frame_snap = snap
            self._stages = [
                (self._update_loss, self.loss_view.viewport()),
                (self._update_landscape, self.landscape.plot.viewport()),
            ]
            self._frame_state = "painting"
        elif self._frame_state != "painting":
            return  # a late parked signal
        self._paint_timeout.stop()
        while self._stages:
            update, viewport = self._stages.pop(0)
            update(self._frame_snap)
            if viewport.isVisible() and not viewport.size().isEmpty():
                self._unpainted = {viewport}
                self._paint_timeout.start()
                return
        self._end_frame()

    def _end_frame(self) -> None:
        self._park_timeout.stop()
        self._paint_timeout.stop()
        self._unpainted = set()
        self._stages = []
        self._frame_snap = None
        was_drawing = self._frame_state is not None
        self._frame_state = None
        if self._host is not None:
            self._host.worker.release_frame()
        if was_drawing and self.is_running():
            # At most ~30 frames a second, and never straight after one another: the event
            # loop and the training loop get at least FRAME_GAP_MS between two frames.
            cost_ms = 1000 * (time.perf_counter() - self._frame_start)
            self._timer.start(max(FRAME_GAP_MS, round(FRAME_MS - cost_ms)))

    # ---- worker --------------------------------------------------------------------
    def _make_host(self) -> None:
        host = RaceHost()
        w = host.worker
        w.raceReset.connect(self._on_reset)
        w.snapshot.connect(self._on_snapshot)
        w.parked.connect(self._on_parked)
        w.stateChanged.connect(self._set_state)
        w.message.connect(self._say)
        # A bound method of this widget, not a lambda: PySide6 runs a lambda in the emitting
        # (race) thread, and widgets may only be touched from the GUI thread.
        w.failed.connect(self._on_failed)
        self._host = host

    def _on_failed(self, text: str) -> None:
        self._error = text.split("\n", 1)[0]
        self._say("error", self._error)

    def _toggle(self) -> None:
        if self.is_running():
            self.stop()
        else:
            self.start()

    def _on_reset(self, info: RunInfo, snap: RaceSnapshot) -> None:
        self._info = info
        colors = [RACE_COLORS[k % len(RACE_COLORS)] for k in range(len(snap.runs))]
        self.loss_view.set_race(snap, colors)
        self.landscape.set_run(info)
        # Short keys on the map (the loss plot's legend and the table give the settings): long
        # ones made the key cover the paths.
        self.landscape.set_paths([f"{r.index + 1}. {r.optimizer}" for r in snap.runs], colors)
        self._latest = snap
        self._drawn = None
        self.refresh()

    def _on_snapshot(self, snap: RaceSnapshot) -> None:
        # Only kept here: the frame timer draws the newest one (coalescing bursts).
        self._latest = snap

    def _set_state(self, state: str) -> None:
        self._state = state
        live = state in ("starting", "running")
        self.loss_view.set_live(live)
        self.landscape.set_path_width(LIVE_WIDTH if live else FINAL_WIDTH)
        if state in ("starting", "running"):
            self._timer.start()
        else:
            self._timer.stop()
            self._end_frame()
            self.refresh()
            snap = self._latest
            if state in ("finished", "stopped") and snap is not None and snap.runs:
                # Now that the paths are complete, show them whole (a diverged run's would
                # shrink the others to dots).
                self.landscape.fit_paths([r.stopped_reason != "diverged" for r in snap.runs])
        if state == "running":
            self.status_label.setText("Racing…")
        elif state == "starting":
            self.status_label.setText("Setting up the runs…")
        elif state == "stopped" and self._error is not None:
            # Stopped by an error: the status keeps saying why.
            self.status_label.setText(f"Stopped by an error: {self._error}")
        elif state == "stopped":
            self.status_label.setText("Stopped. Press Start race for a new race.")
        self._update_buttons()
        if self._rows_stale and not live:
            self._follow_config()
        self.stateChanged.emit(state)

    def _say(self, level: str, text: str) -> None:
        snap = self._latest
        if level == "info" and self._state == "finished" and snap is not None:
            self.status_label.setText(finish_text(snap))
        else:
            self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.message.emit(level, text)

    def _show_results(self, snap: RaceSnapshot) -> None:
        for run in snap.runs:
            k = run.index
            if k >= self.table.rowCount():
                continue
            steps = run.steps_to_tolerance
            seconds = run.seconds_to_tolerance
            status = run.stopped_reason or ("running" if not snap.done else "completed")
            texts = {
                COL_STEPS: "—" if steps is None else f"{steps:,}",
                COL_SECONDS: "—" if seconds is None else f"{seconds:.3g}",
                COL_LOSS: format_loss(run.train_loss),
                COL_STATUS: status,
            }
            for col, text in texts.items():
                item = self.table.item(k, col)
                if item.text() != text:
                    item.setText(text)
            item = self.table.item(k, COL_STATUS)
            diverged = run.stopped_reason == "diverged"
            item.setForeground(QColor("#d32f2f") if diverged else QColor(TEXT))
            item.setToolTip(run.message if diverged and run.message else HEADER_TIPS[COL_STATUS])
