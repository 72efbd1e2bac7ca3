"""Optimizer race panel: up to four runs on the same data from the same start, side by side.

The panel follows a configuration model (the window's run controller): the race uses its data,
model, implementation and loss, and each row of the table sets its run's optimizer, learning
rate, batch size and momentum. Its own worker thread starts with the first race;
stop_and_wait() must run before the panel is destroyed (a QThread destroyed while running
aborts the process). Export writes race.json, race_loss.png/.svg and race_landscape.png/.svg.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from core.config import Config
from core.race import (
    DEFAULT_TOLERANCE,
    MAX_RUNS,
    RACE_JSON,
    RaceEntry,
    RaceSnapshot,
)
from core.runinfo import RunInfo
from gui.export import write_bytes_atomic
from gui.frame_pacer import Stage, paint_target
from gui.landscape import MultiPathLandscapeView
from gui.race_table import RaceTable
from gui.race_texts import (
    TOOLTIPS,
)
from gui.race_view import FINAL_WIDTH, LIVE_WIDTH, RACE_COLORS, RaceLossView
from gui.race_worker import RaceWorker, race_host
from gui.run_controller import ConfigModel
from gui.worker_panel import WorkerPanel

MAX_PATH_POINTS = 300  # landscape path points drawn per run (the loss curves keep more)
# Suggested optimizer for each new row: the first not yet in the table.
SUGGESTED = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adamw", "adagrad")
MAX_EPOCHS = 100_000
OPTIMIZER_CHARS = 9  # characters the optimizer column shows whole ("Momentum …")


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


class RacePanel(WorkerPanel):
    """A table of runs, a start/stop button, overlaid loss curves and landscape paths."""

    TIPS = TOOLTIPS

    def __init__(self, model: ConfigModel | None = None, parent: QWidget | None = None) -> None:
        """A race panel following model's configuration (None: no data yet, nothing to race)."""
        super().__init__("racePanel", model, parent)
        self._touched = False  # the user edited the runs: a new configuration keeps them
        self._epochs_touched = False
        self._rows_stale = False  # the configuration changed during a race: follow it after
        self._followed: Config | None = None  # the configuration the rows last followed
        self._error: str | None = None  # why the current race stopped early, if it failed
        self._latest: RaceSnapshot | None = None
        self._drawn: RaceSnapshot | None = None
        self._info: RunInfo | None = None
        # Frames of the newest snapshot, paced as the training tab's are (gui/frame_pacer.py):
        # the loss plot and the table, then the landscape, each painted before the next.
        self._assemble()

    # ---- construction --------------------------------------------------------------
    def _build(self) -> None:
        layout, bar = self._top_layout()
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

        self.table = RaceTable()
        self.table.edited.connect(self._rows_edited)
        layout.addWidget(self.table)

        self.loss_view = RaceLossView()
        self.loss_view.setToolTip(TOOLTIPS["raceLossPlot"])
        self.landscape = MultiPathLandscapeView()
        self.landscape.setToolTip(TOOLTIPS["raceLandscapePlot"])
        layout.addWidget(self._side_by_side("raceSplitter", self.loss_view, self.landscape), 1)

        self.add_button.clicked.connect(lambda: self.add_run())
        self.remove_button.clicked.connect(lambda: self.remove_run())
        self.race_button.clicked.connect(self._toggle)
        self.x_combo.currentIndexChanged.connect(
            lambda _: self.loss_view.set_x_axis(str(self.x_combo.currentData()))
        )
        self.epochs_spin.valueChanged.connect(self._epochs_edited)
        self._update_buttons()

    # ---- public API ----------------------------------------------------------------
    def _on_config(self, config: Config) -> None:
        """Untouched rows and epochs follow a new configuration (a running race keeps its
        own; the table follows once it has ended)."""
        if (
            self.table.run_count()
            and self._followed is not None
            and config.train == self._followed.train
        ):
            return  # the rows show training settings only: a drag of the data leaves them be
        self._followed = config
        if self.is_running():
            self._rows_stale = True
            return
        self._follow_config()

    def _follow_config(self) -> None:
        config = self.config()
        if config is None:
            return
        self._rows_stale = False
        if not self._touched or not self.table.run_count():
            self.table.seed_rows(config)
        self.table.set_implementation(config.train.implementation)
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
        return self.table.entries()

    def run_count(self) -> int:
        """Number of runs in the table."""
        return self.table.run_count()

    def add_run(self, entry: RaceEntry | None = None) -> int:
        """Append a run (default: the next untried optimizer, the last row's settings); return
        its row, or -1 if the table is full or a race is running."""
        if self.table.run_count() >= MAX_RUNS or self.is_running():
            return -1
        self._touched = True
        row = self.table.append_row(entry or self.table.suggest())
        self._drawn = self._latest  # results belong to the race that made them
        self._update_buttons()
        return row

    def remove_run(self, row: int | None = None) -> bool:
        """Remove a run (default: the selected one, else the last); at least one stays."""
        if self.is_running() or not self.table.remove_run(row):
            return False
        self._touched = True
        self._drawn = self._latest
        self._update_buttons()
        return True

    def _rows_edited(self) -> None:
        self._touched = True

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
        self.table.show_results(snap)

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

    def _epochs_edited(self) -> None:
        self._epochs_touched = True

    def _update_buttons(self) -> None:
        running = self.is_running()
        n = self.table.run_count()
        self.add_button.setEnabled(not running and n < MAX_RUNS)
        self.remove_button.setEnabled(not running and n > 1)
        self.tolerance_spin.setEnabled(not running)
        self.epochs_spin.setEnabled(not running)
        self.seeds_spin.setEnabled(not running)
        self.table.set_running(running)
        self.race_button.setText("Stop race" if running else "Start race")
        self.race_button.setEnabled(self._model is not None or running)

    def _implementation(self) -> str:
        config = self.config()
        return "module" if config is None else config.train.implementation

    # ---- frames --------------------------------------------------------------------
    def _stages(self, snap: object) -> list[Stage]:
        """The loss plot and table, then the landscape; nothing while they cannot be seen."""
        if not self._can_be_seen():
            return []
        assert isinstance(snap, RaceSnapshot)

        def loss() -> None:
            self._drawn = snap
            self._update_loss(snap)

        return [
            Stage(loss, [paint_target(self.loss_view)]),
            Stage(lambda: self._update_landscape(snap), [paint_target(self.landscape)]),
        ]

    # ---- worker --------------------------------------------------------------------
    def _make_host(self) -> None:
        host = race_host()
        self._connect(host)
        self._race_worker().raceReset.connect(self._on_reset)

    def _race_worker(self) -> RaceWorker:
        worker = self._worker()
        assert isinstance(worker, RaceWorker)
        return worker

    def _on_failed(self, text: str) -> None:
        self._error = text.split("\n", 1)[0]
        self._say("error", self._error)

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
