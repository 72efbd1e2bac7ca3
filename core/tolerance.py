"""When a run has reached the least-squares loss: the rule the race and the sweeps share
(core.race's docstring explains it)."""

from __future__ import annotations

DEFAULT_TOLERANCE = 0.01
NOISELESS_FRACTION = 1e-9


def tolerance_margin(ols_loss: float, initial_loss: float, tolerance: float) -> float:
    """How far above the least-squares loss a run may be and count as having reached it."""
    return tolerance * max(ols_loss, NOISELESS_FRACTION * initial_loss)
