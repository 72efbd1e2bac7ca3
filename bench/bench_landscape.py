"""Loss landscape: a 200x200 grid over 1,000,000 samples, from sufficient statistics vs the data.

Contenders, on the same synthetic data (1,000,000 samples, 1 feature and 3 features, seeded):
  a) stats: SufficientStats.loss_grid over a 200x200 grid of (w[0], bias), the others held;
     what the landscape view computes when the data or the chosen pair changes
  b) view: the landscape view's whole recompute (grid, colour image, contour segments),
     offscreen, as LandscapeView.grid_seconds reports it
  c) data: the same loss from the rows, one grid row of 200 points at a time as a
     (n x 200) matrix product; timed on a few rows and scaled to 200 rows
The statistics themselves are computed once per dataset (reported too, not part of the goal).
Repeats are interleaved; medians and the ratio data/stats are printed.
Goal: the grid from statistics (a) and the view's recompute (b) each under 50 ms.

Run: python -m bench.bench_landscape [--samples N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from core.analysis import SufficientStats

GRID = 200
GOAL_MS = 50.0
DATA_ROWS = 2  # grid rows timed from the data (each a pass over every sample)
CHUNK = 8192


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features N(0, 1) and y = Xw + 1 + noise, float32 features as the app stores them."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = np.linspace(2.0, -1.0, d)
    y = x.astype(np.float64) @ w + 1.0 + 0.5 * rng.standard_normal(n)
    return x, y


def grid_axes(stats: SufficientStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held weights (zeros: the held point does not change the cost) and the two axes."""
    held = np.zeros(stats.n_features)
    u = np.linspace(-3.0, 5.0, GRID)
    v = np.linspace(-3.0, 5.0, GRID)
    return held, u, v


def time_stats_grid(stats: SufficientStats, held: np.ndarray, u: np.ndarray, v: np.ndarray):
    """Seconds for one 200x200 grid from the statistics, and the grid."""
    t0 = time.perf_counter()
    z = stats.loss_grid(held, 0.0, 0, stats.n_features, u, v, "mse")
    return time.perf_counter() - t0, z


def time_data_rows(
    x: np.ndarray, y: np.ndarray, held: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[float, np.ndarray]:
    """Seconds for DATA_ROWS grid rows from the rows of the data (scaled to GRID rows later)."""
    x64 = x.astype(np.float64)
    offset = (x64[:, 1:] @ held[1:] if x.shape[1] > 1 else 0.0) - y
    rows = []
    t0 = time.perf_counter()
    for r in range(DATA_ROWS):
        total = np.zeros(len(u))
        for lo in range(0, len(y), CHUNK):  # chunks keep the (rows x 200) block in cache
            # residual[n, col] = x0[n] * u[col] + (held part + bias - y)[n]
            resid = np.outer(x64[lo : lo + CHUNK, 0], u)
            resid += (offset[lo : lo + CHUNK] + v[r])[:, None]
            total += np.einsum("ij,ij->j", resid, resid)
        rows.append(total / len(y))
    return time.perf_counter() - t0, np.array(rows)


def time_view(info, qt_app) -> float:
    """Seconds the landscape view reports for its grid, image and contours."""
    from gui.landscape import LandscapeView

    view = LandscapeView()
    view.resize(900, 650)
    view.set_run(info)
    seconds = view.grid_seconds
    view.deleteLater()
    qt_app.processEvents()
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Print the medians and ratios; exit 1 if a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args([] if argv is None else argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from core.presets import preset_config
    from core.runinfo import run_info
    from core.trainer import Trainer

    app = QApplication.instance() or QApplication([])
    ok = True
    print(f"{args.samples:,} samples, {GRID}x{GRID} grid over (w[0], bias), {args.repeats} repeats")
    print(
        f"{'features':>8} | {'stats once':>10} | {'grid (stats)':>12} | {'view recompute':>14} |"
        f" {'grid (data)':>12} | {'data / stats':>12} | verdict"
    )
    for d in (1, 3):
        x, y = make_data(args.samples, d)
        t0 = time.perf_counter()
        stats = SufficientStats.from_data(x, y)
        stats_once = time.perf_counter() - t0
        held, u, v = grid_axes(stats)
        config = (
            preset_config("playground")
            .with_value("data.true_weights", [1.0] * d)
            .with_value("data.n_samples", args.samples)
            .with_value("train.implementation", "numpy")
        )
        info = run_info(Trainer(config))
        ours, view, data = [], [], []
        for _ in range(args.repeats):
            seconds, z = time_stats_grid(stats, held, u, v)
            ours.append(seconds)
            view.append(time_view(info, app))
        for _ in range(3):  # each is seconds of work: three repeats suffice for a median
            seconds, rows = time_data_rows(x, y, held, u, v)
            data.append(seconds * GRID / DATA_ROWS)
        # The two ways agree: the statistics are exact, not an approximation.
        np.testing.assert_allclose(rows, z[:DATA_ROWS], rtol=1e-6)
        m_ours, m_view, m_data = (1e3 * statistics.median(t) for t in (ours, view, data))
        passed = m_ours < GOAL_MS and m_view < GOAL_MS
        ok &= passed
        print(
            f"{d:>8} | {1e3 * stats_once:>8.0f} ms | {m_ours:>9.2f} ms | {m_view:>11.2f} ms |"
            f" {m_data:>9.0f} ms | {m_data / m_ours:>11.0f}x | "
            f"{'PASS' if passed else 'FAIL'} (goal < {GOAL_MS:.0f} ms)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
