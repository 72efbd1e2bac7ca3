"""Parameter panel: data, model/optimizer and speed controls that emit configuration changes.

The panel holds no training state. It reports three kinds of change, each with its own cost:
data changes regenerate the data set (debounced), setup changes rebuild the run, and
hyper-parameter changes (lr, momentum, weight decay) are applied live to the running trainer.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLocale, QModelIndex, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QDoubleValidator, QPainter, QPaintEvent, QValidator, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionSlider,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
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
    MAX_SAMPLES,
    OPTIMIZERS,
    Config,
    replace_section,
)
from core.limits import MOMENTUM_OPTIMIZERS, NESTEROV_MIN_MOMENTUM, OPTIMIZER_FALLBACK

# Learning-rate slider: 10 ** (LR_LO + (LR_HI - LR_LO) * i / LR_STEPS), 100 positions a decade.
LR_LO, LR_HI, LR_STEPS = -5.0, 1.0, 600
# The spin box accepts every learning rate the core validates, beyond the slider's ends.
LR_MIN, LR_MAX = 1e-12, 1e3

# Speed slider: 1 -> 1 step/s, exponential to 1e4 steps/s at 99 (x1.1 a notch), 100 = unthrottled.
SPEED_MIN, SPEED_MAX = 1, 100
SPEED_DECADES = 4.0
DEFAULT_SPEED = 50  # 100 steps/s: the playground's 600 steps take six watchable seconds

DEBOUNCE_MS = 300
WEIGHT_LIMIT = 1e6  # core validates true weights and bias in [-1e6, 1e6]
DEFAULT_NEW_WEIGHT = 1.0
TABLE_VISIBLE_ROWS = 4
SEED_MAX = 2**31 - 1  # QSpinBox is 32-bit signed; larger seeds round-trip via the exact-value memo

IMPLEMENTATION_LABELS = {
    "numpy": "NumPy (hand gradients)",
    "scratch": "Scratch (autograd)",
    "module": "Module (nn.Linear)",
}
OPTIMIZER_LABELS = {
    "sgd": "SGD",
    "momentum": "Momentum (heavy ball)",
    "nesterov": "Nesterov momentum",
    "adam": "Adam",
    "adamw": "AdamW (decoupled decay)",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}
LOSS_LABELS = {"mse": "MSE", "half_mse": "½ MSE (d2l squared_loss)"}
UNSTABLE_COLOR = QColor(211, 47, 47)

DEVICE_LABELS = {"auto": "auto (CUDA if present)", "cpu": "CPU", "cuda": "CUDA GPU"}

TOOLTIPS = {
    "weightsTable": (
        "True weight of each feature (rows x1, x2, ...): the data are y = X·w + b + noise.\n"
        "Double-click or type to edit. Changing a weight regenerates the data and resets the run."
    ),
    "addFeatureButton": (
        f"Add a feature with true weight {DEFAULT_NEW_WEIGHT:g} (up to {MAX_FEATURES}).\n"
        "Regenerates the data and resets the run."
    ),
    "removeFeatureButton": (
        "Remove the selected feature, or the last one if none is selected (at least one stays).\n"
        "Regenerates the data and resets the run."
    ),
    "biasSpin": "True bias b (intercept) of the data. Regenerates the data and resets the run.",
    "noiseSpin": (
        "Standard deviation σ of the Gaussian noise added to y (0 = points exactly on the line).\n"
        "The training MSE cannot fall much below σ². Regenerates the data and resets the run."
    ),
    "samplesSpin": (
        f"Number of samples generated (2 to {MAX_SAMPLES:,}), before the validation split.\n"
        "With the batch size it sets the steps per epoch. Regenerates the data and resets the run."
    ),
    "seedSpin": (
        "Random seed for the data, the validation split, the initial parameters and the batch\n"
        "order: the same seed gives the same run. Regenerates the data and resets the run."
    ),
    "valFractionSpin": (
        "Fraction of the samples held out for validation (0 = none, at most 0.9); their loss is\n"
        "plotted but never trained on. Regenerates the data and resets the run."
    ),
    "correlationSpin": (
        "Correlation between the features (0 = independent, up to 0.99). Correlated features\n"
        "stretch the loss surface into a narrow valley and slow gradient descent down.\n"
        "Regenerates the data and resets the run."
    ),
    "standardizeCheck": (
        "Train on features scaled to mean 0 and standard deviation 1 (training-set statistics);\n"
        "parameters are still shown in original units. A rounder loss surface tolerates larger\n"
        "learning rates. Resets the run."
    ),
    "implementationCombo": (
        "How the model is trained: NumPy with hand-derived gradients, tensors with autograd and a\n"
        "hand-written update (scratch), or nn.Linear + torch.optim (module). NumPy and scratch\n"
        f"offer {', '.join(HAND_WRITTEN_OPTIMIZERS)} only. Resets the run."
    ),
    "optimizerCombo": (
        "The update rule. Greyed-out optimizers need the module implementation (torch.optim).\n"
        "Resets the run."
    ),
    "lossCombo": (
        "MSE = mean((ŷ − y)²). ½ MSE halves it (d2l's squared_loss) and so halves every gradient:\n"
        "the same learning rate takes half-size steps. Resets the run."
    ),
    "batchSizeSpin": (
        "Samples per update step (minibatch). Set it to the training-set size for full-batch\n"
        "gradient descent; small batches give noisier, cheaper steps. Resets the run."
    ),
    "epochsSpin": (
        "Passes over the training set. Changing it extends or shortens the current run\n"
        "without resetting it."
    ),
    "lrSpin": (
        "Learning rate: the size of each update step. Applied live, without resetting the run.\n"
        "Above the stable bound shown below, full-batch gradient descent diverges.\n"
        "Arrow keys or the wheel change it by about 26% a step."
    ),
    "lrSlider": (
        "Learning rate on a log scale from 1e-5 to 10; drag it mid-run to change it live.\n"
        "The red zone starts at the stable bound for full-batch gradient descent."
    ),
    "lrBoundLabel": (
        "Largest learning rate for which full-batch gradient descent (plain SGD) on this data\n"
        "converges: 2 / the largest eigenvalue of the loss's Hessian. Momentum stretches it,\n"
        "minibatch noise shrinks it, and Adam-style optimizers do not follow it."
    ),
    "momentumSpin": (
        "Momentum μ of the momentum and Nesterov optimizers: how much of the previous step\n"
        "carries into the next. Applied live. Disabled for optimizers that do not use it."
    ),
    "weightDecaySpin": (
        "Weight decay λ: adds λ·p to each gradient, pulling the parameters towards 0\n"
        "(AdamW decouples it from the gradient). Applied live; it lowers the stable learning rate."
    ),
    "dtypeCombo": (
        "Floating-point precision of the data and parameters. float32 can stall short of the\n"
        "exact answer on ill-conditioned problems; float64 gets closer. Resets the run."
    ),
    "deviceCombo": (
        "Where the torch implementations compute: auto uses a CUDA GPU when PyTorch sees one,\n"
        "the CPU otherwise. The NumPy implementation always runs on the CPU. Resets the run."
    ),
    "fitBiasCheck": (
        "Learn an intercept b as well as the weights; unchecked, the line is forced through\n"
        "the origin. Resets the run."
    ),
    "speedSlider": (
        "Training speed, applied live: at the left end 1 step (one minibatch) a second, slow\n"
        "enough to follow single batches; each notch is about 10% faster, up to ~10,000 steps\n"
        "a second one notch from the right; the far right runs unthrottled (as fast as the\n"
        "machine allows). It changes only the pace, never the result."
    ),
}


# ---- pure mappings (tested without widgets) -------------------------------------------------
def lr_for_slider(index: int) -> float:
    """Learning rate at lr-slider position index, rounded to 3 significant digits."""
    i = min(max(index, 0), LR_STEPS)
    return float(f"{10 ** (LR_LO + (LR_HI - LR_LO) * i / LR_STEPS):.3g}")


def slider_for_lr(lr: float) -> int:
    """Nearest lr-slider position for lr (clamped to the slider's ends)."""
    if not lr > 0:
        return 0
    i = round((math.log10(lr) - LR_LO) / (LR_HI - LR_LO) * LR_STEPS)
    return min(max(i, 0), LR_STEPS)


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


def short_list(items: list[str], limit: int) -> str:
    """The first limit items, comma-separated, and how many more there are."""
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def format_number(value: float) -> str:
    """Shortest text that reads back as value ('1e-05', '0.03', '2'), never '0.00'."""
    value = float(value)
    if value == 0:
        return "0"  # also folds -0.0
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def format_speed(steps_per_second: float | None) -> str:
    """Human text for a speed: '1.0 step/s', '120 steps/s' or 'unthrottled'."""
    if steps_per_second is None:
        return "unthrottled"
    if steps_per_second < 10:
        unit = "step/s" if round(steps_per_second, 1) == 1 else "steps/s"
        return f"{steps_per_second:.1f} {unit}"
    return f"{steps_per_second:,.0f} steps/s"


# ---- widgets ---------------------------------------------------------------------------------
class _WheelNeedsFocus:
    """Mixin: ignore the mouse wheel unless focused, so scrolling the panel never edits a value."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Pass the wheel to the scroll area unless this widget has focus."""
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class NumberSpinBox(_WheelNeedsFocus, QDoubleSpinBox):
    """A double spin box that shows the shortest exact text ('1e-05', not '0.00')."""

    def __init__(
        self,
        lo: float,
        hi: float,
        step: float,
        decimals: int = 6,
        log_steps: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # Decimals before the range and value: QDoubleSpinBox rounds everything to them.
        self.setDecimals(decimals)
        self.setRange(lo, hi)
        self.setSingleStep(step)
        self._log_steps = log_steps
        # Emit on Enter/focus-out/arrows, not per keystroke: typing "128" must not reset 3 times.
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        """Shortest exact text for value."""
        return format_number(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        """Parse plain or scientific notation; keep the old value if unparsable."""
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:
        """Accept any float in range; partial input such as '1e-' is intermediate."""
        try:
            value = float(text.strip())
        except ValueError:
            return QValidator.State.Intermediate
        if math.isfinite(value) and self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        """Linear steps, or multiplicative ones (x10^0.1 a step) for log-scale quantities."""
        if not self._log_steps:
            super().stepBy(steps)
            return
        value = max(self.value(), self.minimum()) * 10 ** (steps / 10)
        self.setValue(float(f"{value:.3g}"))


class _IntSpinBox(_WheelNeedsFocus, QSpinBox):
    """An integer spin box with adaptive (decade-sized) steps."""

    def __init__(self, lo: int, hi: int, separators: bool = True) -> None:
        super().__init__()
        self.setRange(lo, hi)
        # Steps of 10% of the value's decade: 200 -> 210, 10,000 -> 11,000.
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.setGroupSeparatorShown(separators)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)


class _ComboBox(_WheelNeedsFocus, QComboBox):
    """A combo box that a stray wheel over the scrolling panel cannot change."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__()
        for data, label in items.items():
            self.addItem(label, data)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Do not let the longest label dictate the panel's width.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(10)

    def data(self) -> str:
        """The config string of the current item."""
        return str(self.currentData())

    def select(self, data: str) -> None:
        """Make the item carrying data current."""
        self.setCurrentIndex(self.findData(data))


class MarkedSlider(_WheelNeedsFocus, QSlider):
    """A horizontal slider that can shade everything right of a marker (the unstable zone)."""

    def __init__(self, lo: int, hi: int) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setRange(lo, hi)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._marker: int | None = None

    def marker(self) -> int | None:
        """Slider position of the marker, or None."""
        return self._marker

    def set_marker(self, position: int | None) -> None:
        """Move (or with None, hide) the marker."""
        if position != self._marker:
            self._marker = position
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the slider, then the marker line and a translucent zone beyond it."""
        super().paintEvent(event)
        if self._marker is None:
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        cc = QStyle.ComplexControl.CC_Slider
        groove = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        x = (
            groove.x()
            + handle.width() // 2
            + QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), self._marker, span)
        )
        painter = QPainter(self)
        zone = QColor(UNSTABLE_COLOR)
        zone.setAlpha(45)
        painter.fillRect(x, 0, groove.right() - x + 1, self.height(), zone)
        painter.setPen(UNSTABLE_COLOR)
        painter.drawLine(x, 0, x, self.height())
        painter.end()


class _WeightDelegate(QStyledItemDelegate):
    """Edits a true weight in a line edit that only accepts numbers in the allowed range."""

    def createEditor(  # noqa: N802 - Qt override
        self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex
    ) -> QWidget:
        """A line edit with a C-locale number validator (so '.' is always the decimal point)."""
        editor = QLineEdit(parent)
        validator = QDoubleValidator(-WEIGHT_LIMIT, WEIGHT_LIMIT, 12, editor)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        validator.setLocale(QLocale.c())
        editor.setValidator(validator)
        editor.setAlignment(Qt.AlignmentFlag.AlignRight)
        return editor


# ---- the panel -------------------------------------------------------------------------------
class ControlPanel(QWidget):
    """The parameter panel: shows a Config and emits what changed, by how costly it is."""

    # Data changed (weights, bias, noise, samples, seed, split, correlation, standardize, features):
    # regenerate and reset. Debounced: one emission DEBOUNCE_MS after the last change.
    dataChanged = Signal()
    # Implementation, optimizer, loss, batch size, dtype or fit bias changed: reset the run.
    setupChanged = Signal()
    # New epoch target for the current run (no reset).
    epochsChanged = Signal(int)
    # Live hyper-parameter change: {'lr': x}, {'momentum': x} or {'weight_decay': x}.
    hyperChanged = Signal(dict)
    # Throttle: steps per second (float) or None for unthrottled.
    speedChanged = Signal(object)

    def __init__(self, config: Config | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("controlPanel")
        self._base = Config()
        self._weights: list[float] = []
        # objectName -> (value the widget showed after set_config, exact config value): lets
        # config() return values a widget rounds or clamps (decimals, 32-bit seeds) unchanged.
        self._exact: dict[str, tuple[float, float]] = {}
        self._stable_lr: float | None = None

        self._data_timer = QTimer(self)
        self._data_timer.setSingleShot(True)
        self._data_timer.setInterval(DEBOUNCE_MS)
        self._data_timer.timeout.connect(self.dataChanged)

        self._build()
        self._connect()
        self.set_config(config if config is not None else Config())

    # ---- construction -------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(6)
        layout.addWidget(self._build_data_group())
        layout.addWidget(self._build_model_group())
        layout.addWidget(self._build_speed_group())
        layout.addStretch(1)
        for name, tip in TOOLTIPS.items():
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

    def _build_data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        group.setObjectName("dataGroup")
        form = self._form(group)

        self.source_label = self._named(QLabel(), "dataSourceLabel")
        self.source_label.setWordWrap(True)
        self.source_label.setVisible(False)
        form.addRow(self.source_label)

        table = self._named(QTableWidget(0, 1), "weightsTable")
        table.setHorizontalHeaderLabels(["true weight"])
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setDefaultSectionSize(22)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.setItemDelegate(_WeightDelegate(table))
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.weights_table = table
        form.addRow(table)

        self.add_button = self._named(QPushButton("+ Feature"), "addFeatureButton")
        self.remove_button = self._named(QPushButton("− Feature"), "removeFeatureButton")
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        form.addRow(buttons)

        self.bias_spin = self._named(NumberSpinBox(-WEIGHT_LIMIT, WEIGHT_LIMIT, 0.5), "biasSpin")
        self.noise_spin = self._named(NumberSpinBox(0.0, 1e6, 0.05), "noiseSpin")
        self.samples_spin = self._named(_IntSpinBox(2, MAX_SAMPLES), "samplesSpin")
        self.val_spin = self._named(NumberSpinBox(0.0, 0.9, 0.05), "valFractionSpin")
        self.corr_spin = self._named(NumberSpinBox(0.0, 0.99, 0.05), "correlationSpin")
        self.seed_spin = self._named(_IntSpinBox(0, SEED_MAX, separators=False), "seedSpin")
        self.standardize_check = self._named(QCheckBox("Standardize features"), "standardizeCheck")
        form.addRow("Bias", self.bias_spin)
        form.addRow("Noise σ", self.noise_spin)
        form.addRow("Samples", self.samples_spin)
        form.addRow("Validation", self.val_spin)
        form.addRow("Correlation", self.corr_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow(self.standardize_check)
        return group

    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model && optimizer")
        group.setObjectName("modelGroup")
        form = self._form(group)

        impl = {k: IMPLEMENTATION_LABELS.get(k, k) for k in IMPLEMENTATIONS}
        self.impl_combo = self._named(_ComboBox(impl), "implementationCombo")
        opts = {k: OPTIMIZER_LABELS.get(k, k) for k in OPTIMIZERS}
        self.optimizer_combo = self._named(_ComboBox(opts), "optimizerCombo")
        losses = {k: LOSS_LABELS.get(k, k) for k in LOSSES}
        self.loss_combo = self._named(_ComboBox(losses), "lossCombo")
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

        self.momentum_spin = self._named(NumberSpinBox(0.0, 0.999, 0.01), "momentumSpin")
        self.weight_decay_spin = self._named(NumberSpinBox(0.0, 10.0, 0.0001), "weightDecaySpin")
        self.batch_spin = self._named(_IntSpinBox(1, MAX_SAMPLES), "batchSizeSpin")
        self.epochs_spin = self._named(_IntSpinBox(1, 100_000_000), "epochsSpin")
        self.dtype_combo = self._named(_ComboBox({k: k for k in DTYPES}), "dtypeCombo")
        devices = {k: DEVICE_LABELS.get(k, k) for k in DEVICES}
        self.device_combo = self._named(_ComboBox(devices), "deviceCombo")
        self.fit_bias_check = self._named(QCheckBox("Fit a bias term"), "fitBiasCheck")
        form.addRow("Momentum", self.momentum_spin)
        form.addRow("Weight decay", self.weight_decay_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs", self.epochs_spin)
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

    def _data_inputs(self) -> list[QWidget]:
        return [
            self.weights_table,
            self.bias_spin,
            self.noise_spin,
            self.samples_spin,
            self.val_spin,
            self.corr_spin,
            self.seed_spin,
            self.standardize_check,
        ]

    def _inputs(self) -> list[QWidget]:
        return [
            *self._data_inputs(),
            self.impl_combo,
            self.optimizer_combo,
            self.loss_combo,
            self.lr_spin,
            self.lr_slider,
            self.momentum_spin,
            self.weight_decay_spin,
            self.batch_spin,
            self.epochs_spin,
            self.dtype_combo,
            self.device_combo,
            self.fit_bias_check,
            self.speed_slider,
        ]

    def _connect(self) -> None:
        for spin in (self.bias_spin, self.noise_spin, self.val_spin, self.corr_spin):
            spin.valueChanged.connect(self._schedule_data)
        for spin in (self.samples_spin, self.seed_spin):
            spin.valueChanged.connect(self._schedule_data)
        self.standardize_check.toggled.connect(self._schedule_data)
        self.weights_table.itemChanged.connect(self._on_weight_edited)
        self.add_button.clicked.connect(self._add_feature)
        self.remove_button.clicked.connect(self._remove_feature)

        self.impl_combo.currentIndexChanged.connect(self._on_implementation_changed)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer_changed)
        for combo in (self.loss_combo, self.dtype_combo, self.device_combo):
            combo.currentIndexChanged.connect(self.setupChanged)
        self.batch_spin.valueChanged.connect(self.setupChanged)
        self.fit_bias_check.toggled.connect(self.setupChanged)
        self.epochs_spin.valueChanged.connect(self.epochsChanged)

        self.lr_spin.valueChanged.connect(self._on_lr_spin)
        self.lr_slider.valueChanged.connect(self._on_lr_slider)
        self.momentum_spin.valueChanged.connect(lambda v: self.hyperChanged.emit({"momentum": v}))
        self.weight_decay_spin.valueChanged.connect(
            lambda v: self.hyperChanged.emit({"weight_decay": v})
        )
        self.speed_slider.valueChanged.connect(self._on_speed)

    # ---- public API ---------------------------------------------------------------------
    def config(self) -> Config:
        """Build and validate a Config from the widgets (raises ConfigError if invalid)."""
        raw = self._base.to_dict()
        d, m, t = raw["data"], raw["model"], raw["train"]
        d["true_weights"] = list(self._weights)
        d["true_bias"] = self._read(self.bias_spin)
        d["noise_std"] = self._read(self.noise_spin)
        d["n_samples"] = int(self._read(self.samples_spin))
        d["seed"] = int(self._read(self.seed_spin))
        d["val_fraction"] = self._read(self.val_spin)
        d["feature_correlation"] = self._read(self.corr_spin)
        d["standardize"] = self.standardize_check.isChecked()
        m["fit_bias"] = self.fit_bias_check.isChecked()
        m["dtype"] = self.dtype_combo.data()
        t["device"] = self.device_combo.data()
        t["implementation"] = self.impl_combo.data()
        t["optimizer"] = self.optimizer_combo.data()
        t["loss"] = self.loss_combo.data()
        t["lr"] = self._read(self.lr_spin)
        t["momentum"] = self._read(self.momentum_spin)
        t["weight_decay"] = self._read(self.weight_decay_spin)
        t["batch_size"] = int(self._read(self.batch_spin))
        t["epochs"] = int(self._read(self.epochs_spin))
        return Config.from_dict(raw)

    def set_config(self, config: Config) -> None:
        """Show config in the widgets without emitting any signal."""
        self._base = config.copy()
        self._data_timer.stop()  # a pending data change is superseded by the new config
        blockers = [QSignalBlocker(w) for w in self._inputs()]
        try:
            d, m, t = config.data, config.model, config.train
            self._exact.clear()
            self._fill_table(list(d.true_weights))
            self._load(self.bias_spin, d.true_bias)
            self._load(self.noise_spin, d.noise_std)
            self._load(self.samples_spin, d.n_samples)
            self._load(self.seed_spin, d.seed)
            self._load(self.val_spin, d.val_fraction)
            self._load(self.corr_spin, d.feature_correlation)
            self.standardize_check.setChecked(d.standardize)
            self.fit_bias_check.setChecked(m.fit_bias)
            self.dtype_combo.select(m.dtype)
            self.device_combo.select(t.device)
            self.impl_combo.select(t.implementation)
            self._offer_optimizers(t.implementation)
            self.optimizer_combo.select(t.optimizer)
            self.loss_combo.select(t.loss)
            self._update_momentum_state()
            self._load(self.lr_spin, t.lr)
            self.lr_slider.setValue(slider_for_lr(self.lr_spin.value()))
            self._load(self.momentum_spin, t.momentum)
            self._load(self.weight_decay_spin, t.weight_decay)
            self._load(self.batch_spin, t.batch_size)
            self._load(self.epochs_spin, t.epochs)
        finally:
            for blocker in blockers:
                blocker.unblock()
        self._update_source_state()
        self._update_bound()

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

    def flush(self) -> None:
        """Emit a pending (debounced) dataChanged now."""
        if self._data_timer.isActive():
            self._data_timer.stop()
            self.dataChanged.emit()

    def n_features(self) -> int:
        """Number of rows in the weights table."""
        return len(self._weights)

    # ---- exact values -------------------------------------------------------------------
    def _load(self, spin: QSpinBox | QDoubleSpinBox, value: float) -> None:
        # Clamp first: QSpinBox.setValue overflows on ints beyond 32 bits (large seeds).
        spin.setValue(type(spin.value())(min(max(value, spin.minimum()), spin.maximum())))
        self._exact[spin.objectName()] = (spin.value(), value)

    def _read(self, spin: QSpinBox | QDoubleSpinBox) -> float:
        shown, exact = self._exact.get(spin.objectName(), (None, None))
        value = spin.value()
        # Untouched since set_config: return the config's own value, not the widget's rounding.
        return exact if value == shown and exact is not None else value

    # ---- data ---------------------------------------------------------------------------
    def _schedule_data(self) -> None:
        # Restarting the single-shot timer coalesces a drag or a burst of edits into one reset.
        self._data_timer.start()

    def _fill_table(self, weights: list[float]) -> None:
        self._weights = [float(w) for w in weights]
        table = self.weights_table
        with QSignalBlocker(table):
            table.clearSelection()
            table.setRowCount(len(self._weights))
            for row, w in enumerate(self._weights):
                item = QTableWidgetItem(format_number(w))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, 0, item)
            table.setVerticalHeaderLabels([f"x{i + 1}" for i in range(len(self._weights))])
        self._fit_table_height()
        self._update_feature_buttons()

    def _fit_table_height(self) -> None:
        table = self.weights_table
        rows = min(max(len(self._weights), 1), TABLE_VISIBLE_ROWS)
        height = (
            table.horizontalHeader().sizeHint().height()
            + rows * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
        )
        table.setFixedHeight(height)

    def _on_weight_edited(self, item: QTableWidgetItem) -> None:
        row = item.row()
        if not 0 <= row < len(self._weights):
            return
        try:
            value = float(item.text().strip())
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and abs(value) <= WEIGHT_LIMIT
        if ok:
            changed = value != self._weights[row]
            self._weights[row] = value
        else:
            changed, value = False, self._weights[row]  # reject: show the old weight again
        with QSignalBlocker(self.weights_table):
            item.setText(format_number(value))
        if changed:
            self._schedule_data()

    def _add_feature(self) -> None:
        if len(self._weights) >= MAX_FEATURES:
            return
        self._fill_table([*self._weights, DEFAULT_NEW_WEIGHT])
        self._features_changed()

    def _remove_feature(self) -> None:
        if len(self._weights) <= 1:
            return
        rows = {index.row() for index in self.weights_table.selectedIndexes()}
        row = min(rows) if rows else len(self._weights) - 1
        self._fill_table(self._weights[:row] + self._weights[row + 1 :])
        self._features_changed()

    def _features_changed(self) -> None:
        # Fixed feature rows (a preset's inline matrix) no longer match the feature count.
        self._base = replace_section(self._base, "data", inline_features=None)
        self._update_source_state()
        self._schedule_data()

    def _update_feature_buttons(self) -> None:
        csv = bool(self._base.data.csv_path)
        n = len(self._weights)
        self.add_button.setEnabled(not csv and n < MAX_FEATURES)
        self.remove_button.setEnabled(not csv and n > 1)

    def _update_source_state(self) -> None:
        """Grey out what the data source ignores and say where the data come from."""
        d = self._base.data
        csv = bool(d.csv_path)
        inline = d.inline_features is not None and not csv
        for widget in (self.weights_table, self.bias_spin, self.noise_spin):
            widget.setEnabled(not csv)
        # Fixed rows set the sample count and the feature values themselves.
        self.samples_spin.setEnabled(not csv and not inline)
        self.corr_spin.setEnabled(not csv and not inline)
        self._update_feature_buttons()
        if csv:
            cols = d.feature_columns or []
            detail = f"target {d.target_column}" if d.target_column else "last column as target"
            if cols:
                detail += f", features {short_list(cols, 8)}"
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
        self._offer_optimizers(implementation)
        current = self.optimizer_combo.data()
        if implementation != "module" and current not in HAND_WRITTEN_OPTIMIZERS:
            # Switch quietly: the implementation change below emits the single setupChanged.
            with QSignalBlocker(self.optimizer_combo):
                self.optimizer_combo.select(OPTIMIZER_FALLBACK.get(current, "sgd"))
            self._update_momentum_state()
            self._update_bound()
        self.setupChanged.emit()

    def _on_optimizer_changed(self) -> None:
        self._update_momentum_state()
        self._update_bound()
        self.setupChanged.emit()

    def _update_momentum_state(self) -> None:
        optimizer = self.optimizer_combo.data()
        self.momentum_spin.setEnabled(optimizer in MOMENTUM_OPTIMIZERS)
        minimum = NESTEROV_MIN_MOMENTUM if optimizer == "nesterov" else 0.0
        with QSignalBlocker(self.momentum_spin):
            if self.momentum_spin.value() < minimum:
                # Nesterov without momentum is invalid; 0.9 is the usual choice.
                self.momentum_spin.setValue(0.9)
            self.momentum_spin.setMinimum(minimum)

    # ---- learning rate ------------------------------------------------------------------
    def _on_lr_spin(self, value: float) -> None:
        with QSignalBlocker(self.lr_slider):
            self.lr_slider.setValue(slider_for_lr(value))
        self._lr_changed(value)

    def _on_lr_slider(self, index: int) -> None:
        with QSignalBlocker(self.lr_spin):
            self.lr_spin.setValue(lr_for_slider(index))
        self._lr_changed(self.lr_spin.value())

    def _lr_changed(self, value: float) -> None:
        self._update_bound()
        self.hyperChanged.emit({"lr": value})

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
            if self.optimizer_combo.data() == "sgd" and self.lr_spin.value() >= bound:
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
