"""The Training tab's theory views (a mixin of gui.dashboard.Dashboard): the learning rate
under the loss plot, the eigen-directions beside the parameters and the SGD plateau on the loss
plot, predicted in a thread of its own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QSplitter, QTabWidget

from core.config import Config
from gui.eigen_view import EigenView
from gui.lr_plot import LrView
from gui.plateau_line import PlateauLine
from gui.theory_worker import TheoryWorker, shows_plateau, theory_host

if TYPE_CHECKING:
    from gui.plots import LossView
    from gui.run_controller import RunController

# A prediction that took longer than COSTLY_S (a million rows: ~0.1 s of a core, more when
# busy) waits until the settings rest for REST_MS: during a drag, one solve after another in
# the theory thread took a core and the interpreter lock from the window and the training loop
# (bench_drag). Cheaper ones follow every change, so the line moves with a drag of the rate.
COSTLY_S = 0.05
REST_MS = 300


class DashboardTheory:
    """Why it converges, for the dashboard (its controller and loss and parameter views)."""

    _controller: RunController
    loss_view: LossView

    def _make_theory_views(self) -> None:
        """The rate and eigen views, the plateau line on the loss plot, the plateau's thread."""
        self.lr_view = LrView()
        self.eigen_view = EigenView()
        self.plateau_line = PlateauLine(self.loss_view)
        self._theory_host = theory_host()
        self._plateau_key: tuple[object, ...] | None = None
        self._plateau_cost = 0.0  # seconds the last prediction took in the theory thread
        self._plateau_rest = QTimer(self.loss_view)
        self._plateau_rest.setSingleShot(True)
        self._plateau_rest.setInterval(REST_MS)
        self._plateau_rest.timeout.connect(self._ask_plateau)

    def _theory_layout(self, param_view: object) -> tuple[QSplitter, QTabWidget]:
        """The loss plot over the rate plot (one step axis), and the parameter tabs."""
        self.lr_view.plotItem.setXLink(self.loss_view.plotItem)
        loss = QSplitter(Qt.Orientation.Vertical)
        loss.setObjectName("lossSplitter")
        loss.addWidget(self.loss_view)
        loss.addWidget(self.lr_view)
        loss.setStretchFactor(0, 1)
        loss.setSizes([330, 120])
        self.param_tabs = QTabWidget()
        self.param_tabs.setObjectName("paramTabs")
        self.param_tabs.addTab(param_view, "Parameters")
        self.param_tabs.addTab(self.eigen_view, "Eigen-directions")
        self.param_tabs.setTabToolTip(0, "Each weight and the bias against step")
        self.param_tabs.setTabToolTip(
            1,
            "The error along each eigen-direction of the Hessian, and the rate gradient"
            " descent predicts for it",
        )
        return loss, self.param_tabs

    def _connect_theory(self, controller: RunController) -> None:
        controller.configChanged.connect(self._on_config)
        # Moved data (a drag of the noise) moves the plateau too; the edit's configChanged
        # came before the worker had moved it.
        controller.dataChanged.connect(self._on_moved_data)
        controller.stableLrChanged.connect(self.lr_view.set_stable_lr)
        theory = self._theory_host.worker
        assert isinstance(theory, TheoryWorker)
        theory.plateauReady.connect(self._on_plateau, Qt.ConnectionType.QueuedConnection)

    def _reset_theory(self) -> None:
        """A new run: no plateau until predicted for it."""
        self._plateau_key = None
        self._plateau_cost = 0.0  # its first prediction goes at once
        self.plateau_line.set_value(None)
        self._on_config(self._controller.config())

    def _on_config(self, config: Config) -> None:
        """Live settings for the theory views, and the plateau at the rate now."""
        info = self._controller.run_info()
        if info is None:
            return
        train = config.train
        self.lr_view.set_train(train)
        self.eigen_view.set_train(train)
        key = (id(info), train.lr, train.momentum, train.weight_decay, train.optimizer)
        if key == self._plateau_key:
            return
        self._plateau_key = key
        if not shows_plateau(info, train):
            self._plateau_rest.stop()
            self.plateau_line.set_value(None)
            return
        if self._plateau_cost > COSTLY_S:
            self._plateau_rest.start()  # (again): asked once the changes rest
            return
        self._ask_plateau()

    def _on_moved_data(self, *_: object) -> None:
        self._on_config(self._controller.config())

    def _ask_plateau(self) -> None:
        """Ask the theory thread for the plateau at the settings now (those of the key)."""
        self._plateau_rest.stop()
        info = self._controller.run_info()
        if info is None or self._plateau_key is None:
            return
        self._theory_host.start()
        worker = self._theory_host.worker
        worker.predict_plateau(self._plateau_key, info, self._controller.config().train)  # type: ignore[attr-defined]

    def plateau_waiting(self) -> bool:
        """Whether a costly plateau prediction waits for the settings to rest."""
        return self._plateau_rest.isActive()

    def _on_plateau(self, key: object, plateau: object, seconds: float) -> None:
        self._plateau_cost = seconds  # the solve's own time, not its wait in the queue
        info = self._controller.run_info()
        if key != self._plateau_key or info is None:
            return  # an answer for settings since changed
        excess = getattr(plateau, "excess", None)
        if excess is None or not math.isfinite(excess):
            self.plateau_line.set_value(None)
            return
        lr = self._controller.config().train.lr
        self.plateau_line.set_value(
            info.ols_loss + excess, f"SGD plateau at η {lr:g} (batches with replacement)"
        )
