"""The Sweep tab: a map of a measure over two settings, the theory drawn on it, and seeds.

The panel follows a configuration model (the window's run controller), as the race panel does:
a sweep varies two settings of the current configuration. Its own worker thread starts with the
first sweep; stop_and_wait() must run before the panel is destroyed. Cells appear as their
runs finish; clicking one loads its settings into the controls and starts that run in the
Training tab. The seeds view trains the current configuration over N noise seeds (features
held) and scatters the final parameters against least squares' sampling ellipse.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from core.config import Config
from core.errors import UserInputError
from core.race import DEFAULT_TOLERANCE
from core.seeds import SeedSpread
from core.sweep import WINDOW_AXES, Axis, SweepError, apply_values, axis_limit, parse_axis
from core.sweep_io import write_sweep_files
from core.sweep_run import MEASURES, SweepSnapshot
from gui.frame_pacer import Stage, paint_target
from gui.run_controller import ConfigModel, RunController
from gui.sweep_view import NAMES, SeedsView, SweepView
from gui.sweep_worker import SweepWorker, sweep_host
from gui.widgets import NumberSpinBox
from gui.worker_panel import WorkerPanel

KINDS = (("log", "log range"), ("lin", "linear range"), ("list", "list"))
# Each axis's first values: (kind, from, to, count, list).
DEFAULTS = {
    "train.lr": ("log", 1e-3, 1.0, 24, "0.001,0.01,0.1"),
    "train.batch_size": ("list", 1, 200, 8, "1,2,5,10,20,50,100,200"),
    "train.momentum": ("lin", 0.0, 0.95, 12, "0,0.5,0.9"),
    "train.betas[0]": ("lin", 0.0, 0.99, 12, "0,0.5,0.9"),
    "train.weight_decay": ("log", 1e-4, 1.0, 12, "0,0.001,0.01"),
}
MAX_COUNT = 200
MAX_EPOCHS = 100_000
SEEDS_VIEW = 200  # seeds the seeds view trains by default
TIPS = {
    "sweepButton": "Train every cell of the grid (each over the Seeds); press again to stop",
    "seedsButton": (
        "Train the current configuration over this many noise seeds (the features held) and\n"
        "scatter the final parameters against least squares' 95% sampling ellipse σ²(XᵀX)⁻¹"
    ),
    "sweepMeasure": "What the map's colour shows",
    "sweepSeedsSpin": "Seeds per cell: the map shows the median, the hover the 10–90% spread",
    "sweepToleranceSpin": "A run reaches tolerance as in the race: this close to least squares",
    "sweepEpochsSpin": "Epochs every run of the sweep trains",
    "sweepPlot": (
        "One cell per pair of settings, coloured by the measure (bright: fewer steps, lower\n"
        "loss); grey: never within tolerance; ×: diverged. Dashed: where theory says training\n"
        "stops being stable. Hover a cell for its values; click it to train it."
    ),
    "seedsPlot": "Final parameters of N seeds against the 95% sampling ellipse of least squares",
}


def in_scroll_area(panel: QWidget, name: str) -> QScrollArea:
    """A tab's panel in a frameless scroll area (a narrow window scrolls, never squeezes)."""
    scroll = QScrollArea()
    scroll.setObjectName(name)
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll


class AxisPicker(QWidget):
    """One axis of the grid: a setting, and a log range, a linear range or a list of values."""

    def __init__(self, name: str, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.key_combo = QComboBox()
        self.key_combo.setObjectName(f"{name}Key")
        for k in WINDOW_AXES:
            self.key_combo.addItem(NAMES[k], k)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName(f"{name}Kind")
        for kind, text in KINDS:
            self.kind_combo.addItem(text, kind)
        self.lo = NumberSpinBox(0.0, 1e7, 0.1, decimals=12, log_steps=True)
        self.hi = NumberSpinBox(0.0, 1e7, 0.1, decimals=12, log_steps=True)
        self.count = QSpinBox()
        self.count.setRange(1, MAX_COUNT)
        self.values = QLineEdit()
        self.values.setObjectName(f"{name}Values")
        self.values.setPlaceholderText("comma list, e.g. 1,4,16")
        for w, tip in (
            (self.key_combo, "The setting along this axis"),
            (self.kind_combo, "A log range, a linear range, or a list of values"),
            (self.lo, "First value"),
            (self.hi, "Last value"),
            (self.count, "Number of values"),
            (self.values, "Values, comma separated"),
        ):
            w.setToolTip(tip)
        self.label = QLabel()
        row.addWidget(self.label)
        row.addWidget(self.key_combo)
        row.addWidget(self.kind_combo)
        for text, w in (("from", self.lo), ("to", self.hi), ("×", self.count)):
            row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addWidget(self.values, 1)
        self.key_combo.currentIndexChanged.connect(lambda _: self._load_defaults())
        self.kind_combo.currentIndexChanged.connect(lambda _: self._show_kind())
        self.set_key(key)

    def key(self) -> str:
        """The configuration key of the axis."""
        return str(self.key_combo.currentData())

    def set_key(self, key: str) -> None:
        """Choose the setting (its default values follow)."""
        self.key_combo.setCurrentIndex(self.key_combo.findData(key))
        self._load_defaults()

    def set_values(self, kind: str, lo: float = 1.0, hi: float = 1.0, count: int = 1,
                   values: str = "") -> None:  # fmt: skip
        """Set the axis's values: kind 'log', 'lin' or 'list' (values then a comma list)."""
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        self.lo.setValue(lo)
        self.hi.setValue(hi)
        self.count.setValue(count)
        self.values.setText(values)
        self._show_kind()

    def spec(self) -> str:
        """The values as --grid writes them."""
        kind = str(self.kind_combo.currentData())
        if kind == "list":
            return self.values.text().strip()
        return f"{kind}:{self.lo.value()!r}:{self.hi.value()!r}:{self.count.value()}"

    def axis(self) -> Axis:
        """The axis (SweepError naming the problem if the values are unusable)."""
        return parse_axis(f"{self.key()}={self.spec()}")

    def _load_defaults(self) -> None:
        kind, lo, hi, count, values = DEFAULTS[self.key()]
        limit = axis_limit(self.key())
        for box in (self.lo, self.hi):
            box.setRange(limit.lo, limit.hi)
            box.setDecimals(0 if limit.integer else 12)
        self.set_values(kind, lo, hi, count, values)

    def _show_kind(self) -> None:
        listed = self.kind_combo.currentData() == "list"
        self.values.setVisible(listed)
        for w in (self.lo, self.hi, self.count):
            w.setVisible(not listed)
        for i in range(self.layout().count()):
            w = self.layout().itemAt(i).widget()
            if isinstance(w, QLabel) and w is not self.label:
                w.setVisible(not listed)


class SweepPanel(WorkerPanel):
    """Axis pickers, the sweep button, the map and the seeds view."""

    TIPS = TIPS
    cellChosen = Signal(object)  # the Config of a clicked cell (now training)
    progressText = Signal(str)  # for the window's status bar

    def __init__(self, model: ConfigModel | None = None, parent: QWidget | None = None) -> None:
        """A sweep panel following model's configuration."""
        super().__init__("sweepPanel", model, parent)
        self._mode = "map"  # what the running work is: the map, or the seeds view
        self._latest: SweepSnapshot | None = None
        self._drawn: SweepSnapshot | None = None
        self._base: Config | None = None  # the configuration the map's sweep started from
        self._epochs_touched = False
        self.spread: SeedSpread | None = None
        self._assemble()

    # ---- construction --------------------------------------------------------------
    def _build(self) -> None:
        layout, bar = self._top_layout()
        self.sweep_button = self._named(QPushButton("Start sweep"), "sweepButton")
        self.sweep_button.setMinimumWidth(110)
        self.progress = QProgressBar()
        self.progress.setObjectName("sweepProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("%v / %m runs")
        self.status_label = QLabel("Pick two settings and press Start sweep.")
        self.status_label.setObjectName("sweepStatusLabel")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.sweep_button)
        bar.addWidget(self.progress)
        bar.addWidget(self.status_label, 1)
        layout.addLayout(bar)
        self.x_axis = AxisPicker("sweepXAxis", "train.lr")
        self.x_axis.label.setText("Across:")
        self.y_axis = AxisPicker("sweepYAxis", "train.batch_size")
        self.y_axis.label.setText("Up:")
        layout.addWidget(self.x_axis)
        layout.addWidget(self.y_axis)
        options = QHBoxLayout()
        self.measure_combo = self._named(QComboBox(), "sweepMeasure")
        for key, text in MEASURES.items():
            self.measure_combo.addItem(text, key)
        self.seeds_spin = self._named(QSpinBox(), "sweepSeedsSpin")
        self.seeds_spin.setRange(1, 1000)
        self.tolerance_spin = self._named(QDoubleSpinBox(), "sweepToleranceSpin")
        self.tolerance_spin.setRange(0.01, 100.0)
        self.tolerance_spin.setSuffix(" %")
        self.tolerance_spin.setValue(DEFAULT_TOLERANCE * 100)
        self.epochs_spin = self._named(QSpinBox(), "sweepEpochsSpin")
        self.epochs_spin.setRange(1, MAX_EPOCHS)
        self.seeds_button = self._named(QPushButton("Seeds view"), "seedsButton")
        self.seeds_count = QSpinBox()
        self.seeds_count.setObjectName("seedsViewSpin")
        self.seeds_count.setRange(2, 10_000)
        self.seeds_count.setValue(SEEDS_VIEW)
        self.seeds_count.setToolTip(TIPS["seedsButton"])
        for text, w in (
            ("Measure:", self.measure_combo),
            ("Seeds:", self.seeds_spin),
            ("Tolerance:", self.tolerance_spin),
            ("Epochs:", self.epochs_spin),
        ):
            options.addWidget(QLabel(text))
            options.addWidget(w)
            options.addSpacing(8)
        options.addStretch(1)
        options.addWidget(self.seeds_button)
        options.addWidget(self.seeds_count)
        layout.addLayout(options)
        self.view = SweepView()
        self.view.setToolTip(TIPS["sweepPlot"])
        self.seeds_view = SeedsView()
        self.seeds_view.setToolTip(TIPS["seedsPlot"])
        layout.addWidget(self._side_by_side("sweepSplitter", self.view, self.seeds_view), 1)
        self.sweep_button.clicked.connect(self._toggle)
        self.seeds_button.clicked.connect(lambda: self.start_seeds())
        self.measure_combo.currentIndexChanged.connect(
            lambda _: self.view.set_measure(str(self.measure_combo.currentData()))
        )
        self.epochs_spin.valueChanged.connect(self._epochs_edited)
        self.view.cellClicked.connect(self.load_cell)
        self._update_buttons()

    # ---- public API ----------------------------------------------------------------
    def base_config(self) -> Config | None:
        """The configuration the next sweep starts from (epochs as set in the panel)."""
        config = self.config()
        return None if config is None else config.with_value("train.epochs", self.epochs())

    def epochs(self) -> int:
        """Epochs each run of the next sweep trains."""
        return int(self.epochs_spin.value())

    def axes(self) -> list[Axis]:
        """The two axes (SweepError if their values are unusable or they are the same)."""
        x, y = self.x_axis.axis(), self.y_axis.axis()
        if x.key == y.key:
            raise SweepError(f"both axes are {NAMES[x.key]}: pick two different settings")
        return [x, y]

    def tolerance(self) -> float:
        """The tolerance as a fraction of the least-squares loss."""
        return float(self.tolerance_spin.value()) / 100.0

    def start(self) -> bool:
        """Start a sweep of the two axes; False (and a message) if it cannot start."""
        config = self.base_config()
        if config is None:
            self._say("error", "No configuration yet: the sweep needs data to train on.")
            return False
        try:
            axes = self.axes()
        except SweepError as exc:
            self._say("error", f"Could not start the sweep: {exc}")
            return False
        self._mode = "map"
        self._base = config
        self._run_worker().start_sweep(config, axes, int(self.seeds_spin.value()), self.tolerance())
        self._starting()
        return True

    def start_seeds(self, seeds: int | None = None) -> bool:
        """Train the current configuration over seeds noise seeds for the seeds view."""
        config = self.base_config()
        if config is None:
            return False
        self._mode = "seeds"
        self._run_worker().start_seeds(config, seeds or int(self.seeds_count.value()))
        self._starting()
        return True

    def stop(self) -> None:
        """Stop the running sweep; finished cells keep their results."""
        if self._host is not None and self.is_running():
            self._sweep_worker().stop_sweep()

    def latest_snapshot(self) -> SweepSnapshot | None:
        """The newest snapshot of the map's sweep."""
        return self._latest

    def cell_config(self, i: int, j: int) -> Config:
        """The configuration of the map's cell (i, j): the sweep's base with its two values."""
        if self._base is None or not self.view.axes:
            raise UserInputError("no sweep yet")
        values = {a.key: a.values[k] for a, k in zip(self.view.axes, (i, j), strict=False)}
        return apply_values(self._base, values)

    def load_cell(self, i: int, j: int) -> None:
        """Load cell (i, j)'s settings into the controls and start that run in the Training
        tab (the window shows it: cellChosen)."""
        if self.is_running() or self._model is None:
            if self.is_running():
                self._say("info", "The sweep is running: stop it or wait to train a cell.")
            return
        config = self.cell_config(i, j)
        if isinstance(self._model, RunController):
            self._model.apply_config(config)
            self._model.run()
        else:
            self._model.set_config(config)
        self.cellChosen.emit(config)

    def refresh(self) -> None:
        """Draw the newest snapshot now if it has not been drawn."""
        snap = self._latest
        if snap is not None and snap is not self._drawn:
            self._drawn = snap
            self.view.update_sweep(snap)

    def export(self, folder: Path) -> list[Path]:
        """Write sweep.csv, sweep.json, sweep.png and sweep.svg of the map's sweep (finished
        runs) into folder; [] before the first sweep."""
        got = None if self._host is None else self._sweep_worker().results_copy()
        if got is None:
            return []
        plan, results, limits = got
        folder = Path(folder)
        paths = write_sweep_files(folder, plan, results, limits)
        self.refresh()
        png, svg = folder / "sweep.png", folder / "sweep.svg"
        self.view.export_png(png)
        self.view.export_svg(svg)
        return [*paths, png, svg]

    # ---- configuration ---------------------------------------------------------------
    def _on_config(self, config: Config) -> None:
        if not self._epochs_touched:
            with QSignalBlocker(self.epochs_spin):
                self.epochs_spin.setValue(min(config.train.epochs, MAX_EPOCHS))
        t = config.train
        self.seeds_button.setToolTip(
            f"{TIPS['seedsButton']}\nNow: {t.optimizer}, lr {t.lr:g}, batch {t.batch_size}"
        )
        self._update_buttons()

    def _epochs_edited(self) -> None:
        self._epochs_touched = True

    # ---- frames and worker -------------------------------------------------------------
    def _stages(self, snap: object) -> list[Stage]:
        if not self._can_be_seen():
            return []
        assert isinstance(snap, SweepSnapshot)

        def draw() -> None:
            self._drawn = snap
            self.view.update_sweep(snap)

        return [Stage(draw, [paint_target(self.view)])]

    def _run_worker(self) -> SweepWorker:
        if self._host is None or self._host.worker.is_stopped:
            self._connect(sweep_host())
            w = self._sweep_worker()
            w.sweepReset.connect(self._on_reset)
            w.seedsReady.connect(self._on_seeds)
        self._host.start()
        return self._sweep_worker()

    def _sweep_worker(self) -> SweepWorker:
        worker = self._worker()
        assert isinstance(worker, SweepWorker)
        return worker

    def _starting(self) -> None:
        model = self._model
        # Two trainings would share two cores: the live run waits while a sweep runs.
        if isinstance(model, RunController) and model.state() == "running":
            model.pause()
            self._say("info", "The training run is paused while the sweep runs.")
        self._set_state("starting")

    def _on_reset(self, snap: SweepSnapshot, lines: list) -> None:
        self.view.set_axes(snap.axes)
        self.view.set_limits(lines)
        self.view.set_measure(str(self.measure_combo.currentData()))
        self._latest, self._drawn = snap, None
        self.pacer.cancel()
        self.refresh()
        self.progress.setRange(0, snap.runs)
        self.progress.setValue(0)

    def _on_snapshot(self, snap: SweepSnapshot) -> None:
        self.progress.setRange(0, snap.runs)
        self.progress.setValue(snap.runs_done)
        what = "Seeds view" if self._mode == "seeds" else "Sweep"
        self.progressText.emit(f"{what}: {snap.runs_done:,} of {snap.runs:,} runs")
        if self._mode == "map":
            self._latest = snap
            self.pacer.offer(snap)

    def _on_seeds(self, spread: SeedSpread) -> None:
        self.spread = spread
        self.seeds_view.set_spread(spread)

    def _on_failed(self, text: str) -> None:
        self._say("error", text.split("\n", 1)[0])

    def _set_state(self, state: str) -> None:
        self._state = state
        if state not in ("starting", "running"):
            self.pacer.cancel()
            self.refresh()
        texts = {
            "starting": "Setting up…",
            "running": "Seeds view: training…" if self._mode == "seeds" else "Sweeping…",
            "stopped": "Stopped: the finished cells keep their results.",
        }
        if state in texts:
            self.status_label.setText(texts[state])
        self._update_buttons()
        self.stateChanged.emit(state)

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.sweep_button.setText("Stop sweep" if running else "Start sweep")
        self.sweep_button.setEnabled(self._model is not None or running)
        for w in (self.x_axis, self.y_axis, self.seeds_spin, self.tolerance_spin,
                  self.epochs_spin, self.seeds_button, self.seeds_count):  # fmt: skip
            w.setEnabled(not running)

    def _say(self, level: str, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.message.emit(level, text)
