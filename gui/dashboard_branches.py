"""The Training tab's branches (a mixin of gui.dashboard.Dashboard): Run while rewound asks
whether to branch, a branch from the rewound step, the run going on with another trainer (a
fork, a switch, a change of settings mid-run), the branch list and the ghosts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.branch_summary import BranchList
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui import branch_panel

if TYPE_CHECKING:
    from gui.run_controller import RunController


class DashboardBranches:
    """Branches for the dashboard (its controller, views, timeline, branch panel, ghosts)."""

    def _connect_branches(self, controller: RunController) -> None:
        """Branches: the list, the ghosts, the run going on with another trainer; the code
        view's script and values."""
        controller.runContinued.connect(self._on_run_continued)
        controller.branchesChanged.connect(self._on_branches)
        panel = self.branch_panel
        panel.switchRequested.connect(controller.switch_branch)
        panel.renameRequested.connect(controller.rename_branch)
        panel.deleteRequested.connect(controller.delete_branch)
        panel.branchRequested.connect(lambda: self.branch_here(run=False))
        self.code_view.set_config(controller.config())
        controller.configChanged.connect(self.code_view.set_config)
        controller.scriptValues.connect(self.code_view.set_values)
        self.code_view.valuesWanted.connect(controller.request_script_values)

    def branch_here(self, run: bool = True, name: str | None = None) -> int | None:
        """Branch from the rewound step with the settings the controls show (the former
        continuation stays as a branch, drawn as a ghost); run it if asked. Returns the step
        branched from (None when not rewound)."""
        snap = self.reviewed_snapshot()
        if snap is None:
            return None
        self._controller.fork_at(snap.step, name=name, run=run)
        # The branch's own first frame comes with runContinued.
        self.timeline.go_live()
        self._review = self._review_snap = self._continued = None
        self.branch_panel.set_rewound(False)
        self.loss_view.set_cursor(None)
        return snap.step

    def run_from_review(self) -> None:
        """Run pressed while rewound: ask whether to branch from the rewound step or to go on
        from the live end, and do it."""
        snap = self.reviewed_snapshot()
        if snap is None:
            return
        choice = branch_panel.ask_run_while_rewound(self, snap.step, self.timeline.last_step())
        if choice == "branch":
            self.branch_here(run=True)
        elif choice == "live":
            self.go_live()
            self._controller.run()

    def _on_run_continued(self, info: RunInfo, snap: Snapshot) -> None:
        """The run goes on with another trainer (a branch, a switch, a change of settings)."""
        if self._review is not None:
            self._continued = (info, snap)  # shown when the user goes back to the live run
            self.timeline.set_last_step(snap.step)
            return
        self._show_continued(info, snap)

    def _show_continued(self, info: RunInfo, snap: Snapshot) -> None:
        self.pacer.cancel()
        # Data moved under the former trainer is not this one's (a switch: another branch's).
        self._moved = self._unseen = None
        self.timeline.go_live()
        self.timeline.set_last_step(snap.step)
        # The same data goes on: the landscape keeps the pair the user chose.
        pair = self.landscape_view.grid_params()
        for view in self.views():
            view.set_run(info)
        if pair != self.landscape_view.grid_params():
            self.landscape_view.set_pair(*pair)
        self.predict_overlay.set_run(info)
        self.ghosts.set_run(info)
        self.ghosts.redraw()
        self._draw(self.views(), snap)
        if self.code_view.isVisible():
            self.code_view.update_snapshot(snap)
        self.shown.emit(snap, False)

    def show_branches(self) -> None:
        """Show the branch list under the timeline."""
        self.branch_panel.setVisible(True)
        snap = self._controller.latest_snapshot()
        if snap is not None:
            self.branch_panel.set_live_step(snap.step)

    def _on_branches(self, branches: BranchList) -> None:
        self.branch_panel.set_branches(branches)
        self.ghosts.set_ghosts(branches.ghosts)
        count = len(branches.rows)
        if count > 1 and self._branch_count <= 1:
            self.show_branches()  # the run's first branch: show the list
        self._branch_count = count
