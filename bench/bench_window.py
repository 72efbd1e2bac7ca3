"""Training inside the running window vs the command line and headless, with GUI responsiveness.

What a user compares: the window against `python main.py train` on the same workload, in its own
process and unpinned. Each trial runs, interleaved: the command line (twice, before and after the
window phases: the reference), then the window with its Training tab shown, with the Optimizer
race tab shown (no training view visible, no race running) and minimized, in an order that turns
from trial to trial. Each window phase is divided by the mean of its trial's two command-line
phases. The in-process paired figure below is kept beside it.

Workload: preset d2l-concise-3 (1000 samples, 3 features, batch 10, SGD lr 0.03, module
implementation, i.e. nn.Linear + MSELoss + optim.SGD) with 100000 epochs, so no run finishes.

One process, one QApplication (offscreen), torch.set_num_threads(1), garbage collected on the
GUI thread's timer as in the app (gui/gui_gc.py). Each trial opens a fresh
1400x900 MainWindow (plots live, speed unthrottled), presses Run and, after a warm-up, alternates
phases of ~S seconds:
  - window: the run trains in the window; steps/s is the rise of the worker's step count over
    the phase's wall time (read from the GUI thread at its start and end). A 5 ms QTimer probe
    on the event loop records the gaps between its timeouts (stalls); paints of the loss view
    (it changes on every frame of a running run) count the frames actually redrawn.
  - headless: the window's run is paused and Trainer.run_steps trains a second run of the same
    configuration in this thread.
This machine's speed drifts by +-20% within seconds, so each window phase is compared with the
headless phase next to it (their order alternates) and the ratio reported is the median of
these paired ratios; the medians of the two rates are shown too. One of its two CPUs also has
slow spells of several seconds that the other does not: unless --no-pin, training runs on the
same CPU in both kinds of phase (the last one; the GUI thread gets the others during window
phases), so that a trial does not compare training on the slow CPU with training on the fast.

Then, with the numpy implementation of the same workload (the module one would need minutes):
  - memory: VmRSS before the window opens and after 1e6 steps trained in it;
  - frame cost at that 1e6-step history: median ms of update_snapshot on all three views plus a
    synchronous window.grab() (an upper bound of a paint), from a snapshot of that trainer
    decimated to 2000 points, alternating with a copy whose weights are 10% off so that no view
    can skip work because nothing moved.

Per view, at the 1e6-step history: update_snapshot and a paint (grab) of each of the four live
views, and the frame cost the window's own pacer measured while the run trained.

With --theory every window shows the Eigen-directions tab (instead of Parameters) and the
landscape's SGD-noise cloud, so the goals are measured with both drawn every frame.

Run: python -m bench.bench_window [--trials N] [--pairs P] [--seconds S] [--no-pin] [--strict]
     [--theory]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench import print_tables

PRESET = "d2l-concise-3"
EPOCHS = 100_000
WINDOW_SIZE = (1400, 900)
PROBE_MS = 5
COARSE_PROBE_MS = 50  # when only the steps are counted
WARMUP_S = 0.7  # after the first Run: torch's first calls, first frames, first axis jumps
SETTLE_S = 0.25  # after each resume, before a window phase is measured
MEMORY_STEPS = 1_000_000
FRAME_SAMPLES = 40
SETUP_TIMEOUT_S = 60.0

# (key, description, target text, test)
CLI_EPOCHS = 300  # d2l-concise-3: 30,000 steps, about 3.5 s of `train` here
GOALS: list[tuple[str, str, str, Callable[[float], bool]]] = [
    ("vs_cli_training", "window, Training tab / `train` (steps/s)", ">= 0.90x", lambda v: v >= 0.9),
    ("vs_cli_race", "window, race tab shown / `train`", ">= 0.95x", lambda v: v >= 0.95),
    ("vs_cli_minimized", "window minimized / `train`", ">= 0.95x", lambda v: v >= 0.95),
    ("ratio", "in-window / headless, same process (paired)", ">= 0.90x", lambda v: v >= 0.9),
    ("stall_max", "event-loop stall, max (ms)", "<= 50", lambda v: v <= 50.0),
    ("stall_p99", "event-loop stall, p99 (ms)", "<= 20", lambda v: v <= 20.0),
    ("frame_ms", "frame at 1e6 steps: update + grab (ms)", "<= 33.3", lambda v: v <= 1000 / 30),
    ("memory_mb", "RSS growth over 1e6 steps (MB)", "<= 50", lambda v: v <= 50.0),
]


def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS from /proc/self/status)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values, nan for none."""
    return float(np.percentile(values, q)) if values else float("nan")


def thread_id(name: str) -> int | None:
    """Native id of this process's thread with that name (Qt names its threads), or None."""
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as f:
                if f.read().strip() == name:
                    return int(tid)
    except OSError:
        pass
    return None


class Pinning:
    """Which CPU trains and which draw; a no-op without two CPUs or sched_setaffinity."""

    def __init__(self, enabled: bool) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.all = set(cpus)
        self.enabled = enabled and len(cpus) >= 2
        self.train = {cpus[-1]} if self.enabled else self.all
        self.gui = set(cpus[:-1]) if self.enabled else self.all

    def describe(self) -> str:
        """One line for the report."""
        if not self.enabled:
            return "threads not pinned"
        return f"training pinned to CPU {sorted(self.train)}, GUI thread to CPU {sorted(self.gui)}"

    def headless(self) -> None:
        """This thread is about to train."""
        if self.enabled:
            os.sched_setaffinity(0, self.train)  # 0: the calling thread (Linux)

    def window(self) -> None:
        """The worker thread is about to train; this thread draws."""
        if self.enabled:
            os.sched_setaffinity(0, self.gui)
            tid = thread_id("trainingThread")
            if tid is not None:
                os.sched_setaffinity(tid, self.train)

    def release(self) -> None:
        """This thread may run anywhere again."""
        if self.enabled:
            os.sched_setaffinity(0, self.all)


def median(values: list[float]) -> float:
    """Median, nan for none."""
    return statistics.median(values) if values else float("nan")


@dataclass
class Results:
    """Everything measured, per phase where there are phases."""

    headless: list[float] = field(default_factory=list)  # steps/s per headless phase
    window: list[float] = field(default_factory=list)  # steps/s per window phase
    pair_ratios: list[float] = field(default_factory=list)  # window / neighbouring headless
    fps: list[float] = field(default_factory=list)  # frames painted per second, per phase
    snaps_per_s: list[float] = field(default_factory=list)  # snapshots received per second
    frame_cost_ms: list[float] = field(default_factory=list)  # the window's own estimate
    gaps: list[float] = field(default_factory=list)  # probe gaps (ms), all window phases
    phase_max: list[float] = field(default_factory=list)  # worst gap per window phase (ms)
    frame_grab: list[float] = field(default_factory=list)  # ms, update + grab, 2000 points
    frame_paint: list[float] = field(default_factory=list)  # ms, update + event-loop paint
    frame_grab_live: list[float] = field(default_factory=list)  # ms, the window's own snapshot
    cli: list[float] = field(default_factory=list)  # steps/s of `python main.py train`
    cli_engine: list[float] = field(default_factory=list)  # ... over its engine time only
    shown: dict[str, list[float]] = field(default_factory=dict)  # window steps/s by what's shown
    vs_cli: dict[str, list[float]] = field(default_factory=dict)  # the same / the trial's `train`
    views: dict[str, list[float]] = field(default_factory=dict)  # ms per view: update + paint
    pacer_ms: list[float] = field(default_factory=list)  # the pacer's own frame cost estimate
    live_points: int = 0
    memory_mb: float = float("nan")
    memory_steps: int = 0
    memory_seconds: float = 0.0
    memory_fps: float = float("nan")


class Bench:
    """Owns the QApplication and the Qt helpers (imported late: offscreen must be set first)."""

    def __init__(self, seconds: float, pairs: int, pin: bool = True, theory: bool = False) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QEvent, Qt, QTimer
        from PySide6.QtWidgets import QApplication

        from core.presets import preset_config

        self.QEvent, self.QTimer, self.Qt = QEvent, QTimer, Qt
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.seconds = seconds
        self.pairs = pairs
        self.pinning = Pinning(pin)
        self.theory = theory  # show the eigen view and the gradient cloud (--theory)
        self.config = preset_config(PRESET).with_value("train.epochs", EPOCHS)
        # As the app does (gui/app.py run_app): garbage collected on the GUI thread's timer,
        # not by whichever thread allocates (a user runs the app, not a bare MainWindow).
        from gui.gui_gc import collect_on_gui_thread

        collect_on_gui_thread()

        from bench.qt_loop import PaintCounter, spin

        self.PaintCounter = PaintCounter
        self.spin = spin  # run the event loop for up to seconds, or until a condition holds

    # ---- event-loop helpers -----------------------------------------------------------
    def make_window(self, config: Any) -> Any:
        """A shown, unthrottled 1400x900 window whose first run is configured."""
        from gui.main_window import MainWindow

        win = MainWindow(config)
        win.resize(*WINDOW_SIZE)
        win.show()
        win.controller.set_speed(None)
        if not self.spin(SETUP_TIMEOUT_S, lambda: win.run_info() is not None):
            self.close_window(win)
            raise RuntimeError("the window never received its run")
        if self.theory:
            win.dashboard.param_tabs.setCurrentIndex(1)
            win.landscape_view.theory.set_cloud_shown(True)
        self.spin(0.2)  # first layout and paints
        return win

    def close_window(self, win: Any) -> None:
        """Stop and join the worker, close and delete the window."""
        win.shutdown()
        if win.host.thread.isRunning():
            raise RuntimeError("the training thread is still running after shutdown()")
        win.close()
        win.deleteLater()
        self.app.processEvents()
        self.app.sendPostedEvents(None, self.QEvent.Type.DeferredDelete)
        gc.collect()

    def set_running(self, win: Any, running: bool) -> None:
        """Run or pause the window's run and wait until it says so."""
        if running:
            win.controller.run()
        else:
            win.controller.pause()
        want = "running" if running else "paused"
        if not self.spin(10.0, lambda: win.run_state() == want):
            raise RuntimeError(f"the window's run did not become {want} ({win.run_state()})")

    # ---- one trial: a fresh window, alternating window and headless phases ----------------
    def trial(self, index: int, res: Results) -> None:
        """Run one trial's pairs of window and headless phases into res."""
        from core.trainer import Trainer

        headless = Trainer(self.config)
        headless.run_steps(1 << 30, deadline=time.perf_counter() + 0.3)
        win = self.make_window(self.config)
        try:
            self.set_running(win, True)
            self.spin(WARMUP_S)
            self.against_cli(win, res, index)
            self.set_running(win, True)
            self.spin(SETTLE_S)
            for p in range(self.pairs):
                if (index + p) % 2 == 0:
                    w = self.window_phase(win, res)
                    h = self.headless_phase(win, headless, res)
                else:
                    h = self.headless_phase(win, headless, res)
                    w = self.window_phase(win, res)
                res.pair_ratios.append(w / h)
        finally:
            self.close_window(win)
            self.pinning.release()

    def cli_phase(self) -> tuple[float, float]:
        """Steps/s of `python main.py train` on the workload, in its own process, unpinned:
        over the wall time of its training loop (bookkeeping included, as the window's rate is
        measured), and over its engine time only (the summary's steps_per_second)."""
        import json
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "main.py", "train", "--preset", PRESET, "--epochs",
                   str(CLI_EPOCHS), "--quiet", "--no-plots", "--out", out]  # fmt: skip
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            subprocess.run(cmd, cwd=root, check=True, capture_output=True, timeout=600)
            with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
                summary = json.load(f)
            return float(summary["wall_steps_per_second"]), float(summary["steps_per_second"])

    def against_cli(self, win: Any, res: Results, index: int = 0) -> None:
        """`train` before and after the window trains with each of its views shown; each window
        phase divided by the mean of the two. The phases' order turns with the trial's index,
        so that none is always the one right after the command line's process."""
        self.pinning.release()
        self.set_running(win, False)
        self.spin(0.1)
        before, before_engine = self.cli_phase()
        rates = {}
        order = ["training", "race", "minimized"]
        order = order[index % 3 :] + order[: index % 3]
        for shown in order:
            if shown == "minimized":
                win.main_tabs.setCurrentIndex(0)
                win.showMinimized()
            else:
                win.showNormal()
                win.main_tabs.setCurrentIndex(0 if shown == "training" else 1)
            self.spin(0.1)
            self.set_running(win, True)
            self.spin(SETTLE_S)
            # The stall probe only where the stall goals apply (the paired phases have it).
            rates[shown] = self.window_phase(win, res, pinned=False, probe_ms=COARSE_PROBE_MS)
            res.window.pop()  # kept apart from the paired phases
            if shown == "training":
                res.pacer_ms.append(win.dashboard.pacer.frame_cost_ms())
        win.showNormal()
        win.main_tabs.setCurrentIndex(0)
        self.set_running(win, False)
        self.spin(0.1)
        after, after_engine = self.cli_phase()
        reference = (before + after) / 2
        res.cli += [before, after]
        res.cli_engine += [before_engine, after_engine]
        for shown, rate in rates.items():
            res.shown.setdefault(shown, []).append(rate)
            res.vs_cli.setdefault(shown, []).append(rate / reference)

    def headless_phase(self, win: Any, trainer: Any, res: Results) -> float:
        """Steps/s of Trainer.run_steps in this thread for ~seconds, the window paused."""
        if win.run_state() == "running":
            self.set_running(win, False)
        # Let a frame in hand finish before this phase blocks the event loop.
        self.spin(0.1)
        gc.collect()
        self.pinning.headless()
        s0, t0 = trainer.step_count, time.perf_counter()
        trainer.run_steps(1 << 30, deadline=t0 + self.seconds)
        rate = (trainer.step_count - s0) / (time.perf_counter() - t0)
        res.headless.append(rate)
        return rate

    def window_phase(
        self, win: Any, res: Results, pinned: bool = True, probe_ms: int = PROBE_MS
    ) -> float:
        """Steps/s, stalls, frames and snapshots per second of one phase in the window (stalls
        only with the fine probe: a 5 ms Python timer takes the interpreter lock 200 times a
        second, which costs a torch loop a few percent by itself)."""
        if pinned:
            self.pinning.window()
        if win.run_state() != "running":
            self.set_running(win, True)
            self.spin(SETTLE_S)
        counter = self.PaintCounter()
        win.loss_view.viewport().installEventFilter(counter)
        seen: list[tuple[float, int]] = []
        ticks: list[float] = []
        last: list[object] = [win.latest_snapshot()]

        def probe() -> None:
            now = time.perf_counter()
            ticks.append(now)
            snap = win.latest_snapshot()
            if snap is not None and snap is not last[0]:
                last[0] = snap
                seen.append((now, snap.step))

        timer = self.QTimer()
        timer.setTimerType(self.Qt.TimerType.PreciseTimer)
        timer.timeout.connect(probe)
        timer.start(probe_ms)
        s0, t0 = win.worker.step_count(), time.perf_counter()
        self.spin(self.seconds)
        s1, t1 = win.worker.step_count(), time.perf_counter()
        timer.stop()
        win.loss_view.viewport().removeEventFilter(counter)
        if len(seen) < 2 or win.run_state() != "running":
            raise RuntimeError(f"window phase did not train (state {win.run_state()})")
        (ta, _), (tb, _) = seen[0], seen[-1]
        # The steps counted over the whole phase: the snapshots (2.7 a second when nothing is
        # shown), seen by a 50 ms probe, made a rate that was off by up to ~9% either way.
        rate = (s1 - s0) / (t1 - t0)
        res.window.append(rate)
        res.fps.append(counter.count / (t1 - t0))
        res.snaps_per_s.append((len(seen) - 1) / (tb - ta))
        res.frame_cost_ms.append(win.dashboard.pacer.frame_cost_ms())
        if probe_ms == PROBE_MS:
            gaps = list(np.diff(ticks) * 1000)
            res.gaps += gaps
            res.phase_max.append(max(gaps))
        return rate

    # ---- 1e6 steps: memory, then the frame cost at that history ---------------------------
    def memory_and_frame_trial(self, res: Results) -> None:
        """RSS growth over 1e6 numpy steps in the window, then frame cost at that history."""
        config = self.config.with_value("train.implementation", "numpy")
        gc.collect()
        before = rss_mb()
        win = self.make_window(config)
        try:
            counter = self.PaintCounter()
            win.loss_view.viewport().installEventFilter(counter)
            t0 = time.perf_counter()
            win.controller.run()

            def reached() -> bool:
                snap = win.latest_snapshot()
                return snap is not None and snap.step >= MEMORY_STEPS

            if not self.spin(300.0, reached):
                raise RuntimeError(f"{MEMORY_STEPS:,} steps took more than 300 s")
            t1 = time.perf_counter()
            self.set_running(win, False)
            self.spin(0.2)
            win.loss_view.viewport().removeEventFilter(counter)
            gc.collect()
            res.memory_mb = rss_mb() - before
            live = win.latest_snapshot()
            res.memory_steps = live.step
            res.memory_seconds = t1 - t0
            res.memory_fps = counter.count / (t1 - t0)
            res.live_points = len(live.loss_steps)
            # The run is paused: the worker thread does not touch the trainer now.
            full = win.worker.snapshot_now(2000)
            res.frame_grab, res.frame_paint = self.frame_costs(win, full)
            res.frame_grab_live, _ = self.frame_costs(win, live)
            res.views = self.view_costs(win, live)
        finally:
            self.close_window(win)

    def frame_costs(self, win: Any, snap: Any) -> tuple[list[float], list[float]]:
        """Ms per frame: update the three views + grab(), and update + event-loop paint."""
        # Every other frame the model is 10% off, so every view has moved since the last one.
        moved = dataclasses.replace(snap, weights=snap.weights * 0.9, bias=snap.bias * 0.9)
        d = win.dashboard
        views = (d.loss_view, d.lr_view, d.fit_view, d.eigen_view if self.theory else d.param_view)
        grab, paint = [], []
        for i in range(FRAME_SAMPLES):
            frame_snap = moved if i % 2 else snap
            gc.collect()
            a = time.perf_counter()
            for view in views:
                view.update_snapshot(frame_snap)
            win.grab()
            b = time.perf_counter()
            for view in views:
                view.update_snapshot(snap if i % 2 else moved)
            self.app.processEvents()
            c = time.perf_counter()
            if i >= 2:  # the first frames pay for caches
                grab.append((b - a) * 1000)
                paint.append((c - b) * 1000)
        return grab, paint


def _view_costs(bench: Bench, win: Any, snap: Any) -> dict[str, list[float]]:
    """Ms per view of update_snapshot plus its own paint (grab), alternating a moved copy."""
    moved = dataclasses.replace(snap, weights=snap.weights * 0.9, bias=snap.bias * 0.9)
    d = win.dashboard
    views = {"loss": d.loss_view, "lr": d.lr_view, "fit": d.fit_view, "params": d.param_view,
             "eigen": d.eigen_view, "landscape": d.landscape_view}  # fmt: skip
    costs: dict[str, list[float]] = {name: [] for name in views}
    for i in range(FRAME_SAMPLES):
        for name, view in views.items():
            gc.collect()
            a = time.perf_counter()
            view.update_snapshot(moved if i % 2 else snap)
            view.grab()
            if i >= 2:
                costs[name].append((time.perf_counter() - a) * 1000)
    return costs


Bench.view_costs = _view_costs  # type: ignore[attr-defined]


def measured(res: Results) -> dict[str, float]:
    """The goal quantities."""
    return {
        "vs_cli_training": median(res.vs_cli.get("training", [])),
        "vs_cli_race": median(res.vs_cli.get("race", [])),
        "vs_cli_minimized": median(res.vs_cli.get("minimized", [])),
        "ratio": median(res.pair_ratios),
        "stall_max": max(res.gaps),
        "stall_p99": percentile(res.gaps, 99),
        "frame_ms": median(res.frame_grab),
        "memory_mb": res.memory_mb,
    }


def report(res: Results, args: argparse.Namespace) -> tuple[str, str, int]:
    """Plain-text and markdown tables; also the number of goals missed."""
    values = measured(res)
    rows: list[tuple[str, list[float], str]] = [
        ("`python main.py train` steps/s (wall time of its loop)", res.cli, ",.0f"),
        ("`python main.py train` steps/s (engine time only)", res.cli_engine, ",.0f"),
        ("window steps/s, Training tab shown", res.shown.get("training", []), ",.0f"),
        ("window steps/s, race tab shown", res.shown.get("race", []), ",.0f"),
        ("window steps/s, minimized", res.shown.get("minimized", []), ",.0f"),
        ("... / `train`, Training tab shown", res.vs_cli.get("training", []), ".2f"),
        ("... / `train`, race tab shown", res.vs_cli.get("race", []), ".2f"),
        ("... / `train`, minimized", res.vs_cli.get("minimized", []), ".2f"),
        ("pacer's frame cost, Training tab (ms)", res.pacer_ms, ".1f"),
        *[
            (f"view {name}: update + paint at 1e6 steps (ms)", xs, ".2f")
            for name, xs in res.views.items()
        ],
        ("headless steps/s", res.headless, ",.0f"),
        ("in-window steps/s", res.window, ",.0f"),
        ("in-window / neighbouring headless", res.pair_ratios, ".2f"),
        ("in-window frames painted/s", res.fps, ".1f"),
        ("in-window snapshots received/s", res.snaps_per_s, ".1f"),
        ("in-window frame cost, window's estimate (ms)", res.frame_cost_ms, ".1f"),
        ("in-window worst stall per phase (ms)", res.phase_max, ".1f"),
        ("frame at 1e6 steps: update + grab (ms)", res.frame_grab, ".1f"),
        ("frame at 1e6 steps: update + event paint (ms)", res.frame_paint, ".1f"),
        (f"... with the window's {res.live_points}-point snapshot", res.frame_grab_live, ".1f"),
    ]

    def cells(xs: list[float], fmt: str) -> tuple[str, str, str]:
        if not xs:
            return "-", "-", "-"
        return format(median(xs), fmt), format(min(xs), fmt), format(max(xs), fmt)

    phases = f"{args.trials} trials x {args.pairs} pairs of ~{args.seconds:g} s phases"
    lines = [f"{'per phase (' + phases + ')':<47} {'median':>10} {'min':>10} {'max':>10}"]
    for name, xs, fmt in rows:
        med, lo, hi = cells(xs, fmt)
        lines.append(f"{name:<47} {med:>10} {lo:>10} {hi:>10}")
    ratio_of_medians = median(res.window) / median(res.headless)
    lines += [
        "",
        f"ratio of the median rates: {ratio_of_medians:.2f}x (the goal uses the median of the"
        " paired ratios: the machine's speed drifts between phases)",
        f"probe gaps over all window phases ({len(res.gaps)} ticks at {PROBE_MS} ms): "
        f"p50 {percentile(res.gaps, 50):.1f}  p99 {percentile(res.gaps, 99):.1f}  "
        f"max {max(res.gaps):.1f} ms",
    ]
    if res.memory_steps:
        lines.append(
            f"memory run (numpy engine): {res.memory_steps:,} steps in {res.memory_seconds:.1f} s"
            f" ({res.memory_steps / res.memory_seconds:,.0f} steps/s, {res.memory_fps:.1f}"
            f" frames/s), VmRSS {res.memory_mb:+.1f} MB"
        )
    lines += ["", f"{'goal':<47} {'measured':>10} {'target':>10}  verdict"]
    md = [
        f"Window 1400x900 offscreen, plots live, speed unthrottled; {phases}, window and"
        f" headless alternating; workload `{PRESET}` (1000 samples x 3 features, batch 10,"
        " SGD lr 0.03, module implementation), `torch.set_num_threads(1)`"
        + ("; Eigen-directions tab and gradient cloud shown" if args.theory else "")
        + (
            "; training on the same CPU in both kinds of phase."
            if not args.no_pin
            else "; threads not pinned."
        ),
        "",
        "| Measure | Median | Min | Max |",
        "|---|---:|---:|---:|",
    ]
    for name, xs, fmt in rows:
        med, lo, hi = cells(xs, fmt)
        md.append(f"| {name} | {med} | {lo} | {hi} |")
    md += ["", "| Goal | Measured | Target | Verdict |", "|---|---:|---:|---|"]
    failed = 0
    for key, text, target, ok in GOALS:
        v = values[key]
        if v != v:  # nan: not measured (--skip-memory)
            verdict, shown = "SKIP", "-"
        else:
            verdict = "PASS" if ok(v) else "FAIL"
            shown = f"{v:.2f}x" if key == "ratio" or key.startswith("vs_") else f"{v:.1f}"
        failed += verdict == "FAIL"
        lines.append(f"{text:<47} {shown:>10} {target:>10}  {verdict}")
        md.append(f"| {text} | {shown} | {target} | {verdict} |")
    md += [
        "",
        "Ratio: median over phases of in-window steps/s divided by the neighbouring headless"
        " phase's. Stalls: gaps between the timeouts of a 5 ms QTimer on the GUI thread during"
        f" the window phases. Memory: VmRSS growth over {res.memory_steps:,} steps in the window"
        " (numpy engine, same workload, for time). Frame: median of update_snapshot on all three"
        " views plus a synchronous `window.grab()`, from a 2000-point snapshot of that run.",
    ]
    return "\n".join(lines), "\n".join(md), failed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; with --strict, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_window", description=__doc__)
    parser.add_argument("--trials", type=int, default=3, help="windows opened, one per trial")
    parser.add_argument("--pairs", type=int, default=3, help="window/headless pairs per trial")
    parser.add_argument("--seconds", type=float, default=1.5, help="measured seconds per phase")
    parser.add_argument("--no-pin", action="store_true", help="let threads run on any CPU")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any goal is missed")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 1e6-step run")
    parser.add_argument(
        "--theory", action="store_true", help="show the eigen view and the gradient cloud"
    )
    args = parser.parse_args([] if argv is None else argv)

    import torch

    def out(text: str) -> None:
        print(text, flush=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    try:
        bench = Bench(args.seconds, args.pairs, pin=not args.no_pin, theory=args.theory)
        out("== bench_window: training in the live window vs headless ==")
        out(
            f"workload: preset {PRESET} x {EPOCHS} epochs (module implementation); window "
            f"{WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}, QT_QPA_PLATFORM="
            f"{os.environ.get('QT_QPA_PLATFORM')}; torch {torch.__version__} (1 thread), "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"{bench.pinning.describe()}"
        )
        res = Results()
        for t in range(args.trials):
            bench.trial(t, res)
            n = args.pairs
            out(
                f"trial {t + 1}/{args.trials}: headless {median(res.headless[-n:]):,.0f} "
                f"steps/s, window {median(res.window[-n:]):,.0f} steps/s "
                f"(paired {median(res.pair_ratios[-n:]):.2f}x), vs train: "
                + ", ".join(f"{k} {v[-1]:.2f}x" for k, v in res.vs_cli.items())
                + ", "
                f"{median(res.fps[-n:]):.1f} frames/s, worst stall {max(res.phase_max[-n:]):.1f} ms"
            )
        if not args.skip_memory:
            bench.memory_and_frame_trial(res)
            out(f"memory run: {res.memory_steps:,} steps in {res.memory_seconds:.1f} s")
        table, md, failed = report(res, args)
        print_tables(out, table, md)
        out(
            f"total {time.perf_counter() - t_start:.0f} s; "
            f"{len(GOALS) - failed}/{len(GOALS)} goals met"
        )
    finally:
        torch.set_num_threads(threads)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
