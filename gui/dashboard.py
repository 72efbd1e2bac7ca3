"""The Training tab: the live views, the timeline under them, and rewinding the history.

The views take what they show and subscribe; they hold no training state. The dashboard follows
the run controller: a new run (runReset) resets the views, and each newer snapshot is drawn by
its frame pacer, unless the timeline is rewound (the views then show a past step).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.review import Recording, snapshot_at
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui import replay
from gui.branch_panel import BranchPanel
from gui.code_view import CodeView
from gui.dashboard_branches import DashboardBranches
from gui.dashboard_data import DashboardData
from gui.dashboard_theory import DashboardTheory
from gui.frame_pacer import FramePacer, Stage, paint_target
from gui.ghosts import GhostLayer
from gui.grab import attach_grabbing
from gui.item_cache import cache_static_items
from gui.landscape import LandscapeView
from gui.plots import FitView, LossView, ParamView
from gui.predict_overlay import PredictionOverlay
from gui.predict_panel import PredictPanel
from gui.run_controller import RunController
from gui.style import LIGHT, Palette, painted_as
from gui.teaching import ResidualView, WeightBarsView, attach_explain_button
from gui.timeline import TimelineBar

# While training runs flat out, frames (view updates and their paints) may hold the training
# loop at most this share of the time. The loop is parked during a frame (pyqtgraph's paint
# methods are Python and hold the interpreter lock that torch needs between ops anyway), so
# this share is what training loses to the plots: bench_window measured ~20 frames a second
# (the old fixed 33 ms timer) costing ~30% of the training rate. A frame's cost is counted
# from the loop's park (the wait for it, up to a slice, trains on); with this window's ~9-10
# ms frames that is ~4 frames a second (the window's `train` ratio needs the loop held no
# more than ~4%), cheaper frames get more, and a throttled run (the training thread mostly
# idle) keeps ~30.
FRAME_SHARE = 0.04
# A speed throttle below this share of the engine's own rate leaves the training thread idle
# most of the time: frames then cost training nothing and keep ~30 a second.
IDLE_THROTTLE = 0.5
BRANCH_LIST_HEIGHT = 110  # pixels under the timeline for the branch list (it scrolls)
# Snapshots come a little more often than frames, so a frame rarely finds nothing new.
SNAPSHOTS_PER_FRAME = 1.4


class Dashboard(DashboardBranches, DashboardData, DashboardTheory, QWidget):
    """Loss, fit (with residuals and weights), parameters and landscape, and the timeline."""

    # A snapshot the views now show, and whether it is a rewound (past) one.
    shown = Signal(object, bool)

    def __init__(self, controller: RunController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dashboard")
        self._controller = controller
        self._review: Recording | None = None  # the history being scrubbed (None: live)
        self._review_snap: Snapshot | None = None
        self._points = 0  # points per series last asked of the worker
        self._init_moved()
        self.loss_view = LossView()
        self.fit_view = FitView()
        self.param_view = ParamView()
        self.landscape_view = LandscapeView()
        self.residual_view = ResidualView()
        self.weight_bars = WeightBarsView()
        self.predict_panel = PredictPanel()
        # Why it converges (gui/dashboard_theory.py): the rate, the eigen-directions, the plateau.
        self._make_theory_views()
        # The entered points and the band drawn on the fit plot; fed with the fit view.
        self.predict_overlay = PredictionOverlay(self.fit_view)
        self.predict_panel.attach_overlay(self.predict_overlay)
        self.timeline = TimelineBar()
        self.code_view = CodeView()
        self.branch_panel = BranchPanel()
        self.ghosts = GhostLayer(self.loss_view, self.param_view, self.landscape_view, self)
        # A branch, a switch or a change of settings that arrived while rewound: shown live.
        self._continued: tuple[RunInfo, Snapshot] | None = None
        self._branch_count = 1
        self._build()
        self.pacer = FramePacer(
            self,
            lambda: controller.worker,
            self._stages,
            flat_out=self._training_flat_out,
            share=FRAME_SHARE,
        )
        worker = controller.worker
        worker.parked.connect(self.pacer.on_parked, Qt.ConnectionType.QueuedConnection)
        self.pacer.intervalChanged.connect(
            lambda ms: worker.set_snapshot_interval(ms / SNAPSHOTS_PER_FRAME / 1000)
        )
        self.pacer.frameEnded.connect(self._ask_for_points)
        controller.runReset.connect(self._on_run_reset)
        controller.snapshot.connect(self._on_snapshot)
        controller.stateChanged.connect(self._on_state)
        controller.dataChanged.connect(self._on_data_changed)
        self.timeline.scrubbed.connect(self.rewind_to)
        self.timeline.liveRequested.connect(self._leave_review)
        self.fit_tabs.currentChanged.connect(lambda _: self._show_current())
        # Samples of the fit and points of the landscape to drag (gui/grab.py).
        self.grabbers = attach_grabbing(self, controller)
        self.param_tabs.currentChanged.connect(lambda _: self._show_current())
        self._connect_theory(controller)
        self._connect_branches(controller)

    def _build(self) -> None:
        for view in self.views()[:-1]:
            attach_explain_button(view)
        self.fit_tabs = QTabWidget()
        self.fit_tabs.setObjectName("fitTabs")
        self.fit_tabs.addTab(self.fit_view, "Fit")
        self.fit_tabs.addTab(self.residual_view, "Residuals")
        self.fit_tabs.addTab(self.weight_bars, "Weights")
        # Scrolled: its rows of inputs must not set how narrow the plots may get.
        predict_scroll = QScrollArea()
        predict_scroll.setObjectName("predictScroll")
        predict_scroll.setWidget(self.predict_panel)
        predict_scroll.setWidgetResizable(True)
        predict_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.fit_tabs.addTab(predict_scroll, "Predict")
        self.fit_tabs.setTabToolTip(0, "Data, true line, least-squares line and the current fit")
        self.fit_tabs.setTabToolTip(1, "Residuals (actual - predicted) against the prediction")
        self.fit_tabs.setTabToolTip(2, "True, learned and least-squares weight per feature")
        self.fit_tabs.setTabToolTip(
            3, "Predictions of the current model and of least squares for inputs you enter"
        )
        # Before Predict, which stays last.
        self.fit_tabs.insertTab(3, self.code_view, "Code")
        self.fit_tabs.setTabToolTip(
            3, "The run as a Python script, its update lines showing the latest step's values"
        )
        loss, param_tabs = self._theory_layout(self.param_view)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("topSplitter")
        top.addWidget(loss)
        top.addWidget(self.fit_tabs)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("bottomSplitter")
        bottom.addWidget(param_tabs)
        bottom.addWidget(self.landscape_view)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.setObjectName("plotSplitter")
        plots.addWidget(top)
        plots.addWidget(bottom)
        plots.setSizes([450, 450])
        # Under the timeline, shown with the run's first branch (View > Branches shows it).
        self.branch_panel.setVisible(False)
        self.branch_panel.setMaximumHeight(BRANCH_LIST_HEIGHT)
        self.branch_panel.hideRequested.connect(lambda: self.branch_panel.setVisible(False))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(plots, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.branch_panel)

    def views(self) -> tuple[QWidget, ...]:
        """Every view that draws a run, main views first."""
        return (
            self.loss_view,
            self.fit_view,
            self.param_view,
            self.landscape_view,
            self.lr_view,
            self.eigen_view,
            self.residual_view,
            self.weight_bars,
            self.predict_panel,
        )

    def set_log_steps(self, on: bool) -> None:
        """Steps on a logarithmic axis in the step plots (or back)."""
        self.lr_view.set_log_steps(on)  # first: its range follows the loss plot's
        self.loss_view.set_log_steps(on)
        self.param_view.set_log_steps(on)
        self.eigen_view.set_log_steps(on)

    def shutdown(self) -> bool:
        """Join the theory thread (idempotent); True if it ended in time."""
        self._plateau_rest.stop()  # it would start the thread again
        return self._theory_host.shutdown()

    def show_predict(self) -> None:
        """Bring the Predict tab forward, ready for input."""
        self.fit_tabs.setCurrentIndex(self.fit_tabs.count() - 1)
        self.predict_panel.setFocus()

    def can_be_seen(self) -> bool:
        """Whether the dashboard is on screen (its tab shown, the window not minimized)."""
        return self.isVisible() and not self.window().isMinimized()

    # ---- live ----------------------------------------------------------------------------
    def _on_run_reset(self, info: RunInfo, initial: Snapshot) -> None:
        self.pacer.cancel()
        self._moved = self._unseen = None
        self._review = self._review_snap = None
        self.loss_view.set_cursor(None)
        self.timeline.go_live()
        self.timeline.set_last_step(0)
        for view in self.views():
            view.set_run(info)
        self.predict_overlay.set_run(info)
        self._reset_theory()
        self._continued = None
        self.ghosts.set_run(info)
        self.ghosts.set_ghosts(())
        self.code_view.set_run(info)
        self._draw(self.views()[1:], initial)
        self.shown.emit(initial, False)

    def _on_state(self, state: str) -> None:
        # Thin curves while training runs (frames are then what training loses), full after.
        live = state == "running"
        for view in (self.loss_view, self.lr_view, self.param_view, self.eigen_view):
            view.set_live(live)
        if live:
            for view in self.views():
                cache_static_items(view)  # items a new run or a branch added meanwhile too
        else:
            self._show_current()

    def frames_carry_text(self) -> bool:
        """Whether the timeline and the status bar take the run's step from the frames (live,
        on screen, training flat out): their repaints then fall inside the frame, where the
        training loop is parked, not between frames, where they take the interpreter lock from
        it."""
        return self._review is None and self.can_be_seen() and self._training_flat_out()

    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self.frames_carry_text():
            self.timeline.set_last_step(snap.step)
        if self.branch_panel.isVisible():
            self.branch_panel.set_live_step(snap.step)
        if self._review is None:
            self.pacer.offer(snap)

    def _stages(self, snap: object) -> list[Stage]:
        """The frame of snap in two rows (loss and fit, then parameters and landscape; a view
        a stage while the data moves), each painted before the next; nothing when the
        dashboard cannot be seen."""
        if not self.can_be_seen() or self._review is not None:
            return []
        assert isinstance(snap, Snapshot)
        fit_tab = (
            self.fit_view,
            self.residual_view,
            self.weight_bars,
            self.code_view,
            self.predict_panel,
        )
        top = [self.loss_view, self.lr_view, fit_tab[self.fit_tabs.currentIndex()]]
        param_tab = (self.param_view, self.eigen_view)[self.param_tabs.currentIndex()]
        bottom = [param_tab, self.landscape_view]
        # Moved data: each view takes it with its stage (it stays pending until the last one
        # has, should the frame be cancelled); views on other tabs once they are shown.
        moved = self._take_moved()
        # While the data moves (a drag) every view regrids or refits and repaints whole at
        # each change: the rows are split so that input waits for one view, not a row
        # (bench_drag: the worst stall ~70 -> ~40 ms).
        rows = [top, bottom] if moved is None else [top[:2], top[2:], *([v] for v in bottom)]

        def first() -> list[QWidget]:
            still = self._draw(rows[0], snap, moved)
            self.timeline.set_last_step(snap.step)
            self.shown.emit(snap, False)  # the status bar
            return still

        def painted(row: list[QWidget]) -> list[QWidget]:
            # The code view paints only when its values change: no frame waits for it.
            return [paint_target(v) for v in row if v is not self.code_view]

        later = [
            Stage(lambda row=row: self._draw(row, snap, moved), painted(row)) for row in rows[1:]
        ]
        return [Stage(first, painted(rows[0])), *later]

    def _draw(
        self,
        views: list[QWidget] | tuple[QWidget, ...],
        snap: Snapshot,
        moved: RunInfo | None = None,
    ) -> list[QWidget]:
        """Show snap in views (the fit view's prediction overlay with it), after the run's
        moved data if given; returns the paint targets of views whose drawing did not
        change (update_snapshot said False), which will not paint."""
        if moved is not None:
            self._follow(views, moved)
            if self.landscape_view in views and self._moved is moved:
                self._moved = None  # the frame's last stage: every view has it
        still = []
        for view in views:
            # A view that followed moved data paints, whatever the snapshot moved.
            if view.update_snapshot(snap) is False and moved is None:
                still.append(paint_target(view))
            if view is self.fit_view:
                self.predict_overlay.update_snapshot(snap)
        return still

    def _training_flat_out(self) -> bool:
        """Whether training runs as fast as it can, so that frames take time from it (not
        while the data is being dragged: its changes are drawn at once)."""
        c = self._controller
        if c.state() != "running" or self._data_moving():
            return False
        speed = c.speed()
        latest = c.latest_snapshot()
        engine_rate = latest.steps_per_second if latest is not None else 0.0
        return speed is None or speed >= IDLE_THROTTLE * engine_rate

    def _ask_for_points(self) -> None:
        # One point per pixel of the widest step plot: a min/max pair per two pixels.
        points = round(
            max(v.plotItem.getViewBox().width() for v in (self.loss_view, self.param_view))
        )
        if abs(points - self._points) > 0.1 * self._points:
            self._points = points
            self._controller.worker.set_snapshot_points(points)

    def _show_current(self) -> None:
        """Draw the newest live state (or the rewound step) in every view now."""
        self._catch_up()
        if self._review_snap is not None:
            snap = self._review_snap
        else:
            snap = self.pacer.take_pending() or self._controller.current_snapshot()
        if snap is None or self._controller.run_info() is None:
            return
        self._draw(self.views(), snap)
        if self._review is None:
            self.timeline.set_last_step(snap.step)  # flat out, the frames carried it
            if self.code_view.isVisible():
                self.code_view.update_snapshot(snap)
        self.shown.emit(snap, self._review is not None)

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up at once when shown again (hidden, the views skipped every frame)."""
        super().showEvent(event)
        self._show_current()

    def refresh(self) -> None:
        """Redraw every view now from the newest state (before a grab or an export)."""
        # A snapshot the worker has sent may still wait in the event queue.
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        self.pacer.cancel()
        latest = self._controller.latest_snapshot()
        if latest is not None:
            self.timeline.set_last_step(latest.step)
        self._show_current()
        # Axes fit their width to the labels they paint, and drop a label that does not fit
        # yet: one paint off screen and a layout pass, so the grab that follows has them all.
        for view in self.views():
            view.grab()
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    # ---- rewind --------------------------------------------------------------------------
    def is_reviewing(self) -> bool:
        """Whether the views show a past step (the timeline is rewound)."""
        return self._review is not None

    def reviewed_snapshot(self) -> Snapshot | None:
        """What the views show while rewound, or None when live."""
        return self._review_snap if self._review is not None else None

    def rewind_to(self, step: int) -> None:
        """Show the fit, parameters and landscape as they stood after a past step."""
        c = self._controller
        base, info = c.current_snapshot(), c.run_info()
        if base is None or info is None:
            return
        self._catch_up()
        if self._review is None:
            if c.state() == "running":
                c.pause()  # the user is looking back: hold the live run
            history = c.history_copy()
            if history is None:
                return
            self._review = Recording.of(history)
            self.pacer.cancel()
        snap = snapshot_at(self._review, info, base, step)
        self._review_snap = snap
        self.branch_panel.set_rewound(True)
        self._draw(self.views()[1:], snap)
        self.loss_view.set_cursor(snap.step)
        self.timeline.show_step(step)
        self.shown.emit(snap, True)

    def go_live(self) -> None:
        """Leave the rewound view and show the live run again."""
        self.timeline.go_live()
        self._leave_review()

    def _leave_review(self) -> None:
        if self._review is None:
            return
        self._review = self._review_snap = None
        self.branch_panel.set_rewound(False)
        self.loss_view.set_cursor(None)
        continued, self._continued = self._continued, None
        if continued is not None:
            self._show_continued(*continued)
        else:
            self._show_current()

    # ---- replay --------------------------------------------------------------------------
    def export_gif(
        self, path: str | Path, frames: int = replay.FRAMES, palette: Palette | None = LIGHT
    ) -> int:
        """Write the dashboard replayed from the run's history as a looping GIF, in palette's
        colours (the light theme's by default; None: as shown); return the number of frames.
        The views go back to what they showed before."""
        c = self._controller
        base, info, history = c.current_snapshot(), c.run_info(), c.history_copy()
        if base is None or info is None or history is None:
            raise OSError("there is no run to replay yet")
        recording = Recording.of(history)
        self._catch_up()
        held = self._review, self._review_snap
        # While frames are drawn the views belong to the replay: live frames stay off.
        self._review = recording
        self.pacer.cancel()
        images = []
        try:
            with painted_as(self, palette):
                for step in replay.frame_steps(recording.last_step, frames):
                    snap = snapshot_at(recording, info, base, step)
                    self._draw(self.views(), snap)
                    self.timeline.show_step(snap.step)
                    # Let the plots lay out their new ranges; no user input mid-export.
                    QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
                    images.append(self.grab().toImage())
        finally:
            self._review, self._review_snap = held
            if held[1] is not None:
                self.rewind_to(held[1].step)
            else:
                self.timeline.go_live()
                self._show_current()
        return replay.write_gif(images, path)
