"""Numeric columns from a CSV file with a header row; each defect is a DataError naming where.

The rows are read by pandas (core.csvpandas). From the first chunk of lines it cannot read as
plain numbers on (quoted cells, text, gaps, ragged rows, ...), they are read row by row with the
csv module and float(), which accept the same files with the same values and name the first
bad row and cell.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.config import MAX_CSV_FEATURES
from core.csvpandas import read_rows
from core.errors import DataError, one_line
from core.progress import Progress

# read_header only needs the first line; a header longer than this is not a real CSV header.
# load_csv reads a bigger file's header from this much of its start too.
HEADER_PREFIX_BYTES = 1 << 20
# Cell text quoted in messages is cut to this length so binary-ish junk cannot flood a dialog.
_SHOW_CHARS = 40
# Names listed when a requested column is unknown; a wide file would otherwise flood the message.
_SHOW_NAMES = 30
# Values the slow path gathers as Python floats before packing them into an array.
_SLOW_CHUNK_VALUES = 1 << 20
# The slow path tells progress about every this many characters.
_REPORT_CHARS = 1 << 19
# One physical line with its ending; csv and io (newline="") end lines at \r\n, \r or \n only.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Control characters no text file holds (tab, line feed, vertical tab, form feed and carriage
# return are allowed): decoded text that contains them is binary data.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# A quoted cell, so the delimiter sniffer does not count the delimiters inside it.
_QUOTED = re.compile(r'"[^"]*"')


# eq=False: the generated __eq__/__hash__ would compare arrays element-wise and fail.
@dataclass(frozen=True, eq=False)
class CsvTable:
    """Numeric data read from a CSV file."""

    x: np.ndarray  # float64, shape (n_rows, n_features), C-contiguous
    y: np.ndarray  # float64, shape (n_rows,)
    feature_names: list[str]
    target_name: str
    path: str


def read_header(path: str | Path) -> list[str]:
    """Return the column names of a CSV file (for a column chooser), raising DataError."""
    where = one_line(str(path))  # a name with a line break must not break the message
    # Only the start of the file is read, so choosing columns of a huge file stays instant.
    text, _, _ = _head(_read_bytes(path, where, limit=HEADER_PREFIX_BYTES)[0], where)
    names, _, _, _ = _parse_header(text, where)
    return names


def load_csv(
    path: str | Path,
    target_column: str | None = None,
    feature_columns: list[str] | None = None,
    progress: Progress | None = None,
) -> CsvTable:
    """Load numeric columns from a CSV file with a header row (progress hears the share of
    the file parsed, 0 to 1)."""
    where = one_line(str(path))  # a name with a line break must not break the message
    columns = (target_column, feature_columns)
    report = _forward_only(progress)
    raw, whole = _read_bytes(path, where, limit=HEADER_PREFIX_BYTES)
    if not whole:
        # A big file: the header comes from its start and the rows stream from the disk. What
        # that cannot settle is settled on the whole file below, so the values and messages
        # are those a small file gets (decoding errors first, say).
        try:
            table = _load(path, raw, where, columns, report, whole=False)
        except DataError:
            table = None
        if table is not None:
            return table
        raw, _ = _read_bytes(path, where)
    table = _load(path, raw, where, columns, report, whole=True)
    assert table is not None  # only a part of the file leaves the verdict open
    return table


def _load(
    path: str | Path,
    raw: bytes,
    where: str,
    columns: tuple[str | None, Sequence[str] | None],
    progress: Progress | None,
    whole: bool,
) -> CsvTable | None:
    """The table from raw, the whole file or (whole=False) its first bytes with the rows read
    from the disk; None when only the whole file can settle it."""
    text, codec, partial = _head(raw, where) if not whole else (*_decode(raw, where), False)
    names, delimiter, header_line, body_start = _parse_header(text, where)
    if partial and (codec == "utf-16" or not text[body_start:].strip()):
        return None  # UTF-16 is converted in memory; the header may go on past the prefix
    target, features = _choose_columns(names, *columns, where)
    index = {name: i for i, name in enumerate(names)}
    # Parse only the columns in use, in file order, so errors are reported left to right.
    cols = sorted(index[name] for name in [*features, target])

    if codec == "utf-16":
        # pandas reads bytes as UTF-8 (its chunks split at line feeds, not UTF-16 ones).
        stream: BinaryIO = io.BytesIO(text[body_start:].encode("utf-8"))
    else:
        stream = _open(path, where) if partial else io.BytesIO(raw)
        stream.seek(len(text[:body_start].encode(codec)))
    try:
        with stream:
            blocks, stop = read_rows(stream, delimiter, len(names), cols, progress)
    except OSError as e:
        raise DataError(f"{where}: cannot read the file ({e.strerror or e})") from None
    if stop is not None:
        if partial:
            return None
        # The chunks before stop were plain numbers (ASCII), one byte per character.
        start = body_start + stop
        first_line = header_line + 1 + _count_lines(text, body_start, start)
        blocks.append(_parse_slow(text, start, delimiter, names, cols, first_line, where, progress))

    n_rows = sum(len(block) for block in blocks)
    if n_rows == 0:
        raise DataError(f"{where}: no data rows after the header (line {header_line})")
    if n_rows < 2:
        raise DataError(f"{where}: only 1 data row; need at least 2")
    pos = {col: k for k, col in enumerate(cols)}
    x, y = np.empty((n_rows, len(features))), np.empty(n_rows)
    lo = 0
    for block in blocks:
        hi = lo + len(block)
        for k, name in enumerate(features):
            x[lo:hi, k] = block[:, pos[index[name]]]
        y[lo:hi] = block[:, pos[index[target]]]
        lo = hi
    return CsvTable(x=x, y=y, feature_names=features, target_name=target, path=str(path))


def _forward_only(progress: Progress | None) -> Progress | None:
    """progress, told only shares above the last it heard (a second read does not go back)."""
    if progress is None:
        return None
    heard = -1.0

    def report(share: float) -> None:
        nonlocal heard
        if share > heard:
            heard = share
            progress(share)

    return report


def _open(path: str | Path, where: str) -> BinaryIO:
    """Open the file for reading bytes, turning OS errors into DataError."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{where}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a folder, not a CSV file") from None
    except PermissionError:
        raise DataError(f"{where}: cannot read the file (permission denied)") from None
    except OSError as e:
        raise DataError(f"{where}: cannot read the file ({e.strerror or e})") from None
    except ValueError as e:
        # A NUL byte or an unencodable character: no file can have this name.
        raise DataError(f"{where!r}: not a usable file name ({e})") from None


def _read_bytes(path: str | Path, where: str, limit: int | None = None) -> tuple[bytes, bool]:
    """The file's bytes (at most limit + 1 of a regular file; all of a pipe, which cannot be
    read twice) and whether they are all of it, turning OS errors into DataError."""
    with _open(path, where) as f:
        try:
            if limit is not None and stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raw = f.read(limit + 1)
                return raw, len(raw) <= limit
            return f.read(), True
        except OSError as e:
            raise DataError(f"{where}: cannot read the file ({e.strerror or e})") from None


def _head(raw: bytes, where: str) -> tuple[str, str, bool]:
    """Text, encoding and partial: raw decoded, or if longer than HEADER_PREFIX_BYTES, its
    first HEADER_PREFIX_BYTES decoded up to the last whole line (partial)."""
    if len(raw) <= HEADER_PREFIX_BYTES:
        return (*_decode(raw, where), False)
    text, codec = _decode(raw[:HEADER_PREFIX_BYTES], where, partial=True)
    cut = text.rfind("\n")
    if cut < 0:
        raise DataError(
            f"{where}: the first line is longer than {HEADER_PREFIX_BYTES} bytes; "
            "this does not look like a CSV file with a header row"
        )
    return text[: cut + 1], codec, True


def _decode(raw: bytes, where: str, partial: bool = False) -> tuple[str, str]:
    """Decode UTF-8 (optional BOM), UTF-16 with a BOM, or Windows-1252; reject binary data.

    Returns the text and the codec that encodes it back to raw's bytes. partial: raw is a
    prefix cut anywhere, so an incomplete last character is dropped.
    """
    if not raw:
        raise DataError(f"{where}: the file is empty")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not raw.startswith(
        codecs.BOM_UTF32_LE
    ):
        # Spreadsheets' "Unicode text" export: UTF-16 with a byte-order mark.
        return _decode_utf16(raw, where, partial), "utf-16"
    # NUL never occurs in text; it marks a binary file (or UTF-32, which is not supported).
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{where}, line {line}: not a text CSV file (it contains NUL bytes)")
    if partial:
        cut = raw.rfind(b"\n")
        if cut < 0:
            # No line ends in the prefix: the caller reports the overlong first line.
            return raw.decode("utf-8", "replace"), "utf-8"
        # Cutting after a newline byte never splits a UTF-8 or Windows-1252 character.
        raw = raw[: cut + 1]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        error = e
    else:
        return text, "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    # Not UTF-8: a spreadsheet saved in the Windows code page (accents in column names) still
    # loads, but bytes that are control characters there mean binary data.
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and not _CONTROL.search(text):
        return text, "cp1252"
    line = raw.count(b"\n", 0, error.start) + 1
    raise DataError(
        f"{where}, line {line}: not a text CSV file "
        f"(byte 0x{raw[error.start]:02x} at offset {error.start} is not valid UTF-8)"
    ) from None


def _decode_utf16(raw: bytes, where: str, partial: bool) -> str:
    """Decode UTF-16 with a byte-order mark (which is dropped)."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    try:
        text = decoder.decode(raw, final=not partial)
    except UnicodeDecodeError as e:
        line = raw[: e.start].decode("utf-16", "replace").count("\n") + 1
        raise DataError(
            f"{where}, line {line}: not a text CSV file "
            f"(the bytes at offset {e.start} are not valid UTF-16)"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise DataError(f"{where}, line {line}: not a text CSV file (it contains NUL characters)")
    return text


def _sniff_delimiter(header: str, row: str | None = None) -> str:
    """Comma unless the header line has none but has semicolons or tabs (European / TSV exports).

    When the header holds several candidates (a name with a comma in a semicolon-separated
    file), the one that splits the first data row into as many cells as the header wins.
    """
    header = _QUOTED.sub("", header)  # '"price, EUR";qty' is semicolon-separated
    candidates = [d for d in (",", ";", "\t") if d in header]
    if len(candidates) > 1 and row is not None:
        row = _QUOTED.sub("", row)
        candidates = [d for d in candidates if header.count(d) == row.count(d)] or candidates
    if not candidates or "," in candidates:
        return ","
    if len(candidates) == 1:
        return candidates[0]  # the data row decided (a ';' in a tab-separated header)
    return ";" if header.count(";") >= header.count("\t") else "\t"


def _is_blank(row: list[str], delimiter: str) -> bool:
    """Whether a parsed record came from a line holding nothing but whitespace."""
    if len(row) > 1 and not delimiter.isspace():
        return False  # "a,b" structure is present even if every cell is empty
    return not any(cell.strip() for cell in row)


def _parse_header(text: str, where: str) -> tuple[list[str], str, int, int]:
    """Return names, delimiter, the header's last line number and where the data text starts."""
    if not text or text.isspace():
        raise DataError(f"{where}: the file is empty (no header row)")
    lines = (line for line in _lines(text) if line.strip())
    delimiter = _sniff_delimiter(next(lines), next(lines, None))
    consumed = 0

    def counted() -> Iterator[str]:
        # Count characters handed to csv (it reads one line at a time) to find the data's start.
        nonlocal consumed
        for line in _lines(text):
            consumed += len(line)
            yield line

    reader = csv.reader(counted(), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            if not _is_blank(row, delimiter):
                break
            start = reader.line_num + 1
        else:
            raise DataError(f"{where}: the file is empty (no header row)")
    except csv.Error as e:
        raise DataError(f"{where}, line {start}: cannot read the header row ({e})") from None

    names = [cell.strip() for cell in row]
    at = f"{where}, line {start} (header)"
    for i, name in enumerate(names):
        if not name:
            raise DataError(f"{at}: column {i + 1} has no name")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{at}: duplicate column name {name!r} (columns {seen[name] + 1} and {i + 1})"
            )
        seen[name] = i
    # A headerless file would silently lose its first row and get numbers as column names.
    if all(is_number(name) for name in names):
        raise DataError(
            f"{at}: the first row holds numbers, not column names; "
            "the file needs a header row naming each column"
        )
    return names, delimiter, reader.line_num, consumed


def _lines(text: str, start: int = 0, progress: Progress | None = None) -> Iterator[str]:
    """Yield lines from start on with their endings, split like a file opened with newline=""
    (progress hears the share of the text passed, about every _REPORT_CHARS characters)."""
    # Lazy and copy-free: io.StringIO would hold the whole text at 4 bytes per character.
    report_at = start + _REPORT_CHARS
    for match in _LINE.finditer(text, start):
        if progress is not None and match.end() >= report_at:
            progress(match.end() / len(text))
            report_at = match.end() + _REPORT_CHARS
        yield match.group()
    if progress is not None:
        progress(1.0)


def is_number(text: str) -> bool:
    """Whether float() accepts the text."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _show_names(names: Sequence[str]) -> str:
    """Quoted, comma-separated names, shortened for very wide files."""
    shown = ", ".join(repr(n) for n in names[:_SHOW_NAMES])
    if len(names) > _SHOW_NAMES:
        shown += f", … ({len(names)} columns in all)"
    return shown


def _choose_columns(
    names: list[str],
    target_column: str | None,
    feature_columns: Sequence[str] | None,
    where: str,
) -> tuple[str, list[str]]:
    """Resolve the target (default: last column) and features (default: all others)."""
    available = f"available columns: {_show_names(names)}"
    if target_column is None:
        target = names[-1]
    elif target_column in names:
        target = target_column
    else:
        raise DataError(f"{where}: no column named {target_column!r} for the target; {available}")

    if feature_columns is None:
        features = [name for name in names if name != target]
    else:
        features = list(feature_columns)
        unknown = [name for name in features if name not in names]
        if unknown:
            word = "column" if len(unknown) == 1 else "columns"
            raise DataError(
                f"{where}: no {word} named {_show_names(unknown)} for the features; {available}"
            )
        repeated = sorted({name for name in features if features.count(name) > 1})
        if repeated:
            raise DataError(f"{where}: feature columns listed twice: {_show_names(repeated)}")
        if target in features:
            raise DataError(f"{where}: column {target!r} cannot be both the target and a feature")

    if len(features) > MAX_CSV_FEATURES:
        raise DataError(
            f"{where}: {len(features)} feature columns; at most {MAX_CSV_FEATURES} are supported "
            "(choose some with data.feature_columns)"
        )
    if not features:
        if len(names) == 1:
            raise DataError(
                f"{where}: the file has only one column ({names[0]!r}); need a target column "
                "and at least one feature column, separated by commas, semicolons or tabs"
            )
        raise DataError(f"{where}: no feature columns chosen; {available}")
    return target, features


def _count_lines(text: str, start: int, end: int) -> int:
    """Number of line endings (\r\n, \r or \n) in text[start:end]."""
    crlf = text.count("\r\n", start, end)
    return text.count("\n", start, end) + text.count("\r", start, end) - crlf


def _parse_slow(
    text: str,
    start: int,
    delimiter: str,
    names: list[str],
    cols: list[int],
    first_line: int,
    where: str,
    progress: Progress | None = None,
) -> np.ndarray:
    """Parse row by row with the csv module; raise DataError at the first bad row or cell."""
    n_cols = len(names)
    reader = csv.reader(_lines(text, start, progress), delimiter=delimiter)
    finite = math.isfinite
    blocks: list[np.ndarray] = []
    values: list[float] = []
    done = 0  # physical lines consumed before the current record
    try:
        for row in reader:
            line = first_line + done  # a quoted cell may span lines; name the record's first
            done = reader.line_num
            if len(values) >= _SLOW_CHUNK_VALUES:
                # Python floats cost 32 bytes each; pack them as we go.
                blocks.append(np.array(values, dtype=np.float64))
                values = []
            if len(row) == n_cols:
                # Common case first; float() strips the same whitespace as str.strip().
                try:
                    cells = [float(row[j]) for j in cols]
                except ValueError:
                    pass
                else:
                    if all(map(finite, cells)):
                        values.extend(cells)
                        continue
            if _is_blank(row, delimiter):
                continue
            if len(row) != n_cols:
                raise DataError(
                    f"{where}, line {line}: expected {n_cols} cells (one per header column), "
                    f"got {len(row)}"
                )
            # Some cell is bad: _number raises naming the first one.
            values.extend(_number(row[j], where, line, names[j]) for j in cols)
    except csv.Error as e:
        raise DataError(f"{where}, line {first_line + done}: cannot read the row ({e})") from None
    blocks.append(np.array(values, dtype=np.float64))
    return np.concatenate(blocks).reshape(-1, len(cols))


def _number(cell: str, where: str, line: int, name: str) -> float:
    """Convert one cell to a finite float or raise DataError naming line and column."""
    text = cell.strip()
    at = f"{where}, line {line}, column {name!r}"
    if not text:
        raise DataError(f"{at}: missing value (the cell is empty)")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{at}: {_show(text)} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{at}: {_show(text)} is not a finite number")
    return value


def _show(text: str) -> str:
    """Quote cell text for a message, shortened so junk cannot flood it."""
    if len(text) > _SHOW_CHARS:
        text = text[: _SHOW_CHARS - 1] + "…"
    return repr(text)
