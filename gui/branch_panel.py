"""The branch list under the timeline: every branch of the run as a tree, to switch to, rename
and delete; and a button to branch from the step the timeline is rewound to.

A view: it shows a BranchList and says what the user asked for; the dashboard carries it out."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from core.branch_summary import BranchList, BranchRow

COLUMNS = ("Branch", "From step", "Last step", "Changed")
ID_ROLE = Qt.ItemDataRole.UserRole


def confirm_delete(parent: QWidget, row: BranchRow, descendants: list[BranchRow]) -> bool:
    """Ask before deleting a branch that others were forked from (they go with it)."""
    names = ", ".join(f"“{d.name}”" for d in descendants[:4])
    more = f" and {len(descendants) - 4} more" if len(descendants) > 4 else ""
    answer = QMessageBox.question(
        parent,
        "Delete branches",
        f"Delete “{row.name}” and the {len(descendants)} branch"
        f"{'es' if len(descendants) != 1 else ''} forked from it ({names}{more})?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_run_while_rewound(parent: QWidget, step: int, live_step: int) -> str | None:
    """Run pressed while rewound: "branch" (from the rewound step), "live" (from the live end)
    or None (cancelled)."""
    box = QMessageBox(parent)
    box.setWindowTitle("Run from where?")
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(f"The timeline is rewound to step {step:,} of {live_step:,}.")
    box.setInformativeText(
        f"Branch from step {step:,}: train on from that step's exact state with the settings"
        " the controls show; the former continuation stays as a branch, drawn dimmed.\n\n"
        f"Continue from the live end: go back to step {live_step:,} and run on."
    )
    branch = box.addButton(f"Branch from step {step:,}", QMessageBox.ButtonRole.AcceptRole)
    live = box.addButton("Continue from the live end", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(branch)
    box.exec()
    clicked = box.clickedButton()
    return "branch" if clicked is branch else "live" if clicked is live else None


class BranchPanel(QWidget):
    """The run's branches: the active one in bold; switch, rename, delete, branch here."""

    switchRequested = Signal(int)  # branch id
    renameRequested = Signal(int, str)  # branch id, new name
    deleteRequested = Signal(int)  # branch id (its descendants go with it)
    branchRequested = Signal()  # branch from the rewound step
    hideRequested = Signal()  # the user closed the list

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("branchPanel")
        self._branches = BranchList()
        self._filling = False
        self.tree = QTreeWidget()
        self.tree.setObjectName("branchList")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.setToolTip(
            "Every branch of this run. A branch goes on from a past step of another with some"
            " settings changed; the others are drawn dimmed in the plots. Double-click or Enter"
            " switches to a branch, F2 renames it."
        )
        self.tree.itemActivated.connect(lambda item, _col: self._switch(item))
        self.tree.itemChanged.connect(self._renamed)
        self.tree.itemSelectionChanged.connect(self._enable)
        self.switch_button = self._button("switchBranchButton", "Switch to", self._switch_selected)
        self.switch_button.setToolTip("Train the selected branch from where it stands (paused)")
        self.rename_button = self._button("renameBranchButton", "Rename", self._rename_selected)
        self.rename_button.setToolTip("Give the selected branch a name of your own (F2)")
        self.delete_button = self._button("deleteBranchButton", "Delete", self._delete_selected)
        self.delete_button.setToolTip(
            "Delete the selected branch and those forked from it (the first branch stays)"
        )
        self.here_button = self._button(
            "branchHereButton", "Branch here", self.branchRequested.emit
        )
        self.here_button.setToolTip(
            "Start a branch from the step the timeline is rewound to, with the settings the"
            " controls show (paused: press Run to train it)"
        )
        self.here_button.setEnabled(False)
        self.hide_button = self._button("hideBranchesButton", "Hide", self.hideRequested.emit)
        self.hide_button.setToolTip("Hide the branch list (View > Branches shows it again)")
        buttons = QGridLayout()
        buttons.addWidget(self.switch_button, 0, 0)
        buttons.addWidget(self.rename_button, 0, 1)
        buttons.addWidget(self.delete_button, 1, 0)
        buttons.addWidget(self.here_button, 1, 1)
        buttons.addWidget(self.hide_button, 2, 1)
        buttons.setRowStretch(3, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 2)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        self._enable()

    def _button(self, name: str, text: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda _=False: slot())
        return button

    # ---- what is shown -----------------------------------------------------------------
    def set_branches(self, branches: BranchList) -> None:
        """Show the run's branches (parents before children), the active one in bold."""
        old_active = self._branches.active
        # The user's selection stays; a new active branch (a fork, a switch) is selected.
        selected = self.selected_id()
        if branches.active is not None and (
            old_active is None or old_active.id != branches.active.id
        ):
            selected = branches.active.id
        self._branches = branches
        self._filling = True
        self.tree.clear()
        items: dict[int, QTreeWidgetItem] = {}
        for row in branches.rows:
            parent = items.get(row.parent) if row.parent is not None else None
            item = QTreeWidgetItem(parent) if parent is not None else QTreeWidgetItem(self.tree)
            item.setText(0, row.name)
            item.setText(1, f"{row.fork_step:,}" if row.parent is not None else "start")
            item.setText(2, f"{row.last_step:,}")
            item.setText(3, row.note or "—")
            item.setData(0, ID_ROLE, row.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            tip = f"{row.name}: steps 0 to {row.last_step:,}"
            if row.parent is not None:
                tip += f", forked at step {row.fork_step:,}"
                tip += f" ({row.note})" if row.note else ""
            item.setToolTip(0, tip + (" — training now" if row.active else ""))
            if row.active:
                font = QFont(item.font(0))
                font.setBold(True)
                for col in range(len(COLUMNS)):
                    item.setFont(col, font)
            items[row.id] = item
        self.tree.expandAll()
        for col in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(col)
        keep = items.get(selected) if selected is not None else None
        if keep is None and branches.active is not None:
            keep = items.get(branches.active.id)
        if keep is not None:
            self.tree.setCurrentItem(keep)
        self._filling = False
        self._enable()

    def set_live_step(self, step: int) -> None:
        """Show the active branch's newest step (it trains on between branch changes)."""
        active = self._branches.active
        if active is None:
            return
        text = f"{step:,}"
        for item in self._items():
            if int(item.data(0, ID_ROLE)) == active.id and item.text(2) != text:
                self._filling = True
                item.setText(2, text)
                self._filling = False
                return

    def branches(self) -> BranchList:
        """The branches shown."""
        return self._branches

    def selected_id(self) -> int | None:
        """The id of the selected branch, or None."""
        item = self.tree.currentItem()
        return None if item is None else int(item.data(0, ID_ROLE))

    def select(self, branch_id: int) -> None:
        """Select a branch's row."""
        for item in self._items():
            if int(item.data(0, ID_ROLE)) == branch_id:
                self.tree.setCurrentItem(item)
                return

    def set_rewound(self, rewound: bool) -> None:
        """Whether the timeline is rewound (Branch here needs a past step)."""
        self.here_button.setEnabled(rewound)

    # ---- what the user asks ----------------------------------------------------------------
    def _items(self) -> list[QTreeWidgetItem]:
        out, todo = [], [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while todo:
            item = todo.pop(0)
            out.append(item)
            todo += [item.child(i) for i in range(item.childCount())]
        return out

    def _enable(self) -> None:
        row = self._selected_row()
        self.switch_button.setEnabled(row is not None and not row.active)
        self.rename_button.setEnabled(row is not None)
        self.delete_button.setEnabled(row is not None and row.parent is not None)

    def _selected_row(self) -> BranchRow | None:
        selected = self.selected_id()
        return None if selected is None else self._branches.row(selected)

    def _switch(self, item: QTreeWidgetItem) -> None:
        row = self._branches.row(int(item.data(0, ID_ROLE)))
        if row is not None and not row.active:
            self.switchRequested.emit(row.id)

    def _switch_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None:
            self._switch(item)

    def _rename_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None:
            self.tree.editItem(item, 0)

    def _renamed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._filling or column != 0:
            return
        row = self._branches.row(int(item.data(0, ID_ROLE)))
        if row is not None and item.text(0) != row.name:
            self.renameRequested.emit(row.id, item.text(0))

    def _delete_selected(self) -> None:
        row = self._selected_row()
        if row is None or row.parent is None:
            return
        descendants = self._branches.descendants(row.id)
        if descendants and not confirm_delete(self, row, descendants):
            return
        self.deleteRequested.emit(row.id)
