"""Tests for gui.csv_dialog: the column chooser, csv_config and validate_csv_choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialogButtonBox, QListWidget, QWidget

from core.config import MAX_CSV_FEATURES, Config
from core.errors import ConfigError, DataError
from core.trainer import Trainer
from gui.csv_dialog import CsvDialog, csv_config, describe_rows


def _linear_csv(tmp_path: Path, n: int = 200) -> Path:
    """y = 2a - 3b + 1 exactly, with b on a much larger scale than a; an unused column c."""
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, n)
    b = rng.normal(50.0, 10.0, n)
    c = rng.normal(0.0, 1.0, n)
    y = 2 * a - 3 * b + 1
    rows = np.column_stack([a, b, c, y])
    lines = ["a,b,c,y"] + [",".join(repr(float(v)) for v in row) for row in rows]
    path = tmp_path / "linear.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("alpha,beta,gamma,price\n1,2,3,4\n5,6,7,8\n9,10,11,12\n", encoding="utf-8")
    return path


@pytest.fixture
def dialog(qtbot, csv_path: Path) -> CsvDialog:
    dlg = CsvDialog.from_path(csv_path)
    qtbot.addWidget(dlg)
    return dlg


def _list(dlg: CsvDialog) -> QListWidget:
    widget = dlg.findChild(QListWidget, "featureList")
    assert widget is not None
    return widget


def _item(dlg: CsvDialog, text: str):
    items = [_list(dlg).item(i) for i in range(_list(dlg).count())]
    return next(item for item in items if item.text().startswith(text))


def _ok(dlg: CsvDialog):
    return dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)


# ---- the dialog -------------------------------------------------------------------------


def test_dialog_lists_columns_and_defaults_to_last_target(dialog: CsvDialog, csv_path) -> None:
    assert dialog.objectName() == "csvDialog"
    combo = dialog.findChild(QComboBox, "targetCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == ["alpha", "beta", "gamma", "price"]
    assert combo.currentText() == "price"
    assert _list(dialog).count() == 4
    target = _item(dialog, "price")
    assert target.checkState() == Qt.CheckState.Unchecked
    assert not target.flags() & Qt.ItemFlag.ItemIsEnabled
    for name in ("alpha", "beta", "gamma"):
        assert _item(dialog, name).checkState() == Qt.CheckState.Checked
    assert dialog.chosen() == ("price", ["alpha", "beta", "gamma"], True)
    assert _ok(dialog).isEnabled()
    assert csv_path.name in " ".join(w.text() for w in dialog.findChildren(type(dialog.rows_label)))
    assert "3 data rows" in dialog.rows_label.text()


def test_standardize_is_on_with_a_reason(dialog: CsvDialog) -> None:
    check = dialog.findChild(QCheckBox, "standardizeCheck")
    assert check.isChecked()
    tip = check.toolTip().lower()
    assert "scale" in tip and "gradient descent" in tip and "slow" in tip


def test_unchecking_every_feature_disables_ok(dialog: CsvDialog) -> None:
    for name in ("alpha", "beta", "gamma"):
        _item(dialog, name).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.chosen()[1] == []
    assert not _ok(dialog).isEnabled()
    assert "at least one" in dialog.status_label.text()
    _item(dialog, "beta").setCheckState(Qt.CheckState.Checked)
    assert _ok(dialog).isEnabled()
    assert dialog.chosen()[1] == ["beta"]


def test_chosen_reflects_target_features_and_standardize(dialog: CsvDialog) -> None:
    combo = dialog.findChild(QComboBox, "targetCombo")
    combo.setCurrentText("alpha")
    # The new target leaves the features; the old target becomes a feature.
    assert not _item(dialog, "alpha").flags() & Qt.ItemFlag.ItemIsEnabled
    assert _item(dialog, "price").flags() & Qt.ItemFlag.ItemIsEnabled
    assert dialog.chosen() == ("alpha", ["beta", "gamma", "price"], True)
    _item(dialog, "gamma").setCheckState(Qt.CheckState.Unchecked)
    dialog.findChild(QCheckBox, "standardizeCheck").setChecked(False)
    assert dialog.chosen() == ("alpha", ["beta", "price"], False)
    dialog.findChild(type(_ok(dialog)), "noFeaturesButton").click()
    assert not _ok(dialog).isEnabled()
    dialog.findChild(type(_ok(dialog)), "allFeaturesButton").click()
    assert dialog.chosen() == ("alpha", ["beta", "gamma", "price"], False)


def test_wide_file_checks_at_most_max_features(qtbot, tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(MAX_CSV_FEATURES + 6)] + ["y"]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n", "utf-8")
    dlg = CsvDialog.from_path(path)
    qtbot.addWidget(dlg)
    assert dlg.chosen()[1] == names[:MAX_CSV_FEATURES]
    assert _ok(dlg).isEnabled()
    _item(dlg, f"f{MAX_CSV_FEATURES + 1}").setCheckState(Qt.CheckState.Checked)
    assert not _ok(dlg).isEnabled()
    assert str(MAX_CSV_FEATURES) in dlg.status_label.text()


@pytest.mark.parametrize(
    "junk",
    [bytes(range(256)) * 8, b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)) * 4],
    ids=["with-nul", "invalid-utf8"],
)
def test_from_path_on_binary_junk_raises_data_error(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(junk)
    with pytest.raises(DataError) as info:
        CsvDialog.from_path(path)
    assert str(path) in str(info.value)


def test_from_path_needs_two_columns(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("y\n1\n2\n", encoding="utf-8")
    parent = QWidget()
    qtbot.addWidget(parent)
    with pytest.raises(DataError, match="column"):
        CsvDialog.from_path(path, parent)
    assert parent.findChildren(CsvDialog) == []


def test_from_path_on_missing_file_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        CsvDialog.from_path(tmp_path / "nope.csv")


def test_describe_rows_without_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,2\n3,4", encoding="utf-8")
    assert "2 data rows" in describe_rows(path)


# ---- csv_config ---------------------------------------------------------------------


def test_csv_config_sets_the_data_section_and_keeps_the_rest(tmp_path: Path) -> None:
    base = Config.from_dict(
        {
            "data": {"true_weights": [1.0, 2.0, 3.0], "val_fraction": 0.2},
            "train": {"lr": 0.05, "epochs": 7},
        }
    )
    path = str(_linear_csv(tmp_path))
    config = csv_config(base, path, "y", ["a", "b"], False)
    d = config.data
    assert (d.csv_path, d.target_column, d.feature_columns, d.standardize) == (
        path,
        "y",
        ("a", "b"),
        False,
    )
    assert d.true_weights == (0.0, 0.0)
    assert d.inline_features is None
    assert d.val_fraction == 0.2
    assert config.train.lr == 0.05 and config.train.epochs == 7
    assert config.n_features == 2
    assert base.data.csv_path is None and base.data.true_weights == (1.0, 2.0, 3.0)


def test_csv_config_replaces_inline_features(tmp_path: Path) -> None:
    base = Config.from_dict(
        {"data": {"true_weights": [1.0], "inline_features": [[1.0], [2.0], [3.0]]}}
    )
    config = csv_config(base, str(_linear_csv(tmp_path)), "y", ["a", "b", "c"], True)
    assert config.data.inline_features is None
    assert config.data.true_weights == (0.0, 0.0, 0.0)


def test_csv_config_rejects_too_many_features(tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(MAX_CSV_FEATURES + 1)]
    with pytest.raises(ConfigError):
        csv_config(Config(), str(tmp_path / "x.csv"), "y", names, True)


def test_csv_config_trains_to_the_generating_weights(tmp_path: Path) -> None:
    path = str(_linear_csv(tmp_path))
    base = Config().with_value("train.epochs", 60)
    trainer = Trainer(csv_config(base, path, "y", ["a", "b"], True))
    assert trainer.dataset.feature_names == ["a", "b"]
    assert trainer.dataset.true_theta() is None
    trainer.run_steps(trainer.total_steps)
    np.testing.assert_allclose(trainer.theta_original(), [2.0, -3.0, 1.0], atol=0.05)
    assert trainer.train_loss() < 1e-3


def test_csv_config_of_a_bad_file_fails_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,3\n4,5,6\n7,oops,9\n", encoding="utf-8")
    base = Config()
    with pytest.raises(DataError) as info:
        Trainer(csv_config(base, str(path), "y", ["a", "b"], True))
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "'b'" in message
    # The bad column is not used: the file is fine for this choice.
    assert Trainer(csv_config(base, str(path), "y", ["a"], True)).dataset.feature_names == ["a"]


def test_csv_config_rejects_empty_and_unknown_choices(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("a,b,y\n1,2,3\n4,5,6\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="feature_columns"):
        csv_config(Config(), str(path), "y", [], True)
    with pytest.raises(DataError, match="zzz"):
        Trainer(csv_config(Config(), str(path), "y", ["zzz"], True))
