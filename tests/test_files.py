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


def test_atomic_write_into_read_only_directory(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("x", encoding="utf-8")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("directory permissions are not enforced (running as root?)")
        with pytest.raises(OSError):
            atomic_write_text(folder / "out.txt", "x")
        assert only_file(folder) == []
    finally:
        folder.chmod(0o755)
