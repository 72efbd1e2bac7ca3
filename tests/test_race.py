"""The optimizer race: run specs, the Race (same start, tolerance, divergence), `main.py race`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import main
from core.config import Config
from core.errors import ConfigError, UserInputError
from core.presets import preset_config
from core.race import (
    MAX_RUNS,
    Race,
    RaceEntry,
    RaceSpecError,
    parse_run_spec,
    tolerance_margin,
)
from tests.conftest import MAIN, PROCESS_TIMEOUT_S, ROOT, child_env

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
RUN_KEYS = {
    "run",
    "label",
    "settings",
    "initial_loss",
    "final_loss",
    "steps_to_tolerance",
    "seconds_to_tolerance",
    "steps",
    "stopped_reason",
}


def fast(name: str = "sgd-1d") -> Config:
    """A preset on the NumPy engine in float64: no torch start-up, exact arithmetic."""
    return (
        preset_config(name)
        .with_value("train.implementation", "numpy")
        .with_value("model.dtype", "float64")
    )


def race_of(config: Config, *specs: str, tolerance: float = 0.01) -> Race:
    """A finished race of the given --run specifications."""
    race = Race(config, [parse_run_spec(s) for s in specs], tolerance)
    race.run_to_end()
    return race


# ---- run specifications ----------------------------------------------------------------------
def test_parse_run_spec_reads_every_key() -> None:
    entry = parse_run_spec("optimizer=Adam, lr=3e-3,batch_size=32,momentum=0.5,label=fast one")
    assert entry == RaceEntry(
        optimizer="adam", lr=0.003, batch_size=32, momentum=0.5, label="fast one"
    )
    assert parse_run_spec(entry.to_spec()) == entry
    assert parse_run_spec("lr=0.1") == RaceEntry(lr=0.1)
    assert entry.changes() == {"optimizer": "adam", "lr": 0.003, "batch_size": 32, "momentum": 0.5}


BAD_SPECS = {
    "": "empty",
    "optimizer=sgd,speed=3": "speed",
    "optimizer=sgdd": "sgdd",
    "lr=fast": "lr",
    "lr=-0.1": "lr",
    "lr=nan": "lr",
    "batch_size=2.5": "batch_size",
    "batch_size=0": "batch_size",
    "momentum=1.5": "momentum",
    # The configuration allows momentum up to 0.999: a run may not ask for more.
    "momentum=0.9995": "momentum='0.9995': must be in [0.0, 0.999]",
    "lr=1e-13": "lr='1e-13': must be in [1e-12, 1000.0]",
    "lr=2000": "lr='2000': must be in [1e-12, 1000.0]",
    "batch_size=20000000": "batch_size='20000000': must be in [1, 10000000]",
    "lr": "'lr'",
    "lr=0.1,lr=0.2": "twice",
    "lr=": "lr",
    "=3": "=3",
}


@pytest.mark.parametrize("spec", list(BAD_SPECS))
def test_bad_spec_raises_one_line_naming_the_problem(spec: str) -> None:
    with pytest.raises(RaceSpecError) as info:
        parse_run_spec(spec)
    assert isinstance(info.value, UserInputError)
    message = str(info.value)
    assert "\n" not in message
    assert BAD_SPECS[spec] in message


def test_race_rejects_bad_run_counts_tolerances_and_settings() -> None:
    config = fast()
    with pytest.raises(RaceSpecError, match="1 to 4"):
        Race(config, [])
    with pytest.raises(RaceSpecError, match="1 to 4"):
        Race(config, [RaceEntry()] * (MAX_RUNS + 1))
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(RaceSpecError, match="tolerance"):
            Race(config, [RaceEntry()], bad)
    # The NumPy engine has no RMSprop: the message names the run and the field.
    with pytest.raises(ConfigError, match=r"run 2 .*train\.optimizer"):
        Race(config, [RaceEntry(), RaceEntry(optimizer="rmsprop")])


def test_settings_apply_together() -> None:
    # nesterov needs momentum > 0; the base has 0: valid only when both change at once.
    base = fast().with_value("train.momentum", 0.0)
    config = RaceEntry(optimizer="nesterov", momentum=0.5).apply(base)
    assert (config.train.optimizer, config.train.momentum) == ("nesterov", 0.5)
    assert base.train.optimizer == "sgd"  # the base is not changed


# ---- the race ---------------------------------------------------------------------------------
def test_every_run_starts_from_the_same_initial_loss() -> None:
    config = fast("playground")
    race = Race(
        config,
        [
            RaceEntry(optimizer="sgd", lr=0.03),
            RaceEntry(optimizer="adam", lr=0.01, batch_size=32),
            RaceEntry(optimizer="momentum", lr=0.01, batch_size=200),
            RaceEntry(optimizer="nesterov", lr=0.02, batch_size=1, momentum=0.5),
        ],
    )
    losses = race.initial_losses()
    assert len(set(losses)) == 1  # identical, not merely close
    assert losses[0] == race.initial_loss > race.ols_loss
    for run in race.runs:
        assert run.trainer.dataset is race.dataset  # the same data object
        np.testing.assert_array_equal(run.trainer.theta0, race.theta0)
        np.testing.assert_array_equal(run.trainer.theta(), race.theta0)
        assert run.trainer.history.steps()[1][0] == losses[0]
    # The snapshot's curves start there too, before and after training.
    assert {float(r.loss_values[0]) for r in race.snapshot().runs} == {losses[0]}
    race.run_to_end()
    assert {float(r.loss_values[0]) for r in race.snapshot().runs} == {losses[0]}
    assert {r["initial_loss"] for r in race.results()} == {losses[0]}


def test_steps_to_tolerance_match_full_batch_gradient_descent() -> None:
    # Full-batch GD in float64 can be replayed exactly from the statistics.
    config = fast("sgd-1d")
    race = race_of(config, "optimizer=sgd,lr=0.01")
    run = race.runs[0]
    theta = race.theta0.copy()
    margin = tolerance_margin(race.ols_loss, race.initial_loss, 0.01)
    expected = None
    for step in range(config.train.epochs + 1):
        loss = race.stats.loss(theta[:-1], theta[-1])
        if loss - race.ols_loss <= margin:
            expected = step
            break
        gw, gb = race.stats.gradient(theta[:-1], theta[-1])
        theta -= 0.01 * np.append(gw, gb)
    assert expected is not None and expected > 10
    assert abs(run.steps_to_tolerance - expected) <= 1  # rounding can move a borderline step
    assert race.threshold == pytest.approx(race.ols_loss * 1.01)
    # The trace agrees: within tolerance at that step, above it the step before.
    _, losses, _ = run.tracker.trace.steps()
    k = run.steps_to_tolerance
    assert losses[k] <= race.threshold < losses[k - 1]
    assert 0 < run.seconds_to_tolerance <= run.trainer.seconds


def test_adam_and_momentum_beat_plain_sgd_at_a_small_rate() -> None:
    race = race_of(
        fast("sgd-1d"),
        "optimizer=sgd,lr=0.01",
        "optimizer=adam,lr=0.05",
        "optimizer=momentum,lr=0.01,momentum=0.9",
    )
    sgd, adam, momentum = (r["steps_to_tolerance"] for r in race.results())
    assert sgd is not None and adam is not None and momentum is not None
    assert adam < sgd and momentum < sgd
    doc = race.to_dict()
    assert doc["fastest_by_steps"] in (2, 3)
    for r in race.results():
        assert r["stopped_reason"] == "completed"
        assert r["steps"] == 1000  # full batch: one step per epoch
        assert r["final_loss"] == pytest.approx(race.ols_loss, rel=1e-3)
        assert r["seconds_to_tolerance"] <= r["seconds"]


def test_a_diverging_run_stops_while_the_others_finish() -> None:
    race = race_of(fast("playground"), "optimizer=sgd,lr=0.03", "optimizer=sgd,lr=5")
    ok, bad = race.results()
    assert ok["stopped_reason"] == "completed"
    assert ok["steps"] == race.runs[0].trainer.total_steps
    assert ok["steps_to_tolerance"] is not None
    assert bad["stopped_reason"] == "diverged"
    assert bad["steps"] < 20
    assert bad["steps_to_tolerance"] is None and bad["seconds_to_tolerance"] is None
    assert "Learning rate 5" in bad["message"]
    assert all(math.isfinite(w) for w in bad["final_weights"])  # rolled back
    assert race.done


def test_huge_data_races_quietly(tmp_path: Path) -> None:
    # The trainer's epoch losses learnt to overflow quietly (found by fuzzing); the race's
    # per-step losses used their own copy of that code and warned (warnings fail the suite):
    # SGD's first step from data near 1e100 lands where the loss overflows.
    path = tmp_path / "huge.csv"
    path.write_text("a,b,y\n0.0,0.0,0.0\n0.0,3e99,0.0\n1.0,1.0,1.0\n", encoding="utf-8")
    config = Config.from_dict(
        {
            "data": {"csv_path": str(path), "standardize": False},
            "model": {"dtype": "float64"},
            "train": {"implementation": "numpy", "epochs": 2, "batch_size": 4},
        }
    )
    race = race_of(config, "optimizer=sgd,lr=0.01", "optimizer=adam,lr=0.01")
    assert race.done
    assert [run.trainer.stopped_reason for run in race.runs] == ["diverged", "completed"]
    assert all(np.isfinite(run.trainer.theta()).all() for run in race.runs)
    json.loads(race.to_json())


def test_runs_advance_in_turn_and_can_be_stopped() -> None:
    config = fast("playground").with_value("train.epochs", 100_000)
    race = Race(config, [RaceEntry(lr=0.01), RaceEntry(optimizer="adam", lr=0.01)])
    for _ in range(6):
        race.advance(time.perf_counter() + 0.001)
    assert all(run.trainer.step_count > 0 for run in race.runs)
    assert race.step_count == sum(r.trainer.step_count for r in race.runs)
    assert not race.done
    race.stop()
    assert race.done
    assert {r["stopped_reason"] for r in race.results()} == {"stopped"}
    assert race.advance(time.perf_counter() + 0.01) == 0


def test_noiseless_data_uses_a_fraction_of_the_initial_loss() -> None:
    config = fast("playground").with_value("data.noise_std", 0.0).with_value("train.epochs", 50)
    race = race_of(config, "optimizer=sgd,lr=0.05")
    assert race.ols_loss < 1e-20
    assert race.margin == pytest.approx(0.01 * 1e-9 * race.initial_loss)
    assert race.results()[0]["steps_to_tolerance"] is not None


def test_snapshot_is_plain_copied_data() -> None:
    race = race_of(fast("playground"), "optimizer=sgd,lr=0.03", "optimizer=adam,lr=0.03")
    snap = race.snapshot(max_points=100)
    assert snap.done and len(snap.runs) == 2
    for run in snap.runs:
        assert run.loss_steps.size == run.loss_values.size == run.loss_seconds.size <= 100
        assert run.path.shape == (run.loss_steps.size, 2)
        assert run.loss_steps[0] == 0 and run.loss_steps[-1] == run.step
        assert np.all(np.diff(run.loss_seconds) >= 0)
        run.path[:] = 0.0  # a copy: the race's own trace is untouched
    assert race.snapshot().runs[0].path[-1, 0] != 0.0


def test_to_json_is_strict_and_complete(tmp_path: Path) -> None:
    from core.race import write_race_json

    race = race_of(fast("playground"), "optimizer=sgd,lr=0.03", "optimizer=sgd,lr=5,label=wild")
    path = write_race_json(race, tmp_path / "race.json")
    doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject)
    assert doc["tolerance"] == 0.01
    assert doc["runs"][1]["label"] == "wild"
    assert doc["config"]["train"]["implementation"] == "numpy"
    for r in doc["runs"]:
        assert set(r) >= RUN_KEYS
    assert doc["runs"][0]["settings"]["momentum"] is None  # sgd has none


def _reject(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name}")


# ---- the command line, in this process (bad input is quick) ----------------------------------
BAD_CLI = {
    "no run": ([], "1 to 4 --run"),
    "five runs": (["--run", "lr=0.1"] * 5, "got 5"),
    "bad key": (["--run", "optimizer=sgd,rate=3"], "'rate'"),
    "bad lr": (["--run", "lr=abc"], "lr="),
    "unknown optimizer": (["--run", "optimizer=lion"], "lion"),
    "bad tolerance": (["--run", "lr=0.1", "--tolerance", "tight"], "--tolerance"),
    "negative tolerance": (["--run", "lr=0.1", "--tolerance", "-1"], "tolerance"),
    "engine lacks optimizer": (
        ["--set", "train.implementation=numpy", "--run", "optimizer=adagrad"],
        "train.optimizer",
    ),
    "unknown preset": (["--preset", "nope", "--run", "lr=0.1"], "nope"),
    "bad set": (["--set", "train.lr=-3", "--run", "lr=0.1"], "train.lr"),
}


@pytest.mark.parametrize("case", list(BAD_CLI))
def test_bad_race_input_exits_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, needle = BAD_CLI[case]
    code = main.main(["race", *args, "--out", str(tmp_path / "out"), "--quiet"])
    captured = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    message = captured.err.rstrip("\n")
    assert message.startswith("linreg-viz: error: ") and "\n" not in message, message
    assert needle in message
    assert not (tmp_path / "out").exists()


# ---- the command line, as users run it --------------------------------------------------------
LAUNCH = {
    # Three runs on the playground, one of them diverging; with the plot and the progress bar.
    "mixed": [
        "race",
        "--preset",
        "playground",
        "--set",
        "train.implementation=numpy",
        "--epochs",
        "10",
        "--run",
        "optimizer=sgd,lr=0.03",
        "--run",
        "optimizer=adam,lr=0.05,batch_size=20",
        "--run",
        "optimizer=sgd,lr=5",
        "--tolerance",
        "0.02",
    ],
    "all diverge": [
        "race",
        "--preset",
        "playground",
        "--set",
        "train.implementation=numpy",
        "--run",
        "lr=5",
        "--run",
        "lr=8",
        "--no-plots",
        "--quiet",
    ],
}


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple]]:
    """Start both command lines at once (their start-ups overlap); wait in the tests."""
    base = tmp_path_factory.mktemp("race")
    procs = {
        name: (
            subprocess.Popen(
                [sys.executable, str(MAIN), *args, "--out", str(base / name)],
                cwd=ROOT,
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            base / name,
        )
        for name, args in LAUNCH.items()
    }
    yield procs
    for proc, _ in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _result(launched: dict[str, tuple], name: str) -> tuple[int, str, str, Path]:
    proc, out = launched[name]
    stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    return proc.returncode, stdout, stderr, out


def test_race_command_writes_json_and_plot(launched: dict[str, tuple]) -> None:
    code, stdout, stderr, out = _result(launched, "mixed")
    assert code == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert "step" in stderr  # the progress bar
    assert "run 3" in stderr and "diverged" in stderr.lower()
    doc = json.loads((out / "race.json").read_text(encoding="utf-8"), parse_constant=_reject)
    runs = doc["runs"]
    assert [r["settings"]["optimizer"] for r in runs] == ["sgd", "adam", "sgd"]
    assert runs[1]["settings"]["batch_size"] == 20
    assert doc["tolerance"] == 0.02
    assert len({r["initial_loss"] for r in runs}) == 1
    assert [r["stopped_reason"] for r in runs] == ["completed", "completed", "diverged"]
    assert runs[0]["steps"] == 200 and runs[1]["steps"] == 100  # 10 epochs of 20 and 10 steps
    assert runs[0]["steps_to_tolerance"] is not None
    assert runs[2]["steps_to_tolerance"] is None
    for r in runs[:2]:
        assert r["final_loss"] <= doc["threshold_loss"]
    png = out / "race_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "within tolerance at step" in stdout
    assert f"wrote 2 files to {out}" in stdout


def test_race_where_every_run_diverges_exits_3(launched: dict[str, tuple]) -> None:
    code, stdout, stderr, out = _result(launched, "all diverge")
    assert code == EXIT_DIVERGED, stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.count("diverged") == 2
    doc = json.loads((out / "race.json").read_text(encoding="utf-8"))
    assert {r["stopped_reason"] for r in doc["runs"]} == {"diverged"}
    assert not (out / "race_loss.png").exists()
