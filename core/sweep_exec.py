"""Running a sweep's groups: in this process, over local processes, or on a Dask cluster.

Every way runs the same groups (core.sweep.SweepPlan) through the same function
(core.sweep_group.run_group), so the results are identical whichever way they ran (all but the
seconds each run took). Dask is imported only when a scheduler is given.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserInputError
from core.sweep import SweepPlan
from core.sweep_group import GroupOutcome, RunResult, run_group

MAX_WORKERS = 256
SCHEDULER_TIMEOUT_S = 20.0  # how long to try reaching a Dask scheduler before giving up
DASK_PIN = "distributed==2026.8.*"

Progress = Callable[[int, int], None]  # runs finished, runs in all


class ExecutionError(UserInputError):
    """A sweep cannot be run the way asked (workers, scheduler); one line says why."""


@dataclass(frozen=True)
class SweepOutcome:
    """Every run's results, in the plan's order, and how the sweep ran."""

    results: tuple[RunResult, ...]
    mode: str  # "in-process", "local processes" or "dask"
    workers: int
    seconds: float
    pids: tuple[int, ...]  # the processes the groups ran in
    scheduler: str | None = None

    def execution(self) -> dict[str, Any]:
        """How the sweep ran, as sweep.json holds it."""
        return {
            "mode": self.mode,
            "workers": self.workers,
            "scheduler": self.scheduler,
            "processes": len(set(self.pids)),
            "pids": sorted(set(self.pids)),
            "seconds": self.seconds,
        }


def _collect(plan: SweepPlan, outcomes: Iterable[GroupOutcome]) -> tuple[RunResult, ...]:
    by_cell: dict[int, RunResult] = {}
    for outcome in outcomes:
        for result in outcome.results:
            by_cell[result.cell] = result
    missing = len(plan.cells) - len(by_cell)
    if missing:
        raise RuntimeError(f"{missing} runs of the sweep returned no result")
    return tuple(by_cell[c.index] for c in plan.cells)


def _order(plan: SweepPlan) -> list[int]:
    """Groups largest first: with several workers the last to start are the quick ones."""
    return sorted(range(len(plan.groups)), key=lambda g: -plan.groups[g].cost)


def _args(plan: SweepPlan, g: int) -> tuple[Any, ...]:
    group = plan.groups[g]
    return (group.index, group.configs, group.cells, group.tolerance)


def run_sweep(
    plan: SweepPlan,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SweepOutcome:
    """Train every group of the plan: here (neither), over `workers` local processes, or on
    the Dask cluster at `scheduler` (tcp://HOST:PORT)."""
    if workers is not None and scheduler is not None:
        raise ExecutionError("--workers and --scheduler: give one (the cluster has its workers)")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ExecutionError(f"--workers {workers}: expected 1 to {MAX_WORKERS}")
    t0 = time.perf_counter()
    done = 0
    total = len(plan.cells)
    outcomes: list[GroupOutcome] = []

    def finished(outcome: GroupOutcome) -> None:
        nonlocal done
        outcomes.append(outcome)
        done += len(outcome.results)
        if progress is not None:
            progress(done, total)

    if scheduler is not None:
        _run_dask(plan, scheduler, finished)
        mode, count = "dask", len({o.pid for o in outcomes})
    elif workers is not None:
        _run_local(plan, workers, finished)
        mode, count = "local processes", workers
    else:
        for g in range(len(plan.groups)):
            finished(run_group(*_args(plan, g)))
        mode, count = "in-process", 1
    return SweepOutcome(
        results=_collect(plan, outcomes),
        mode=mode,
        workers=count,
        seconds=time.perf_counter() - t0,
        pids=tuple(o.pid for o in outcomes),
        scheduler=scheduler,
    )


def _run_local(plan: SweepPlan, workers: int, finished: Callable[[GroupOutcome], None]) -> None:
    # spawn, not fork: a forked child of a process that has loaded torch (its thread pools)
    # can hang; spawned ones import only what their groups need.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_group, *_args(plan, g)) for g in _order(plan)]
        try:
            for future in as_completed(futures):
                finished(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def core_package_zip(folder: str | Path) -> Path:
    """This project's core package as a zip in folder, for a cluster's workers to import."""
    source = Path(__file__).resolve().parent
    path = Path(folder) / "linreg_viz_core.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.glob("*.py")):
            archive.write(file, f"core/{file.name}")
    return path


def _run_dask(plan: SweepPlan, address: str, finished: Callable[[GroupOutcome], None]) -> None:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ExecutionError(
            f"--scheduler needs Dask's distributed package: pip install '{DASK_PIN}'"
        ) from None
    if "://" not in address:
        raise ExecutionError(f"--scheduler {address!r}: expected an address like tcp://HOST:PORT")
    try:
        client = Client(address, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExecutionError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    try:
        # The workers run this very code: the core package travels with the sweep.
        with tempfile.TemporaryDirectory() as folder:
            client.upload_file(str(core_package_zip(folder)), load=True)
        tag = uuid.uuid4().hex
        futures = [
            client.submit(run_group, *_args(plan, g), key=f"sweep-group-{g}-{tag}")
            for g in _order(plan)
        ]
        for future in dask_completed(futures, loop=client.loop):
            finished(future.result())
    finally:
        client.close()
