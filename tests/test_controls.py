"""The parameter panel, offscreen: widget contract, config round trip, sync and signals."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QWidget,
)

from core.config import HAND_WRITTEN_OPTIMIZERS, OPTIMIZERS, Config
from core.errors import ConfigError
from core.presets import PRESETS, preset_config
from gui.controls import (
    DEBOUNCE_MS,
    LR_STEPS,
    SPEED_MAX,
    SPEED_MIN,
    ControlPanel,
    format_number,
    lr_for_slider,
    slider_for_lr,
    slider_for_speed,
    steps_per_second_for,
)

WIDGETS = {
    "weightsTable": QTableWidget,
    "addFeatureButton": QPushButton,
    "removeFeatureButton": QPushButton,
    "biasSpin": QDoubleSpinBox,
    "noiseSpin": QDoubleSpinBox,
    "samplesSpin": QSpinBox,
    "seedSpin": QSpinBox,
    "valFractionSpin": QDoubleSpinBox,
    "correlationSpin": QDoubleSpinBox,
    "standardizeCheck": QCheckBox,
    "implementationCombo": QComboBox,
    "optimizerCombo": QComboBox,
    "lossCombo": QComboBox,
    "batchSizeSpin": QSpinBox,
    "epochsSpin": QSpinBox,
    "lrSpin": QDoubleSpinBox,
    "lrSlider": QSlider,
    "momentumSpin": QDoubleSpinBox,
    "weightDecaySpin": QDoubleSpinBox,
    "dtypeCombo": QComboBox,
    "deviceCombo": QComboBox,
    "fitBiasCheck": QCheckBox,
    "speedSlider": QSlider,
    "lrBoundLabel": QWidget,
}
SIGNALS = ("dataChanged", "setupChanged", "epochsChanged", "hyperChanged", "speedChanged")


class Recorder:
    """Collects every emission of the panel's signals, by name."""

    def __init__(self, panel: ControlPanel) -> None:
        self.calls: dict[str, list] = {name: [] for name in SIGNALS}
        for name in SIGNALS:
            getattr(panel, name).connect(lambda *args, n=name: self.calls[n].append(args))

    def count(self, name: str) -> int:
        return len(self.calls[name])

    def total(self) -> int:
        return sum(len(v) for v in self.calls.values())


@pytest.fixture
def panel(qtbot):
    widget = ControlPanel(preset_config("playground"))
    qtbot.addWidget(widget)
    return widget


def child(panel: ControlPanel, name: str):
    widget = panel.findChild(WIDGETS[name], name)
    assert widget is not None, name
    return widget


def test_every_widget_exists_with_a_tooltip(panel):
    for name in WIDGETS:
        assert child(panel, name).toolTip().strip(), f"{name} has no tooltip"


@pytest.mark.parametrize("name", list(PRESETS))
def test_config_round_trips_every_preset(qtbot, name):
    config = preset_config(name)
    panel = ControlPanel(config)
    qtbot.addWidget(panel)
    assert panel.config() == config
    # And again through set_config on a panel that showed something else first.
    other = ControlPanel(preset_config("d2l-concise-5"))
    qtbot.addWidget(other)
    other.set_config(config)
    assert other.config() == config


def test_round_trip_keeps_fields_without_widgets_and_rounded_values(panel):
    raw = preset_config("playground").to_dict()
    raw["data"].update(true_bias=1.23456789012, seed=3_000_000_000, feature_distribution="uniform")
    raw["model"].update(init="constant", init_value=0.25, init_std=0.5)
    raw["train"].update(betas=[0.8, 0.99], l2_penalty=0.01, shuffle=False, lr=3.3e-7)
    config = Config.from_dict(raw)
    panel.set_config(config)
    assert panel.config() == config


def test_lr_slider_and_spin_stay_in_sync(panel):
    spin, slider = child(panel, "lrSpin"), child(panel, "lrSlider")
    for lr in (1e-5, 10.0, 0.03):
        spin.setValue(lr)
        assert slider.value() == slider_for_lr(lr)
        assert math.isclose(lr_for_slider(slider.value()), lr, rel_tol=0.03)
    slider.setValue(0)
    assert spin.value() == pytest.approx(1e-5)
    slider.setValue(LR_STEPS)
    assert spin.value() == pytest.approx(10.0)
    slider.setValue(LR_STEPS // 2)  # the middle of 1e-5..10 is 10**-2 on a log scale
    assert spin.value() == pytest.approx(0.01)
    slider.setValue(437)
    assert slider_for_lr(spin.value()) == 437
    assert panel.config().train.lr == spin.value()


def test_lr_spin_shows_scientific_small_values(panel):
    spin = child(panel, "lrSpin")
    spin.setValue(1e-5)
    assert spin.text() == "1e-05"
    assert spin.value() == 1e-5
    assert format_number(0.03) == "0.03"
    assert format_number(2.0) == "2"
    assert format_number(-0.0) == "0"


def test_lr_spin_parses_typed_scientific_notation(qtbot, panel):
    spin = child(panel, "lrSpin")
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "2.5e-4")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(2.5e-4)


def test_lr_change_is_live_and_resets_nothing(qtbot, panel):
    rec = Recorder(panel)
    with qtbot.waitSignal(panel.hyperChanged, timeout=1000) as blocker:
        child(panel, "lrSpin").setValue(0.1)
    assert blocker.args == [{"lr": pytest.approx(0.1)}]
    child(panel, "lrSlider").setValue(100)
    assert rec.calls["hyperChanged"][-1] == ({"lr": pytest.approx(1e-4)},)
    panel.flush()
    assert rec.count("dataChanged") == 0
    assert rec.count("setupChanged") == 0


def test_momentum_and_weight_decay_are_live(panel):
    rec = Recorder(panel)
    panel.findChild(QComboBox, "optimizerCombo").setCurrentIndex(OPTIMIZERS.index("momentum"))
    child(panel, "momentumSpin").setValue(0.5)
    child(panel, "weightDecaySpin").setValue(0.01)
    hyper = [args[0] for args in rec.calls["hyperChanged"]]
    assert hyper == [{"momentum": 0.5}, {"weight_decay": 0.01}]
    assert rec.count("setupChanged") == 1  # the optimizer change only


def test_noise_changes_are_debounced_into_one_data_change(qtbot, panel):
    rec = Recorder(panel)
    noise = child(panel, "noiseSpin")
    with qtbot.waitSignal(panel.dataChanged, timeout=5 * DEBOUNCE_MS):
        for value in (0.6, 0.7, 0.8, 0.9):
            noise.setValue(value)
        assert rec.count("dataChanged") == 0  # nothing before the pause
    # The single-shot timer has fired and is idle, so no second emission can follow.
    assert not panel._data_timer.isActive()
    assert rec.count("dataChanged") == 1
    assert rec.count("setupChanged") == 0
    assert panel.config().data.noise_std == 0.9


def test_flush_emits_a_pending_data_change_at_once(panel):
    rec = Recorder(panel)
    child(panel, "seedSpin").setValue(7)
    panel.flush()
    assert rec.count("dataChanged") == 1
    panel.flush()  # nothing pending any more
    assert rec.count("dataChanged") == 1


def test_add_and_remove_features(qtbot):
    panel = ControlPanel(preset_config("tiny-numpy-f64"))
    qtbot.addWidget(panel)
    add, remove = child(panel, "addFeatureButton"), child(panel, "removeFeatureButton")
    table = child(panel, "weightsTable")
    assert panel.config().data.inline_features is not None
    with qtbot.waitSignal(panel.dataChanged, timeout=5 * DEBOUNCE_MS):
        qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    config = panel.config()
    assert config.n_features == 3
    assert config.data.true_weights == (10.0, 20.0, 1.0)
    assert config.data.inline_features is None  # the fixed 2-feature rows no longer fit
    assert table.rowCount() == 3
    assert table.verticalHeaderItem(2).text() == "x3"

    table.selectRow(0)
    with qtbot.waitSignal(panel.dataChanged, timeout=5 * DEBOUNCE_MS):
        qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert panel.config().data.true_weights == (20.0, 1.0)
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)  # nothing selected: the last row goes
    assert panel.config().data.true_weights == (20.0,)
    assert not remove.isEnabled()
    for _ in range(63):
        add.click()
    assert panel.config().n_features == 64
    assert not add.isEnabled()


def test_editing_a_weight_emits_data_change_and_rejects_junk(qtbot, panel):
    table = child(panel, "weightsTable")
    with qtbot.waitSignal(panel.dataChanged, timeout=5 * DEBOUNCE_MS):
        table.item(0, 0).setText("-3.5")
    assert panel.config().data.true_weights == (-3.5,)
    table.item(0, 0).setText("not a number")
    assert table.item(0, 0).text() == "-3.5"
    table.item(0, 0).setText("1e9")  # beyond the validated range
    assert panel.config().data.true_weights == (-3.5,)


def test_numpy_forces_a_hand_written_optimizer(panel):
    impl = panel.findChild(QComboBox, "implementationCombo")
    opt = panel.findChild(QComboBox, "optimizerCombo")
    opt.setCurrentIndex(opt.findData("rmsprop"))
    rec = Recorder(panel)
    impl.setCurrentIndex(impl.findData("numpy"))
    assert opt.currentData() in HAND_WRITTEN_OPTIMIZERS
    assert rec.count("setupChanged") == 1  # one reset for the combined change
    config = panel.config()
    assert config.train.implementation == "numpy"
    model = opt.model()
    offered = {opt.itemData(i) for i in range(opt.count()) if model.item(i).isEnabled()}
    assert offered == set(HAND_WRITTEN_OPTIMIZERS)
    impl.setCurrentIndex(impl.findData("module"))
    offered = {opt.itemData(i) for i in range(opt.count()) if model.item(i).isEnabled()}
    assert offered == set(OPTIMIZERS)


def test_nesterov_never_gets_zero_momentum(panel):
    panel.findChild(QDoubleSpinBox, "momentumSpin").setValue(0.0)
    opt = panel.findChild(QComboBox, "optimizerCombo")
    opt.setCurrentIndex(opt.findData("momentum"))
    child(panel, "momentumSpin").setValue(0.0)
    opt.setCurrentIndex(opt.findData("nesterov"))
    config = panel.config()  # would raise ConfigError with momentum 0
    assert config.train.optimizer == "nesterov"
    assert config.train.momentum > 0


def test_setup_changes_reset_and_epochs_do_not(qtbot, panel):
    rec = Recorder(panel)
    opt = panel.findChild(QComboBox, "optimizerCombo")
    with qtbot.waitSignal(panel.setupChanged, timeout=1000):
        opt.setCurrentIndex(opt.findData("adam"))
    for name, change in (
        ("lossCombo", lambda w: w.setCurrentIndex(w.findData("half_mse"))),
        ("dtypeCombo", lambda w: w.setCurrentIndex(w.findData("float64"))),
        ("deviceCombo", lambda w: w.setCurrentIndex(w.findData("cpu"))),
        ("batchSizeSpin", lambda w: w.setValue(32)),
        ("fitBiasCheck", lambda w: w.setChecked(False)),
    ):
        change(child(panel, name))
    assert rec.count("setupChanged") == 6
    with qtbot.waitSignal(panel.epochsChanged, timeout=1000) as blocker:
        child(panel, "epochsSpin").setValue(99)
    assert blocker.args == [99]
    assert rec.count("setupChanged") == 6
    panel.flush()
    assert rec.count("dataChanged") == 0
    config = panel.config()
    assert (config.train.optimizer, config.train.loss, config.model.dtype) == (
        "adam",
        "half_mse",
        "float64",
    )
    assert (config.train.batch_size, config.train.epochs, config.model.fit_bias) == (32, 99, False)
    assert config.train.device == "cpu"


def test_set_config_emits_nothing(panel):
    rec = Recorder(panel)
    child(panel, "noiseSpin").setValue(3.0)  # a pending data change is superseded, too
    for name in PRESETS:
        panel.set_config(preset_config(name))
    assert not panel._data_timer.isActive()
    assert rec.total() == 0


def test_csv_config_disables_synthetic_widgets(qtbot):
    raw = preset_config("playground").to_dict()
    raw["data"].update(csv_path="/data/houses.csv", target_column="price")
    raw["data"]["feature_columns"] = ["area", "rooms"]
    config = Config.from_dict(raw)
    panel = ControlPanel(config)
    qtbot.addWidget(panel)
    for name in ("weightsTable", "addFeatureButton", "removeFeatureButton", "biasSpin"):
        assert not child(panel, name).isEnabled(), name
    for name in ("noiseSpin", "samplesSpin", "correlationSpin"):
        assert not child(panel, name).isEnabled(), name
    assert child(panel, "seedSpin").isEnabled()
    assert "houses.csv" in panel.findChild(QWidget, "dataSourceLabel").text()
    assert panel.config() == config
    panel.set_config(preset_config("playground"))
    assert child(panel, "biasSpin").isEnabled()


def test_config_raises_config_error_for_invalid_state(panel):
    # No widget can do this; the message must be clear. Built without validation.
    bad_train = dataclasses.replace(panel._base.train, betas=(2.0, 0.999))
    panel._base = dataclasses.replace(panel._base, train=bad_train)
    with pytest.raises(ConfigError, match=r"train\.betas"):
        panel.config()


def test_speed_mapping():
    assert steps_per_second_for(SPEED_MAX) is None
    assert steps_per_second_for(SPEED_MIN) == pytest.approx(1.0)
    assert steps_per_second_for(SPEED_MAX - 1) == pytest.approx(1e4)
    rates = [steps_per_second_for(v) for v in range(SPEED_MIN, SPEED_MAX)]
    assert all(a < b for a, b in itertools.pairwise(rates))
    assert slider_for_speed(None) == SPEED_MAX
    for v in (SPEED_MIN, 37, SPEED_MAX - 1):
        assert slider_for_speed(steps_per_second_for(v)) == v


def test_speed_slider_emits_and_reports(qtbot, panel):
    slider = child(panel, "speedSlider")
    with qtbot.waitSignal(panel.speedChanged, timeout=1000) as blocker:
        slider.setValue(slider.maximum())
    assert blocker.args == [None]
    assert panel.speed() is None
    slider.setValue(SPEED_MIN)
    assert panel.speed() == pytest.approx(1.0)
    rec = Recorder(panel)
    panel.set_speed(100.0)
    assert panel.speed() == pytest.approx(100.0)
    assert rec.total() == 0


def test_stable_lr_label_and_marker(panel):
    label = child(panel, "lrBoundLabel")
    slider = child(panel, "lrSlider")
    panel.set_stable_lr(0.195)
    assert "stable below 0.195" in label.text()
    assert slider.marker() == slider_for_lr(0.195)
    child(panel, "lrSpin").setValue(0.5)
    assert "above" in label.text()
    panel.set_stable_lr(math.inf)
    assert slider.marker() is None
    panel.set_stable_lr(math.nan)
    assert "not known" in label.text()


def test_render_panel(qtbot, panel):
    panel.set_stable_lr(0.2)
    # Not shown: the offscreen platform warns on show() (propagateSizeHints), which fails the run.
    panel.resize(320, panel.sizeHint().height())
    image = panel.grab()
    assert image.width() >= 250
    assert image.save("/tmp/controls.png")
