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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from core.progress import Progress

# A file is read in about this many chunks, so progress moves in steps of ~6%; a chunk is 64 KiB
# at least (a call costs ~0.3 ms besides the parsing) and 4 MiB at most (fastest here on a 66 MB
# file: 2 and 8 MiB were 5-10% slower).
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
# A chunk's first row, past blank lines: pandas drops the cells of that row beyond the column
# names without an error (index_col=False), so its width is checked here.
_FIRST_ROW = re.compile(rb"(?:[ \t\v\f]*(?:\r\n|\r|\n))*([^\r\n]*)")


def read_rows(
    stream: BinaryIO,
    delimiter: str,
    n_cols: int,
    cols: list[int],
    progress: Progress | None = None,
    chunk_bytes: int | None = None,
) -> tuple[list[np.ndarray], int | None]:
    """Read the rows from the stream's position on, a chunk of whole lines per pandas call.

    Returns the chunks read, in order, as (rows, len(cols)) float64 arrays of the columns cols,
    and where the first chunk pandas could not read as plain numbers starts (bytes past the
    first position), or None when it read them all. progress hears the share of the stream read.
    """
    import pandas

    begin = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(begin)
    chunk = chunk_bytes or min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, size // CHUNKS))
    threads = min(MAX_THREADS, os.cpu_count() or 1, max(1, -(-(size - begin) // chunk)))
    blocks: list[np.ndarray] = []
    with ThreadPoolExecutor(threads) as pool:
        jobs = [
            (at, len(piece), pool.submit(_read, pandas.read_csv, piece, delimiter, n_cols, cols))
            for at, piece in _pieces(stream, chunk)
        ]
        for at, length, job in jobs:
            block = job.result()
            if block is None:
                pool.shutdown(cancel_futures=True)
                return blocks, at - begin
            blocks.append(block)
            if progress is not None:
                progress((at + length) / size)
    return blocks, None


def _pieces(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes]]:
    """Consecutive pieces of the stream of about size bytes that end at a line feed (or at the
    end), each with the position it starts at."""
    at = stream.tell()
    while piece := stream.read(size):
        if not piece.endswith(b"\n"):
            piece += stream.readline()
        yield at, piece
        at += len(piece)


def _read(
    read_csv: Callable[..., object], piece: bytes, delimiter: str, n_cols: int, cols: list[int]
) -> np.ndarray | None:
    """The piece's rows as a (rows, len(cols)) float64 array, or None where pandas could read
    something other than float() would."""
    if not piece.strip():
        return np.empty((0, len(cols)))
    first = _FIRST_ROW.match(piece)
    if first is None or first.group(1).count(delimiter.encode()) != n_cols - 1:
        return None
    if any(c in piece for c in _BOOL_LETTERS) or (b"+" in piece and _LOOSE_EXPONENT.search(piece)):
        return None
    try:
        frame = read_csv(
            io.BytesIO(piece),
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
