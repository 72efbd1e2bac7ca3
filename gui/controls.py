"""The parameter panel: a control for every setting, built from a table of fields.

The panel shows the configuration its model owns (a RunController in the window) and sends the
user's edits to it as dotted keys ({"train.lr": 0.04}); it keeps no configuration of its own.
Whether an edit applies live, rebuilds the run or waits for a drag to settle is the model's call.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.config import (
    DEVICES,
    DTYPES,
    HAND_WRITTEN_OPTIMIZERS,
    IMPLEMENTATIONS,
    LOSSES,
    MAX_FEATURES,
    OPTIMIZERS,
    Config,
)
from core.limits import (
    LIMITS,
    LR,
    MOMENTUM_OPTIMIZERS,
    NESTEROV_MIN_MOMENTUM,
    OPTIMIZER_FALLBACK,
    TRUE_WEIGHT,
    Limit,
)
from gui.run_controller import ConfigModel
from gui.texts import (
    DEVICE_LABELS,
    IMPLEMENTATION_LABELS,
    LOSS_LABELS,
    OPTIMIZER_LABELS,
    SLIDER_TIPS,
    TOOLTIPS,
)
from gui.weights_editor import BLANK, WEIGHT_SCALE, WeightsEditor
from gui.widgets import (
    UNSTABLE_COLOR,
    ComboBox,
    IntSpinBox,
    MarkedSlider,
    NumberSpinBox,
    SliderScale,
    SliderSpin,
    format_number,
    format_speed,
    short_list,
)

# Learning-rate slider: 10 ** (LR_LO + (LR_HI - LR_LO) * i / LR_STEPS), 100 positions a decade.
LR_LO, LR_HI, LR_STEPS = -5.0, 1.0, 600
LR_SCALE = SliderScale("log", 10**LR_LO, 10**LR_HI, LR_STEPS)
# The spin box accepts every learning rate the core validates, beyond the slider's ends.
LR_MIN, LR_MAX = LR.lo, LR.hi

# Speed slider: 1 -> 1 step/s, exponential to 1e4 steps/s at 99 (x1.1 a notch), 100 = unthrottled.
SPEED_MIN, SPEED_MAX = 1, 100
SPEED_DECADES = 4.0
DEFAULT_SPEED = 50  # 100 steps/s: the playground's 600 steps take six watchable seconds

WEIGHT_LIMIT = TRUE_WEIGHT.hi
INT_BOX_MAX = 2**31 - 1  # QSpinBox is 32-bit signed


@dataclass(frozen=True)
class NumberField:
    """One numeric setting: its key, its label, its box and (optionally) its slider."""

    key: str  # dotted configuration key; its range is core.limits.LIMITS[key]
    label: str
    spin: str  # objectName of the exact-value box
    step: float
    slider: str | None = None  # objectName of the slider beside it
    scale: SliderScale | None = None

    @property
    def limit(self) -> Limit:
        """The valid range, declared once in core."""
        return LIMITS[self.key]

    @property
    def integer(self) -> bool:
        """Whether the setting is a whole number."""
        return self.limit.integer


DATA_FIELDS = (
    NumberField(
        "data.true_bias", "Bias", "biasSpin", 0.5,
        "biasSlider", WEIGHT_SCALE,
    ),
    NumberField(
        "data.noise_std", "Noise σ", "noiseSpin", 0.05,
        "noiseSlider", SliderScale("linear", 0.0, 5.0, 100),
    ),
    NumberField(
        "data.n_samples", "Samples", "samplesSpin", 1,
        "samplesSlider", SliderScale("log", 10, 1_000_000, 150, integer=True),
    ),
    NumberField("data.val_fraction", "Validation", "valFractionSpin", 0.05),
    NumberField(
        "data.feature_correlation", "Correlation", "correlationSpin", 0.05,
        "correlationSlider", SliderScale("linear", 0.0, 0.99, 99),
    ),
    NumberField("data.seed", "Seed", "seedSpin", 1),
)  # fmt: skip
TRAIN_FIELDS = (
    NumberField(
        "train.momentum", "Momentum", "momentumSpin", 0.01,
        "momentumSlider", SliderScale("linear", 0.0, 0.999, 200),
    ),
    NumberField(
        "train.weight_decay", "Weight decay", "weightDecaySpin", 0.0001,
        "weightDecaySlider", SliderScale("log", 1e-5, 10.0, 121, zero=True),
    ),
    NumberField(
        "train.batch_size", "Batch size", "batchSizeSpin", 1,
        "batchSizeSlider", SliderScale("pow2", 1, 4096, integer=True),
    ),
    NumberField("train.epochs", "Epochs", "epochsSpin", 1),
)  # fmt: skip
# Fields that need synthetic data (greyed for a CSV file, or fixed rows from a preset).
SYNTHETIC_KEYS = ("data.true_bias", "data.noise_std")
FREE_ROW_KEYS = ("data.n_samples", "data.feature_correlation")


# ---- pure mappings (tested without widgets) -------------------------------------------------
def lr_for_slider(index: int) -> float:
    """Learning rate at lr-slider position index, rounded to 3 significant digits."""
    return LR_SCALE.value(index)


def slider_for_lr(lr: float) -> int:
    """Nearest lr-slider position for lr (clamped to the slider's ends)."""
    return LR_SCALE.position(lr) if lr > 0 else 0


def steps_per_second_for(value: int) -> float | None:
    """Speed-slider value -> training steps per second; None means unthrottled."""
    if value >= SPEED_MAX:
        return None
    v = max(value, SPEED_MIN)
    return 10 ** (SPEED_DECADES * (v - SPEED_MIN) / (SPEED_MAX - 1 - SPEED_MIN))


def slider_for_speed(steps_per_second: float | None) -> int:
    """Nearest speed-slider value for a rate in steps/s (None = unthrottled)."""
    if steps_per_second is None or not math.isfinite(steps_per_second):
        return SPEED_MAX
    if steps_per_second <= 0:
        return SPEED_MIN
    span = SPEED_MAX - 1 - SPEED_MIN
    v = round(SPEED_MIN + span * math.log10(steps_per_second) / SPEED_DECADES)
    return min(max(v, SPEED_MIN), SPEED_MAX - 1)


def _get(config: Config, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(config, section), key)


def _box(field: NumberField) -> QSpinBox | QDoubleSpinBox:
    lo, hi = field.limit.lo, field.limit.hi
    if field.integer:
        # QSpinBox is 32-bit: larger values (seeds) show clamped and are kept exact.
        return IntSpinBox(int(lo), int(min(hi, INT_BOX_MAX)), separators=field.key != "data.seed")
    return NumberSpinBox(lo, hi, field.step)


class ControlPanel(QWidget):
    """Shows its model's configuration; every edit goes to the model as dotted keys."""

    # Throttle: steps per second (float) or None for unthrottled. Not part of the configuration.
    speedChanged = Signal(object)

    def __init__(self, model: ConfigModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("controlPanel")
        self._model = model
        self._stable_lr: float | None = None
        self._boxes: dict[str, SliderSpin | QSpinBox | QDoubleSpinBox] = {}
        self._build()
        self._connect()
        for slider in self.findChildren(QSlider):
            self._follow_gesture(slider)
        self._show(model.config())
        model.configChanged.connect(self._show)
        stable = getattr(model, "stableLrChanged", None)
        if stable is not None:
            stable.connect(self.set_stable_lr)

    # ---- construction -------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(6)
        layout.addWidget(self._build_data_group())
        layout.addWidget(self._build_model_group())
        layout.addWidget(self._build_speed_group())
        layout.addStretch(1)
        for name, tip in {**TOOLTIPS, **SLIDER_TIPS}.items():
            self.findChild(QWidget, name).setToolTip(tip)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    @staticmethod
    def _form(group: QGroupBox) -> QFormLayout:
        form = QFormLayout(group)
        form.setContentsMargins(6, 6, 6, 6)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return form

    @staticmethod
    def _named(widget: QWidget, name: str) -> Any:
        widget.setObjectName(name)
        return widget

    def _add_fields(self, form: QFormLayout, fields: tuple[NumberField, ...]) -> None:
        for field in fields:
            box = self._named(_box(field), field.spin)
            if field.slider is not None and field.scale is not None:
                slider = self._named(MarkedSlider(0, field.scale.steps), field.slider)
                pair = SliderSpin(box, slider, field.scale)
                pair.valueEdited.connect(lambda v, k=field.key: self._edit_number(k, v))
                self._boxes[field.key] = pair
                form.addRow(field.label, pair)
            else:
                box.valueChanged.connect(lambda v, k=field.key: self._edit_number(k, v))
                self._boxes[field.key] = box
                form.addRow(field.label, box)

    def _build_data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        group.setObjectName("dataGroup")
        form = self._form(group)

        self.source_label = self._named(QLabel(), "dataSourceLabel")
        self.source_label.setWordWrap(True)
        self.source_label.setVisible(False)
        form.addRow(self.source_label)

        self.weights = WeightsEditor(self._model, self._follow_gesture)
        self.weights_table = self.weights.table
        self.add_button, self.remove_button = self.weights.add_button, self.weights.remove_button
        form.addRow(self.weights)

        self._add_fields(form, DATA_FIELDS)
        self.standardize_check = self._named(QCheckBox("Standardize features"), "standardizeCheck")
        form.addRow(self.standardize_check)
        return group

    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model && optimizer")
        group.setObjectName("modelGroup")
        form = self._form(group)

        impl = {k: IMPLEMENTATION_LABELS.get(k, k) for k in IMPLEMENTATIONS}
        self.impl_combo = self._named(ComboBox(impl), "implementationCombo")
        opts = {k: OPTIMIZER_LABELS.get(k, k) for k in OPTIMIZERS}
        self.optimizer_combo = self._named(ComboBox(opts), "optimizerCombo")
        losses = {k: LOSS_LABELS.get(k, k) for k in LOSSES}
        self.loss_combo = self._named(ComboBox(losses), "lossCombo")
        form.addRow("Implementation", self.impl_combo)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Loss", self.loss_combo)

        self.lr_spin = self._named(
            NumberSpinBox(LR_MIN, LR_MAX, 0.0, decimals=12, log_steps=True), "lrSpin"
        )
        form.addRow("Learning rate", self.lr_spin)
        self.lr_slider = self._named(MarkedSlider(0, LR_STEPS), "lrSlider")
        self.lr_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.lr_slider.setTickInterval(LR_STEPS // round(LR_HI - LR_LO))  # one tick a decade
        self.lr_slider.setSingleStep(5)
        self.lr_slider.setPageStep(LR_STEPS // round(LR_HI - LR_LO))
        ends = QHBoxLayout()
        ends.setSpacing(4)
        lo_label, hi_label = QLabel(format_number(10**LR_LO)), QLabel(format_number(10**LR_HI))
        for label in (lo_label, hi_label):
            label.setEnabled(False)  # greyed: a scale legend, not a value
        ends.addWidget(lo_label)
        ends.addWidget(self.lr_slider, 1)
        ends.addWidget(hi_label)
        form.addRow(ends)
        self.lr_bound_label = self._named(QLabel(), "lrBoundLabel")
        self.lr_bound_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.lr_bound_label)

        self._add_fields(form, TRAIN_FIELDS)
        self.dtype_combo = self._named(ComboBox({k: k for k in DTYPES}), "dtypeCombo")
        devices = {k: DEVICE_LABELS.get(k, k) for k in DEVICES}
        self.device_combo = self._named(ComboBox(devices), "deviceCombo")
        self.fit_bias_check = self._named(QCheckBox("Fit a bias term"), "fitBiasCheck")
        form.addRow("Precision", self.dtype_combo)
        form.addRow("Device", self.device_combo)
        form.addRow(self.fit_bias_check)
        return group

    def _build_speed_group(self) -> QGroupBox:
        group = QGroupBox("Speed")
        group.setObjectName("speedGroup")
        row = QHBoxLayout(group)
        row.setContentsMargins(6, 6, 6, 6)
        self.speed_slider = self._named(MarkedSlider(SPEED_MIN, SPEED_MAX), "speedSlider")
        self.speed_slider.setPageStep(10)
        self.speed_slider.setValue(DEFAULT_SPEED)
        self.speed_label = self._named(QLabel(), "speedLabel")
        # Fixed width so the slider does not jump as the text changes length.
        self.speed_label.setMinimumWidth(
            self.speed_label.fontMetrics().horizontalAdvance("10,000 steps/s")
        )
        self.speed_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.speed_slider, 1)
        row.addWidget(self.speed_label)
        self._update_speed_label()
        return group

    def _connect(self) -> None:
        self.standardize_check.toggled.connect(lambda on: self.edit({"data.standardize": on}))
        self.fit_bias_check.toggled.connect(lambda on: self.edit({"model.fit_bias": on}))
        self.impl_combo.currentIndexChanged.connect(self._on_implementation_changed)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer_changed)
        for combo, key in (
            (self.loss_combo, "train.loss"),
            (self.dtype_combo, "model.dtype"),
            (self.device_combo, "train.device"),
        ):
            combo.currentIndexChanged.connect(lambda _, c=combo, k=key: self.edit({k: c.data()}))
        self.lr_spin.valueChanged.connect(self._on_lr_spin)
        self.lr_slider.valueChanged.connect(self._on_lr_slider)
        self.speed_slider.valueChanged.connect(self._on_speed)

    def _follow_gesture(self, slider: QSlider) -> None:
        """A drag of slider is one gesture for the model (one marker from press to release)."""
        begin = getattr(self._model, "begin_gesture", None)
        end = getattr(self._model, "end_gesture", None)
        if begin is not None and end is not None and slider is not self.speed_slider:
            slider.sliderPressed.connect(begin)
            slider.sliderReleased.connect(end)

    # ---- public API ---------------------------------------------------------------------
    def config(self) -> Config:
        """The configuration shown (the model's)."""
        return self._model.config()

    def edit(self, changes: dict[str, Any]) -> bool:
        """Send edits (dotted keys) to the model; False if it refused them."""
        return self._model.edit(changes)

    def speed(self) -> float | None:
        """Current throttle in steps per second, or None for unthrottled."""
        return steps_per_second_for(self.speed_slider.value())

    def set_speed(self, steps_per_second: float | None) -> None:
        """Move the speed slider to the nearest setting, without emitting speedChanged."""
        with QSignalBlocker(self.speed_slider):
            self.speed_slider.setValue(slider_for_speed(steps_per_second))
        self._update_speed_label()

    def set_stable_lr(self, value: float) -> None:
        """Show the largest stable full-batch learning rate (inf: any; nan/<=0: unknown)."""
        self._stable_lr = value
        self._update_bound()

    def n_features(self) -> int:
        """Number of rows in the weights table."""
        return self.weights_table.rowCount()

    def weight_slider(self, row: int) -> MarkedSlider:
        """The slider of the true weight in row."""
        return self.weights.weight_slider(row)

    def number_widget(self, key: str) -> SliderSpin | QSpinBox | QDoubleSpinBox:
        """The box (or slider and box) that edits a numeric key such as 'data.noise_std'."""
        return self._boxes[key]

    # ---- showing the model's configuration ----------------------------------------------
    def _show(self, config: Config) -> None:
        """Show config in the widgets without emitting anything; widgets already showing
        their value are left alone (so a box being typed in keeps its cursor)."""
        d, m, t = config.data, config.model, config.train
        csv = bool(d.csv_path)
        columns = list(d.feature_columns or []) if csv else None
        self.weights.show_weights(list(d.true_weights), columns)
        for key, widget in self._boxes.items():
            value = _get(config, key)
            spin = widget.spin if isinstance(widget, SliderSpin) else widget
            # Settings a file does not have show nothing, not a preset's stale values.
            blank = csv and key in (*SYNTHETIC_KEYS, *FREE_ROW_KEYS)
            spin.setSpecialValueText(BLANK if blank else "")
            if blank:
                value = spin.minimum()
            if isinstance(widget, SliderSpin):
                if widget.value() != value:
                    widget.set_value(value)
            elif widget.value() != value:
                with QSignalBlocker(widget):
                    widget.setValue(
                        type(widget.value())(min(max(value, widget.minimum()), widget.maximum()))
                    )
        for check, on in (
            (self.standardize_check, d.standardize),
            (self.fit_bias_check, m.fit_bias),
        ):
            with QSignalBlocker(check):
                check.setChecked(on)
        for combo, value in (
            (self.dtype_combo, m.dtype),
            (self.device_combo, t.device),
            (self.impl_combo, t.implementation),
            (self.loss_combo, t.loss),
        ):
            with QSignalBlocker(combo):
                combo.select(value)
        self._offer_optimizers(t.implementation)
        with QSignalBlocker(self.optimizer_combo):
            self.optimizer_combo.select(t.optimizer)
        if self.lr_spin.value() != t.lr:
            with QSignalBlocker(self.lr_spin):
                self.lr_spin.setValue(t.lr)
        with QSignalBlocker(self.lr_slider):
            self.lr_slider.setValue(slider_for_lr(self.lr_spin.value()))
        self._update_momentum_state(t.optimizer)
        self._update_source_state(config)
        self._update_bound()

    # ---- data ---------------------------------------------------------------------------
    def _edit_number(self, key: str, value: float) -> None:
        field_value: float | int = int(value) if key in _INTEGER_KEYS else float(value)
        self.edit({key: field_value})

    def _update_source_state(self, config: Config) -> None:
        """Grey out what the data source ignores and say where the data come from."""
        d = config.data
        csv = bool(d.csv_path)
        inline = d.inline_features is not None and not csv
        self.weights_table.setEnabled(not csv)
        for key in SYNTHETIC_KEYS:
            self._boxes[key].setEnabled(not csv)
        # Fixed rows set the sample count and the feature values themselves.
        for key in FREE_ROW_KEYS:
            self._boxes[key].setEnabled(not csv and not inline)
        n = len(d.true_weights)
        self.add_button.setEnabled(not csv and n < MAX_FEATURES)
        self.remove_button.setEnabled(not csv and n > 1)
        if csv:
            cols = d.feature_columns or []
            detail = f"target {d.target_column}" if d.target_column else "last column as target"
            if cols:
                detail += f", features {short_list(list(cols), 8)}"
            text = f"<b>CSV:</b> {html.escape(Path(d.csv_path).name)} ({html.escape(detail)})"
            self.source_label.setToolTip(str(d.csv_path))
        elif inline:
            n = len(d.inline_features or [])
            text = (
                f"<b>{n} fixed rows</b> from the preset set the features; add or remove a "
                "feature to draw random ones instead."
            )
            self.source_label.setToolTip("")
        else:
            text = ""
        self.source_label.setText(text)
        self.source_label.setVisible(bool(text))

    # ---- model and optimizer ------------------------------------------------------------
    def _offer_optimizers(self, implementation: str) -> None:
        hand_only = implementation != "module"
        model = self.optimizer_combo.model()
        for i in range(self.optimizer_combo.count()):
            name = self.optimizer_combo.itemData(i)
            allowed = not hand_only or name in HAND_WRITTEN_OPTIMIZERS
            model.item(i).setEnabled(allowed)
            tip = "" if allowed else "needs the module implementation (torch.optim)"
            self.optimizer_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)

    def _on_implementation_changed(self) -> None:
        implementation = self.impl_combo.data()
        changes: dict[str, Any] = {"train.implementation": implementation}
        current = self.config().train.optimizer
        if implementation != "module" and current not in HAND_WRITTEN_OPTIMIZERS:
            # One edit: the implementation and its closest hand-written optimizer together.
            changes["train.optimizer"] = OPTIMIZER_FALLBACK.get(current, "sgd")
        self.edit(changes)

    def _on_optimizer_changed(self) -> None:
        optimizer = self.optimizer_combo.data()
        changes: dict[str, Any] = {"train.optimizer": optimizer}
        if optimizer == "nesterov" and self.config().train.momentum < NESTEROV_MIN_MOMENTUM:
            changes["train.momentum"] = 0.9  # Nesterov without momentum is invalid
        self.edit(changes)

    def _update_momentum_state(self, optimizer: str) -> None:
        momentum = self._boxes["train.momentum"]
        momentum.setEnabled(optimizer in MOMENTUM_OPTIMIZERS)
        minimum = NESTEROV_MIN_MOMENTUM if optimizer == "nesterov" else 0.0
        spin = momentum.spin if isinstance(momentum, SliderSpin) else momentum
        with QSignalBlocker(spin):
            spin.setMinimum(minimum)

    # ---- learning rate ------------------------------------------------------------------
    def _on_lr_spin(self, value: float) -> None:
        with QSignalBlocker(self.lr_slider):
            self.lr_slider.setValue(slider_for_lr(value))
        self.edit({"train.lr": float(value)})

    def _on_lr_slider(self, index: int) -> None:
        with QSignalBlocker(self.lr_spin):
            self.lr_spin.setValue(lr_for_slider(index))
        self.edit({"train.lr": float(self.lr_spin.value())})

    def _update_bound(self) -> None:
        bound = self._stable_lr
        label = self.lr_bound_label
        warn = False
        if bound is None or math.isnan(bound) or bound <= 0:
            text, marker = "stable bound: not known yet", None
        elif math.isinf(bound):
            text, marker = "stable for any learning rate", None
        else:
            text = f"stable below {float(f'{bound:.3g}'):g}"
            marker = slider_for_lr(bound) if bound <= 10**LR_HI else None
            # The bound is for plain gradient descent; other rules have other limits.
            train = self.config().train
            if train.optimizer == "sgd" and train.lr >= bound:
                text += " — lr is above it"
                warn = True
        label.setText(text)
        label.setStyleSheet(f"color: {UNSTABLE_COLOR.name()};" if warn else "")
        self.lr_slider.set_marker(marker)

    # ---- speed --------------------------------------------------------------------------
    def _on_speed(self, value: int) -> None:
        self._update_speed_label()
        self.speedChanged.emit(steps_per_second_for(value))

    def _update_speed_label(self) -> None:
        self.speed_label.setText(format_speed(self.speed()))


_INTEGER_KEYS = frozenset(f.key for f in (*DATA_FIELDS, *TRAIN_FIELDS) if f.integer)
