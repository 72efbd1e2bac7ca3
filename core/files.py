"""File helpers: atomic writes (a file appears whole or not at all) and JSON-safe values."""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np


def json_clean(value: Any) -> Any:
    """Make a value JSON-safe: arrays and tuples to lists, numpy scalars to Python, non-finite
    floats to None."""
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_clean(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", *, encoding: str = "utf-8", newline: str | None = ""
) -> Iterator[IO[Any]]:
    """Yield a file that replaces path only if the block completes; otherwise path is untouched.

    Text mode writes line endings verbatim by default (newline=""), so output is the same on
    every platform. On any failure the temporary file is removed and the error re-raised.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    target = Path(path)
    # The temp file sits in the target's folder so os.replace is a same-filesystem rename.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            # 0o666 lets the umask decide permissions, as for an ordinary new file.
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        if mode == "wb":
            file: IO[Any] = os.fdopen(fd, "wb")
        else:
            file = os.fdopen(fd, "w", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        with file:
            yield file
            file.flush()
            # Make the data durable before the rename publishes it.
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write text to path atomically (line endings verbatim)."""
    with atomic_open(path, "w", encoding=encoding) as file:
        file.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to path atomically."""
    with atomic_open(path, "wb") as file:
        file.write(data)


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> None:
    """Write obj as strict JSON (NaN/inf rejected with ValueError) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")
