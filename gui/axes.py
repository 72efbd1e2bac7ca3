"""Plot axes whose labels read true values at any magnitude: no scale factor in the title.

pyqtgraph's AxisItem divides its tick values by an SI factor and adds it to the title
("loss (x1e+09)") by default; a log axis then labelled the 0.25 noise floor as 2.5e-10. These
axes keep the factor off, print large and tiny linear ticks in scientific notation with as many
digits as the tick spacing needs, and thin out crowded log-mode labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

# Least distance in pixels between two labels of a vertical log axis (they are ~12 px tall):
# closer ones printed into each other.
LOG_LABEL_GAP = 18
LOG_LABEL_SPACE_PX = 8  # free pixels wanted between two labels of a horizontal log axis
EDGE_PX = 3  # how far past pyqtgraph's bounding rect an axis paints, at most
PLAIN_LOG_LABELS = (1e-3, 1e4)  # log-axis labels in this range read as plain numbers
PLAIN_TICKS = (1e-3, 1e6)  # linear ticks up to this magnitude read as plain numbers


def format_ticks(values: Sequence[float], spacing: float) -> list[str]:
    """Tick labels of a linear axis: plain numbers with the decimals the spacing needs, or
    scientific notation (1.25e9, 2e-5) where the ticks are large or tiny."""
    if not (spacing > 0 and math.isfinite(spacing)):
        return [f"{v:g}" for v in values]
    # A tick at zero comes out as 1e-17 of the spacing: print it as 0.
    values = [0.0 if abs(v) < spacing * 1e-9 else float(v) for v in values]
    biggest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    step_exp = math.floor(math.log10(spacing) + 1e-9)
    # Decimals of the spacing's own mantissa: 2.5e7 needs one more digit than 2e7.
    mantissa = spacing / 10.0**step_exp
    extra = next((d for d in range(6) if abs(mantissa * 10**d - round(mantissa * 10**d)) < 1e-6), 6)
    if biggest == 0.0 or PLAIN_TICKS[0] <= biggest < PLAIN_TICKS[1]:
        places = max(0, extra - step_exp)
        return [f"{v:.{places}f}" for v in values]
    return [_scientific(v, max(0, extra - step_exp)) for v in values]


def _scientific(v: float, places: int) -> str:
    """v as 1.25e9 with the digits that resolve 10**-places (trailing zeros dropped)."""
    if v == 0.0 or not math.isfinite(v):
        return f"{v:g}"
    digits = max(0, math.floor(math.log10(abs(v))) + places)
    mantissa, _, exponent = f"{v:.{digits}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


class ReadableAxis(pg.AxisItem):
    """An axis without pyqtgraph's SI scale factor, whose tick labels read the true values."""

    def __init__(self, orientation: str, **kwargs: object) -> None:
        """Make the axis (as pg.AxisItem) with the SI prefix switched off."""
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802
        """pyqtgraph's, a few pixels larger: the axis line and the end labels reach just past
        it, which the cached paint (gui/item_cache.py) would cut off."""
        return super().boundingRect().adjusted(-EDGE_PX, -EDGE_PX, EDGE_PX, EDGE_PX)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        """Labels of linear ticks (format_ticks); log mode goes to logTickStrings."""
        if self.logMode:
            return self.logTickStrings(values, scale, spacing)
        return format_ticks([v * scale for v in values], spacing * scale)


class LogLabelAxis(ReadableAxis):
    """A ReadableAxis whose log-mode labels thin out (decades first, then 5, 2, 3, ...) so
    that none overlap."""

    def tickValues(self, min_val: float, max_val: float, size: float) -> list:  # noqa: N802
        """pyqtgraph's ticks; on a log axis spanning too little to hold two of its ticks (the
        loss between 11.2 and 15.6 got none, so no label), evenly spaced values instead."""
        ticks = super().tickValues(min_val, max_val, size)
        if not self.logMode or not (max_val > min_val):
            return ticks
        shown = {v for _, values in ticks for v in values if min_val <= v <= max_val}
        if len(shown) >= 2:
            return ticks
        lo, hi = 10.0**min_val, 10.0**max_val
        step = _nice_step((hi - lo) / 4)
        first = math.ceil(lo / step) * step
        values = [first + k * step for k in range(int((hi - first) / step) + 1)]
        return [(step, [math.log10(v) for v in values if v > 0])]

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        """Labels for log-mode ticks; a minor tick keeps its mark but loses a crowded label."""
        strings = super().logTickStrings(values, scale, spacing)
        # Plain numbers where they are short ("10", not "10¹" beside "5" and "2"); ticks within
        # a decade (tickValues) need more than one digit.
        for i, v in enumerate(values):
            x = float(f"{10**v * scale:.3g}")
            if PLAIN_LOG_LABELS[0] <= x < PLAIN_LOG_LABELS[1]:
                strings[i] = f"{x:g}"
            elif x != float(f"{x:.1g}"):
                strings[i] = f"{x:.3g}"  # not a digit times a power of ten: say it whole
        lo, hi = self.range
        vertical = self.orientation in ("left", "right")
        length = self.geometry().height() if vertical else self.geometry().width()
        if hi <= lo or length <= 0:
            return strings
        px = length / (hi - lo)
        if vertical:
            sizes = [float(LOG_LABEL_GAP)] * len(strings)
        else:
            font = self.style.get("tickFont") or QtGui.QFont()
            metrics = QtGui.QFontMetricsF(font)
            sizes = [metrics.horizontalAdvance(s) + LOG_LABEL_SPACE_PX for s in strings]
        kept: list[tuple[float, float]] = []
        # Greedy by rank, so a dense axis keeps the labels that orient the eye best.
        for i in sorted(range(len(values)), key=lambda i: _LOG_RANK[_leading_digit(values[i])]):
            at = float(values[i]) * px
            if all(abs(at - k) >= (sizes[i] + size) / 2 for k, size in kept):
                kept.append((at, sizes[i]))
            else:
                strings[i] = ""
        return strings


def _nice_step(rough: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest above rough."""
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


# Which log ticks keep their label first when there is no room for all.
_LOG_RANK = {digit: rank for rank, digit in enumerate((1, 5, 2, 3, 4, 6, 7, 8, 9))}


def _leading_digit(log_value: float) -> int:
    """The leading digit of 10**log_value (log tick values are inexact: 0.3010299 is 2)."""
    digit = round(10 ** (log_value - math.floor(log_value + 1e-6)))
    return 1 if digit == 10 else digit
