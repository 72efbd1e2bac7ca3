"""The run as a script: running it gives train's final parameters; it is short and ruff-clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.config import IMPLEMENTATIONS, Config, make_config
from core.limits import optimizers_for
from core.presets import preset_config
from core.report import summary
from core.script import UPDATE_VALUES, make_script, script_values
from core.trainer import Trainer
from tests.test_cli import ROOT, run

# Settings the scripts must write out besides the optimizer: spread over the optimizers so every
# one meets several, and each implementation meets all.
VARIANTS: list[dict[str, object]] = [
    {},
    {"train.weight_decay": 0.01, "train.loss": "half_mse"},
    {"train.l2_penalty": 0.01, "model.fit_bias": False, "model.init": "torch_default"},
    {"data.standardize": True, "data.val_fraction": 0.2, "data.feature_correlation": 0.5},
    {"train.batch_size": 100, "train.epochs": 12, "model.init": "constant"},
    {"train.shuffle": False, "data.feature_distribution": "uniform", "data.noise_std": 0.0},
    {"data.feature_distribution": "uniform", "data.feature_correlation": 0.3},
]
# Learning-rate schedules (and batches drawn with replacement) the scripts must write out:
# every schedule, each implementation, float32 and float64, the horizon ones past their end.
SCHEDULED: list[dict[str, object]] = [
    {"train.schedule": {"name": "step", "step_size": 7, "gamma": 0.3}},
    {"train.schedule": {"name": "exponential", "gamma": 0.95}, "train.sampling": "replacement"},
    {"train.schedule": {"name": "cosine", "lr_min": 0.004}},
    {"train.schedule": {"name": "warmup_cosine", "warmup_steps": 13, "start_factor": 0.2}},
    {"train.schedule": {"name": "warmup_cosine", "warmup_steps": 0}, "train.batch_size": 100},
    {"train.schedule": {"name": "one_cycle", "pct_start": 0.5, "div_factor": 4.0}},
    {"train.schedule": {"name": "one_cycle", "pct_start": 0.01}, "train.sampling": "replacement"},
    {"train.schedule": {"name": "inverse_time", "decay": 0.5}, "train.optimizer": "momentum"},
    {"train.sampling": "replacement", "train.batch_size": 100},
]
# The runner a subprocess executes: each script as __main__ in a fresh namespace, its last line
# kept; then whether torch was ever imported.
RUNNER = """
import contextlib, io, json, runpy, sys
out = []
for path in sys.argv[1:]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        runpy.run_path(path, run_name="__main__")
    out.append(buffer.getvalue().strip().splitlines()[-1])
print(json.dumps({"results": out, "torch": "torch" in sys.modules}))
"""


def base_config() -> Config:
    """57 rows (batches of 8 leave a partial one), two features, a noisy line."""
    return make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "n_samples": 57, "seed": 3},
        model={"init_std": 0.5},
        train={"lr": 0.02, "batch_size": 8, "epochs": 3},
    )


def cases(impl: str) -> list[Config]:
    """Every optimizer of an implementation, in float64 and float32, each with a variant."""
    out = []
    for i, opt in enumerate(optimizers_for(impl)):
        for j, dtype in enumerate(("float64", "float32")):
            variant = VARIANTS[(2 * i + j) % len(VARIANTS)]
            changes = {"train.implementation": impl, "train.optimizer": opt, "model.dtype": dtype}
            out.append(base_config().with_values({**changes, **variant}))
    return out


def scheduled_cases(impl: str) -> list[Config]:
    """Every schedule of SCHEDULED in an implementation (adam where it has it, else sgd)."""
    optimizer = "adam" if "adam" in optimizers_for(impl) else "sgd"
    out = []
    for k, changes in enumerate(SCHEDULED):
        base = {"train.implementation": impl, "train.optimizer": optimizer}
        base["model.dtype"] = ("float64", "float32")[k % 2]
        out.append(base_config().with_values({**base, **changes}))
    return out


def csv_config(tmp: Path) -> Config:
    """A CSV file of three columns on different scales, standardised, validation held out."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 2)) * [1.0, 50.0] + [0.0, -20.0]
    y = x @ [1.0, 0.04] + 2.0 + 0.1 * rng.normal(size=40)
    rows = zip(x.tolist(), y.tolist(), strict=True)
    lines = ["a,b,target"] + [f"{a!r},{b!r},{t!r}" for (a, b), t in rows]
    path = tmp / "data.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return make_config(
        data={
            "csv_path": str(path),
            "target_column": "target",
            "feature_columns": ["b", "a"],
            "true_weights": [0.0, 0.0],
            "standardize": True,
            "val_fraction": 0.25,
        },
        train={"implementation": "numpy", "optimizer": "momentum", "batch_size": 8, "epochs": 4},
    )


def long_configs(tmp: Path) -> list[Config]:
    """Configurations whose literals and calls are too long for one line."""
    wide = {"data.true_weights": [0.5 + k / 7 for k in range(40)], "train.optimizer": "nesterov"}
    rows = [[float(r + c) / 3 for c in range(12)] for r in range(30)]
    inline = {
        "data.true_weights": [1.0] * 12,
        "data.inline_features": rows,
        "data.noise_std": 0.1,
        "train.weight_decay": 0.01,
        "data.standardize": True,
    }
    deep = tmp / ("a_folder_with_a_rather_long_name_" * 3)
    deep.mkdir(exist_ok=True)
    csv = csv_config(deep)
    out = []
    for impl in IMPLEMENTATIONS:
        for changes in (wide, inline):
            out.append(base_config().with_values({"train.implementation": impl, **changes}))
        out.append(csv.with_value("train.implementation", impl))
    return out


def european_csv_config(tmp: Path) -> Config:
    """A file as a spreadsheet in Europe writes it: BOM, blank first line, ';', quotes."""
    lines = ["", '"x 1";"not used";"y (EUR)"']
    lines += [f'"{k / 7!r}";{k};{2.5 * k / 7 + 1 + 0.01 * (-1) ** k!r}' for k in range(30)]
    path = tmp / "european.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    return make_config(
        data={"csv_path": str(path), "target_column": "y (EUR)", "feature_columns": ["x 1"]},
        train={"implementation": "numpy", "batch_size": 4, "epochs": 2, "lr": 0.05},
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple]]:
    """Per implementation: its configurations, the scripts' results and whether torch loaded.

    One subprocess per implementation runs its scripts; the three run side by side."""
    tmp = tmp_path_factory.mktemp("scripts")
    procs = {}
    configs = {}
    for impl in IMPLEMENTATIONS:
        files = [csv_config(tmp), european_csv_config(tmp)] if impl == "numpy" else []
        configs[impl] = cases(impl) + scheduled_cases(impl) + files
        configs[impl] += [c for c in long_configs(tmp) if c.train.implementation == impl]
        paths = []
        for k, config in enumerate(configs[impl]):
            path = tmp / f"{impl}_{k}.py"
            path.write_text(make_script(config).text, encoding="utf-8")
            paths.append(str(path))
        procs[impl] = subprocess.Popen(
            [sys.executable, "-c", RUNNER, *paths],
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        out = {}
        for impl, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr
            report = json.loads(stdout.strip().splitlines()[-1])
            out[impl] = (configs[impl], [json.loads(r) for r in report["results"]], report)
        yield out
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def reference(config: Config) -> dict[str, object]:
    """train's summary of a configuration (what `python main.py train` writes)."""
    trainer = Trainer(config)
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "completed"
    return summary(trainer)


def assert_close(got: dict, want: dict, rtol: float) -> None:
    got_theta = np.append(got["weights"], got["bias"])
    want_theta = np.append(want["final_weights"], want["final_bias"])
    np.testing.assert_allclose(got_theta, want_theta, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_scripts_train_what_train_trains(ran: dict, impl: str) -> None:
    configs, results, _ = ran[impl]
    assert len(results) == len(configs) >= 8
    for config, got in zip(configs, results, strict=True):
        want = reference(config)
        rtol = 1e-12 if config.model.dtype == "float64" else 1e-5
        assert_close(got, want, rtol)
        # In fact they are the same numbers: the script repeats the app's arithmetic.
        assert got["weights"] == want["final_weights"] and got["bias"] == want["final_bias"]


def test_a_scheduled_run_trains_with_its_own_rates() -> None:
    # What the script tests above reproduce is a run whose rates change every step (and a run
    # without the schedule ends elsewhere), so the scripts cannot ignore the schedule.
    for impl in IMPLEMENTATIONS:
        config = scheduled_cases(impl)[2]  # cosine
        trainer = Trainer(config)
        trainer.run_steps(trainer.total_steps)
        rates = trainer.history.lrs()[1:]
        assert np.all(np.diff(rates) < 0) and rates[0] == config.train.lr
        flat = Trainer(config.with_value("train.schedule", "constant"))
        flat.run_steps(flat.total_steps)
        assert not np.array_equal(flat.theta(), trainer.theta())


def test_script_values_give_the_rate_the_step_used() -> None:
    config = scheduled_cases("numpy")[0]  # step: 0.3 times every 7 steps
    trainer = Trainer(config)
    assert float(script_values(trainer)["lr"]) == config.train.lr
    trainer.run_steps(12)
    # Step 12 used the rate after one decay; the configured rate is no longer it.
    assert float(script_values(trainer)["lr"]) == config.train.lr * 0.3
    assert trainer.engine.next_lr() == config.train.lr * 0.3


def test_numpy_scripts_need_no_torch(ran: dict) -> None:
    assert not ran["numpy"][2]["torch"]
    assert ran["module"][2]["torch"]


def test_the_default_script_runs_standalone_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run.py"
    proc = run("script", "--preset", "playground", "--epochs", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    text = out.read_text(encoding="utf-8")
    assert text.count("\n") < 80
    assert {line.split()[1] for line in text.splitlines() if line.startswith("import ")} == {
        "json",
        "numpy",
        "torch",
    }
    script = subprocess.run(
        [sys.executable, str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert script.returncode == 0, script.stderr
    got = json.loads(script.stdout.strip().splitlines()[-1])
    want = reference(preset_config("playground").with_value("train.epochs", 4))
    assert_close(got, want, 1e-5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "train.lr=-1"], "train.lr"),
        (["--preset", "nope"], "nope"),
        (["--out", "{tmp}/missing/dir/x.py"], "cannot write to"),
    ],
)
def test_script_bad_input_is_one_line_and_exit_2(args: list, needle: str, tmp_path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "x.py")]
    proc = run("script", *args)
    assert proc.returncode == 2
    message = proc.stderr.rstrip("\n")
    assert "\n" not in message and message.startswith("linreg-viz: error: ")
    assert needle in message
    assert not (tmp_path / "x.py").exists()


def test_scripts_are_ruff_clean(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    configs = [c for impl in IMPLEMENTATIONS for c in cases(impl) + scheduled_cases(impl)]
    configs.append(csv_config(tmp_path))
    configs.append(european_csv_config(tmp_path))
    configs += long_configs(tmp_path)
    for k, config in enumerate(configs):
        (tmp_path / f"s{k}.py").write_text(make_script(config).text, encoding="utf-8")
    settings = ["--config", str(ROOT / "pyproject.toml")]
    check = subprocess.run(
        [ruff, "check", *settings, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [ruff, "format", "--check", *settings, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.parametrize(
    ("impl", "optimizer"), [(i, o) for i in IMPLEMENTATIONS for o in optimizers_for(i)]
)
def test_update_lines_name_the_update(impl: str, optimizer: str) -> None:
    config = base_config().with_values(
        {"train.implementation": impl, "train.optimizer": optimizer, "train.weight_decay": 0.01}
    )
    script = make_script(config)
    lines = script.text.splitlines()
    assert set(script.update_lines) == set(UPDATE_VALUES[optimizer])
    step_line = lines[script.update_lines["theta"] - 1]
    assert "optimizer.step()" in step_line if impl == "module" else "-= lr" in step_line
    grad_line = lines[script.update_lines["grad"] - 1]
    assert "backward()" in grad_line or "grad" in grad_line
    if "velocity" in script.update_lines:
        assert "velocity" in lines[script.update_lines["velocity"] - 1] or impl == "module"
    if "c1" in script.update_lines and impl != "module":
        assert lines[script.update_lines["c1"] - 1].strip().startswith("c1, c2 =")


@pytest.mark.parametrize("impl", ["numpy", "scratch", "module"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_script_values_are_what_the_update_computed(impl: str, optimizer: str) -> None:
    config = base_config().with_values(
        {"train.implementation": impl, "train.optimizer": optimizer, "model.dtype": "float64"}
    )
    trainer = Trainer(config)
    assert set(script_values(trainer)) == {"lr", "theta"}  # before the first step
    trainer.run_steps(11)
    before = trainer.theta()
    trainer.step()
    values = script_values(trainer)
    assert set(values) == set(UPDATE_VALUES[optimizer])
    np.testing.assert_array_equal(values["theta"], trainer.theta())
    lr, grad = float(values["lr"]), values["grad"]
    if optimizer == "sgd":
        update = grad
    elif optimizer == "momentum":
        update = values["velocity"]
    elif optimizer == "nesterov":
        update = grad + config.train.momentum * values["velocity"]
    else:
        assert float(values["t"]) == 12.0
        c1, c2 = float(values["c1"]), float(values["c2"])
        assert c1 == pytest.approx(1 - 0.9**12) and c2 == pytest.approx(1 - 0.999**12)
        update = values["m"] / c1 / (np.sqrt(values["v"]) / np.sqrt(c2) + 1e-8)
    np.testing.assert_allclose(before - lr * update, trainer.theta(), rtol=1e-10, atol=1e-12)
