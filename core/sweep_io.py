"""A sweep's files: sweep.csv (one row per cell and seed) and sweep.json (configuration, grid,
theoretical limits, how it ran)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.files import atomic_write_text, json_clean
from core.sweep import SweepPlan
from core.sweep_group import RunResult

SWEEP_CSV, SWEEP_JSON = "sweep.csv", "sweep.json"
RESULT_COLUMNS = (
    "seed",
    "initial_loss",
    "final_loss",
    "steps_to_tolerance",
    "diverged",
    "seconds",
)


def csv_columns(plan: SweepPlan) -> list[str]:
    """sweep.csv's header: one column per grid key (named as the key), then the results."""
    return [*plan.keys, *RESULT_COLUMNS]


def _number(value: float) -> str:
    return repr(float(value))


def sweep_csv(plan: SweepPlan, results: Sequence[RunResult | None]) -> str:
    """sweep.csv's text: a row per cell and seed, in the plan's order (runs without a result,
    in a stopped sweep, are left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns(plan))
    for cell, result in zip(plan.cells, results, strict=True):
        if result is None:
            continue
        steps = result.steps_to_tolerance
        writer.writerow(
            [
                *(v if isinstance(v, int) else _number(v) for v in cell.values),
                cell.seed,
                _number(result.initial_loss),
                _number(result.final_loss),
                "" if steps is None else steps,
                "true" if result.diverged else "false",
                f"{result.seconds:.6f}",
            ]
        )
    return out.getvalue()


def sweep_dict(
    plan: SweepPlan,
    results: Sequence[RunResult | None],
    limits: list[dict[str, Any]],
    execution: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """sweep.json's content: the configuration, the grid, the theoretical limits with their
    names, and a summary of the runs."""
    done = [r for r in results if r is not None]
    reached = sum(r.steps_to_tolerance is not None for r in done)
    return json_clean(
        {
            "config": plan.base.to_dict(),
            **plan.to_dict(),
            "limits": limits,
            "tolerance_rule": (
                "a run reaches tolerance at the first step where train_loss - ols_loss <= "
                "tolerance * max(ols_loss, 1e-9 * initial_loss), train_loss on the whole "
                "training set (as the race)"
            ),
            "reached_tolerance": reached,
            "diverged": sum(r.diverged for r in done),
            "finished_runs": len(done),
            "execution": execution or {},
            "columns": csv_columns(plan),
        }
    )


def write_sweep_files(
    folder: str | Path,
    plan: SweepPlan,
    results: Sequence[RunResult | None],
    limits: list[dict[str, Any]],
    execution: dict[str, Any] | None = None,
) -> list[Path]:
    """Write sweep.csv and sweep.json into folder, atomically; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / SWEEP_CSV, folder / SWEEP_JSON
    atomic_write_text(csv_path, sweep_csv(plan, results))
    doc = sweep_dict(plan, results, limits, execution)
    atomic_write_text(json_path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return [csv_path, json_path]
