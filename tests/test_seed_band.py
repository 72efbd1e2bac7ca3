"""A race over N seeds: each run's median loss and 10-90 % band, in core and on the plot."""

from __future__ import annotations

import numpy as np
import pytest

from core.presets import preset_config
from core.race import Race, RaceEntry, RaceSpecError
from core.seed_band import SeedBand, seed_configs
from core.sweep_group import GroupRun
from gui.race_view import RACE_COLORS, RaceLossView


def fast(epochs: int = 4):
    return preset_config("playground").with_values(
        {"train.implementation": "numpy", "train.epochs": epochs}
    )


def test_the_band_is_the_quantiles_of_the_seeds_losses() -> None:
    config = fast()
    band = SeedBand(config, 5, 0.01)
    band.advance_to(band.total_steps)
    assert band.done
    steps, median, low, high = band.series(10_000)
    assert steps[0] == 0 and steps[-1] == band.total_steps
    # Each seed alone: its loss on the whole training set after every step.
    losses = []
    for cfg in seed_configs(config, 5):
        group = GroupRun([cfg], 0.01)
        seen = [group.initial_loss.copy()]
        group.loss_sink = lambda first, full, rows, seen=seen: seen.extend(full)
        group.run_to_end()
        losses.append(np.concatenate(seen))
    per_step = np.array(losses).T  # (steps + 1, seeds)
    np.testing.assert_array_equal(median, np.sort(per_step, axis=1)[:, 2])
    np.testing.assert_array_equal(low, np.sort(per_step, axis=1)[:, 0])
    np.testing.assert_array_equal(high, np.sort(per_step, axis=1)[:, 4])
    assert [c.data.seed for c in seed_configs(config, 3)] == [0, 1, 2]
    fixed = config.with_value("data.noise_seed", 4)
    assert [c.data.noise_seed for c in seed_configs(fixed, 3)] == [4, 5, 6]
    assert len(SeedBand(fixed, 3, 0.01).groups) == 1  # features held: one stack


def test_a_race_over_seeds_carries_bands_in_step() -> None:
    race = Race(fast(), [RaceEntry(lr=0.05), RaceEntry(lr=1.5)], seeds=6)
    while not race.done:
        race.advance(float("inf"), 0.001)
        for run in race.runs:
            if not run.finished:
                assert run.band.step == run.trainer.step_count
    snap = race.snapshot(500)
    calm, wild = snap.runs
    assert calm.band_steps[-1] == calm.total_steps and calm.band_median.size == calm.band_steps.size
    assert (calm.band_low <= calm.band_median).all() and (calm.band_median <= calm.band_high).all()
    assert np.isinf(wild.band_high[-1])  # the seeds of lr 1.5 diverge: the band leaves the plot
    assert race.to_dict()["seeds"] == 6
    assert Race(fast(), [RaceEntry(lr=0.05)]).snapshot().runs[0].band_steps.size == 0
    with pytest.raises(RaceSpecError, match="seeds"):
        Race(fast(), [RaceEntry(lr=0.05)], seeds=0)


def test_the_race_plot_draws_the_median_and_the_band(qtbot) -> None:
    race = Race(fast(), [RaceEntry(lr=0.05), RaceEntry(optimizer="adam", lr=0.05)], seeds=4)
    race.run_to_end()
    snap = race.snapshot(500)
    view = RaceLossView()
    qtbot.addWidget(view)
    view.set_race(snap, RACE_COLORS)
    assert len(view.bands) == 2
    for k, run in enumerate(snap.runs):
        x, y = view.curve_data(k)
        np.testing.assert_allclose(x, run.band_steps)
        np.testing.assert_allclose(y, run.band_median, rtol=1e-12)
        lo, hi, fill = view.bands[k]
        assert hi.getData()[0] is not None
        assert fill.brush().color().alpha() > 0
        np.testing.assert_allclose(10 ** lo.getData()[1], run.band_low, rtol=1e-9)
    one = Race(fast(), [RaceEntry(lr=0.05)]).snapshot()
    view.set_race(one, RACE_COLORS)
    assert len(view.bands) == 1 and view.bands[0][0].getData()[0] is None
