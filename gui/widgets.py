"""Reusable input widgets: number boxes that show exact values, sliders, paired controls."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QLocale, QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QDoubleValidator, QPainter, QPaintEvent, QValidator, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionSlider,
    QStyleOptionViewItem,
    QWidget,
)

from gui.style import LIGHT, Palette, palette_of

UNSTABLE_COLOR = QColor(LIGHT.unstable)  # the light theme's; MarkedSlider follows the theme


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


class WheelNeedsFocus:
    """Mixin: ignore the mouse wheel unless focused, so scrolling the panel never edits a value."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Pass the wheel to the scroll area unless this widget has focus."""
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class NumberSpinBox(WheelNeedsFocus, QDoubleSpinBox):
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


class IntSpinBox(WheelNeedsFocus, QSpinBox):
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


class ComboBox(WheelNeedsFocus, QComboBox):
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


class MarkedSlider(WheelNeedsFocus, QSlider):
    """A horizontal slider that can shade everything right of a marker (the unstable zone)."""

    def __init__(self, lo: int, hi: int) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setRange(lo, hi)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._marker: int | None = None
        self._unstable = QColor(palette_of().unstable)

    def set_palette(self, palette: Palette) -> None:
        """Shade the unstable zone in palette's colour."""
        self._unstable = QColor(palette.unstable)
        self.update()

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
        zone = QColor(self._unstable)
        zone.setAlpha(45)
        painter.fillRect(x, 0, groove.right() - x + 1, self.height(), zone)
        painter.setPen(self._unstable)
        painter.drawLine(x, 0, x, self.height())
        painter.end()


class WeightDelegate(QStyledItemDelegate):
    """Edits a true weight in a line edit that only accepts numbers in the allowed range."""

    def __init__(self, limit: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit

    def createEditor(  # noqa: N802 - Qt override
        self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex
    ) -> QWidget:
        """A line edit with a C-locale number validator (so '.' is always the decimal point)."""
        editor = QLineEdit(parent)
        validator = QDoubleValidator(-self.limit, self.limit, 12, editor)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        validator.setLocale(QLocale.c())
        editor.setValidator(validator)
        editor.setAlignment(Qt.AlignmentFlag.AlignRight)
        return editor


@dataclass(frozen=True)
class SliderScale:
    """Maps slider positions 0..steps to values: linear, log (the left end may be 0) or
    powers of two; values are rounded to what a slider position can mean."""

    kind: str  # "linear" | "log" | "pow2"
    lo: float
    hi: float
    steps: int = 200
    integer: bool = False
    zero: bool = False  # log scale whose leftmost position is 0

    def __post_init__(self) -> None:
        if self.kind == "pow2":
            object.__setattr__(self, "steps", round(math.log2(self.hi / self.lo)))

    def value(self, position: int) -> float:
        """The value at a slider position."""
        i = min(max(position, 0), self.steps)
        if self.kind == "pow2":
            return float(self.lo * 2**i)
        if self.kind == "log":
            first = 1 if self.zero else 0
            if i < first:
                return 0.0
            a, b = math.log10(self.lo), math.log10(self.hi)
            v = 10 ** (a + (b - a) * (i - first) / max(self.steps - first, 1))
        else:
            v = self.lo + (self.hi - self.lo) * i / self.steps
        return float(round(v)) if self.integer else float(f"{v:.3g}")

    def position(self, value: float) -> int:
        """The nearest slider position for value (clamped to the ends)."""
        if not math.isfinite(value):
            return self.steps if value > 0 else 0
        if self.kind in ("log", "pow2"):
            if value <= 0:
                return 0
            if self.kind == "pow2":
                i = round(math.log2(max(value, self.lo) / self.lo))
            else:
                first = 1 if self.zero else 0
                if self.zero and value < self.lo:
                    return 0 if value < self.lo / 2 else 1
                a, b = math.log10(self.lo), math.log10(self.hi)
                i = first + round((math.log10(value) - a) / (b - a) * (self.steps - first))
        else:
            i = round((value - self.lo) / (self.hi - self.lo) * self.steps)
        return min(max(i, 0), self.steps)


class SliderSpin(QWidget):
    """A slider to drag and a box for the exact value, kept in step; emits the user's edits.

    The slider spans a practical range (its scale); the box accepts the whole valid range,
    and a value beyond the slider's ends pins the slider there."""

    valueEdited = Signal(float)  # the user changed the value (slider or box)
    gestureFinished = Signal()  # the user let go of the slider (one drag, one gesture)

    def __init__(
        self, spin: QDoubleSpinBox | QSpinBox, slider: MarkedSlider, scale: SliderScale
    ) -> None:
        super().__init__()
        self.spin, self.slider, self.scale = spin, slider, scale
        slider.setRange(0, scale.steps)
        slider.setSingleStep(1)
        slider.setPageStep(max(1, scale.steps // 10))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(slider, 3)
        row.addWidget(spin, 2)
        spin.valueChanged.connect(self._on_spin)
        slider.valueChanged.connect(self._on_slider)
        slider.sliderReleased.connect(self.gestureFinished)

    def value(self) -> float:
        """The value the box shows."""
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        """Show value in both, without emitting."""
        spin = self.spin
        # Clamp first: QSpinBox.setValue overflows on ints beyond 32 bits.
        clamped = min(max(value, spin.minimum()), spin.maximum())
        with QSignalBlocker(spin), QSignalBlocker(self.slider):
            spin.setValue(type(spin.value())(clamped))
            self.slider.setValue(self.scale.position(value))

    def _on_spin(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(self.scale.position(value))
        self.valueEdited.emit(float(value))

    def _on_slider(self, position: int) -> None:
        value = self.scale.value(position)
        with QSignalBlocker(self.spin):
            self.spin.setValue(type(self.spin.value())(value))
        self.valueEdited.emit(float(self.spin.value()))
