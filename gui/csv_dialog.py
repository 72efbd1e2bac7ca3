"""Choosing the target and feature columns of a CSV file, and turning the choice into a Config.

File > Open CSV… asks for a path with a QFileDialog, then `CsvDialog.from_path(path, parent)`
(a DataError if the header cannot be read), then `csv_config` builds the configuration; the
training thread loads the file (a DataError naming file, line and column for a malformed one), so
a big file never freezes the window and a bad one never replaces the current run.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from core.config import MAX_CSV_FEATURES, Config
from core.csvdata import read_header
from core.errors import ConfigError, DataError
from gui.style import palette_of

# Files up to this size get an exact row count in the dialog (a newline count: ~50 ms).
COUNT_ROWS_BYTES = 64 << 20
_COUNT_CHUNK = 1 << 20
VISIBLE_ROWS = 12  # feature rows the list shows before it scrolls

STANDARDIZE_TIP = (
    "<p>Rescale every feature to mean 0 and standard deviation 1 before training (the weights "
    "are still shown in the file's units).</p><p>Features on very different scales (say metres "
    "and millimetres) stretch the loss into a long narrow valley: a learning rate small enough "
    "for the widest feature crawls along the others, so gradient descent becomes very slow or "
    "diverges. Standardising makes the valley round.</p>"
)

_CHECKED = QtCore.Qt.CheckState.Checked
_UNCHECKED = QtCore.Qt.CheckState.Unchecked
_ENABLED = QtCore.Qt.ItemFlag.ItemIsEnabled
_CHECKABLE = QtCore.Qt.ItemFlag.ItemIsUserCheckable
_NAME_ROLE = QtCore.Qt.ItemDataRole.UserRole


# A preset is an experiment: its special settings (no bias term, a tiny batch, a million epochs,
# a dtype, an implementation, no shuffling, a constant init) belong to its own data. Opening a
# file starts these from their defaults, except those the user set by hand.
FRESH_KEYS = (
    "model.fit_bias", "model.init", "model.init_std", "model.init_value", "model.dtype",
    "train.implementation", "train.optimizer", "train.lr", "train.momentum", "train.betas",
    "train.weight_decay", "train.l2_penalty", "train.batch_size", "train.epochs",
    "train.shuffle", "train.loss",
)  # fmt: skip


def fresh_settings(base: Config, touched: frozenset[str]) -> tuple[dict[str, object], list[str]]:
    """The FRESH_KEYS not set by hand that differ from their defaults: {key: default}, and
    one phrase per change for the banner ("bias term on", "batch size 10 (was 3)")."""
    default = Config().to_dict()
    mine = base.to_dict()
    changes: dict[str, object] = {}
    said = []
    for dotted in FRESH_KEYS:
        section, _, key = dotted.partition(".")
        new, old = default[section][key], mine[section][key]
        if dotted in touched or new == old:
            continue
        changes[dotted] = new
        name = key.replace("_", " ")
        if isinstance(new, bool):
            said.append(f"{'bias term' if key == 'fit_bias' else name} {'on' if new else 'off'}")
        else:
            said.append(f"{name} {new} (was {old})")
    return changes, said


def csv_config(
    base: Config,
    path: str,
    target: str,
    features: list[str],
    standardize: bool,
    fresh: dict[str, object] | None = None,
) -> Config:
    """A validated copy of base that trains on the chosen CSV columns (with the fresh
    settings of fresh_settings applied)."""
    if not features:
        # Checked first: validation would otherwise name the derived true_weights.
        raise ConfigError(f"data.feature_columns = []: choose at least one feature of {path}")
    if fresh:
        base = base.with_values(fresh)
    raw = base.to_dict()
    data = raw["data"]
    data.update(
        csv_path=str(path),
        target_column=target,
        feature_columns=list(features),
        standardize=bool(standardize),
        # Unused for CSV data, but validation ties the feature count to their length.
        true_weights=[0.0] * len(features),
        inline_features=None,
    )
    return Config.from_dict(raw)


def describe_rows(path: str | Path) -> str:
    """A short line on the file's size and, when cheap, its number of data rows."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    size_text = _human_size(size)
    if size > COUNT_ROWS_BYTES:
        return f"{size_text} (rows are counted when the file is loaded)"
    lines, last = 0, b"\n"
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_COUNT_CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return size_text
    if last != b"\n":
        lines += 1  # the last line has no newline
    rows = max(lines - 1, 0)  # the header row
    word = "row" if rows == 1 else "rows"
    return f"about {rows:,} data {word} · {size_text}"


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # unreachable: the loop returns at GB


class CsvDialog(QtWidgets.QDialog):
    """Pick the target column, the feature columns and standardisation for a CSV file."""

    def __init__(
        self,
        path: str | Path,
        columns: list[str],
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        # Checked before the QDialog exists, so a refused file leaves no child on parent.
        if len(columns) < 2:
            raise DataError(
                f"{path}: the file has {len(columns)} column(s); need a target column "
                "and at least one feature column"
            )
        super().__init__(parent)
        self.setObjectName("csvDialog")
        self.setWindowTitle("Open CSV data")
        self.path = str(path)
        self.columns = list(columns)

        name = QtWidgets.QLabel(f"<b>{Path(path).name}</b>")
        name.setObjectName("fileLabel")
        name.setTextFormat(QtCore.Qt.TextFormat.RichText)
        name.setToolTip(self.path)
        self.rows_label = QtWidgets.QLabel(describe_rows(path))
        self.rows_label.setObjectName("rowsLabel")
        self.rows_label.setStyleSheet(f"color: {palette_of(self).muted_text};")

        self.target_combo = QtWidgets.QComboBox()
        self.target_combo.setObjectName("targetCombo")
        self.target_combo.addItems(self.columns)
        self.target_combo.setToolTip("The column the model learns to predict (y).")

        self.feature_list = QtWidgets.QListWidget()
        self.feature_list.setObjectName("featureList")
        self.feature_list.setToolTip("The columns the model predicts from (x). Tick at least one.")
        self.feature_list.setUniformItemSizes(True)
        for column in self.columns:
            item = QtWidgets.QListWidgetItem(column)
            item.setData(_NAME_ROLE, column)
            item.setFlags(_ENABLED | _CHECKABLE)
            item.setCheckState(_CHECKED)
            self.feature_list.addItem(item)
        all_button = QtWidgets.QPushButton("All")
        all_button.setObjectName("allFeaturesButton")
        all_button.setToolTip(f"Tick every column but the target (at most {MAX_CSV_FEATURES}).")
        none_button = QtWidgets.QPushButton("None")
        none_button.setObjectName("noFeaturesButton")
        none_button.setToolTip("Untick every column.")
        all_button.clicked.connect(lambda: self._check_all(True))
        none_button.clicked.connect(lambda: self._check_all(False))

        self.standardize_check = QtWidgets.QCheckBox("Standardize features (mean 0, std 1)")
        self.standardize_check.setObjectName("standardizeCheck")
        self.standardize_check.setChecked(True)
        self.standardize_check.setToolTip(STANDARDIZE_TIP)

        self.status_label = QtWidgets.QLabel()
        self.status_label.setObjectName("csvStatus")
        self.status_label.setWordWrap(True)

        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QtWidgets.QFormLayout()
        form.addRow("File:", name)
        if self.rows_label.text():
            form.addRow("", self.rows_label)
        form.addRow("Target (y):", self.target_combo)
        pick = QtWidgets.QHBoxLayout()
        pick.addWidget(QtWidgets.QLabel("Features (x):"))
        pick.addStretch(1)
        pick.addWidget(all_button)
        pick.addWidget(none_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(pick)
        layout.addWidget(self.feature_list, 1)
        layout.addWidget(self.standardize_check)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

        self._target = ""
        self.target_combo.currentTextChanged.connect(self._set_target)
        self.feature_list.itemChanged.connect(self._refresh)
        # Default target: the last column, as load_csv and most data sets have it.
        self.target_combo.setCurrentIndex(len(self.columns) - 1)
        self._set_target(self.target_combo.currentText())
        # Tall enough for a dozen columns without scrolling; wider files scroll the list.
        shown_rows = min(len(self.columns), VISIBLE_ROWS)
        frame = 2 * self.feature_list.frameWidth() + 4
        self.feature_list.setMinimumHeight(self.feature_list.sizeHintForRow(0) * shown_rows + frame)
        self.resize(440, self.sizeHint().height())

    @classmethod
    def from_path(cls, path: str | Path, parent: QtWidgets.QWidget | None = None) -> CsvDialog:
        """A dialog for a CSV file's columns; DataError if its header cannot be read."""
        return cls(path, read_header(path), parent)

    # ---- the choice --------------------------------------------------------------
    def chosen(self) -> tuple[str, list[str], bool]:
        """The target column, the checked feature columns (file order) and standardisation."""
        return self.target_combo.currentText(), self.features(), self.standardize_check.isChecked()

    def features(self) -> list[str]:
        """The checked feature columns, in file order."""
        return [
            item.data(_NAME_ROLE)
            for item in self._items()
            if item.checkState() == _CHECKED and item.data(_NAME_ROLE) != self._target
        ]

    def ok_button(self) -> QtWidgets.QPushButton:
        """The dialog's OK button."""
        return self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)

    def set_features(self, names: list[str]) -> None:
        """Check exactly the named feature columns."""
        wanted = set(names)
        with QtCore.QSignalBlocker(self.feature_list):
            for item in self._items():
                if item.data(_NAME_ROLE) != self._target:
                    item.setCheckState(_CHECKED if item.data(_NAME_ROLE) in wanted else _UNCHECKED)
        self._refresh()

    # ---- helpers -----------------------------------------------------------------
    def _items(self) -> list[QtWidgets.QListWidgetItem]:
        return [self.feature_list.item(i) for i in range(self.feature_list.count())]

    def _set_target(self, target: str) -> None:
        if target == self._target:
            return
        previous, self._target = self._target, target
        with QtCore.QSignalBlocker(self.feature_list):
            for item in self._items():
                name = item.data(_NAME_ROLE)
                if name == target:
                    # The target cannot also be a feature: shown, unticked and greyed out.
                    item.setCheckState(_UNCHECKED)
                    item.setFlags(_CHECKABLE)
                    item.setText(f"{name}  (target)")
                elif name == previous:
                    item.setFlags(_ENABLED | _CHECKABLE)
                    item.setText(name)
                    item.setCheckState(_CHECKED)
            if not previous:
                self._limit_checked()
        self._refresh()

    def _check_all(self, on: bool) -> None:
        with QtCore.QSignalBlocker(self.feature_list):
            for item in self._items():
                if item.data(_NAME_ROLE) != self._target:
                    item.setCheckState(_CHECKED if on else _UNCHECKED)
            if on:
                self._limit_checked()
        self._refresh()

    def _limit_checked(self) -> None:
        # A model takes at most MAX_CSV_FEATURES features: keep the first ones of a wide file.
        kept = 0
        for item in self._items():
            if item.checkState() == _CHECKED and item.data(_NAME_ROLE) != self._target:
                kept += 1
                if kept > MAX_CSV_FEATURES:
                    item.setCheckState(_UNCHECKED)

    def _refresh(self, *_: object) -> None:
        n = len(self.features())
        ok = 1 <= n <= MAX_CSV_FEATURES
        self.ok_button().setEnabled(ok)
        palette = palette_of(self)
        if n == 0:
            text, color = "Tick at least one feature column.", palette.diverged
        elif n > MAX_CSV_FEATURES:
            text = f"{n} features ticked; at most {MAX_CSV_FEATURES} are supported."
            color = palette.diverged
        else:
            word = "feature" if n == 1 else "features"
            text, color = f"{n} {word} → predict {self._target}", palette.muted_text
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {color};")
