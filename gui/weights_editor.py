"""The true-weights editor: one row per feature with its exact value and a slider, and the
buttons that add and remove features. Edits go to the configuration model as dotted keys."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.limits import MAX_FEATURES, TRUE_WEIGHT
from gui.run_controller import ConfigModel
from gui.texts import DEFAULT_NEW_WEIGHT, WEIGHT_SLIDER_TIP
from gui.widgets import MarkedSlider, SliderScale, WeightDelegate, format_number

WEIGHT_LIMIT = TRUE_WEIGHT.hi
WEIGHT_SCALE = SliderScale("linear", -10.0, 10.0, 200)
TABLE_VISIBLE_ROWS = 4
BLANK = "—"  # what a setting the data source does not have shows


def _named(widget: Any, name: str) -> Any:
    widget.setObjectName(name)
    return widget


class WeightsEditor(QWidget):
    """The weights table (a weight and a slider per feature) and the feature buttons."""

    def __init__(self, model: ConfigModel, follow_gesture: Callable[[QSlider], None]) -> None:
        super().__init__()
        self._model = model
        self._follow_gesture = follow_gesture
        self._weight_sliders: list[MarkedSlider] = []
        table = _named(QTableWidget(0, 2), "weightsTable")
        table.setHorizontalHeaderLabels(["true weight", ""])
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setColumnWidth(0, 90)
        table.verticalHeader().setDefaultSectionSize(24)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.setItemDelegateForColumn(0, WeightDelegate(WEIGHT_LIMIT, table))
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.itemChanged.connect(self._on_weight_edited)
        self.table = table

        self.add_button = _named(QPushButton("+ Feature"), "addFeatureButton")
        self.remove_button = _named(QPushButton("− Feature"), "removeFeatureButton")
        self.add_button.clicked.connect(self._add_feature)
        self.remove_button.clicked.connect(self._remove_feature)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(table)
        layout.addLayout(buttons)

    def show_weights(self, weights: list[float], columns: list[str] | None = None) -> None:
        """One row per feature: its true weight and slider, or for a file's columns (columns
        given) the column's name and no weight."""
        table = self.table
        labels = columns or [f"x{i + 1}" for i in range(len(weights))]
        if weights == self._shown_weights() and labels == self._row_labels():
            return
        with QSignalBlocker(table):
            table.clearSelection()
            n_old = table.rowCount()
            table.setRowCount(len(weights))
            del self._weight_sliders[len(weights) :]
            for row, w in enumerate(weights):
                item = table.item(row, 0)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                    table.setItem(row, 0, item)
                item.setText(BLANK if columns else format_number(w))
                item.setData(Qt.ItemDataRole.UserRole, float(w))
                if row >= n_old or row >= len(self._weight_sliders):
                    self._weight_sliders.append(self._weight_slider(row))
                with QSignalBlocker(self._weight_sliders[row]):
                    self._weight_sliders[row].setValue(WEIGHT_SCALE.position(w))
            table.setVerticalHeaderLabels(labels)
        self._fit_table_height()

    def _row_labels(self) -> list[str]:
        table = self.table
        return [
            table.verticalHeaderItem(r).text() if table.verticalHeaderItem(r) else ""
            for r in range(table.rowCount())
        ]

    def _weight_slider(self, row: int) -> MarkedSlider:
        slider = _named(MarkedSlider(0, WEIGHT_SCALE.steps), f"weightSlider{row}")
        slider.setPageStep(WEIGHT_SCALE.steps // 10)
        slider.setToolTip(WEIGHT_SLIDER_TIP.format(n=row + 1))
        slider.valueChanged.connect(lambda i, r=row: self._set_weight(r, WEIGHT_SCALE.value(i)))
        self.table.setCellWidget(row, 1, slider)
        self._follow_gesture(slider)
        return slider

    def weight_slider(self, row: int) -> MarkedSlider:
        """The slider of the true weight in row."""
        return self._weight_sliders[row]

    def _shown_weights(self) -> list[float]:
        table = self.table
        return [
            float(table.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(table.rowCount())
        ]

    def _set_weight(self, row: int, value: float) -> None:
        weights = self._model.config().data.true_weights
        if 0 <= row < len(weights) and weights[row] != value:
            new = list(weights)
            new[row] = value
            self._model.edit({"data.true_weights": new})

    def _fit_table_height(self) -> None:
        table = self.table
        rows = min(max(table.rowCount(), 1), TABLE_VISIBLE_ROWS)
        height = (
            table.horizontalHeader().sizeHint().height()
            + rows * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
        )
        table.setFixedHeight(height)

    def _on_weight_edited(self, item: QTableWidgetItem) -> None:
        row = item.row()
        weights = self._model.config().data.true_weights
        if item.column() != 0 or not 0 <= row < len(weights):
            return
        try:
            value = float(item.text().strip())
        except ValueError:
            value = math.nan
        if math.isfinite(value) and abs(value) <= WEIGHT_LIMIT:
            self._set_weight(row, value)
        value = self._model.config().data.true_weights[row]
        with QSignalBlocker(self.table):  # the value kept (a rejected one reverts)
            item.setText(format_number(value))
            item.setData(Qt.ItemDataRole.UserRole, float(value))

    def _add_feature(self) -> None:
        weights = list(self._model.config().data.true_weights)
        if len(weights) < MAX_FEATURES:
            self._edit_features([*weights, DEFAULT_NEW_WEIGHT])

    def _remove_feature(self) -> None:
        weights = list(self._model.config().data.true_weights)
        if len(weights) <= 1:
            return
        rows = {index.row() for index in self.table.selectedIndexes()}
        row = min(rows) if rows else len(weights) - 1
        self._edit_features(weights[:row] + weights[row + 1 :])

    def _edit_features(self, weights: list[float]) -> None:
        # Fixed feature rows (a preset's inline matrix) no longer match the feature count.
        self._model.edit({"data.true_weights": weights, "data.inline_features": None})
