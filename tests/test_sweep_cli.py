"""`python main.py sweep` as a user runs it: its files, bad grids, local processes and a real
Dask cluster (a scheduler and two worker processes on the loopback address)."""

from __future__ import annotations

import csv
import json
import os
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

import main
from core.sweep_exec import core_package_zip

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "main.py"
NUMPY = ["--preset", "playground", "--set", 'train.implementation="numpy"']
GRID = ["--grid", "train.lr=log:1e-3:2:6", "--grid", "train.batch_size=1,10,200"]
COLUMNS = [
    "train.lr",
    "train.batch_size",
    "seed",
    "initial_loss",
    "final_loss",
    "steps_to_tolerance",
    "diverged",
    "seconds",
]
STARTUP_S = 120  # a loaded 2-core machine: processes may take long to start; no sleeps below


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("PYTHONWARNINGS", None)
    return env


def sweep(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run main.py sweep in a subprocess."""
    return subprocess.run(
        [sys.executable, str(MAIN), "sweep", "--quiet", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_seconds(table: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in table]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> Path:
    """One sweep run in-process: 6 learning rates x 3 batch sizes x 2 seeds."""
    out = tmp_path_factory.mktemp("sweep")
    proc = sweep(*NUMPY, *GRID, "--seeds", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "36 runs (18 cells x 2 seeds)" in proc.stdout
    return out


def test_sweep_writes_its_files(in_process: Path) -> None:
    assert sorted(p.name for p in in_process.iterdir()) == [
        "sweep.csv",
        "sweep.json",
        "sweep.png",
        "sweep.svg",
    ]
    with open(in_process / "sweep.csv", newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    table = rows(in_process)
    assert len(table) == 6 * 3 * 2
    assert {r["diverged"] for r in table} == {"true", "false"}
    assert any(r["steps_to_tolerance"] == "" for r in table)
    assert all(r["steps_to_tolerance"].isdigit() for r in table if r["steps_to_tolerance"])
    assert [r["seed"] for r in table[:2]] == ["0", "1"]
    assert float(table[0]["initial_loss"]) > float(table[0]["final_loss"]) > 0
    doc = json.loads((in_process / "sweep.json").read_text())
    assert {"config", "grid", "limits"} <= set(doc)
    assert doc["grid"]["train.batch_size"] == [1, 10, 200]
    assert doc["config"]["train"]["implementation"] == "numpy"
    assert [lim["name"] for lim in doc["limits"]] == [
        "full-batch stability",
        "minibatch SGD stability (mean square)",
    ]
    assert all(lim["formula"] and lim["lr"] > 0 for lim in doc["limits"])
    assert doc["execution"]["mode"] == "in-process"
    svg = (in_process / "sweep.svg").read_text()
    assert "<svg" in svg and "full-batch stability" in svg
    assert (in_process / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "grid",
    [
        "train.learning_rate=0.1",  # unknown key
        "train.lr=log:1:2:0",  # empty range
        "train.lr=0.1,fast",  # not a number
    ],
)
def test_a_bad_grid_exits_2_with_one_line(tmp_path: Path, grid: str) -> None:
    proc = sweep(*NUMPY, "--grid", grid, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("linreg-viz: error: ")
    assert not (tmp_path / "out").exists()


def test_local_workers_give_the_same_results(in_process: Path, tmp_path: Path) -> None:
    proc = sweep(*NUMPY, *GRID, "--seeds", "2", "--workers", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert without_seconds(rows(tmp_path)) == without_seconds(rows(in_process))
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["execution"]["mode"] == "local processes" and doc["execution"]["workers"] == 2


def test_nothing_of_dask_is_imported_without_a_scheduler(tmp_path: Path) -> None:
    code = (
        "import sys, main\n"
        f"code = main.main(['sweep', '--quiet', '--no-plots', *{NUMPY!r},"
        f" '--grid', 'train.lr=0.01,0.1', '--out', {str(tmp_path)!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(code, loaded)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr


def test_a_missing_dask_gets_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    for name in ("dask", "dask.distributed", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    code = main.main(
        ["sweep", "--quiet", *NUMPY, "--grid", "train.lr=0.1", "--scheduler",
         "tcp://127.0.0.1:8786", "--out", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'distributed==" in err


def test_workers_and_scheduler_together_are_refused(tmp_path: Path) -> None:
    proc = sweep(*NUMPY, "--grid", "train.lr=0.1", "--workers", "2", "--scheduler",
                 "tcp://127.0.0.1:1", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 2 and "give one" in proc.stderr


def test_one_cell_over_seeds_prints_the_share_inside_the_ellipse(tmp_path: Path) -> None:
    fixed = [*NUMPY, "--set", "data.noise_seed=0", "--grid", "train.lr=0.05", "--no-plots"]
    proc = sweep(*fixed, "--seeds", "100", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    line = next(t for t in proc.stdout.splitlines() if "sampling ellipse" in t)
    share = float(line.split("%", 1)[0])
    assert 85.0 <= share <= 100.0 and "of 100 seeds inside the 95% sampling ellipse" in line
    assert "(1 cell x 100 seeds)" in proc.stdout
    plain = sweep(*NUMPY, "--grid", "train.lr=0.05", "--seeds", "3", "--no-plots",
                  "--out", str(tmp_path / "plain"))  # fmt: skip
    assert "set data.noise_seed for a fixed design" in plain.stdout


def test_core_travels_to_the_workers_as_a_zip(tmp_path: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(core_package_zip(tmp_path)).namelist()
    assert "core/sweep_group.py" in names and "core/__init__.py" in names
    assert not any(n.startswith("gui/") for n in names)


# ---- a real Dask cluster ------------------------------------------------------------------------
def _wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float) -> re.Match:
    """Read proc's stderr until a line matches (select with a deadline, no sleeping). Raw
    reads: a buffered reader would hold lines select() no longer reports."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    fd = proc.stderr.fileno()
    text = ""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text += chunk.decode(errors="replace")
            match = regex.search(text)
            if match:
                return match
    raise AssertionError(f"no line matching {pattern!r}; got:\n{text[-3000:]}")


@pytest.fixture
def cluster(tmp_path: Path):
    """A Dask scheduler and two worker processes (no nanny) on 127.0.0.1; stopped afterwards.
    The workers run in an empty folder: the sweep's code reaches them as an upload."""
    pytest.importorskip("distributed")
    work = tmp_path / "cluster"
    work.mkdir()
    env = _env()
    env.pop("PYTHONPATH", None)
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=work, env=env, bufsize=0,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        procs.append(proc)
        return proc

    try:
        scheduler = start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                          "0", "--no-dashboard")  # fmt: skip
        address = _wait_for_line(scheduler, r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)",
                                 STARTUP_S).group(1)  # fmt: skip
        workers = [
            start("distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads",
                  "1", "--no-nanny", "--no-dashboard", "--local-directory", str(work))
            for _ in range(2)
        ]  # fmt: skip
        for worker in workers:
            _wait_for_line(worker, r"Registered to:", STARTUP_S)
        yield address, {w.pid for w in workers}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
            if proc.stderr is not None:
                proc.stderr.close()


def test_a_dask_cluster_gives_the_in_process_results(in_process: Path, cluster, tmp_path) -> None:
    address, worker_pids = cluster
    out = tmp_path / "dask"
    proc = sweep(*NUMPY, *GRID, "--seeds", "2", "--scheduler", address, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "dask" in proc.stdout
    assert without_seconds(rows(out)) == without_seconds(rows(in_process))
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["execution"]["mode"] == "dask" and doc["execution"]["scheduler"] == address
    assert doc["limits"] == json.loads((in_process / "sweep.json").read_text())["limits"]
    assert doc["execution"]["pids"] and set(doc["execution"]["pids"]) <= worker_pids


def test_an_unreachable_scheduler_gets_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    # In a process of its own: a Dask client starts threads this test process must not keep.
    code = (
        "import sys, main, core.sweep_exec as e\n"
        "e.SCHEDULER_TIMEOUT_S = 1.0\n"
        f"sys.exit(main.main(['sweep', '--quiet', *{NUMPY!r}, '--grid', 'train.lr=0.1',"
        f" '--scheduler', 'tcp://127.0.0.1:1', '--out', {str(tmp_path)!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("linreg-viz: error: cannot reach")
