"""Headless rendering of a finished run's (or race's) plots for the command line."""

from __future__ import annotations

from pathlib import Path

from core.race import Race
from core.runinfo import run_info
from core.trainer import Trainer

SIZE = (900, 600)
SWEEP_SIZE = (1000, 650)


def save_run_plots(trainer: Trainer, out: Path) -> list[Path]:
    """Render the loss, fit and parameter plots of a trainer's run to PNGs in out."""
    # Files only: offscreen, so a desktop without Qt's xcb libraries renders them too.
    from gui.app import ensure_app

    ensure_app(offscreen=True)
    from PySide6.QtCore import QCoreApplication, QEvent

    from gui.plots import FitView, LossView, ParamView

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = run_info(trainer)
    snap = trainer.snapshot()
    written: list[Path] = []
    views = (("loss", LossView()), ("fit", FitView()), ("params", ParamView()))
    try:
        for name, view in views:
            view.resize(*SIZE)
            view.set_run(info)
            view.update_snapshot(snap)
            path = out / f"{name}.png"
            view.export_png(path)
            written.append(path)
    finally:
        for _, view in views:
            view.deleteLater()
        # Deliver the deferred deletes now, so no widget outlives the call.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return written


def save_race_plot(race: Race, out: Path, x_axis: str = "step") -> Path:
    """Render a race's overlaid loss curves to race_loss.png in out; return the path."""
    from gui.app import ensure_app

    ensure_app(offscreen=True)
    from PySide6.QtCore import QCoreApplication, QEvent

    from gui.race_panel import RACE_COLORS, RaceLossView

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    view = RaceLossView()
    try:
        view.resize(*SIZE)
        view.set_x_axis(x_axis)
        view.set_race(race.snapshot(2000), RACE_COLORS)
        path = out / "race_loss.png"
        view.export_png(path)
    finally:
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return path


def save_sweep_plot(plan, results, lines, out: Path, measure: str = "steps") -> list[Path]:
    """Render a sweep's map (the first two axes, limits drawn) to sweep.png and sweep.svg."""
    from gui.app import ensure_app

    ensure_app()
    from PySide6.QtCore import QCoreApplication, QEvent

    from core.sweep_run import SweepSnapshot
    from gui.sweep_view import SweepView

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    view = SweepView()
    snap = SweepSnapshot(
        axes=plan.axes,
        seeds=plan.seeds,
        results=tuple(results),
        grid_index=tuple(c.grid_index for c in plan.cells),
        runs_done=len(results),
        runs=len(plan.cells),
        done=True,
        stopped=False,
        seconds=0.0,
        tolerance=plan.tolerance,
    )
    try:
        view.resize(*SWEEP_SIZE)
        view.set_axes(plan.axes)
        view.set_limits(lines)
        view.set_measure(measure)
        view.update_sweep(snap)
        png, svg = out / "sweep.png", out / "sweep.svg"
        view.export_png(png)
        view.export_svg(svg)
    finally:
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return [png, svg]
