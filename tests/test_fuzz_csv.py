"""Property-based fuzzing of CSV files: every well-formed file loads exactly, every broken one
is refused naming the file, line and column, and whatever loads also trains."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from core.config import DTYPES, Config
from core.csvdata import is_number, load_csv
from core.errors import DataError
from tests.test_fuzz import exercise, floats, fuzz

DELIMITERS = st.sampled_from([",", ";", "\t"])
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
# Column names: any printable text a spreadsheet might hold (quotes, delimiters, accents).
NAME_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff\x85"
)
LATIN_CHARS = st.sampled_from(list("abcxyzABC_ -()%/äöüßéèàçñÄÖÜ"))


def _names(alphabet: st.SearchStrategy[str], n: int) -> st.SearchStrategy[list[str]]:
    name = st.text(alphabet, min_size=1, max_size=8).filter(
        lambda s: s.strip() and not is_number(s.strip())
    )
    return st.lists(name, min_size=n, max_size=n, unique_by=str.strip)


NUMBER_TEXT = st.one_of(
    floats(-1e300, 1e300).map(repr),
    floats(-1e6, 1e6).map(lambda v: f"{v:.6g}"),
    floats(-1e6, 1e6).map(lambda v: f" {v:.3e} "),
    st.integers(-(10**12), 10**12).map(str),
)


def _render(rows: list[list[str]], delimiter: str, end: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=end)
    writer.writerows(rows)
    return buf.getvalue()


@st.composite
def valid_tables(draw: st.DrawFn) -> tuple[bytes, list[str], np.ndarray]:
    """A well-formed CSV file (any delimiter, line ending, encoding) and what it holds."""
    n_cols = draw(st.integers(2, 5))
    n_rows = draw(st.integers(2, 8))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    names = draw(_names(LATIN_CHARS if encoding == "cp1252" else NAME_CHARS, n_cols))
    cells = [[draw(NUMBER_TEXT) for _ in range(n_cols)] for _ in range(n_rows)]
    text = _render([names, *cells], draw(DELIMITERS), draw(LINE_ENDS))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line ending after the last row
    values = np.array([[float(c) for c in row] for row in cells])
    return text.encode(encoding), [n.strip() for n in names], values


@fuzz(150)
@given(table=valid_tables())
def test_valid_files_load_exactly(tmp_path: Path, table: tuple[bytes, list[str], np.ndarray]):
    content, names, values = table
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    loaded = load_csv(path)
    assert loaded.feature_names == names[:-1]
    assert loaded.target_name == names[-1]
    np.testing.assert_array_equal(loaded.x, values[:, :-1])
    np.testing.assert_array_equal(loaded.y, values[:, -1])


@st.composite
def broken_tables(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A CSV file with one known defect and the fragments its error message must contain."""
    n_cols = draw(st.integers(2, 4))
    n_rows = draw(st.integers(2, 6))
    names = [f"c{j}" for j in range(n_cols)]
    rows = [[draw(NUMBER_TEXT).strip() for _ in range(n_cols)] for _ in range(n_rows)]
    delimiter = draw(DELIMITERS)
    end = draw(LINE_ENDS)
    r = draw(st.integers(0, n_rows - 1))
    c = draw(st.integers(0, n_cols - 1))
    line = f"line {r + 2}"  # the header is line 1
    column = f"column {names[c]!r}"
    defect = draw(
        st.sampled_from(
            [
                "text",
                "non_finite",
                "missing",
                "ragged",
                "duplicate",
                "unnamed",
                "no_header",
                "header_only",
                "one_row",
                "empty",
                "binary",
                "utf32",
            ]
        )
    )
    expect: list[str]
    if defect == "text":
        rows[r][c] = draw(
            st.text(NAME_CHARS, min_size=1, max_size=6).filter(
                lambda s: s.strip() and not is_number(s)
            )
        )
        expect = [line, column, "not a number"]
    elif defect == "non_finite":
        rows[r][c] = draw(st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e400", "-1e999"]))
        expect = [line, column, "not a finite number"]
    elif defect == "missing":
        rows[r][c] = draw(st.sampled_from(["", " ", "\t" if delimiter != "\t" else " "]))
        expect = [line, column, "missing value"]
    elif defect == "ragged":
        if draw(st.booleans()):
            rows[r].append(draw(NUMBER_TEXT).strip())
            got = n_cols + 1
        else:
            rows[r].pop()
            got = n_cols - 1
        expect = [line, f"expected {n_cols} cells", f"got {got}"]
        if got == 1 and rows[r] == [""]:
            expect = []  # a row reduced to one empty cell is a blank line, skipped
    elif defect == "duplicate":
        names[c] = names[(c + 1) % n_cols]
        expect = ["line 1", "duplicate", repr(names[c])]
    elif defect == "unnamed":
        names[c] = ""
        expect = ["line 1", f"column {c + 1} has no name"]
    elif defect == "no_header":
        names = rows.pop(0) if n_rows > 2 else [str(j) for j in range(n_cols)]
        expect = ["line 1", "header"]
    elif defect == "header_only":
        rows = []
        expect = ["no data rows"]
    elif defect == "one_row":
        rows = rows[:1]
        expect = ["only 1 data row"]
    elif defect == "empty":
        return draw(st.sampled_from([b"", b"\n", b" \r\n\t\n", b"\xef\xbb\xbf"])), ["empty"]
    elif defect == "binary":
        junk = draw(st.binary(min_size=1, max_size=64))
        return junk + b"\x00" + junk, ["not a text CSV file"]
    else:
        text = _render([names, *rows], delimiter, end)
        return text.encode("utf-32"), ["not a text CSV file"]
    if expect == []:
        return b"", ["empty"]
    text = _render([names, *rows], delimiter, end)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding), expect


@fuzz(200)
@given(case=broken_tables())
def test_broken_files_are_refused_naming_file_line_and_column(
    tmp_path: Path, case: tuple[bytes, list[str]]
) -> None:
    content, expect = case
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_csv(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message and len(message) < 600, message
    for fragment in expect:
        assert fragment in message, (fragment, message)


@st.composite
def mangled_files(draw: st.DrawFn) -> bytes:
    """A valid file, re-encoded and then corrupted with random byte edits."""
    content, _, _ = draw(valid_tables())
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(content)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        junk = draw(
            st.binary(min_size=1, max_size=4)
            | st.sampled_from([b'"', b",", b"\n", b"\r", b"nan", b"\xff", b"\xef\xbb\xbf"])
        )
        if edit == "insert":
            content = content[:at] + junk + content[at:]
        elif edit == "delete":
            content = content[:at] + content[at + len(junk) :]
        else:
            content = content[:at] + junk + content[at + len(junk) :]
    return content


@fuzz(200)
@given(content=mangled_files(), standardize=st.booleans(), dtype=st.sampled_from(DTYPES))
def test_mangled_files_load_and_train_or_are_refused(
    tmp_path: Path, content: bytes, standardize: bool, dtype: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    try:
        table = load_csv(path)
    except DataError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        assert "\n" not in str(exc)
        event("refused")
        return
    event("loaded")
    assert table.y.shape[0] >= 2
    assert np.isfinite(table.x).all() and np.isfinite(table.y).all()
    config = Config.from_dict(
        {
            "data": {"csv_path": str(path), "standardize": standardize},
            "model": {"dtype": dtype},
            "train": {"epochs": 2, "batch_size": 4, "lr": 0.01},
        }
    )
    exercise(config)


@fuzz(60)
@given(
    scale=st.sampled_from([1e-300, 1e-30, 1.0, 1e15, 1e19, 1e40, 1e100, 1e152, 1e200, 1e300]),
    standardize=st.booleans(),
    dtype=st.sampled_from(DTYPES),
    target_scale=st.sampled_from([1.0, 1e20, 1e300]),
)
def test_extreme_magnitudes_train_or_are_refused(
    tmp_path: Path, scale: float, standardize: bool, dtype: str, target_scale: float
) -> None:
    # Finite but huge (or tiny) values: float32 cannot hold them, their squares overflow.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2)) * scale
    y = rng.normal(size=20) * target_scale
    rows = zip(x.tolist(), y.tolist(), strict=True)
    lines = ["a,b,y", *(f"{r[0]!r},{r[1]!r},{v!r}" for r, v in rows)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    config = Config.from_dict(
        {
            "data": {"csv_path": str(path), "standardize": standardize},
            "model": {"dtype": dtype},
            "train": {"epochs": 2, "batch_size": 4, "lr": 0.01},
        }
    )
    exercise(config)
