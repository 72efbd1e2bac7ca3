"""The parameter panel, offscreen: widget contract, config round trip, sync and signals."""

from __future__ import annotations

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
from core.presets import PRESETS, preset_config
from gui.controls import (
    DATA_FIELDS,
    LR_STEPS,
    SPEED_MAX,
    SPEED_MIN,
    TRAIN_FIELDS,
    WEIGHT_SCALE,
    ControlPanel,
    format_number,
    lr_for_slider,
    slider_for_lr,
    slider_for_speed,
    steps_per_second_for,
)
from gui.run_controller import ConfigModel
from gui.widgets import SliderSpin

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
SLIDERS = ("biasSlider", "noiseSlider", "samplesSlider", "correlationSlider", "batchSizeSlider",
           "momentumSlider", "weightDecaySlider", "lrSlider", "weightSlider0")  # fmt: skip


class RecordingModel(ConfigModel):
    """A configuration model that keeps every edit the panel sends."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.edits: list[dict] = []

    def edit(self, changes: dict) -> bool:
        self.edits.append(dict(changes))
        return super().edit(changes)


@pytest.fixture
def model(qtbot):
    return RecordingModel(preset_config("playground"))


@pytest.fixture
def panel(qtbot, model):
    widget = ControlPanel(model)
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
def test_showing_a_preset_changes_nothing_and_shows_its_values(qtbot, name):
    config = preset_config(name)
    model = RecordingModel(preset_config("d2l-concise-5"))
    panel = ControlPanel(model)
    qtbot.addWidget(panel)
    model.set_config(config)
    assert model.edits == []  # showing is not editing: nothing comes back
    assert panel.config() == config
    t = config.train
    assert child(panel, "lrSpin").value() == pytest.approx(t.lr)
    assert child(panel, "batchSizeSpin").value() == min(t.batch_size, 2**31 - 1)
    assert panel.findChild(QComboBox, "optimizerCombo").currentData() == t.optimizer
    assert panel.findChild(QComboBox, "implementationCombo").currentData() == t.implementation
    assert panel.n_features() == len(config.data.true_weights)


def test_untouched_fields_keep_their_exact_values(panel, model):
    raw = preset_config("playground").to_dict()
    raw["data"].update(true_bias=1.23456789012, seed=3_000_000_000, feature_distribution="uniform")
    raw["model"].update(init="constant", init_value=0.25, init_std=0.5)
    raw["train"].update(betas=[0.8, 0.99], l2_penalty=0.01, shuffle=False, lr=3.3e-7)
    config = Config.from_dict(raw)
    model.set_config(config)
    child(panel, "noiseSpin").setValue(0.75)  # one edit changes one key, nothing else
    assert model.edits == [{"data.noise_std": 0.75}]
    assert panel.config() == config.with_value("data.noise_std", 0.75)


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
    assert panel.config().train.lr == pytest.approx(2.5e-4)


def test_every_numeric_field_edits_its_key(panel, model):
    for field in (*DATA_FIELDS, *TRAIN_FIELDS):
        widget = panel.number_widget(field.key)
        spin = widget.spin if isinstance(widget, SliderSpin) else widget
        before = spin.value()
        spin.stepBy(1)
        assert spin.value() != before, field.key
        assert model.edits[-1] == {field.key: spin.value()}, field.key


def test_every_slider_moves_its_value_with_keys(qtbot, panel, model):
    panel.findChild(QComboBox, "optimizerCombo").setCurrentIndex(OPTIMIZERS.index("momentum"))
    for name in SLIDERS:
        slider = panel.findChild(QSlider, name)
        assert slider is not None and slider.toolTip(), name
        slider.setValue(slider.minimum() + (slider.maximum() - slider.minimum()) // 2)
        before = model.edits[-1]
        slider.setFocus()
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
        assert model.edits[-1] != before, name


def test_slider_scales(panel):
    samples = panel.number_widget("data.n_samples").scale
    assert samples.value(0) == 10 and samples.value(samples.steps) == 1_000_000
    assert samples.value(samples.steps // 2) == pytest.approx(3162, rel=0.01)  # log: a midpoint
    batch = panel.number_widget("train.batch_size").scale
    assert [batch.value(i) for i in range(4)] == [1, 2, 4, 8]  # powers of two
    assert batch.position(64) == 6 and batch.position(100) == 7
    decay = panel.number_widget("train.weight_decay").scale
    assert decay.value(0) == 0 and decay.value(1) == pytest.approx(1e-5)
    assert decay.position(0.0) == 0 and decay.position(1e-2) > decay.position(1e-3)


def test_weight_sliders_one_per_feature(qtbot, model):
    model.set_config(preset_config("d2l-concise-3"))
    panel = ControlPanel(model)
    qtbot.addWidget(panel)
    names = [f"weightSlider{i}" for i in range(3)]
    for name in names:
        assert panel.findChild(QSlider, name) is not None, name
    panel.findChild(QSlider, "weightSlider1").setValue(WEIGHT_SCALE.position(-4.0))
    assert panel.config().data.true_weights[1] == -4.0
    assert panel.weights_table.item(1, 0).text() == "-4"


def test_add_and_remove_features(qtbot):
    model = RecordingModel(preset_config("tiny-numpy-f64"))
    panel = ControlPanel(model)
    qtbot.addWidget(panel)
    add, remove = child(panel, "addFeatureButton"), child(panel, "removeFeatureButton")
    table = child(panel, "weightsTable")
    assert panel.config().data.inline_features is not None
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    config = panel.config()
    assert config.n_features == 3
    assert list(config.data.true_weights) == [10.0, 20.0, 1.0]
    assert config.data.inline_features is None  # the fixed 2-feature rows no longer fit
    assert table.rowCount() == 3
    assert table.verticalHeaderItem(2).text() == "x3"
    assert panel.findChild(QSlider, "weightSlider2") is not None

    table.selectRow(0)
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert list(panel.config().data.true_weights) == [20.0, 1.0]
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)  # nothing selected: the last row goes
    assert list(panel.config().data.true_weights) == [20.0]
    assert not remove.isEnabled()
    for _ in range(63):
        add.click()
    assert panel.config().n_features == 64
    assert not add.isEnabled()


def test_editing_a_weight_rejects_junk(qtbot, panel):
    table = child(panel, "weightsTable")
    table.item(0, 0).setText("-3.5")
    assert list(panel.config().data.true_weights) == [-3.5]
    table.item(0, 0).setText("not a number")
    assert table.item(0, 0).text() == "-3.5"
    table.item(0, 0).setText("1e9")  # beyond the validated range
    assert list(panel.config().data.true_weights) == [-3.5]
    assert table.item(0, 0).text() == "-3.5"


def test_numpy_forces_a_hand_written_optimizer(panel, model):
    impl = panel.findChild(QComboBox, "implementationCombo")
    opt = panel.findChild(QComboBox, "optimizerCombo")
    opt.setCurrentIndex(opt.findData("rmsprop"))
    model.edits.clear()
    impl.setCurrentIndex(impl.findData("numpy"))
    assert opt.currentData() in HAND_WRITTEN_OPTIMIZERS
    assert model.edits == [{"train.implementation": "numpy", "train.optimizer": "adam"}]
    assert panel.config().train.implementation == "numpy"
    m = opt.model()
    offered = {opt.itemData(i) for i in range(opt.count()) if m.item(i).isEnabled()}
    assert offered == set(HAND_WRITTEN_OPTIMIZERS)
    impl.setCurrentIndex(impl.findData("module"))
    offered = {opt.itemData(i) for i in range(opt.count()) if m.item(i).isEnabled()}
    assert offered == set(OPTIMIZERS)


def test_nesterov_never_gets_zero_momentum(panel):
    opt = panel.findChild(QComboBox, "optimizerCombo")
    opt.setCurrentIndex(opt.findData("momentum"))
    child(panel, "momentumSpin").setValue(0.0)
    opt.setCurrentIndex(opt.findData("nesterov"))
    config = panel.config()
    assert config.train.optimizer == "nesterov"
    assert config.train.momentum > 0


def test_each_combo_and_check_edits_its_key(panel, model):
    for name, change, key, value in (
        (
            "lossCombo",
            lambda w: w.setCurrentIndex(w.findData("half_mse")),
            "train.loss",
            "half_mse",
        ),
        (
            "dtypeCombo",
            lambda w: w.setCurrentIndex(w.findData("float64")),
            "model.dtype",
            "float64",
        ),
        ("deviceCombo", lambda w: w.setCurrentIndex(w.findData("cpu")), "train.device", "cpu"),
        ("fitBiasCheck", lambda w: w.setChecked(False), "model.fit_bias", False),
        ("standardizeCheck", lambda w: w.setChecked(True), "data.standardize", True),
    ):
        change(child(panel, name))
        assert model.edits[-1] == {key: value}, name


def test_an_invalid_edit_is_refused_and_the_box_shows_the_kept_value(qtbot):
    model = RecordingModel(preset_config("playground").with_value("data.n_samples", 4))
    panel = ControlPanel(model)
    qtbot.addWidget(panel)
    val = child(panel, "valFractionSpin")
    val.setValue(0.9)  # 4 samples would leave 0 for training
    assert panel.config().data.val_fraction == 0.0
    assert val.value() == 0.0


def test_csv_config_disables_synthetic_widgets(qtbot):
    raw = preset_config("playground").to_dict()
    raw["data"].update(csv_path="/data/houses.csv", target_column="price")
    raw["data"]["feature_columns"] = ["area", "rooms"]
    config = Config.from_dict(raw)
    model = RecordingModel(config)
    panel = ControlPanel(model)
    qtbot.addWidget(panel)
    for name in ("weightsTable", "addFeatureButton", "removeFeatureButton", "biasSpin"):
        assert not child(panel, name).isEnabled(), name
    for name in ("noiseSpin", "samplesSpin", "correlationSpin"):
        assert not child(panel, name).isEnabled(), name
    assert child(panel, "seedSpin").isEnabled()
    assert "houses.csv" in panel.findChild(QWidget, "dataSourceLabel").text()
    assert panel.config() == config
    model.set_config(preset_config("playground"))
    assert child(panel, "biasSpin").isEnabled()


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
    with qtbot.assertNotEmitted(panel.speedChanged):
        panel.set_speed(100.0)
    assert panel.speed() == pytest.approx(100.0)


def test_stable_lr_label_and_marker(panel, model):
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
