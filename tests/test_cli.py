"""The command line, run as a user runs it: `python main.py ...` in a subprocess."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.data import make_dataset
from core.presets import D2L_W3, PRESETS
from tests.conftest import MAIN, PROCESS_TIMEOUT_S, ROOT, child_env

# main's exit codes; main is not imported so the tests stay subprocess-only
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
Proc = subprocess.CompletedProcess[str]
RUN_FILES = ("summary.json", "history.csv", "epochs.csv", "config.json", "eigen.csv")
SUMMARY_KEYS = {
    "true_weights",
    "true_bias",
    "final_weights",
    "final_bias",
    "ols_weights",
    "ols_bias",
    "train_loss",
    "val_loss",
    "ols_train_loss",
    "r2",
    "epochs_completed",
    "steps",
    "stopped_reason",
    "steps_per_second",
    "wall_steps_per_second",
    "max_stable_lr",
    "hessian_eigenvalues",
    "condition_number",
    "predicted_excess_loss",
}


def run(*args: str, exe: list[str] | None = None, timeout: float = PROCESS_TIMEOUT_S) -> Proc:
    """Run the command line from the repository root and capture its text output."""
    cmd = [*(exe or [sys.executable, str(MAIN)]), *args]
    return subprocess.run(
        cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


class Launched:
    """A command line started in the background, so independent runs overlap their start-up."""

    def __init__(self, args: list[str], out: Path) -> None:
        self.out = out
        self._proc = subprocess.Popen(
            [sys.executable, str(MAIN), *args, "--out", str(out)],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._done: Proc | None = None

    def result(self, timeout: float = PROCESS_TIMEOUT_S) -> Proc:
        """Wait for the run (once) and return its exit code and output."""
        if self._done is None:
            stdout, stderr = self._proc.communicate(timeout=timeout)
            self._done = subprocess.CompletedProcess(
                self._proc.args, self._proc.returncode, stdout, stderr
            )
        return self._done

    def stop(self) -> None:
        """Kill the run if it is still going (a test failed before waiting for it)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


# Train runs that depend on nothing else; each ends with `--out DIR` appended.
LAUNCHED = {
    "concise": ["train", "--preset", "d2l-concise-3", "--no-plots", "--quiet"],
    # Not --quiet: this run also shows the progress bar.
    "overridden": [
        "train",
        "--set",
        "data.true_weights=[1,2]",
        "--set",
        "train.lr=0.05",
        "--epochs",
        "2",
        "--no-plots",
    ],
    "diverged": [
        "train",
        "--preset",
        "playground",
        "--set",
        "train.lr=50",
        "--no-plots",
        "--quiet",
    ],
    # Source options before the subcommand must count: `--preset X train` trains X.
    "before": ["--preset", "d2l-concise-3", "--epochs", "1", "train", "--no-plots", "--quiet"],
    "plots": ["train", "--preset", "d2l-concise-3", "--epochs", "1"],
    "theory": [
        "train",
        "--preset",
        "d2l-concise-3",
        "--set",
        'train.schedule={"name": "warmup_cosine", "warmup_steps": 20}',
        "--set",
        "train.sampling=replacement",
        "--epochs",
        "2",
        "--no-plots",
        "--quiet",
    ],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """Start every independent train run at once; tests wait for the one they check."""
    base = tmp_path_factory.mktemp("runs")
    launched = {name: Launched(args, base / name) for name, args in LAUNCHED.items()}
    yield launched
    for run_ in launched.values():
        run_.stop()


def strict_json(path: Path) -> dict:
    """Load JSON that must be standard: NaN or Infinity in a summary is a bug."""

    def reject(name: str) -> None:
        raise AssertionError(f"{path} holds non-standard JSON constant {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def assert_ok(proc: Proc, code: int = 0) -> None:
    """The run exited with code and printed no traceback."""
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout


# ---- presets ----------------------------------------------------------------------------------
def test_presets_lists_every_preset_one_line_each() -> None:
    proc = run("presets")
    assert_ok(proc)
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == len(PRESETS)
    for line, preset in zip(lines, PRESETS.values(), strict=True):
        name, _, description = line.partition(" ")
        assert name == preset.name
        assert description.strip() == preset.summary


# ---- a normal run -----------------------------------------------------------------------------
@pytest.fixture
def concise(runs: dict[str, Launched]) -> tuple[Proc, Path]:
    return runs["concise"].result(), runs["concise"].out


def test_train_writes_the_run_files(concise: tuple[Proc, Path]) -> None:
    proc, out = concise
    assert_ok(proc)
    assert proc.stderr == ""  # --quiet: no progress bar, nothing else either
    for name in RUN_FILES:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob("*.png"))  # --no-plots
    assert "completed" in proc.stdout
    assert str(out) in proc.stdout


def test_summary_has_sensible_values(concise: tuple[Proc, Path]) -> None:
    proc, out = concise
    assert_ok(proc)
    s = strict_json(out / "summary.json")
    assert set(s) >= SUMMARY_KEYS
    assert s["true_weights"] == pytest.approx(D2L_W3)
    assert s["true_bias"] == pytest.approx(3.0)
    assert s["stopped_reason"] == "completed"
    assert s["epochs_completed"] == 3
    assert s["steps"] == 300  # 1000 rows / batch 10 * 3 epochs
    assert len(s["final_weights"]) == 3
    assert s["final_weights"] == pytest.approx(D2L_W3, abs=0.01)
    assert s["final_bias"] == pytest.approx(3.0, abs=0.01)
    assert s["ols_weights"] == pytest.approx(D2L_W3, abs=0.01)
    assert s["ols_bias"] == pytest.approx(3.0, abs=0.01)
    assert s["final_weights"] == pytest.approx(s["ols_weights"], abs=5e-3)
    # Noise std 0.01: the least-squares loss is about 1e-4 and SGD ends just above it.
    assert 0 < s["ols_train_loss"] <= s["train_loss"] * (1 + 1e-9)
    assert s["train_loss"] < 1e-3
    assert s["val_loss"] is None  # no validation split in this preset
    assert s["r2"] > 0.99
    assert 0 < s["wall_steps_per_second"] <= s["steps_per_second"]
    # Full-batch gradient descent on the mean squared error of [X, 1] is stable below
    # 2 / the largest eigenvalue of its Hessian, (2/n) [X, 1]^T [X, 1]: computed from the data.
    config = Config.load(out / "config.json")
    assert (config.train.loss, config.model.fit_bias, config.train.weight_decay) == ("mse", True, 0)
    x = make_dataset(config.data, dtype=config.model.dtype).x_train.astype(np.float64)
    design = np.column_stack([x, np.ones(len(x))])
    hessian = 2.0 / len(x) * design.T @ design
    assert s["max_stable_lr"] == pytest.approx(2.0 / np.linalg.eigvalsh(hessian)[-1], rel=1e-9)


def test_history_and_epochs_csv(concise: tuple[Proc, Path]) -> None:
    _, out = concise
    steps = read_csv(out / "history.csv")
    assert [int(r["step"]) for r in steps] == list(range(301))  # step 0 = initial parameters
    assert float(steps[-1]["loss"]) < float(steps[0]["loss"])
    epochs = read_csv(out / "epochs.csv")
    assert [int(r["epoch"]) for r in epochs] == [0, 1, 2, 3]
    assert [int(r["step"]) for r in epochs] == [0, 100, 200, 300]
    s = strict_json(out / "summary.json")
    assert float(epochs[-1]["train_loss"]) == pytest.approx(s["train_loss"])


def test_config_json_reproduces_the_run(concise: tuple[Proc, Path], tmp_path: Path) -> None:
    _, first = concise
    config = str(first / "config.json")
    proc = run("train", "--config", config, "--out", str(tmp_path), "--no-plots", "--quiet")
    assert_ok(proc)
    a, b = strict_json(first / "summary.json"), strict_json(tmp_path / "summary.json")
    # Same configuration, same seed: the very same run.
    assert b["final_weights"] == a["final_weights"]
    assert b["final_bias"] == a["final_bias"]
    assert b["steps"] == a["steps"]
    assert strict_json(tmp_path / "config.json") == strict_json(first / "config.json")


def test_schedule_sampling_and_theory_files(runs: dict[str, Launched]) -> None:
    from core.analysis import hessian
    from core.config import Config
    from core.schedules import lr_sequence
    from core.trainer import Trainer

    proc, out = runs["theory"].result(), runs["theory"].out
    assert_ok(proc)
    config = Config.load(out / "config.json")
    assert config.train.sampling == "replacement"
    assert config.train.schedule.to_dict() == {
        "name": "warmup_cosine",
        "warmup_steps": 20,
        "lr_min": 0.0,
        "start_factor": 0.01,
    }
    steps = read_csv(out / "history.csv")
    rates = [float(r["lr"]) for r in steps]
    # Row k: the rate step k used; row 0: the rate the first step would use.
    planned = lr_sequence(config.train.schedule, 200, 0.03)
    assert rates[1:] == pytest.approx(planned.tolist(), rel=1e-12)
    assert rates[0] == rates[1] == pytest.approx(0.0003)
    s = strict_json(out / "summary.json")
    trainer = Trainer(config)  # the same data, rebuilt from the seed
    expected = np.linalg.eigvalsh(hessian(trainer.stats))
    assert s["hessian_eigenvalues"] == pytest.approx(expected.tolist(), rel=1e-10)
    assert s["condition_number"] == pytest.approx(expected[-1] / expected[0])
    # Noise 0.01, batch 10, lr 0.03: SGD settles a little above the least-squares loss.
    assert 0 < s["predicted_excess_loss"] < 0.1 * s["ols_train_loss"]
    eigen = read_csv(out / "eigen.csv")
    assert list(eigen[0]) == ["step", "error_1", "error_2", "error_3", "error_4"]
    assert [int(r["step"]) for r in eigen] == [int(r["step"]) for r in steps]
    first, last = eigen[0], eigen[-1]
    assert all(float(last[k]) < float(first[k]) for k in list(first)[1:])


# ---- overrides --------------------------------------------------------------------------------
@pytest.fixture
def overridden(runs: dict[str, Launched]) -> tuple[Proc, Path]:
    return runs["overridden"].result(), runs["overridden"].out


def test_set_and_epochs_apply(overridden: tuple[Proc, Path]) -> None:
    proc, out = overridden
    assert_ok(proc)
    config = strict_json(out / "config.json")
    assert config["data"]["true_weights"] == [1, 2]
    assert config["train"]["lr"] == 0.05
    assert config["train"]["epochs"] == 2
    s = strict_json(out / "summary.json")
    assert s["true_weights"] == [1, 2]
    assert len(s["final_weights"]) == 2
    assert s["epochs_completed"] == 2
    assert s["stopped_reason"] == "completed"


def test_progress_bar_without_quiet(overridden: tuple[Proc, Path]) -> None:
    proc, _ = overridden
    assert_ok(proc)
    assert "step" in proc.stderr or "%" in proc.stderr


def test_source_options_before_the_subcommand(runs: dict[str, Launched]) -> None:
    # `--preset X --epochs 1 train` must train X for 1 epoch, not the default preset.
    proc, out = runs["before"].result(), runs["before"].out
    assert_ok(proc)
    config = strict_json(out / "config.json")
    assert config["data"]["true_weights"] == D2L_W3
    assert config["train"]["epochs"] == 1
    assert strict_json(out / "summary.json")["epochs_completed"] == 1


# ---- bad input --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "broken.json").write_text('{"train": {"lr": 0.1,,}}', encoding="utf-8")
    (d / "bad.csv").write_text("a,b,y\n1,2,3\n4,oops,6\n7,8,9\n", encoding="utf-8")
    return d


BAD_INPUT = {
    "unknown preset": (["train", "--preset", "no-such-preset"], "no-such-preset"),
    "missing config": (["train", "--config", "{bad}/missing.json"], "missing.json"),
    "invalid json": (["train", "--config", "{bad}/broken.json"], "invalid JSON"),
    "out of range": (["train", "--set", "train.lr=-1"], "train.lr"),
    "unknown key": (["train", "--set", "train.nope=1"], "train.nope"),
    "malformed set": (["train", "--set", "train.lr"], "SECTION.KEY=VALUE"),
    # No JSON quotes: a value that is not JSON is taken as a bare string.
    "bad csv": (["train", "--set", "data.csv_path={bad}/bad.csv"], "oops"),
    "zero epochs": (["train", "--epochs", "0"], "train.epochs"),
    "non-integer epochs": (["train", "--epochs", "many"], "--epochs"),
    "unknown subcommand": (["frobnicate"], "frobnicate"),
    "unknown flag": (["train", "--frobnicate"], "--frobnicate"),
    "preset and config": (
        ["--preset", "playground", "train", "--config", "{bad}/broken.json"],
        "not allowed",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(case: str, bad_files: Path, tmp_path: Path) -> None:
    args, needle = BAD_INPUT[case]
    args = [a.replace("{bad}", str(bad_files)) for a in args]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "out"), "--no-plots", "--quiet"]
    proc = run(*args)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    message = proc.stderr.rstrip("\n")
    assert message, "no error message"
    assert "\n" not in message, message
    assert message.startswith("linreg-viz: error: "), message
    assert needle in message
    assert not (tmp_path / "out").exists()  # nothing written


def test_bad_csv_message_names_line_and_column(bad_files: Path, tmp_path: Path) -> None:
    csv_path = bad_files / "bad.csv"
    value = json.dumps(str(csv_path))  # the JSON-quoted form
    proc = run("train", "--set", f"data.csv_path={value}", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == EXIT_BAD_INPUT
    message = proc.stderr.rstrip("\n")
    assert "\n" not in message
    assert str(csv_path) in message
    assert "line 3" in message
    assert "'b'" in message


# ---- divergence -------------------------------------------------------------------------------
def test_diverging_run_writes_files_and_exits_3(runs: dict[str, Launched]) -> None:
    proc, out = runs["diverged"].result(), runs["diverged"].out
    assert_ok(proc, EXIT_DIVERGED)
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    s = strict_json(out / "summary.json")
    assert s["stopped_reason"] == "diverged"
    assert s["epochs_completed"] < 30
    assert s["message"]
    assert all(isinstance(w, float) for w in s["final_weights"])  # rolled back to finite values
    assert "diverged" in proc.stderr.lower()
    assert "learning rate" in proc.stderr.lower()


# ---- plots ------------------------------------------------------------------------------------
def test_train_writes_valid_png_plots(runs: dict[str, Launched]) -> None:
    proc, out = runs["plots"].result(), runs["plots"].out
    assert_ok(proc)
    for name in ("loss.png", "fit.png", "params.png"):
        png = out / name
        assert png.is_file(), name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    for name in RUN_FILES:
        assert (out / name).is_file(), name


# ---- console script ---------------------------------------------------------------------------
def test_console_script_is_declared_and_lists_presets() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        assert tomllib.load(f)["project"]["scripts"] == {"linreg-viz": "main:main"}
    try:
        dist = metadata.distribution("linreg-viz")
    except metadata.PackageNotFoundError:
        pytest.skip("linreg-viz is not installed in this interpreter (make test installs it)")
    # Installed (as make test does): the script must be there and run the same command line.
    assert {(e.name, e.value) for e in dist.entry_points if e.group == "console_scripts"} == {
        ("linreg-viz", "main:main")
    }
    script = Path(sys.executable).parent / "linreg-viz"
    assert script.is_file(), script
    proc = run("presets", exe=[str(script)])
    assert_ok(proc)
    assert proc.stdout == run("presets").stdout


def test_a_reader_that_left_is_exit_141_without_a_message() -> None:
    # `linreg-viz presets | head -1` when the reader has left before the listing is written:
    # the read end is closed before the child has even started up.
    proc = subprocess.Popen(
        [sys.executable, str(MAIN), "presets"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == EXIT_BROKEN_PIPE, stderr
    assert stderr == ""


def test_presets_piped_to_head() -> None:
    # The pipeline as typed. head may read the whole short listing before leaving (exit 0) or
    # leave first (141, the case above): either way one line, and nothing on stderr.
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable!s} {MAIN!s} presets | head -1"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode in (0, EXIT_BROKEN_PIPE), proc.stderr
    assert proc.stdout == run("presets").stdout.splitlines(keepends=True)[0]
    assert proc.stderr == ""


def test_interrupt_is_exit_130_with_one_line(tmp_path: Path) -> None:
    # Ctrl+C during a long run: one line, exit 130 as a shell reports SIGINT, nothing written.
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(MAIN),
            "train",
            "--epochs",
            "1000000",
            "--no-plots",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.read(1)  # the progress bar: training has begun
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_INTERRUPTED, first + stderr
    assert (first + stderr).rstrip("\n").splitlines()[-1].endswith("linreg-viz: interrupted")
    assert "Traceback" not in stderr + stdout
    assert not out.exists()
