"""Tests for core.files: atomic writes and JSON-safe values."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from core import files as files_module
from core.files import (
    atomic_open,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    json_clean,
)
from core.history import History, write_steps_csv
from tests.conftest import run_unprivileged


def _history() -> History:
    h = History(1, ["w"])
    h.record_steps(0, np.array([1.0, 0.5]), np.array([[0.0], [0.1]]))
    return h


def test_json_clean_makes_strict_json() -> None:
    raw = {
        "a": np.array([1.0, np.nan, np.inf]),
        "b": (np.float32(0.5), np.int64(3), -math.inf),
        "c": [{"d": np.float64(2.0)}],
        "e": "text",
        "f": None,
    }
    clean = json_clean(raw)
    assert clean == {
        "a": [1.0, None, None],
        "b": [0.5, 3, None],
        "c": [{"d": 2.0}],
        "e": "text",
        "f": None,
    }
    assert type(clean["b"][1]) is int and type(clean["c"][0]["d"]) is float
    json.dumps(clean, allow_nan=False)


def only_file(folder: Path) -> list[str]:
    """Names of the files in folder, sorted."""
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_text_bytes_json(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\nline\r\n")
    assert target.read_bytes() == b"first\nline\r\n"
    atomic_write_text(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    atomic_write_bytes(tmp_path / "out.bin", b"\x00\xff")
    assert (tmp_path / "out.bin").read_bytes() == b"\x00\xff"
    atomic_write_json(tmp_path / "out.json", {"a": [1, 2.5]})
    assert (tmp_path / "out.json").read_text(
        encoding="utf-8"
    ) == '{\n  "a": [\n    1,\n    2.5\n  ]\n}\n'
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"a": float("nan")})
    assert only_file(tmp_path) == ["out.bin", "out.json", "out.txt"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_atomic_write_honours_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644


def test_atomic_write_failed_replace_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "steps.csv"
    target.write_text("original", encoding="utf-8")

    def fail(src: object, dst: object) -> None:
        raise PermissionError("simulated failure")

    monkeypatch.setattr(files_module.os, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_text(target, "new")
    with pytest.raises(OSError):
        write_steps_csv(_history(), target)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_text(encoding="utf-8") == "original"
    assert only_file(tmp_path) == ["steps.csv"]


def test_atomic_open_error_in_body_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("original", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("partial")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "original"
    assert only_file(tmp_path) == ["t.txt"]
    with pytest.raises(ValueError), atomic_open(target, "a"):
        pass


def test_atomic_write_into_read_only_directory() -> None:
    # Root ignores permission bits, so the check runs in a child process as an unprivileged
    # user (conftest.run_unprivileged); it writes into a folder of its own made read-only.
    script = """
import shutil
import tempfile
from pathlib import Path

from core.files import atomic_write_text

drop_root()
folder = Path(tempfile.mkdtemp())
try:
    (folder / "out.txt").write_text("old", encoding="utf-8")
    folder.chmod(0o555)
    for name in ("out.txt", "new.txt"):
        try:
            atomic_write_text(folder / name, "x")
        except OSError as exc:
            print("refused", name, type(exc).__name__, str(folder) in str(exc))
        else:
            print("written", name)
    print("left", sorted(p.name for p in folder.iterdir()))
    print("kept", (folder / "out.txt").read_text(encoding="utf-8"))
finally:
    folder.chmod(0o755)
    shutil.rmtree(folder)
"""
    proc = run_unprivileged(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "refused out.txt PermissionError True",
        "refused new.txt PermissionError True",
        "left ['out.txt']",
        "kept old",
    ]
