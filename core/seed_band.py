"""A race run over N seeds: its training loss per step as the median and 10-90 % band of its
seeds, the seeds trained together (core.sweep_group) in step with the run itself."""

from __future__ import annotations

import math
import time

import numpy as np

from core.config import Config
from core.history import History
from core.sweep import seed_key, seed_values
from core.sweep_group import GroupRun

BAND_BYTES = 2 * 2**20  # as the race's own traces: a snapshot's scan stays cheap
QUANTILES = (0.5, 0.1, 0.9)


def seed_configs(config: Config, seeds: int) -> list[Config]:
    """config over seeds seeds: data.noise_seed in a fixed design, else data.seed (as sweeps)."""
    key = seed_key(config)
    values = seed_values(config, seeds)
    return [config.with_value(key, v) if i else config for i, v in enumerate(values)]


class SeedBand:
    """Trains a run's seeds together and keeps the median and 10-90 % band of their losses."""

    def __init__(self, config: Config, seeds: int, tolerance: float) -> None:
        if seeds < 2:
            raise ValueError("a band needs at least two seeds")
        configs = seed_configs(config, seeds)
        if seed_key(config) == "data.noise_seed":
            self.groups = [GroupRun(configs, tolerance)]  # features held: one stack
        else:
            self.groups = [GroupRun([c], tolerance) for c in configs]  # data differs per seed
        self.seeds = seeds
        self.total_steps = self.groups[0].total_steps
        self.step = 0
        # The median is the "loss" column; the band and the seeds still training follow it.
        self.trace = History(3, ["p10", "p90", "alive"], max_bytes=BAND_BYTES)
        self._chunks: list[tuple[int, np.ndarray, np.ndarray]] = []
        for group in self.groups:
            group.loss_sink = self._sink
        initial = np.concatenate([g.initial_loss for g in self.groups])
        self._record(0, initial[None, :])

    @property
    def done(self) -> bool:
        """Whether every seed has finished."""
        return all(g.done for g in self.groups)

    def _sink(self, first_step: int, full: np.ndarray, rows: np.ndarray) -> None:
        self._chunks.append((first_step, full, rows))

    def advance_to(self, step: int, deadline: float | None = None) -> None:
        """Train the seeds up to step (never past their end), or until the deadline."""
        while self.step < min(step, self.total_steps) and not self.done:
            k = min(step, self.total_steps) - self.step
            losses = np.full((k, self.seeds), math.inf)
            offset, ran = 0, k
            for group in self.groups:
                self._chunks.clear()
                got = group.advance(max_steps=k)
                ran = min(ran, got) if not group.done else ran
                for first, full, rows in self._chunks:
                    lo = first - self.step - 1
                    losses[lo : lo + full.shape[0], offset + rows] = full
                offset += group.runs
            ran = max(ran, 1)
            self._record(self.step + 1, losses[:ran])
            self.step += ran
            if deadline is not None and time.perf_counter() >= deadline:
                return

    def _record(self, first_step: int, losses: np.ndarray) -> None:
        # A seed that diverged counts as an infinite loss from then on (it sits above the band).
        q = np.quantile(losses, QUANTILES, axis=1, method="inverted_cdf").T
        alive = np.isfinite(losses).sum(axis=1, keepdims=True).astype(np.float64)
        self.trace.record_steps(first_step, q[:, 0], np.column_stack([q[:, 1:], alive]))

    def series(self, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Steps, median, 10 % and 90 % of the seeds' losses, thinned to about max_points."""
        steps, median, cols = self.trace.decimated(max_points)
        return steps.astype(np.float64), median.copy(), cols[:, 0].copy(), cols[:, 1].copy()
