"""The main window: control panel, live plots, run controls, menus; owns the worker thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.config import Config
from core.errors import UserInputError
from core.presets import DEFAULT_PRESET, PRESETS, preset_config
from core.review import Recording, snapshot_at
from core.runfile import STATEFUL, SUFFIX, load_run, save_run
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui import export, replay, session
from gui.controls import ControlPanel, short_list
from gui.csv_dialog import CsvDialog, csv_config
from gui.help import GUIDE_HTML, shortcuts_html
from gui.landscape import LandscapeView
from gui.plots import FitView, LossView, ParamView
from gui.race_panel import RacePanel
from gui.teaching import ResidualView, WeightBarsView, attach_explain_button
from gui.timeline import TimelineBar
from gui.worker import WorkerHost

STATUS_WEIGHTS = 8  # weights the status bar lists (the weights tab shows them all)
REDRAW_MS = 33  # the views redraw on their own timer, at most ~30 frames a second
# While training runs flat out, frames (view updates and their paints) may take at most this
# share of the time. The training loop is parked during a frame (pyqtgraph's paint methods are
# Python and hold the interpreter lock that torch needs between ops anyway), so this share is
# what training loses to the plots: bench_window measured ~20 frames a second (the old fixed
# 33 ms timer) costing ~30% of the training rate, and this share, with the loop's own ~3%,
# keeping it above 0.9x. With this window's ~12 ms frames that is ~4 frames a second; cheaper
# frames get more, and a throttled run (the training thread mostly idle) keeps ~30.
FRAME_SHARE = 0.05
MAX_REDRAW_MS = 250  # however costly frames are, at least 4 a second
VIEW_PAINT_TIMEOUT_MS = 40  # a view that never paints (hidden, collapsed) is waited for this long
PARK_TIMEOUT_MS = 40  # a frame waits at most this long for the training loop to park
# A speed throttle below this share of the engine's own rate leaves the training thread idle
# most of the time: frames then cost training nothing and keep ~30 a second.
IDLE_THROTTLE = 0.5
# Snapshots come a little more often than frames, so a frame rarely finds nothing new.
SNAPSHOTS_PER_FRAME = 1.4

START_FALLBACK_MS = 300  # the training thread starts by then even if the window never paints
FIRST_PAINT_ENV = "LINREG_VIZ_FIRST_PAINT"  # set: print when the window first paints (bench)

BANNER_STYLE = {
    "info": "background:#e8f1fb; color:#12355b; border:1px solid #9cc2ea;",
    "warning": "background:#fff4e0; color:#5c3b00; border:1px solid #f0b050;",
    "error": "background:#fdecea; color:#611a15; border:1px solid #e57373;",
}


class Banner(QWidget):
    """An in-window message strip with a close button: never a modal dialog."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setObjectName("messageText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss this message")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.level = "info"
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        """Show text styled by level (info, warning, error)."""
        self.level = level
        self.setStyleSheet(f"#messageBanner {{{BANNER_STYLE.get(level, BANNER_STYLE['info'])}}}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisible() or not self.isHidden() else ""


class MainWindow(QMainWindow):
    """Launch, set parameters, Run, watch the loss fall and the line fit, export."""

    def __init__(
        self,
        config: Config | None = None,
        parent: QWidget | None = None,
        settings: QSettings | None = None,
    ) -> None:
        """Build the window on config; with settings, also remember the session in them (the
        last configuration when config is None, and the layout)."""
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Linear regression, live")
        self.resize(1400, 900)
        self._settings = settings
        settings_note = None
        if config is None and settings is not None:
            config, settings_note = session.last_config(settings)
        self._config = config.copy() if config is not None else preset_config(DEFAULT_PRESET)
        self._latest: Snapshot | None = None
        self._initial: Snapshot | None = None  # the run's state before its first step
        self._pending: Snapshot | None = None
        self._review: Recording | None = None  # the history being scrubbed (None: live)
        self._review_snap: Snapshot | None = None
        self._info: RunInfo | None = None
        self._state = "paused"
        self._closing = False
        self._painted = False
        self._setup_note: str | None = None  # said once the run being built is ready

        self.panel = ControlPanel(self._config)
        self.loss_view = LossView()
        self.fit_view = FitView()
        self.param_view = ParamView()
        self.landscape_view = LandscapeView()
        self.residual_view = ResidualView()
        self.weight_bars = WeightBarsView()
        self.banner = Banner()
        self.timeline = TimelineBar()
        # Its own thread (and torch) start with the first race, not with the window.
        self.race_panel = RacePanel(self._config)
        self._build_layout()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()

        if settings is not None:
            log_y = session.restore_layout(settings, self)
            if log_y is not None:
                self.log_action.setChecked(log_y)
        if settings_note:
            self.show_message("warning", f"{settings_note} Starting from the default preset.")
        self.loss_view.set_log_y(self.log_action.isChecked())
        self.host = WorkerHost()
        self.worker = self.host.worker
        self.worker.snapshot.connect(self._on_snapshot)
        self.worker.runReset.connect(self._on_run_reset)
        self.worker.stateChanged.connect(self._on_state)
        self.worker.message.connect(self.show_message)
        self.worker.failed.connect(self._on_failed)
        self.worker.preparing.connect(self._set_busy)
        self.worker.progress.connect(self._on_progress)
        self.worker.setupFailed.connect(self._on_setup_failed)
        self.race_panel.message.connect(self.show_message)
        self.race_panel.stateChanged.connect(self._on_race_state)
        # The training thread starts importing torch (seconds) once the window has painted:
        # started earlier it would fight the window's own start-up for the interpreter lock.
        # A window that is never shown starts it on this timer.
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(START_FALLBACK_MS)
        self._start_timer.timeout.connect(self._start_worker)
        self._start_timer.start()
        self._set_loading(True)

        self.timeline.scrubbed.connect(self.rewind_to)
        self.timeline.liveRequested.connect(self._leave_review)
        self.panel.dataChanged.connect(self.reset_run)
        self.panel.setupChanged.connect(self.reset_run)
        self.panel.hyperChanged.connect(lambda changes: self.worker.send("set_hyper", changes))
        self.panel.epochsChanged.connect(lambda n: self.worker.send("set_epochs", n))
        self.panel.speedChanged.connect(lambda s: self.worker.send("set_speed", s))
        self.worker.send("set_speed", self.panel.speed())
        self.worker.send("configure", self._config)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        # A frame parks the training loop, then updates and paints the plots one row at a time
        # (the event loop runs timers and input in between, so no stall lasts a whole frame),
        # and releases the loop after the last row's paint; what that cost spaces the next
        # frame (FRAME_SHARE).
        self._frame_start: float | None = None  # perf_counter when drawing the frame began
        self._frame_snap: Snapshot | None = None  # the frame in hand (None: no frame)
        self._frame_info: RunInfo | None = None
        self._frame_rows: list[list[QWidget]] = []  # rows of views the frame has still to draw
        self._frame_unpainted: set[QWidget] = set()  # views whose paint is awaited
        self._frame_cost = 0.0  # smoothed seconds a frame holds the training loop
        self._snapshot_ms = REDRAW_MS  # snapshot interval last asked of the worker
        self._snapshot_points = 0  # points per series last asked of the worker
        # Moves on once the paint pass of the row's awaited views is over: views without a
        # painted signal paint in that same pass.
        self._after_paint = QTimer(self)
        self._after_paint.setSingleShot(True)
        self._after_paint.setInterval(0)
        self._after_paint.timeout.connect(self._draw_frame)
        self._paint_timeout = QTimer(self)
        self._paint_timeout.setSingleShot(True)
        self._paint_timeout.setInterval(VIEW_PAINT_TIMEOUT_MS)
        self._paint_timeout.timeout.connect(self._draw_frame)
        self._park_timeout = QTimer(self)
        self._park_timeout.setSingleShot(True)
        self._park_timeout.setInterval(PARK_TIMEOUT_MS)
        self._park_timeout.timeout.connect(self._start_drawing)
        # Queued: the worker emits this from its own thread, the frame is drawn in this one.
        self.worker.parked.connect(self._start_drawing, Qt.ConnectionType.QueuedConnection)
        for view in (self.loss_view, self.fit_view, self.param_view):
            view.painted.connect(lambda v=view: self._on_view_painted(v))
        self._timer.start()

    # ---- construction ---------------------------------------------------------------
    def _build_layout(self) -> None:
        scroll = QScrollArea()
        scroll.setObjectName("controlScroll")
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(330)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        for view in self._views():
            attach_explain_button(view)
        self.fit_tabs = QTabWidget()
        self.fit_tabs.setObjectName("fitTabs")
        self.fit_tabs.addTab(self.fit_view, "Fit")
        self.fit_tabs.addTab(self.residual_view, "Residuals")
        self.fit_tabs.addTab(self.weight_bars, "Weights")
        self.fit_tabs.setTabToolTip(0, "Data, true line, least-squares line and the current fit")
        self.fit_tabs.setTabToolTip(1, "Residuals (actual - predicted) against the prediction")
        self.fit_tabs.setTabToolTip(2, "True, learned and least-squares weight per feature")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("topSplitter")
        top.addWidget(self.loss_view)
        top.addWidget(self.fit_tabs)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("bottomSplitter")
        bottom.addWidget(self.param_view)
        bottom.addWidget(self.landscape_view)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.setObjectName("plotSplitter")
        plots.addWidget(top)
        plots.addWidget(bottom)
        plots.setSizes([450, 450])

        self.dashboard = QWidget()
        self.dashboard.setObjectName("dashboard")
        dl = QVBoxLayout(self.dashboard)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(plots, 1)
        dl.addWidget(self.timeline)
        self.main_tabs = QTabWidget()
        self.main_tabs.setObjectName("mainTabs")
        self.main_tabs.setDocumentMode(True)
        self.main_tabs.addTab(self.dashboard, "Training")
        # Scrolled: in a narrow window the race's setup rows scroll rather than squeeze the
        # control column.
        race_scroll = QScrollArea()
        race_scroll.setObjectName("raceScroll")
        race_scroll.setWidget(self.race_panel)
        race_scroll.setWidgetResizable(True)
        race_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.main_tabs.addTab(race_scroll, "Optimizer race")
        self.main_tabs.setTabToolTip(
            0, "The run: loss, fit, parameters and loss landscape (Ctrl+1)"
        )
        self.main_tabs.setTabToolTip(
            1, "Up to four optimizers on the same data from the same start, side by side (Ctrl+2)"
        )
        # The banner sits above the tabs: race messages show on either tab.
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.banner)
        rl.addWidget(self.main_tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 1060])
        self.setCentralWidget(self.splitter)

    def _action(self, text: str, shortcut: str | None, tip: str, slot, name: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            tip = (
                f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            )
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.run_action = a("Run", "Space", "Run or pause training", self.toggle_run, "runAction")
        self.run_action.setCheckable(True)
        self.step_batch_action = a(
            "Step batch",
            "Ctrl+B",
            "Pause and train on one minibatch",
            self.step_batch,
            "stepBatchAction",
        )
        self.step_epoch_action = a(
            "Step epoch",
            "Ctrl+E",
            "Pause and train one whole epoch",
            self.step_epoch,
            "stepEpochAction",
        )
        self.reset_action = a(
            "Reset",
            "Ctrl+R",
            "Regenerate the data and start the run again",
            self.reset_paused,
            "resetAction",
        )
        self.log_action = a(
            "Log-scale loss",
            "Ctrl+L",
            "Show the loss on a logarithmic axis",
            self._toggle_log,
            "logAction",
        )
        self.log_action.setCheckable(True)
        self.log_action.setChecked(True)
        self.open_action = a(
            "Open configuration…",
            "Ctrl+O",
            "Load a run configuration from a JSON file",
            self._open_config,
            "openAction",
        )
        self.open_csv_action = a(
            "Open CSV data…",
            "Ctrl+Shift+O",
            "Train on columns of a CSV file (the current run is kept if the file is bad)",
            self._open_csv,
            "openCsvAction",
        )
        self.save_action = a(
            "Save configuration…",
            "Ctrl+S",
            "Save the current configuration as JSON",
            self._save_config,
            "saveAction",
        )
        self.save_run_action = a(
            "Save run…",
            "Ctrl+Shift+S",
            "Save the whole run (configuration, history, parameters) to reopen later",
            self._save_run_dialog,
            "saveRunAction",
        )
        self.open_run_action = a(
            "Open run…",
            "Ctrl+Alt+O",
            "Reopen a saved run to review it or continue training",
            self._open_run_dialog,
            "openRunAction",
        )
        self.export_action = a(
            "Export run…",
            "Ctrl+Shift+E",
            "Write plots (PNG, SVG), the window, history (CSV) and configuration (JSON)",
            self._export_dialog,
            "exportAction",
        )
        self.gif_action = a(
            "Export animation (GIF)…",
            "Ctrl+Shift+G",
            "Replay the run from its history into an animated GIF of the plots",
            self._export_gif_dialog,
            "exportGifAction",
        )
        self.race_action = a(
            "Start or stop race",
            "Ctrl+Shift+R",
            "Race the optimizers in the Optimizer race tab on the current data",
            self.toggle_race,
            "raceAction",
        )
        self.training_tab_action = a(
            "Training",
            "Ctrl+1",
            "Show the training dashboard",
            lambda: self.main_tabs.setCurrentIndex(0),
            "trainingTabAction",
        )
        self.race_tab_action = a(
            "Optimizer race",
            "Ctrl+2",
            "Show the optimizer race",
            lambda: self.main_tabs.setCurrentIndex(1),
            "raceTabAction",
        )
        self.quit_action = a("Quit", "Ctrl+Q", "Close the window", self.close, "quitAction")
        self.guide_action = a(
            "Guide", "F1", "A short guide to the app", self._show_guide, "guideAction"
        )
        self.shortcuts_action = a(
            "Keyboard shortcuts",
            None,
            "List every keyboard shortcut",
            self._show_shortcuts,
            "shortcutsAction",
        )

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for act in (
            self.open_action,
            self.save_action,
            None,
            self.open_csv_action,
            None,
            self.open_run_action,
            self.save_run_action,
            None,
            self.export_action,
            self.gif_action,
            None,
            self.quit_action,
        ):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        run_menu = bar.addMenu("&Run")
        for act in (
            self.run_action,
            self.step_batch_action,
            self.step_epoch_action,
            self.reset_action,
            None,
            self.race_action,
        ):
            run_menu.addSeparator() if act is None else run_menu.addAction(act)
        presets_menu = bar.addMenu("&Presets")
        presets_menu.setToolTipsVisible(True)
        for preset in PRESETS.values():
            act = QAction(preset.name, self)
            act.setToolTip(preset.summary)
            act.setStatusTip(preset.summary)
            act.triggered.connect(lambda _=False, n=preset.name: self.load_preset(n))
            presets_menu.addAction(act)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.training_tab_action)
        view_menu.addAction(self.race_tab_action)
        view_menu.addSeparator()
        view_menu.addAction(self.log_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self.shortcuts_action)

        tools = QToolBar("Run controls")
        tools.setObjectName("runToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(tools)
        self.run_button = self._tool_button(tools, self.run_action, "runButton")
        self.step_batch_button = self._tool_button(tools, self.step_batch_action, "stepBatchButton")
        self.step_epoch_button = self._tool_button(tools, self.step_epoch_action, "stepEpochButton")
        self.reset_button = self._tool_button(tools, self.reset_action, "resetButton")
        tools.addSeparator()
        self._tool_button(tools, self.log_action, "logButton")
        self._tool_button(tools, self.export_action, "exportButton")

    def _tool_button(self, bar: QToolBar, action: QAction, name: str) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setObjectName(name)
        bar.addWidget(button)
        return button

    def _build_status_bar(self) -> None:
        self.status_label = QLabel("Ready")
        self.status_label.setObjectName("statusLabel")
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.condition_label = QLabel()
        self.condition_label.setObjectName("conditionLabel")
        self.condition_label.setToolTip(
            "Condition number of the loss surface (largest / smallest curvature). Large values "
            "mean long narrow valleys and slow gradient descent: try standardising the features "
            "or lowering the feature correlation."
        )
        self.statusBar().addPermanentWidget(self.condition_label)
        # Generating or loading big data takes seconds in the training thread: say so.
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setToolTip("Building the new run in the background; the window stays usable")
        self.statusBar().addPermanentWidget(self.busy_label)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self._set_busy(None)

    def _views(self) -> tuple[QWidget, ...]:
        """Every view that draws a run, main views first."""
        return (
            self.loss_view,
            self.fit_view,
            self.param_view,
            self.landscape_view,
            self.residual_view,
            self.weight_bars,
        )

    # ---- public API -----------------------------------------------------------------
    def latest_snapshot(self) -> Snapshot | None:
        """The last snapshot received; None before the first and after a reset."""
        return self._latest

    def run_state(self) -> str:
        """running, paused, completed or diverged."""
        return self._state

    def config(self) -> Config:
        """The configuration the run was last built from."""
        return self._config.copy()

    def refresh(self) -> None:
        """Redraw the views now from the newest snapshot (before a grab or export)."""
        # A snapshot the worker has sent may still wait in the event queue.
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        self._redraw(force=True)
        # Axes fit their width to the labels they paint, and drop a label that does not fit
        # yet: one paint off screen and a layout pass, so the grab that follows has them all.
        for view in self._views():
            view.grab()
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def show_message(self, level: str, text: str) -> None:
        """Show a message in the in-window banner and the status bar."""
        self.banner.show_message(level, text)
        self.statusBar().showMessage(text.splitlines()[0], 8000)

    def is_reviewing(self) -> bool:
        """Whether the views show a past step (the timeline is rewound)."""
        return self._review is not None

    def reviewed_snapshot(self) -> Snapshot | None:
        """What the views show while rewound, or None when live."""
        return self._review_snap if self._review is not None else None

    def rewind_to(self, step: int) -> None:
        """Show the fit, parameters and landscape as they stood after a past step."""
        base = self._latest or self._initial
        if base is None or self._info is None:
            return
        if self._review is None:
            if self._state == "running":
                self.worker.send("pause")  # the user is looking back: hold the live run
            history = self.worker.history_copy()
            if history is None:
                return
            self._review = Recording.of(history)
        snap = snapshot_at(self._review, self._info, base, step)
        self._review_snap = snap
        self._pending = None
        for view in self._views()[1:]:
            view.update_snapshot(snap)
        self.loss_view.set_cursor(snap.step)
        self.timeline.show_step(step)
        self._update_status(snap, reviewing=True)

    def go_live(self) -> None:
        """Leave the rewound view and show the live run again."""
        self.timeline.go_live()
        self._leave_review()

    def _leave_review(self) -> None:
        if self._review is None:
            return
        self._review = self._review_snap = None
        self.loss_view.set_cursor(None)
        self._show_live()

    def _show_live(self) -> None:
        """Draw the newest live state in every view."""
        base = self._latest or self._initial
        if base is not None and self._info is not None:
            for view in self._views():
                view.update_snapshot(base)
            self._update_status(base)

    def export_gif(self, path: str | Path, frames: int = replay.FRAMES) -> int:
        """Write the dashboard replayed from the run's history as a looping GIF; return the
        number of frames. The views go back to what they showed before."""
        base = self._latest or self._initial
        history = self.worker.history_copy()
        if base is None or self._info is None or history is None:
            raise OSError("there is no run to replay yet")
        recording = Recording.of(history)
        held = self._review, self._review_snap
        # The dashboard is what is replayed: on its tab, it lays out at its shown size.
        self.main_tabs.setCurrentWidget(self.dashboard)
        # While frames are drawn the views belong to the replay: live redraws stay off.
        self._review = recording
        images = []
        try:
            for step in replay.frame_steps(recording.last_step, frames):
                snap = snapshot_at(recording, self._info, base, step)
                for view in self._views():
                    view.update_snapshot(snap)
                self.timeline.show_step(snap.step)
                # Let the plots lay out their new ranges; no user input mid-export.
                QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
                images.append(self.dashboard.grab().toImage())
        finally:
            self._review, self._review_snap = held
            if held[1] is not None:
                self.rewind_to(held[1].step)
            else:
                self.timeline.go_live()
                self._show_live()
        return replay.write_gif(images, path)

    def toggle_run(self) -> None:
        """Run if paused, pause if running."""
        self.go_live()
        if self._state == "running":
            self.worker.send("pause")
        else:
            self.panel.flush()
            self.worker.send("run")

    def toggle_race(self) -> None:
        """Show the race tab and start a race, or stop the one running."""
        self.main_tabs.setCurrentIndex(1)
        if self.race_panel.is_running():
            self.race_panel.stop()
        else:
            self.race_panel.start()

    def _on_race_state(self, state: str) -> None:
        # Two trainings would share two cores: the live run waits while a race runs.
        if state in ("starting", "running") and self._state == "running":
            self.worker.send("pause")
            self.show_message("info", "The training run is paused while the race runs.")

    def step_batch(self) -> None:
        """Train one minibatch (pauses a running run first)."""
        self.go_live()
        self.panel.flush()
        self.worker.send("step_batch")

    def step_epoch(self) -> None:
        """Train one epoch (pauses a running run first)."""
        self.go_live()
        self.panel.flush()
        self.worker.send("step_epoch")

    def reset_run(self, keep_running: bool = True) -> None:
        """Rebuild the run from the controls: new data, initial parameters."""
        try:
            config = self.panel.config()
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return
        self._config = config
        self.worker.send("configure", config, keep_running)

    def reset_paused(self) -> None:
        """Start the run over from its initial parameters, paused."""
        self.reset_run(keep_running=False)

    def load_preset(self, name: str) -> None:
        """Load a preset into the controls and reset the run."""
        self.apply_config(preset_config(name))
        self.show_message("info", f"Preset {name}: {PRESETS[name].summary}")

    def apply_config(self, config: Config) -> None:
        """Show config in the controls and start a run from it."""
        self._config = config.copy()
        self.panel.set_config(self._config)
        self.worker.send("configure", self._config)

    def export_run(self, folder: str | Path) -> list[Path]:
        """Write every plot (PNG, SVG), the window (PNG), history (CSV), config (JSON)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.refresh()
        views = {
            "loss": self.loss_view,
            "fit": self.fit_view,
            "params": self.param_view,
            "landscape": self.landscape_view,
            "residuals": self.residual_view,
            "weights": self.weight_bars,
        }
        paths = export.export_views(views, folder)
        paths.append(folder / "window.png")
        export.export_window_png(self, paths[-1])
        snap_history = self._history_for_export()
        if snap_history is not None:
            paths += export.export_history(snap_history, folder)
        paths.append(folder / "config.json")
        export.export_config(self._config_for_export(), paths[-1])
        paths += self.race_panel.export(folder)
        return paths

    def save_run(self, path: str | Path) -> Path:
        """Write the whole run (configuration, history, where it stands) to a run file."""
        run = self.worker.saved_run()
        if run is None:
            raise OSError("there is no run to save yet")
        return save_run(run, path)

    def open_run(self, path: str | Path) -> bool:
        """Reopen a saved run, paused where it stood; a bad file keeps the current run."""
        try:
            run = load_run(path)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        self.go_live()
        self._config = run.config.copy()
        self.panel.set_config(self._config)
        self.worker.send("restore", run)
        note = ""
        if not run.exact and run.config.train.optimizer in STATEFUL:
            note = f" The {run.config.train.optimizer} optimizer's running state starts afresh."
        self.show_message(
            "info",
            f"Reopened {Path(path).name} at step {run.step:,} (epoch {run.epoch}). "
            f"Scrub back with the timeline or press Run to continue.{note}",
        )
        return True

    def event(self, event: QEvent) -> bool:
        """Start the training thread right after the first paint."""
        if event.type() == QEvent.Type.Paint and not self._painted:
            self._painted = True
            if os.environ.get(FIRST_PAINT_ENV):
                print(f"first-paint {time.perf_counter():.6f}", flush=True)
            QTimer.singleShot(0, self._start_worker)
        return super().event(event)

    def _start_worker(self) -> None:
        self._start_timer.stop()
        if not self._closing:
            self.host.start()

    def _set_loading(self, loading: bool) -> None:
        """While PyTorch loads, the run controls wait (disabled) and the status says why."""
        for action in (
            self.run_action,
            self.step_batch_action,
            self.step_epoch_action,
            self.reset_action,
            self.save_run_action,
            self.gif_action,
        ):
            action.setEnabled(not loading)
        if loading:
            self.status_label.setText("Loading PyTorch… the run controls wake up in a moment")

    def _set_busy(self, text: str | None) -> None:
        """Show (text) or hide (None) the status bar's busy indicator."""
        if text is not None:
            self.busy_label.setText(text)  # kept while hidden: the last thing built
            self.busy_bar.setRange(0, 0)  # indeterminate until the first progress report
        self.busy_label.setVisible(text is not None)
        self.busy_bar.setVisible(text is not None)

    def is_busy(self) -> bool:
        """Whether a new run is being built in the background."""
        return self.busy_bar.isVisibleTo(self)

    def is_ready(self) -> bool:
        """Whether a run is built and none is being built (torch loaded, data made)."""
        return self._info is not None and not self.is_busy()

    # ---- worker signals -------------------------------------------------------------
    def _on_progress(self, percent: int) -> None:
        self.busy_bar.setRange(0, 100)
        self.busy_bar.setValue(percent)

    def _on_setup_failed(self, text: str) -> None:
        self._setup_note = None
        if self.worker.pending_setups():
            # The user already asked for another setup: the controls show that one, and its
            # own runReset (or failure) follows.
            self.show_message("error", f"{text}.")
            return
        self._set_busy(None)
        current = self.worker.config_copy()
        if current is None:
            # Nothing to keep (say, the last session's CSV file is gone): the default preset.
            self.show_message("error", f"{text}. Starting from the default preset.")
            self.apply_config(preset_config(DEFAULT_PRESET))
            return
        self.show_message("error", f"{text}. The current run is kept.")
        # The controls show the run that is kept, not the setup that failed.
        self._config = current
        self.panel.set_config(current)

    def _on_run_reset(self, info: RunInfo, initial: Snapshot) -> None:
        self._set_loading(False)
        self._set_busy(None)
        if self._setup_note:
            self.show_message("info", self._setup_note)
            self._setup_note = None
        self._review = self._review_snap = None
        self.loss_view.set_cursor(None)
        self.timeline.go_live()
        self.timeline.set_last_step(0)
        self._info = info
        self._latest = None
        self._initial = initial
        self._pending = None
        for view in self._views():
            view.set_run(info)
        for view in self._views()[1:]:
            view.update_snapshot(initial)
        self.panel.set_stable_lr(info.max_stable_lr)
        self.race_panel.set_config(self._config)
        self.condition_label.setText(f"condition number {info.condition_number:.3g}")
        self._update_status(initial)

    def _on_snapshot(self, snap: Snapshot) -> None:
        self._latest = snap
        self._pending = snap

    def _on_state(self, state: str) -> None:
        self._state = state
        running = state == "running"
        self.run_action.setChecked(running)
        self.run_action.setText("Pause" if running else "Run")
        if running and self.banner.level != "error":
            self.banner.hide()

    def _on_failed(self, text: str) -> None:
        self.show_message("error", f"Training stopped by an error: {text.splitlines()[0]}")

    def _redraw(self, force: bool = False) -> None:
        snap = self._pending if not force else (self._pending or self._latest)
        if snap is None or self._info is None:
            return
        self.timeline.set_last_step(snap.step)
        if self._review is not None:
            return  # the views show a past step until the user goes back to live
        views = self._views()
        if force:
            # Before a grab or an export: every view now, in this call.
            self._pending = None
            for view in views:
                view.update_snapshot(snap)
            self._update_status(snap)
            return
        if self._frame_snap is not None:
            return  # the frame in hand is still drawing; this snapshot waits for the next
        self._pending = None
        self._frame_snap, self._frame_info = snap, self._info
        bottom = (self.param_view, self.landscape_view)
        self._frame_rows = [
            [v for v in views if v not in bottom],
            [v for v in views if v in bottom],
        ]
        # Park the training loop and draw once it has stopped: the frame then has the
        # interpreter lock to itself, instead of winning it back after every torch op (which
        # stretched frames three- to fourfold and slowed training as much).
        if self.worker.hold_for_frame():
            self._park_timeout.start()
        else:
            self._start_drawing()

    def _start_drawing(self) -> None:
        """Draw the frame in hand, once the training loop has parked (or was not training)."""
        self._park_timeout.stop()
        if self._frame_snap is None or self._frame_start is not None:
            return  # a late park signal, or one for a frame that is already drawing
        self._frame_start = time.perf_counter()
        self._update_status(self._frame_snap)
        self._draw_frame()

    def _draw_frame(self) -> None:
        """Update the next row of views of the frame in hand; its paint pass (or a timeout)
        calls this again, and the frame ends after the last row."""
        self._paint_timeout.stop()
        snap = self._frame_snap
        if snap is None or self._frame_info is not self._info or self._review is not None:
            # A reset came in mid-frame (the snapshot is of the old run), or the user rewound.
            self._end_frame()
            return
        shown = self.isVisible() and not self.isMinimized()
        while self._frame_rows:
            self._frame_unpainted = set()
            for view in self._frame_rows.pop(0):
                if not view.isVisible() and view not in (self.loss_view, self.param_view):
                    continue  # a hidden tab catches up on the next frame after it is shown
                view.update_snapshot(snap)
                paced = hasattr(view, "painted")  # views that say when they have painted
                if paced and shown and view.isVisible() and not view.size().isEmpty():
                    self._frame_unpainted.add(view)
            if self._frame_unpainted:
                self._paint_timeout.start()
                return
        self._end_frame()

    def _on_view_painted(self, view: QWidget) -> None:
        if self._frame_start is not None and view in self._frame_unpainted:
            self._frame_unpainted.discard(view)
            if not self._frame_unpainted:
                self._paint_timeout.stop()
                self._after_paint.start()

    def _end_frame(self) -> None:
        """Release the training loop and space the next frame by what this one cost."""
        self.worker.release_frame()
        start = self._frame_start
        self._frame_start = None
        self._frame_snap = self._frame_info = None
        self._frame_rows = []
        self._frame_unpainted = set()
        if start is None:
            return
        # Capped at twice the cost that puts the interval at its own cap, so that a frame
        # stretched by something else (a modal dialog, a blocked event loop) is soon forgotten.
        cost = min(time.perf_counter() - start, 2 * MAX_REDRAW_MS / 1000 * FRAME_SHARE)
        # Smoothed: one slow frame (an axis relayout, a busy machine) must not halve the rate.
        self._frame_cost = cost if self._frame_cost == 0 else 0.7 * self._frame_cost + 0.3 * cost
        interval = REDRAW_MS
        if self._training_flat_out():
            interval = round(1000 * self._frame_cost / FRAME_SHARE)
            interval = min(max(interval, REDRAW_MS), MAX_REDRAW_MS)
        if interval != self._timer.interval():
            self._timer.setInterval(interval)
        snapshot_ms = round(interval / SNAPSHOTS_PER_FRAME)
        if abs(snapshot_ms - self._snapshot_ms) > 0.1 * self._snapshot_ms:
            self._snapshot_ms = snapshot_ms
            self.worker.send("set_snapshot_interval", snapshot_ms / 1000)
        # One point per pixel of the widest step plot: a min/max pair per two pixels.
        points = round(
            max(v.plotItem.getViewBox().width() for v in (self.loss_view, self.param_view))
        )
        if abs(points - self._snapshot_points) > 0.1 * self._snapshot_points:
            self._snapshot_points = points
            self.worker.send("set_snapshot_points", points)

    def _training_flat_out(self) -> bool:
        """Whether training runs as fast as it can, so that frames take time from it."""
        if self._state != "running":
            return False
        speed = self.panel.speed()
        engine_rate = self._latest.steps_per_second if self._latest is not None else 0.0
        return speed is None or speed >= IDLE_THROTTLE * engine_rate

    def _update_status(self, snap: Snapshot, reviewing: bool = False) -> None:
        params = short_list([f"{w:.4g}" for w in snap.weights], STATUS_WEIGHTS)
        rate = "rewound" if reviewing else f"{snap.steps_per_second:,.0f} steps/s"
        self.status_label.setText(
            f"epoch {snap.epoch}   step {snap.step}   loss {snap.train_loss:.4g}   "
            f"{rate}   w = [{params}]   b = {snap.bias:.4g}"
        )

    # ---- menus ----------------------------------------------------------------------
    def _toggle_log(self) -> None:
        self.loss_view.set_log_y(self.log_action.isChecked())

    def _open_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open configuration", "", "JSON (*.json)")
        if path:
            self.open_config(path)

    def open_config(self, path: str | Path) -> bool:
        """Load a configuration file; a bad file gets a message and keeps the current run."""
        try:
            config = Config.load(path)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        self.apply_config(config)
        self.show_message("info", f"Loaded {path}")
        return True

    def _open_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open CSV data", "", "CSV (*.csv *.tsv *.txt);;All files (*)"
        )
        if not path:
            return
        try:
            dialog = CsvDialog.from_path(path, self)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.open_csv(path, *dialog.chosen())

    def open_csv(self, path: str, target: str, features: list[str], standardize: bool) -> bool:
        """Train on CSV columns, loaded in the training thread (a big file never freezes the
        window); a malformed file gets a message and the current run is kept. False if the
        choice itself is invalid."""
        try:
            config = csv_config(self.panel.config(), path, target, features, standardize)
        except UserInputError as exc:
            self.show_message("error", f"{exc}. The current run is kept.")
            return False
        self.apply_config(config)
        self._setup_note = (
            f"Training on {Path(path).name}: {target} from {short_list(features, 6)}. "
            "With real data there is no true line: least squares is the reference."
        )
        return True

    def _save_config(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save configuration", "run.json", "JSON (*.json)"
        )
        if not path:
            return
        try:
            export.export_config(self.panel.config(), Path(path))
        except (OSError, UserInputError) as exc:
            self.show_message("error", f"Could not save {path}: {exc}")
            return
        self.show_message("info", f"Saved configuration to {path}")

    def _export_gif_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export animation", "run.gif", "GIF animation (*.gif)"
        )
        if not path:
            return
        self.show_message("info", "Rendering the replay…")
        try:
            frames = self.export_gif(path)
        except OSError as exc:
            self.show_message("error", f"Could not write the animation: {exc}")
            return
        self.show_message("info", f"Wrote {frames} frames to {path}")

    def _save_run_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save run", f"run{SUFFIX}", f"Runs (*{SUFFIX});;All files (*)"
        )
        if not path:
            return
        try:
            saved = self.save_run(path)
        except OSError as exc:
            self.show_message("error", f"Could not save the run, nothing partial was left: {exc}")
            return
        self.show_message("info", f"Saved the run to {saved}")

    def _open_run_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open run", "", f"Runs (*{SUFFIX});;All files (*)"
        )
        if path:
            self.open_run(path)

    def _export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export run to folder")
        if not folder:
            return
        try:
            paths = self.export_run(folder)
        except OSError as exc:
            self.show_message("error", f"Export failed, nothing partial was left: {exc}")
            return
        self.show_message("info", f"Exported {len(paths)} files to {folder}")

    def _show_guide(self) -> None:
        self._info_box("Guide", GUIDE_HTML)

    def _show_shortcuts(self) -> None:
        # Every window action with a shortcut, in the order they were made (run controls first).
        actions = [action for action in self.actions() if not action.shortcut().isEmpty()]
        self._info_box("Keyboard shortcuts", shortcuts_html(actions))

    def _info_box(self, title: str, html: str) -> None:
        # Non-modal: training and plots keep going while the guide is open.
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(html)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # ---- export helpers -------------------------------------------------------------
    def _history_for_export(self):
        # The worker owns the live history; ask it for a consistent copy.
        return self.worker.history_copy()

    def _config_for_export(self) -> Config:
        # Live changes (learning rate, epochs) are part of the run's configuration too.
        return self.worker.config_copy() or self._config

    def _config_to_remember(self) -> Config:
        # What the controls show: commands the worker has not carried out yet (a reset or a
        # learning-rate change just before closing) are not in its copy.
        try:
            return self.panel.config()
        except UserInputError:
            return self._config_for_export()

    # ---- shutdown -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the worker and join its thread (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self._timer.stop()
        self._start_timer.stop()
        if self._settings is not None:
            session.save_session(
                self._settings, self, self._config_to_remember(), self.log_action.isChecked()
            )
        self.race_panel.stop_and_wait()
        self.host.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop and join the training thread before the window goes."""
        self.shutdown()
        super().closeEvent(event)
