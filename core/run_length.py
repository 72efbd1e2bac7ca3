"""How long a run takes at a given speed, and the settings fitted to new data (a CSV file)
whose scale is not known until it is loaded: pure functions, no Qt."""

from __future__ import annotations

import math
from typing import Any

from core.config import Config

# Settings fitted to new data: a rate this far below the stable bound, and epochs that take
# about this long at the current speed (unthrottled: at about this many steps/s).
FIT_LR_SHARE = 0.5
FIT_SECONDS = 60.0
FIT_UNTHROTTLED_RATE = 5000.0
# Longer than this at the current speed, and loading a configuration unthrottles the run.
LONG_RUN_SECONDS = 120.0


def run_seconds(config: Config, speed: float | None, n_train: int) -> float:
    """About how long config's run takes at speed steps/s (0 when unthrottled); n_train: the
    training rows of a CSV run once loaded (0 before)."""
    if speed is None:
        return 0.0
    d, t = config.data, config.train
    if d.csv_path:
        n = n_train
    else:
        rows = d.n_samples if d.inline_features is None else len(d.inline_features)
        n = rows - round(rows * d.val_fraction)
    batches = -(-max(n, 1) // max(min(t.batch_size, max(n, 1)), 1))
    return t.epochs * batches / speed


def fitted_settings(
    config: Config,
    touched: frozenset[str] | set[str],
    stable_lr: float,
    speed: float | None,
    n_batches: int,
) -> tuple[dict[str, Any], list[str]]:
    """A learning rate below the stable bound and epochs for about a minute, for what was not
    set by hand (touched): the changes, and each in words."""
    changes: dict[str, Any] = {}
    said = []
    lr = config.train.lr
    if "train.lr" not in touched and math.isfinite(stable_lr) and lr >= stable_lr:
        changes["train.lr"] = float(f"{FIT_LR_SHARE * stable_lr:.2g}")
        said.append(f"learning rate {changes['train.lr']:g} (stable below {stable_lr:.3g})")
    if "train.epochs" not in touched:
        rate = speed or FIT_UNTHROTTLED_RATE
        epochs = max(1, round(FIT_SECONDS * rate / max(n_batches, 1)))
        if epochs != config.train.epochs:
            changes["train.epochs"] = epochs
            said.append(f"{epochs:,} epochs (about a minute)")
    return changes, said
