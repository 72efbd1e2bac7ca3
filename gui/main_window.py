"""The main window: composes the control panel, the dashboard, the race tab, the banner, the
status bar, the actions and the file dialogs around one run controller."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from core.config import Config
from core.history import History
from core.presets import DEFAULT_PRESET, preset_config
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui import session
from gui.actions import build_actions, build_menus, build_toolbar, run_actions, shortcut_actions
from gui.banner import Banner, overlay
from gui.controls import DEFAULT_SPEED, ControlPanel, steps_per_second_for
from gui.dashboard import Dashboard
from gui.dialogs import FileDialogs
from gui.help import TextDialog, guide_html, shortcuts_html
from gui.lessons_panel import LessonsDock
from gui.race_panel import RacePanel
from gui.run_controller import RunController
from gui.status import LOADING_TEXT, RunStatus
from gui.style import Theme
from gui.sweep_panel import SweepPanel, in_scroll_area
from gui.window_files import WindowFiles

START_FALLBACK_MS = 300  # the training thread starts by then even if the window never paints
FIRST_PAINT_ENV = "LINREG_VIZ_FIRST_PAINT"  # set: print when the window first paints (bench)


def _is_free_text(widget: QWidget | None) -> bool:
    """Whether widget takes typed text in which a space means a space."""
    if isinstance(widget, QTextEdit | QPlainTextEdit):
        return True
    return isinstance(widget, QLineEdit) and not isinstance(widget.parent(), QAbstractSpinBox)


class _SpaceRuns(QObject):
    """Space runs and pauses from anywhere in the window except a free-text field: numeric
    boxes, sliders, buttons and combo boxes would otherwise take the key for themselves.

    The filter sits on the focused widget only (moved as the focus moves): a filter on the
    whole application would run Python for every event of every object, and those short,
    frequent holds of the interpreter lock starved the training thread."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._on: QWidget | None = None
        QApplication.instance().focusChanged.connect(self._follow_focus)

    def _follow_focus(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._on is not None:
            self._on.removeEventFilter(self)
            self._on = None
        if new is not None and new.window() is self._window and not _is_free_text(new):
            new.installEventFilter(self)
            self._on = new
            new.destroyed.connect(self._forget)

    def _forget(self) -> None:
        self._on = None

    def detach(self) -> None:
        """Stop following the focus (the window is closing)."""
        QApplication.instance().focusChanged.disconnect(self._follow_focus)
        if self._on is not None:
            self._on.removeEventFilter(self)
            self._on = None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Keep Space from the focused widget so that the Run shortcut gets it."""
        # Filtered out, the override is not accepted by the widget: the shortcut fires.
        return (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Space
            and not event.modifiers()
        )


class FirstPaint(QObject):
    """Calls back once, at a widget's first paint, then stops filtering its events."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """The first Paint: remove the filter, call back."""
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            self._callback()
        return False


class MainWindow(WindowFiles, QMainWindow):
    """Launch, set parameters, Run, watch the loss fall and the line fit, export."""

    def __init__(
        self,
        config: Config | None = None,
        parent: QWidget | None = None,
        settings: QSettings | None = None,
    ) -> None:
        """Build the window on config; with settings, also remember the session in them (the
        last configuration when config is None, the layout and the dialogs' folders)."""
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Linear regression, live")
        self.resize(1400, 900)
        self._settings = settings
        settings_note = None
        if config is None and settings is not None:
            config, settings_note = session.last_config(settings)
        self._closing = False
        # A filter until the first paint, not an event() override: that would run Python for
        # every event of the window (each repaint of anything in it), all run long.
        self._first_paint = FirstPaint(self, self._on_first_paint)
        self._about_run = False  # the banner's message is the run's own (from the controller)

        self.controller = RunController(
            config or preset_config(DEFAULT_PRESET), speed=steps_per_second_for(DEFAULT_SPEED)
        )
        self.worker = self.controller.worker
        self.host = self.controller.host
        self.panel = ControlPanel(self.controller)
        self.dashboard = Dashboard(self.controller)
        self.loss_view = self.dashboard.loss_view
        self.fit_view = self.dashboard.fit_view
        self.param_view = self.dashboard.param_view
        self.landscape_view = self.dashboard.landscape_view
        self.residual_view = self.dashboard.residual_view
        self.weight_bars = self.dashboard.weight_bars
        self.timeline = self.dashboard.timeline
        self.fit_tabs = self.dashboard.fit_tabs
        self.banner = Banner()
        # Its own thread (and torch) start with the first race, not with the window.
        self.race_panel = RacePanel(self.controller)
        self.sweep_panel = SweepPanel(self.controller)
        self._build_layout()
        self.actions_by_name = build_actions(self)
        build_menus(self, self.actions_by_name)
        build_toolbar(self, self.actions_by_name)
        self.status = RunStatus(self.statusBar(), self.controller, self.dashboard)
        self.dialogs = FileDialogs(self, settings)
        self.lessons = LessonsDock(self, settings)  # Help > Lessons; hidden until asked for
        self._space = _SpaceRuns(self)
        # Light or dark: the choice saved in the session, else the desktop's colour scheme.
        self.theme = Theme(self, session.saved_dark(settings) if settings is not None else None)
        self.theme.changed.connect(lambda p: self.dark_theme_action.setChecked(p.dark))
        self.dark_theme_action.setChecked(self.theme.is_dark())
        if settings is not None:
            self.dark_theme_action.triggered.connect(lambda on: session.save_dark(settings, on))

        if settings is not None:
            log_y = session.restore_layout(settings, self)
            if log_y is not None:
                self.log_action.setChecked(log_y)
        if settings_note:
            self.show_message("warning", f"{settings_note} Starting from the default preset.")
        self.loss_view.set_log_y(self.log_action.isChecked())

        c = self.controller
        c.message.connect(self._on_run_message)
        c.stateChanged.connect(self._on_state)
        c.runReset.connect(self._on_run_reset)
        c.speedChanged.connect(self.panel.set_speed)
        self.panel.speedChanged.connect(c.set_speed)
        self.race_panel.message.connect(self.show_message)
        self.race_panel.stateChanged.connect(self._on_race_state)
        self.sweep_panel.message.connect(self.show_message)
        self.sweep_panel.progressText.connect(lambda t: self.statusBar().showMessage(t, 3000))
        self.sweep_panel.cellChosen.connect(
            lambda _: self.main_tabs.setCurrentWidget(self.dashboard)
        )
        # The training thread starts importing torch (seconds) once the window has painted:
        # started earlier it would fight the window's own start-up for the interpreter lock.
        # A window that is never shown starts it on this timer.
        self._start_timer = QTimer(self)
        self._start_timer.setObjectName("startFallbackTimer")
        self._start_timer.setSingleShot(True)
        self._start_timer.setInterval(START_FALLBACK_MS)
        self._start_timer.timeout.connect(self._start_worker)
        self._start_timer.start()
        self._set_loading(True)

    # ---- construction ---------------------------------------------------------------
    def _build_layout(self) -> None:
        scroll = QScrollArea()
        scroll.setObjectName("controlScroll")
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(330)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

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
        self.main_tabs.addTab(in_scroll_area(self.sweep_panel, "sweepScroll"), "Sweep")
        self.main_tabs.setTabToolTip(
            0, "The run: loss, fit, parameters and loss landscape (Ctrl+1)"
        )
        self.main_tabs.setTabToolTip(
            1, "Up to four optimizers on the same data from the same start, side by side (Ctrl+2)"
        )
        self.main_tabs.setTabToolTip(2, "A map of two settings over seeds, with theory (Ctrl+3)")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(scroll)
        # The banner floats over the tabs: race messages show on either tab, and a message
        # never pushes the plots down.
        self.splitter.addWidget(overlay(self.main_tabs, self.banner))
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 1060])
        self.setCentralWidget(self.splitter)

    def views(self) -> tuple[QWidget, ...]:
        """Every view that draws a run, main views first."""
        return self.dashboard.views()

    # ---- public state ---------------------------------------------------------------
    def config(self) -> Config:
        """The configuration the controls show and the run trains with."""
        return self.controller.config()

    def run_info(self) -> RunInfo | None:
        """Static facts of the current run (None until the first run is built)."""
        return self.controller.run_info()

    def latest_snapshot(self) -> Snapshot | None:
        """The last snapshot received; None before the first and after a reset."""
        return self.controller.latest_snapshot()

    def run_state(self) -> str:
        """running, paused, completed or diverged."""
        return self.controller.state()

    def is_busy(self) -> bool:
        """Whether a new run is being built in the background."""
        return self.controller.busy() is not None

    def is_ready(self) -> bool:
        """Whether a run is built and none is being built (torch loaded, data made)."""
        return self.controller.is_ready()

    def is_idle(self) -> bool:
        """Whether the training thread has carried out everything asked of it."""
        return self.controller.is_idle()

    def is_reviewing(self) -> bool:
        """Whether the views show a past step (the timeline is rewound)."""
        return self.dashboard.is_reviewing()

    def reviewed_snapshot(self) -> Snapshot | None:
        """What the views show while rewound, or None when live."""
        return self.dashboard.reviewed_snapshot()

    def history(self) -> History | None:
        """A copy of the run's recorded history."""
        return self.controller.history_copy()

    # ---- messages and help ----------------------------------------------------------
    def show_message(self, level: str, text: str) -> None:
        """Show a message in the in-window banner and the status bar."""
        self._about_run = False
        self.banner.show_message(level, text)
        self.statusBar().showMessage(text.splitlines()[0], 8000)

    def _on_run_message(self, level: str, text: str) -> None:
        # About the run itself ("Finished 30 epochs"): stale once a new run is built.
        self.show_message(level, text)
        self._about_run = True

    def guide(self) -> str:
        """The guide's text: what every tab, view, menu and file is."""
        menus = {}
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            menus[menu.title().replace("&", "")] = list(menu.actions())
        tabs = [self.main_tabs.tabText(i) for i in range(self.main_tabs.count())]
        tabs += [self.fit_tabs.tabText(i) for i in range(self.fit_tabs.count())]
        return guide_html(menus, tabs)

    def show_guide(self) -> None:
        """Help > Guide."""
        self._info_box("Guide", self.guide())

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts: every window action with a shortcut."""
        self._info_box("Keyboard shortcuts", shortcuts_html(shortcut_actions(self.actions_by_name)))

    def _info_box(self, title: str, html: str) -> None:
        # Non-modal: training and plots keep going while the guide is open.
        box = TextDialog(title, html, self)
        box.setObjectName(f"{title.split()[0].lower()}Box")
        box.show()

    # ---- run controls ---------------------------------------------------------------
    def toggle_run(self) -> None:
        """Run if paused, pause if running; rewound, ask: branch from there or run on live."""
        if self.is_reviewing():
            self.dashboard.run_from_review()
        else:
            self.controller.toggle()

    def step_batch(self) -> None:
        """Train one minibatch (pauses a running run first)."""
        self.go_live()
        self.controller.step_batch()

    def step_epoch(self) -> None:
        """Train one epoch (pauses a running run first)."""
        self.go_live()
        self.controller.step_epoch()

    def reset_run(self, keep_running: bool = True) -> None:
        """Rebuild the run from the configuration: new data, initial parameters."""
        self.controller.reset(keep_running)

    def reset_paused(self) -> None:
        """Start the run over from its initial parameters, paused."""
        self.reset_run(keep_running=False)

    def rewind_to(self, step: int) -> None:
        """Show the fit, parameters and landscape as they stood after a past step."""
        self.dashboard.rewind_to(step)

    def go_live(self) -> None:
        """Leave the rewound view and show the live run again."""
        self.dashboard.go_live()

    def refresh(self) -> None:
        """Redraw the views now from the newest snapshot (before a grab or export)."""
        self.dashboard.refresh()

    def show_predict(self) -> None:
        """Run > Predict: the Training tab with its Predict tab forward."""
        self.main_tabs.setCurrentWidget(self.dashboard)
        self.dashboard.show_predict()

    def toggle_race(self) -> None:
        """Show the race tab and start a race, or stop the one running."""
        self.main_tabs.setCurrentIndex(1)
        if self.race_panel.is_running():
            self.race_panel.stop()
        else:
            self.race_panel.start()

    def _on_race_state(self, state: str) -> None:
        # Two trainings would share two cores: the live run waits while a race runs.
        if state in ("starting", "running") and self.run_state() == "running":
            self.controller.pause()
            self.show_message("info", "The training run is paused while the race runs.")

    # ---- controller signals ---------------------------------------------------------
    def _on_run_reset(self, info: RunInfo, initial: Snapshot) -> None:
        self._set_loading(False)
        if self._about_run and self.banner.level == "info":
            self.banner.hide()

    def _on_state(self, state: str) -> None:
        running = state == "running"
        self.run_action.setChecked(running)
        self.run_action.setText("Pause" if running else "Run")
        if running and self.banner.level != "error":
            self.banner.hide()

    def _set_loading(self, loading: bool) -> None:
        """While PyTorch loads, the run controls wait (disabled) and the status says why."""
        for action in run_actions(self.actions_by_name):
            action.setEnabled(not loading)
        if loading:
            self.status.label.setText(LOADING_TEXT)

    # ---- start and shutdown ---------------------------------------------------------
    def _on_first_paint(self) -> None:
        """Start the training thread right after the first paint."""
        if os.environ.get(FIRST_PAINT_ENV):
            print(f"first-paint {time.perf_counter():.6f}", flush=True)
        QTimer.singleShot(0, self._start_worker)

    def _start_worker(self) -> None:
        self._start_timer.stop()
        if not self._closing:
            self.controller.start()

    def shutdown(self) -> None:
        """Stop the workers and join their threads (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self._start_timer.stop()
        self.dashboard.pacer.cancel()
        self._space.detach()
        if self._settings is not None:
            session.save_session(self._settings, self, self.config(), self.log_action.isChecked())
        self.race_panel.stop_and_wait()
        self.sweep_panel.stop_and_wait()
        self.dashboard.shutdown()
        self.controller.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop and join the training thread before the window goes."""
        self.shutdown()
        super().closeEvent(event)
