"""The input and output files of `predict`: rows of features in, the same rows plus predictions out.

core/csvdata.py reads training data (numeric columns, a target); this reader keeps every cell
of the input as text so extra columns (ids, notes) pass through, and only the feature columns
must be numbers. Its messages follow csvdata's: file, line and column, on one line.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.csvdata import is_number
from core.errors import DataError, one_line
from core.files import atomic_open
from core.predict import COLUMNS

if TYPE_CHECKING:
    from core.trainer import Trainer

_SHOW_CHARS = 40  # cell text quoted in messages is cut to this length
_SHOW_NAMES = 30  # column names listed in a message, at most


@dataclass(frozen=True, eq=False)
class PredictInput:
    """A predict input file: its header and cells as read, and the feature values."""

    header: list[str]
    rows: list[list[str]]  # the data rows' cells, blank lines dropped
    x: np.ndarray  # (len(rows), d) float64, columns in the model's feature order
    path: str


def _show(text: str) -> str:
    """Quote cell text for a message, shortened so junk cannot flood it."""
    if len(text) > _SHOW_CHARS:
        text = text[: _SHOW_CHARS - 1] + "…"
    return repr(text)


def _show_names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOW_NAMES])
    if len(names) > _SHOW_NAMES:
        shown += f", … ({len(names)} in all)"
    return shown


def _read_text(path: str | Path, where: str) -> str:
    """The file's text: UTF-8 (optional BOM), UTF-16 with a BOM, or Windows-1252."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{where}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a folder, not a CSV file") from None
    except OSError as e:
        raise DataError(f"{where}: cannot read the file ({e.strerror or e})") from None
    except ValueError as e:  # a NUL in the name
        raise DataError(f"{where!r}: not a usable file name ({e})") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError(f"{where}: not a text CSV file (invalid UTF-16)") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{where}, line {line}: not a text CSV file (it contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        error = e
    text = raw.decode("cp1252", "replace")
    if "\ufffd" not in text:
        return text
    line = raw.count(b"\n", 0, error.start) + 1
    raise DataError(
        f"{where}, line {line}: not a text CSV file "
        f"(byte 0x{raw[error.start]:02x} at offset {error.start} is not valid UTF-8)"
    )


def _delimiter(header_line: str) -> str:
    """Comma unless the header has none but has semicolons or tabs (as csvdata reads them)."""
    if "," in header_line:
        return ","
    if ";" in header_line and header_line.count(";") >= header_line.count("\t"):
        return ";"
    return "\t" if "\t" in header_line else ","


def parse_cell(text: str) -> tuple[float | None, str | None]:
    """(value, problem) of one feature cell: (None, None) when it is empty."""
    text = text.strip()
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, f"{_show(text)} is not a number"
    if not math.isfinite(value):
        return None, f"{_show(text)} is not a finite number"
    return value, None


def _number(cell: str, where: str, line: int, name: str) -> float:
    """One feature cell as a finite float, or a DataError naming line and column."""
    value, problem = parse_cell(cell)
    if value is None:
        problem = problem or "missing value (the cell is empty)"
        raise DataError(f"{where}, line {line}, column {name!r}: {problem}")
    return value


def read_predict_input(path: str | Path, feature_names: Sequence[str]) -> PredictInput:
    """Read a CSV file with a header naming at least the model's features, one row per input."""
    where = one_line(str(path))
    text = _read_text(path, where)
    if not text.strip():
        raise DataError(f"{where}: the file is empty")
    first = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    values: list[list[float]] = []
    cols: list[int] = []
    done = 0  # physical lines consumed before the current record
    try:
        for row in reader:
            line = done + 1  # a quoted cell may span lines: name the record's first
            done = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in row], line
                cols = _feature_columns(header, feature_names, f"{where}, line {line} (header)")
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{where}, line {line}: expected {len(header)} cells (one per header "
                    f"column), got {len(row)}"
                )
            values.append([_number(row[j], where, line, header[j]) for j in cols])
            rows.append(row)
    except csv.Error as e:
        raise DataError(f"{where}, line {done + 1}: cannot read the row ({e})") from None
    if header is None:  # only empty quoted cells, say '""'
        raise DataError(f"{where}: the file is empty (no header row)")
    if not rows:
        raise DataError(f"{where}: no data rows after the header (line {header_line})")
    x = np.array(values, dtype=np.float64).reshape(len(rows), len(cols))
    return PredictInput(header=header, rows=rows, x=x, path=str(path))


def _feature_columns(header: list[str], feature_names: Sequence[str], at: str) -> list[int]:
    """Index of each feature's column in the header, in feature order."""
    missing = [name for name in feature_names if name not in header]
    if missing:
        word = "column" if len(missing) == 1 else "columns"
        if all(is_number(cell) for cell in header):
            raise DataError(
                f"{at}: the first row holds numbers, not column names; the file needs a header "
                f"row naming the features {_show_names(list(feature_names))}"
            )
        raise DataError(
            f"{at}: no {word} {_show_names(missing)}; the model's features are "
            f"{_show_names(list(feature_names))} (the file has {_show_names(header)})"
        )
    for name in feature_names:
        if header.count(name) > 1:
            first = header.index(name)
            second = header.index(name, first + 1)
            raise DataError(
                f"{at}: duplicate column name {name!r} (columns {first + 1} and {second + 1})"
            )
    return [header.index(name) for name in feature_names]


def write_predictions(
    path: str | Path, table: PredictInput, columns: dict[str, np.ndarray]
) -> Path:
    """Write the input's rows with the prediction columns appended, atomically.

    Input columns named like an output column (a file that is itself an output) are replaced,
    so the file never has two columns of one name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [name for name in COLUMNS if name in columns]
    keep = [j for j, name in enumerate(table.header) if name not in names]
    data = [columns[name].tolist() for name in names]
    with atomic_open(path, "w") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([table.header[j] for j in keep] + names)
        for i, row in enumerate(table.rows):
            # repr of a Python float round-trips exactly; a missing interval is an empty cell.
            cells = ["" if math.isnan(col[i]) else repr(col[i]) for col in data]
            writer.writerow([row[j] for j in keep] + cells)
    return path


def saved_run_for_prediction(path: str | Path) -> tuple[Trainer, np.ndarray]:
    """A trainer over a run file's data and the run's [w..., b] in original units.

    Prediction needs the data (its names, scaling, statistics and least squares), not the
    optimizer: the trainer runs the NumPy engine on the CPU, so a run saved from any engine or
    device predicts without loading PyTorch or a GPU."""
    from core.runfile import RunFileError, load_run
    from core.trainer import Trainer

    run = load_run(path)
    config = run.config
    for key, value in (
        ("train.optimizer", "sgd"),  # first: numpy refuses the optimizers only torch has
        ("train.implementation", "numpy"),
        ("train.device", "cpu"),
    ):
        config = config.with_value(key, value)
    trainer = Trainer(config)
    if run.theta.shape != (trainer.dataset.n_features + 1,):
        raise RunFileError(
            f"{one_line(str(path))}: the run's data no longer has the features it was trained on"
        )
    return trainer, trainer.dataset.to_original(run.theta)


def split_pasted(text: str, feature_names: Sequence[str]) -> list[list[str]]:
    """Rows of pasted text as cells in feature order (kept as text: bad cells are shown, not
    dropped). Cells split at tabs, commas, semicolons or spaces; a first row naming the
    features maps columns by name. Raises DataError if a row cannot be matched to the features."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError("nothing to paste: the clipboard holds no rows")
    first = lines[0]
    delimiter = next((d for d in ("\t", ",", ";") if d in first), None)

    def cells(line: str) -> list[str]:
        if delimiter is None:
            return line.split()
        return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]

    names = list(feature_names)
    if not names:
        raise DataError("there is no run to predict with yet")
    try:
        return _pasted_rows(lines, names, cells)
    except csv.Error as exc:
        raise DataError(f"cannot read the pasted rows ({exc})") from None


def _pasted_rows(
    lines: list[str], names: list[str], cells: Callable[[str], list[str]]
) -> list[list[str]]:
    """split_pasted's rows, once the delimiter is known."""
    head = cells(lines[0])
    order = list(range(len(names)))
    by_header = False
    if not all(is_number(cell) for cell in head if cell):
        missing = [name for name in names if name not in head]
        if not missing:
            order = [head.index(name) for name in names]
            lines, by_header = lines[1:], True
        elif len(missing) < len(names):
            raise DataError(
                f"pasted header row: no column {_show_names(missing)}; the model's features "
                f"are {_show_names(names)}"
            )
    rows = []
    for k, line in enumerate(lines, start=1):
        row = cells(line)
        if not by_header and len(row) != len(names):
            count = "1 value" if len(row) == 1 else f"{len(row)} values"
            raise DataError(
                f"pasted row {k} has {count}; the model has {len(names)} feature"
                f"{'s' if len(names) != 1 else ''} ({', '.join(names)}): paste one value per "
                "feature, or a header row naming them first"
            )
        if len(row) <= max(order):
            raise DataError(f"pasted row {k} has {len(row)} cells; the header row has more")
        rows.append([row[j] for j in order])
    if not rows:
        raise DataError("nothing to paste: only a header row")
    return rows
