"""Optimizer race panel: up to four runs on the same data from the same start, side by side.

The panel follows a configuration model (the window's run controller): the race uses its data,
model, implementation and loss, and each row of the table sets its run's optimizer, learning
rate, batch size and momentum. Its own worker thread starts with the first race;
stop_and_wait() must run before the panel is destroyed (a QThread destroyed while running
aborts the process). Export writes race.json, race_loss.png/.svg and race_landscape.png/.svg.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
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

from core.config import Config
from core.limits import BATCH_SIZE, LR, MOMENTUM
from core.race import (
    DEFAULT_TOLERANCE,
    MAX_RUNS,
    MOMENTUM_OPTIMIZERS,
    RACE_JSON,
    RaceEntry,
    RaceSnapshot,
    optimizers_for,
)
from core.runinfo import RunInfo
from gui.export import write_bytes_atomic
from gui.frame_pacer import FramePacer, Stage, paint_target
from gui.landscape import MultiPathLandscapeView
from gui.race_texts import (
    COL_BATCH,
    COL_LOSS,
    COL_LR,
    COL_MOM,
    COL_OPT,
    COL_RUN,
    COL_SECONDS,
    COL_STATUS,
    COL_STEPS,
    COLUMNS,
    HEADER_TIPS,
    TOOLTIPS,
)
from gui.race_view import FINAL_WIDTH, LIVE_WIDTH, RACE_COLORS, RaceLossView
from gui.race_worker import RaceWorker, race_host
from gui.run_controller import ConfigModel
from gui.style import palette_of
from gui.texts import OPTIMIZER_LABELS
from gui.widgets import NumberSpinBox
from gui.worker_base import WorkerHost

MAX_PATH_POINTS = 300  # landscape path points drawn per run (the loss curves keep more)
# Suggested optimizer for each new row: the first not yet in the table.
SUGGESTED = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adamw", "adagrad")
MAX_EPOCHS = 100_000
OPTIMIZER_CHARS = 9  # characters the optimizer column shows whole ("Momentum …")


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


class LrSpinBox(NumberSpinBox):
    """A learning-rate spin box: shortest exact text, multiplicative steps."""

    def __init__(self) -> None:
        super().__init__(LR.lo, LR.hi, 0.01, decimals=12, log_steps=True)


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

    def __init__(self, model: ConfigModel | None = None, parent: QWidget | None = None) -> None:
        """A race panel following model's configuration (None: no data yet, nothing to race)."""
        super().__init__(parent)
        self.setObjectName("racePanel")
        self._model = model
        self._rows: list[_Row] = []
        self._touched = False  # the user edited the runs: a new configuration keeps them
        self._epochs_touched = False
        self._rows_stale = False  # the configuration changed during a race: follow it after
        self._state = "idle"
        self._error: str | None = None  # why the current race stopped early, if it failed
        self._host: WorkerHost | None = None
        self._latest: RaceSnapshot | None = None
        self._drawn: RaceSnapshot | None = None
        self._info: RunInfo | None = None
        self._build()
        # Frames of the newest snapshot, paced as the training tab's are (gui/frame_pacer.py):
        # the loss plot and the table, then the landscape, each painted before the next.
        self.pacer = FramePacer(self, self._worker, self._stages)
        if model is not None:
            model.configChanged.connect(self._on_config)
            self._on_config(model.config())

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
        self.seeds_spin = self._named(QSpinBox(), "raceSeedsSpin")
        self.seeds_spin.setRange(1, 100)
        options.addWidget(QLabel("Seeds:"))
        options.addWidget(self.seeds_spin)
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
    def config(self) -> Config | None:
        """The configuration the race follows (its model's), or None without one."""
        return None if self._model is None else self._model.config()

    def _on_config(self, config: Config) -> None:
        """Untouched rows and epochs follow a new configuration (a running race keeps its
        own; the table follows once it has ended)."""
        if self.is_running():
            self._rows_stale = True
            return
        self._follow_config()

    def _follow_config(self) -> None:
        config = self.config()
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
        config = self.config()
        if config is None:
            return None
        return config.with_value("train.epochs", int(self.epochs_spin.value()))

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
        seeds = int(self.seeds_spin.value())
        self._race_worker().start_race(config, self.entries(), self.tolerance(), seeds)
        self._set_state("starting")
        return True

    def stop(self) -> None:
        """Stop the running race; the runs keep their results so far."""
        if self._host is not None and self.is_running():
            self._race_worker().stop_race()

    def is_thread_running(self) -> bool:
        """Whether the race's worker thread runs."""
        return self._host is not None and self._host.is_running()

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
        return None if self._host is None else self._race_worker().results_copy()

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
        self.pacer.cancel()
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
        impl = self._implementation()
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
        impl = self._implementation()
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
        batch.setRange(int(BATCH_SIZE.lo), int(min(BATCH_SIZE.hi, 2**31 - 1)))
        batch.setValue(entry.batch_size if entry.batch_size is not None else 10)
        batch.setToolTip(HEADER_TIPS[COL_BATCH])
        mom = QDoubleSpinBox()
        mom.setDecimals(3)
        mom.setRange(MOMENTUM.lo, MOMENTUM.hi)
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
        self.seeds_spin.setEnabled(not running)
        for row in self._rows:
            for widget in (row.optimizer, row.lr, row.batch):
                widget.setEnabled(not running)
            self._row_edited(row, user=False)
        self.race_button.setText("Stop race" if running else "Start race")
        self.race_button.setEnabled(self._model is not None or running)

    def _implementation(self) -> str:
        config = self.config()
        return "module" if config is None else config.train.implementation

    # ---- frames --------------------------------------------------------------------
    def _stages(self, snap: object) -> list[Stage]:
        """The loss plot and table, then the landscape; nothing while they cannot be seen."""
        if not self.isVisible() or self.window().isMinimized():
            return []
        assert isinstance(snap, RaceSnapshot)

        def loss() -> None:
            self._drawn = snap
            self._update_loss(snap)

        return [
            Stage(loss, [paint_target(self.loss_view)]),
            Stage(lambda: self._update_landscape(snap), [paint_target(self.landscape)]),
        ]

    def showEvent(self, event) -> None:
        """Catch up at once when shown again (hidden, the views skipped every frame)."""
        super().showEvent(event)
        self.pacer.take_pending()
        self.refresh()

    # ---- worker --------------------------------------------------------------------
    def _make_host(self) -> None:
        host = race_host()
        w = host.worker
        assert isinstance(w, RaceWorker)
        w.raceReset.connect(self._on_reset)
        w.snapshot.connect(self._on_snapshot)
        w.parked.connect(self.pacer.on_parked)
        w.stateChanged.connect(self._set_state)
        w.message.connect(self._say)
        # A bound method of this widget, not a lambda: PySide6 runs a lambda in the emitting
        # (race) thread, and widgets may only be touched from the GUI thread.
        w.failed.connect(self._on_failed)
        self._host = host

    def _worker(self) -> RaceWorker | None:
        return None if self._host is None else self._host.worker  # type: ignore[return-value]

    def _race_worker(self) -> RaceWorker:
        worker = self._worker()
        assert worker is not None
        return worker

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
        self.pacer.cancel()
        self.refresh()

    def _on_snapshot(self, snap: RaceSnapshot) -> None:
        self._latest = snap
        self.pacer.offer(snap)

    def _set_state(self, state: str) -> None:
        self._state = state
        live = state in ("starting", "running")
        self.loss_view.set_live(live)
        self.landscape.set_path_width(LIVE_WIDTH if live else FINAL_WIDTH)
        if not live:
            self.pacer.cancel()
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
            # No colour of its own unless diverged: the table's text colour of the theme.
            item.setData(
                Qt.ItemDataRole.ForegroundRole, QColor(palette_of().diverged) if diverged else None
            )
            item.setToolTip(run.message if diverged and run.message else HEADER_TIPS[COL_STATUS])
