"""CSV rows of plain numbers read by pandas' C reader, in chunks of whole lines on threads.

Only what float() reads alike is taken (the same cells, the same values to the bit); a chunk
holding anything else is left to core.csvdata's csv-module reader, which names the first bad
row and cell. pandas is imported on the first read: it takes ~0.2 s, which only loading a CSV
file should pay.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from core.progress import Progress

# A file is read in about this many chunks, so progress moves in steps of ~6%; a chunk is 64 KiB
# at least (a call costs ~0.3 ms besides the parsing) and 4 MiB at most (fastest here on a 66 MB
# file: 2 MiB took 9% longer, 8 MiB 3%).
CHUNKS = 16
MIN_CHUNK_BYTES = 1 << 16
MAX_CHUNK_BYTES = 1 << 22
# Chunks parsed at once: pandas' C reader releases the interpreter lock while it tokenises and
# converts, so the threads run in parallel (and a window loading a file stays responsive).
MAX_THREADS = 4
# Cells pandas reads as numbers where float() refuses them, so a chunk holding them is refused:
# "true" and "false" in any case (read as 1 and 0; each spelling has a u or an l), and a
# mantissa signed '+' with whitespace after its exponent mark ("+2E 60" read as 2e60).
_BOOL_LETTERS = (b"u", b"U", b"l", b"L")
_LOOSE_EXPONENT = re.compile(rb"\+[\d.]*[eE]\s")
# A leading plus sign in a chunk whose cells carry spaces or tabs: pandas then parses through a
# path that is off by one unit in the last place for about one value in seven
# ("+6.704947511530623e-174 "), so the exact reader takes such chunks.
_PLUS_SIGN = re.compile(rb"(?<![eE])\+")
_CELL_SPACE = re.compile(rb"[ \t]")
# A chunk's first row, past blank lines: pandas drops the cells of that row beyond the column
# names without an error (index_col=False), so its width is checked here.
_FIRST_ROW = re.compile(rb"(?:[ \t\v\f]*(?:\r\n|\r|\n))*([^\r\n]*)")
# A chunk of blank lines (pandas reads no columns from it and says so).
_BLANK = re.compile(rb"\s*")


def read_rows(
    stream: BinaryIO,
    delimiter: str,
    n_cols: int,
    cols: list[int],
    progress: Progress | None = None,
    chunk_bytes: int | None = None,
) -> tuple[list[np.ndarray], int | None]:
    """Read the rows from the stream's position on, a chunk of whole lines per pandas call.

    The stream is an io.BytesIO or a file opened by name. Returns the chunks read, in order, as
    (rows, len(cols)) float64 arrays of the columns cols, and where the first chunk pandas could
    not read as plain numbers starts (bytes past the first position), or None when it read them
    all. progress hears the share of the stream read.
    """
    import pandas  # here, not at start-up (see above)

    begin = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    chunk = chunk_bytes or min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, size // CHUNKS))
    spans = _spans(stream, begin, size, chunk)
    fill = _filler(stream)
    local = threading.local()

    def read(span: tuple[int, int]) -> np.ndarray | None:
        # Each thread reads into a buffer of its own, used again for every chunk: a fresh
        # 4 MiB per chunk cost ~40% more CPU here (the kernel zeroes every new page).
        lo, hi = span
        if len(getattr(local, "buffer", b"")) < hi - lo:
            local.buffer = bytearray(hi - lo)
        view = memoryview(local.buffer)[: hi - lo]
        fill(view, lo)
        return _read(pandas.read_csv, local.buffer, view, delimiter, n_cols, cols)

    blocks: list[np.ndarray] = []
    threads = min(MAX_THREADS, os.cpu_count() or 1, max(1, len(spans)))
    with ThreadPoolExecutor(threads) as pool:
        for (lo, hi), block in zip(spans, pool.map(read, spans), strict=True):
            if block is None:
                pool.shutdown(cancel_futures=True)
                return blocks, lo - begin
            blocks.append(block)
            if progress is not None:
                progress(hi / size)
    return blocks, None


def _spans(stream: BinaryIO, begin: int, size: int, chunk: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive spans from begin to size, each about chunk bytes long and
    ending at a line feed (or at the end)."""
    if begin >= size:
        return []
    starts = [begin]
    while starts[-1] + chunk < size:
        stream.seek(starts[-1] + chunk)
        stream.readline()  # on to the end of the line the span would end in
        if stream.tell() >= size:
            break
        starts.append(stream.tell())
    return list(zip(starts, [*starts[1:], size], strict=True))


def _filler(stream: BinaryIO) -> Callable[[memoryview, int], None]:
    """A function filling a view with the stream's bytes from a position, from any thread."""
    if isinstance(stream, io.BytesIO):
        data = stream.getvalue()

        def copy(view: memoryview, at: int) -> None:
            view[:] = memoryview(data)[at : at + len(view)]

        return copy
    name = stream.name

    def read(view: memoryview, at: int) -> None:
        # A handle per call: threads must not share one file position.
        with open(name, "rb", buffering=0) as f:
            f.seek(at)
            while view and (count := f.readinto(view)):
                view = view[count:]
        if view:
            raise OSError(f"the file shrank while it was read ({len(view)} bytes short)")

    return read


def _read(
    read_csv: Callable[..., object],
    buffer: bytearray,
    view: memoryview,
    delimiter: str,
    n_cols: int,
    cols: list[int],
) -> np.ndarray | None:
    """The rows in buffer[:len(view)] as a (rows, len(cols)) float64 array, or None where pandas
    could read something other than float() would."""
    end = len(view)
    if _BLANK.fullmatch(buffer, 0, end):
        return np.empty((0, len(cols)))
    first = _FIRST_ROW.match(buffer, 0, end)
    if first is None or first.group(1).count(delimiter.encode()) != n_cols - 1:
        return None
    if any(buffer.find(c, 0, end) >= 0 for c in _BOOL_LETTERS) or (
        buffer.find(b"+", 0, end) >= 0
        and (
            _LOOSE_EXPONENT.search(buffer, 0, end)
            or (_PLUS_SIGN.search(buffer, 0, end) and _CELL_SPACE.search(buffer, 0, end))
        )
    ):
        return None
    try:
        frame = read_csv(
            _Reader(view),
            sep=delimiter,
            header=None,
            names=list(range(n_cols)),
            index_col=False,
            dtype=np.float64,
            # An empty cell, "nan" or any text fails the conversion, and so does a short row.
            na_filter=False,
            # A quote is then part of a cell, so quoted cells fail the conversion (csv reads them).
            quoting=csv.QUOTE_NONE,
            engine="c",
            low_memory=False,
        )
    except ValueError:  # a cell that is not a number, a row with too many cells, ...
        return None
    values = frame.to_numpy()  # type: ignore[attr-defined]
    if not all(np.isfinite(values[:, j]).all() for j in cols):
        return None
    return values if len(cols) == n_cols else values[:, cols]


class _Reader:
    """A read-only file over a memoryview (io.BytesIO would copy the whole view first)."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        """The next size bytes (all that are left if size < 0)."""
        end = len(self._view) if size < 0 else min(len(self._view), self._at + size)
        data = self._view[self._at : end].tobytes()
        self._at = end
        return data

    def __iter__(self) -> Iterator[bytes]:
        # pandas takes an object for a file when it has read and __iter__.
        return iter(lambda: self.read(1 << 16), b"")
