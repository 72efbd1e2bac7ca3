"""The race's table of runs: per run its optimizer, learning rate, batch size and momentum, and
the results as the race goes (steps and seconds to tolerance, final loss, status)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHeaderView,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from core.config import Config
from core.limits import BATCH_SIZE, LR, MOMENTUM
from core.race import MAX_RUNS, MOMENTUM_OPTIMIZERS, RaceEntry, RaceSnapshot, optimizers_for
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
from gui.race_view import RACE_COLORS
from gui.style import palette_of
from gui.texts import OPTIMIZER_LABELS
from gui.widgets import NumberSpinBox

# Suggested optimizer for each new row: the first not yet in the table.
SUGGESTED = ("sgd", "momentum", "adam", "rmsprop", "nesterov", "adamw", "adagrad")
OPTIMIZER_CHARS = 9  # characters the optimizer column shows whole ("Momentum …")


def color_icon(color: str) -> QIcon:
    """A small square of a run's colour, for the table."""
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def format_loss(value: float | None) -> str:
    """Loss text with four significant digits ('—' when unknown)."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


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


class RaceTable(QTableWidget):
    """Up to MAX_RUNS rows of run settings, with their results."""

    edited = Signal()  # the user changed a run's settings

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setObjectName("raceTable")
        self.setToolTip(TOOLTIPS["raceTable"])
        self._rows: list[_Row] = []
        self._implementation = "module"
        self._running = False
        for col, (name, tip) in enumerate(zip(COLUMNS, HEADER_TIPS, strict=True)):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.setHorizontalHeaderItem(col, item)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # The optimizer's name must show whole ("Momentum" was cut in a narrow window).
        for col in (COL_RUN, COL_OPT):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # Room for MAX_RUNS rows, so adding a run never shifts the plots.
        rows = self.verticalHeader().defaultSectionSize() * MAX_RUNS
        frame = 2 * self.frameWidth()
        self.setFixedHeight(header.sizeHint().height() + rows + frame)

    # ---- rows ----------------------------------------------------------------------
    def run_count(self) -> int:
        """Number of runs."""
        return len(self._rows)

    def entries(self) -> list[RaceEntry]:
        """The runs the table describes."""
        out = []
        for row in self._rows:
            optimizer = str(row.optimizer.currentData())
            momentum = float(row.momentum.value()) if optimizer in MOMENTUM_OPTIMIZERS else None
            out.append(
                RaceEntry(
                    optimizer=optimizer,
                    lr=float(row.lr.value()),
                    batch_size=int(row.batch.value()),
                    momentum=momentum,
                )
            )
        return out

    def set_implementation(self, implementation: str) -> None:
        """Offer the optimizers this implementation has (rows that lack theirs fall back)."""
        self._implementation = implementation
        for row in self._rows:
            self._fill_optimizers(row.optimizer, optimizers_for(implementation))

    def seed_rows(self, config: Config) -> None:
        """Default runs: the configuration's own optimizer, then two others to race it."""
        while self._rows:
            self.removeRow(len(self._rows) - 1)
            self._rows.pop()
        t = config.train
        self._implementation = t.implementation
        own = RaceEntry(
            optimizer=t.optimizer, lr=t.lr, batch_size=t.batch_size, momentum=t.momentum
        )
        self.append_row(own)
        allowed = optimizers_for(t.implementation)
        for name in ("momentum", "adam"):
            if name != t.optimizer and name in allowed and len(self._rows) < 3:
                self.append_row(
                    RaceEntry(optimizer=name, lr=t.lr, batch_size=t.batch_size, momentum=0.9)
                )

    def suggest(self) -> RaceEntry:
        """The next run to add: an untried optimizer with the last row's settings."""
        used = {str(r.optimizer.currentData()) for r in self._rows}
        allowed = optimizers_for(self._implementation)
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

    def append_row(self, entry: RaceEntry) -> int:
        """Add a row for entry; its index."""
        row = len(self._rows)
        self.insertRow(row)
        combo = QComboBox()
        combo.setToolTip(HEADER_TIPS[COL_OPT])
        # Sized for "Momentum", not for the longest name: the column fits it to its contents.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(OPTIMIZER_CHARS)
        self._fill_optimizers(combo, optimizers_for(self._implementation), entry.optimizer or "sgd")
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
            self.setCellWidget(row, col, widget)
        for col in (COL_RUN, COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS):
            item = QTableWidgetItem("")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(HEADER_TIPS[col])
            if col != COL_RUN:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, col, item)
        r = _Row(combo, lr, batch, mom)
        self._rows.append(r)
        combo.currentIndexChanged.connect(lambda _: self._row_edited(r))
        lr.valueChanged.connect(lambda _: self._row_edited(r))
        batch.valueChanged.connect(lambda _: self._row_edited(r))
        mom.valueChanged.connect(lambda _: self._row_edited(r))
        self._row_edited(r, user=False)
        self.renumber()
        return row

    def remove_run(self, row: int | None = None) -> bool:
        """Remove a run (default: the selected one, else the last); at least one stays."""
        if len(self._rows) <= 1:
            return False
        if row is None:
            selected = self.selectionModel().selectedRows()
            row = selected[0].row() if selected else len(self._rows) - 1
        if not 0 <= row < len(self._rows):
            return False
        self.removeRow(row)
        del self._rows[row]
        self.renumber()
        return True

    def set_running(self, running: bool) -> None:
        """Settings are fixed while a race runs."""
        self._running = running
        for row in self._rows:
            for widget in (row.optimizer, row.lr, row.batch):
                widget.setEnabled(not running)
            self._row_edited(row, user=False)

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
        uses = str(row.optimizer.currentData()) in MOMENTUM_OPTIMIZERS
        row.momentum.setEnabled(uses and not self._running)
        if user:
            self.edited.emit()

    # ---- results -------------------------------------------------------------------
    def renumber(self) -> None:
        """Number the runs and clear the results (they belong to the race that made them)."""
        for k in range(len(self._rows)):
            for col in (COL_STEPS, COL_SECONDS, COL_LOSS, COL_STATUS):
                self.item(k, col).setText("")
            item = self.item(k, COL_RUN)
            item.setText(str(k + 1))
            item.setIcon(color_icon(RACE_COLORS[k % len(RACE_COLORS)]))
            item.setToolTip(f"Run {k + 1}: {HEADER_TIPS[COL_RUN].lower()}")

    def show_results(self, snap: RaceSnapshot) -> None:
        """Each run's steps and seconds to tolerance, loss and status."""
        for run in snap.runs:
            k = run.index
            if k >= self.rowCount():
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
                item = self.item(k, col)
                if item.text() != text:
                    item.setText(text)
            item = self.item(k, COL_STATUS)
            diverged = run.stopped_reason == "diverged"
            # No colour of its own unless diverged: the table's text colour of the theme.
            item.setData(
                Qt.ItemDataRole.ForegroundRole, QColor(palette_of().diverged) if diverged else None
            )
            item.setToolTip(run.message if diverged and run.message else HEADER_TIPS[COL_STATUS])
