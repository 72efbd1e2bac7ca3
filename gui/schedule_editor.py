"""The learning-rate schedule and the batch sampling in the control panel.

A combo picks the schedule (`scheduleCombo`), a box per parameter shows the picked schedule's
own (the others' rows are hidden), and a second combo picks how batches are drawn
(`samplingCombo`). Like the rest of the panel it keeps no configuration: it shows its model's
and sends each edit as a dotted key, the whole schedule at once ({"train.schedule": {"name":
"cosine", "lr_min": 0.001}}); the run controller rebuilds the run for it. Ranges come from
core.limits.SCHEDULE_LIMITS, defaults from core.schedules.SCHEDULES.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import QObject, QSignalBlocker, SignalInstance
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from core.config import SAMPLINGS, Config
from core.limits import SCHEDULE_LIMITS
from core.schedules import SCHEDULES, Schedule
from gui.widgets import ComboBox, IntSpinBox, NumberSpinBox


class ConfigSource(Protocol):
    """What the editor needs of its model (gui.run_controller.ConfigModel)."""

    configChanged: SignalInstance

    def config(self) -> Config:
        """The configuration shown."""

    def edit(self, changes: dict[str, Any]) -> bool:
        """Apply dotted-key edits; False if refused."""


INT_BOX_MAX = 2**31 - 1  # QSpinBox is 32-bit signed

SCHEDULE_LABELS = {
    "constant": "Constant",
    "step": "Step decay",
    "exponential": "Exponential decay",
    "cosine": "Cosine to a floor",
    "warmup_cosine": "Warm-up, then cosine",
    "one_cycle": "One cycle (peaks at the rate)",
    "inverse_time": "Inverse time: η / (1 + decay·t)",
}
SAMPLING_LABELS = {
    "reshuffle": "Each row once per epoch",
    "replacement": "Drawn with replacement",
}
# (label, tooltip, spin-box step) of each parameter.
PARAMS: dict[str, tuple[str, str, float]] = {
    "step_size": ("Every (steps)", "Steps between two cuts of the rate (torch's StepLR)", 1),
    "gamma": ("Factor γ", "What the rate is multiplied by at each cut (or step)", 0.01),
    "lr_min": ("Lowest rate", "The rate the cosine ends at, after the run's last step", 0.001),
    "warmup_steps": ("Warm-up steps", "Steps the rate climbs over before the cosine", 1),
    "start_factor": ("Start factor", "The warm-up starts at this share of the rate", 0.01),
    "pct_start": ("Rising share", "Share of the run over which the rate rises to its peak", 0.05),
    "div_factor": ("Start divisor", "The cycle starts at the rate divided by this", 1),
    "final_div_factor": ("Final divisor", "... and ends that start divided by this", 10),
    "decay": ("Decay", "η_t = η / (1 + decay·t): larger decays sooner", 0.001),
}
SCHEDULE_TIP = (
    "How the learning rate changes over the run (torch.optim.lr_scheduler's formulas); the "
    "learning-rate slider scales the whole schedule, live. A change starts a new run. The rate "
    "is drawn under the loss plot."
)
SAMPLING_TIP = (
    "How minibatches are drawn: every row once per epoch in a shuffled order, or each batch "
    "drawn at random with replacement (the case the SGD plateau on the loss plot predicts)"
)


def _name(key: str) -> str:
    """The objectName of a parameter's box: step_size -> scheduleStepSizeSpin."""
    return "schedule" + "".join(part.capitalize() for part in key.split("_")) + "Spin"


class ScheduleEditor(QObject):
    """The schedule, its parameters and the sampling, as rows of the panel's form."""

    def __init__(self, model: ConfigSource, parent: QWidget) -> None:
        super().__init__(parent)
        self._model = model
        self.combo = ComboBox(SCHEDULE_LABELS)
        self.combo.setObjectName("scheduleCombo")
        self.combo.setToolTip(SCHEDULE_TIP)
        self.sampling_combo = ComboBox({k: SAMPLING_LABELS.get(k, k) for k in SAMPLINGS})
        self.sampling_combo.setObjectName("samplingCombo")
        self.sampling_combo.setToolTip(SAMPLING_TIP)
        self.boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for key, (_, tip, step) in PARAMS.items():
            limit = SCHEDULE_LIMITS[key]
            if limit.integer:
                box: QSpinBox | QDoubleSpinBox = IntSpinBox(
                    int(limit.lo), int(min(limit.hi, INT_BOX_MAX))
                )
                box.valueChanged.connect(lambda v, k=key: self._edit_param(k, int(v)))
            else:
                box = NumberSpinBox(limit.lo, limit.hi, step, decimals=12, log_steps=limit.log)
                box.valueChanged.connect(lambda v, k=key: self._edit_param(k, float(v)))
            box.setObjectName(_name(key))
            box.setToolTip(tip)
            self.boxes[key] = box
        self._form: QFormLayout | None = None
        self.combo.currentIndexChanged.connect(lambda _: self._pick(self.combo.data()))
        self.sampling_combo.currentIndexChanged.connect(
            lambda _: self._model.edit({"train.sampling": self.sampling_combo.data()})
        )
        model.configChanged.connect(self.show_config)

    def add_rows(self, form: QFormLayout) -> None:
        """Put the rows into the panel's form (labels aligned with the others) and show the
        model's configuration."""
        self._form = form
        form.addRow("Schedule", self.combo)
        for key, (label, _, _) in PARAMS.items():
            form.addRow(f"  {label}", self.boxes[key])
        form.addRow("Batches", self.sampling_combo)
        self.show_config(self._model.config())

    def shown_params(self) -> list[str]:
        """The parameters whose rows show (the current schedule's)."""
        if self._form is None:
            return []
        return [k for k, box in self.boxes.items() if self._form.isRowVisible(box)]

    def show_config(self, config: Config) -> None:
        """Show config's schedule and sampling without sending anything back."""
        schedule = config.train.schedule
        with QSignalBlocker(self.combo):
            self.combo.select(schedule.name)
        with QSignalBlocker(self.sampling_combo):
            self.sampling_combo.select(config.train.sampling)
        own = SCHEDULES.get(schedule.name, {})
        for key, box in self.boxes.items():
            if key in own:
                value = schedule.get(key)
                if box.value() != value:
                    with QSignalBlocker(box):
                        box.setValue(value)
            if self._form is not None:
                self._form.setRowVisible(box, key in own)

    # ---- edits -------------------------------------------------------------------------
    def _pick(self, name: str) -> None:
        """A new schedule: its defaults, with the values of parameters it shares kept."""
        current = self._model.config().train.schedule
        if name == current.name:
            return
        shared = {k: current.get(k) for k in SCHEDULES.get(name, {}) if k in dict(current.params)}
        self._edit({"name": name, **shared})

    def _edit_param(self, key: str, value: Any) -> None:
        current = self._model.config().train.schedule
        if key not in SCHEDULES.get(current.name, {}) or current.get(key) == value:
            return
        self._edit({**current.to_dict(), key: value})

    def _edit(self, schedule: dict[str, Any]) -> None:
        # The whole schedule in one edit; refused, the model shows the kept one again.
        self._model.edit({"train.schedule": Schedule.of(schedule).to_dict()})
