"""The status bar: where the run stands, the loss surface's condition, and a busy indicator."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from core.config import Config
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from core.theory import Eigen
from gui.dashboard import Dashboard
from gui.live_label import LiveLabel
from gui.run_controller import RunController
from gui.widgets import short_list

STATUS_WEIGHTS = 8  # weights the status bar lists (the weights tab shows them all)
LOADING_TEXT = "Loading PyTorch… the run controls wake up in a moment"
CONDITION_TIP = (
    "Condition number of the loss surface: λmax/λmin, the largest over the smallest "
    "eigenvalue of the training objective's Hessian (the Eigen-directions tab). Large values "
    "mean long narrow valleys and slow gradient descent: try standardising the features "
    "or lowering the feature correlation."
)


class RunStatus:
    """Fills a status bar from the run controller and the dashboard."""

    def __init__(self, bar: QStatusBar, controller: RunController, dashboard: Dashboard) -> None:
        self._controller = controller
        self._dashboard = dashboard
        self.label = LiveLabel(LOADING_TEXT, widest=LOADING_TEXT)
        self.label.setObjectName("statusLabel")
        bar.addPermanentWidget(self.label, 1)
        self.condition_label = QLabel()
        self.condition_label.setObjectName("conditionLabel")
        self.condition_label.setToolTip(CONDITION_TIP)
        bar.addPermanentWidget(self.condition_label)
        # Generating or loading big data takes seconds in the training thread: say so.
        self.busy_label = QLabel()
        self.busy_label.setObjectName("busyLabel")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setToolTip("Building the new run in the background; the window stays usable")
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        self.set_busy(None)
        controller.busyChanged.connect(self.set_busy)
        controller.progress.connect(self._on_progress)
        controller.runReset.connect(self._on_run_reset)
        controller.dataChanged.connect(self._on_run_reset)  # data moved: a new condition number
        controller.snapshot.connect(self._on_snapshot)
        controller.stateChanged.connect(lambda _: self._show_live())
        controller.configChanged.connect(self._on_config)
        dashboard.shown.connect(self.show)

    def set_busy(self, text: str | None) -> None:
        """Show (text) or hide (None) the busy indicator."""
        if text is not None:
            self.busy_label.setText(text)  # kept while hidden: the last thing built
            self.busy_bar.setRange(0, 0)  # indeterminate until the first progress report
        self.busy_label.setVisible(text is not None)
        self.busy_bar.setVisible(text is not None)

    def _on_progress(self, percent: int) -> None:
        self.busy_bar.setRange(0, 100)
        self.busy_bar.setValue(percent)

    def _on_run_reset(self, info: RunInfo, initial: Snapshot) -> None:
        self._show_condition(info, self._controller.config())
        self.show(initial, False)

    def _on_config(self, config: Config) -> None:
        info = self._controller.run_info()
        if info is not None:
            self._show_condition(info, config)

    def _show_condition(self, info: RunInfo, config: Config) -> None:
        """λmax/λmin of the run's Hessian, with weight decay as it is now (it adds to every
        eigenvalue)."""
        lam = info.hessian_eigenvalues
        if lam.size:
            lam = lam + (config.train.weight_decay - info.train.weight_decay)
            number = Eigen(lam, info.hessian_eigenvectors, info.theta_star).condition_number
        else:
            number = info.condition_number
        self.condition_label.setText(f"condition number {number:.3g}")

    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self._dashboard.is_reviewing() and not self._dashboard.frames_carry_text():
            self.show(snap, False)

    def _show_live(self) -> None:
        snap = self._controller.current_snapshot()
        if snap is not None and not self._dashboard.is_reviewing():
            self.show(snap, False)

    def show(self, snap: Snapshot, reviewing: bool) -> None:
        """Say where the run stands at snap (rewound: a past step)."""
        params = short_list([f"{w:.4g}" for w in snap.weights], STATUS_WEIGHTS)
        self.label.setText(
            f"epoch {snap.epoch}   step {snap.step}   loss {snap.train_loss:.4g}   "
            f"{self._rate_text(reviewing)}   w = [{params}]   b = {snap.bias:.4g}"
        )

    def _rate_text(self, reviewing: bool) -> str:
        # The rate achieved, not the engine's own: a run throttled to 100 steps/s says ~100.
        if reviewing:
            return "rewound"
        state = self._controller.state()
        if state != "running":
            return state
        rate = self._controller.achieved_rate()
        return "running" if rate is None else f"{rate:,.0f} steps/s"
