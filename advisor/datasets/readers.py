"""Row readers for dataset files (JSONL, TSV, CSV, and Parquet / Arrow / Feather) that keep line numbers (row
numbers for the binary tables), so every malformed row becomes a ConfigError naming the file, the line or row and
the field. Readers return whole lists: a task is built only after every row of every file has been read and
checked, so nothing half-loaded is ever evaluated. pyarrow (the ``parquet`` extra) is imported only when a binary
table is read."""

from __future__ import annotations

import csv
import difflib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from advisor.errors import ConfigError, UserError

TEXT_SUFFIXES = (".tsv", ".csv", ".jsonl")
ARROW_SUFFIXES = (".parquet", ".arrow", ".feather")  # read through pyarrow: rows, not lines
TABLE_SUFFIXES = TEXT_SUFFIXES + ARROW_SUFFIXES
_ARROW_KIND = {".parquet": "Parquet", ".arrow": "Arrow", ".feather": "Feather"}


@dataclass(frozen=True)
class Row:
    """One record of a data file with the line it starts on (``unit`` "line"), or its number in a Parquet / Arrow
    table (``unit`` "row", from 1)."""

    file: str
    line: int
    values: dict[str, Any]
    unit: str = "line"
    # a field read under a name the user mapped to another column (``#query=question``): field -> the column, so a
    # message names the column the user sees
    columns: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def where(self) -> str:
        """'line 7' or 'row 7': how a message points back at this record."""
        return f"{self.unit} {self.line}"

    def error(self, field: str | None, message: str) -> ConfigError:
        field = self.columns.get(field, field) if field is not None else None
        if self.unit == "row":
            return ConfigError(self.file, message, field=field, row=self.line)
        return ConfigError(self.file, message, field=field, line=self.line)

    def ident(self, field: str) -> str:
        """An id: a non-empty string (surrounding blanks dropped) or an integer, as text."""
        if field not in self.values or self.values[field] is None:
            raise self.error(field, "is missing")
        value = self.values[field]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise self.error(field, f"must be a non-empty string or integer, got {value!r}")
        return str(value).strip()

    def text(self, field: str, *, allow_empty: bool = False) -> str:
        """A required text field (JSON strings only; numbers are not silently turned into text)."""
        if field not in self.values or self.values[field] is None:
            raise self.error(field, "is missing")
        value = self.values[field]
        if not isinstance(value, str):
            raise self.error(field, f"must be a string, got {type(value).__name__} {value!r}")
        if not allow_empty and not value.strip():
            raise self.error(field, "is empty")
        return value

    def label(self, field: str) -> str:
        """A class label: a non-empty string, or an integer (stored as its decimal text)."""
        if field not in self.values or self.values[field] is None:
            raise self.error(field, "is missing")
        value = self.values[field]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(field, f"must be a string or an integer, got {value!r}")
        value = str(value).strip()
        if not value:
            raise self.error(field, "is empty")
        return value

    def number(self, field: str) -> float:
        if field not in self.values or self.values[field] is None:
            raise self.error(field, "is missing")
        value = self.values[field]
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise self.error(field, f"must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise self.error(field, f"must be a finite number, got {value!r}")
        return number

    def binary(self, field: str) -> int:
        """A 0/1 label (also accepts true/false)."""
        if field not in self.values or self.values[field] is None:
            raise self.error(field, "is missing")
        value = self.values[field]
        text = str(value).strip().lower()
        mapping = {"0": 0, "1": 1, "false": 0, "true": 1, "0.0": 0, "1.0": 1}
        if text not in mapping:
            raise self.error(field, f"must be 0 or 1, got {value!r}")
        return mapping[text]


def check_path(spec: str | Path) -> Path:
    """The dataset path ``spec``, which must exist (else :func:`missing_path`'s one-line error)."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise missing_path(spec)
    return path


def missing_path(spec: str | Path) -> UserError:
    """'<spec>: no such file or directory', naming the first part of the path that is missing when it is not the
    last, and the closest name beside it (a typo in a folder name is the usual cause)."""
    path = Path(spec).expanduser()
    missing = path
    while missing.parent != missing and not missing.parent.exists():
        missing = missing.parent
    try:
        siblings = sorted(p.name for p in missing.parent.iterdir())
    except OSError:
        siblings = []
    notes = [] if missing == path else [f"{missing} does not exist"]
    close = difflib.get_close_matches(missing.name, siblings, n=1)
    if close:
        notes.append(f"did you mean {missing.parent / close[0]}?")
    return UserError(f"{spec}: no such file or directory" + (f" ({'; '.join(notes)})" if notes else ""))


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(str(path), f"is not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                          line=line) from None


def read_text(path: Path) -> str:
    """A data file's text: UTF-8 with any BOM dropped; otherwise a one-line error naming the line of the first
    byte that is not UTF-8."""
    return _decode(path)


def json_error(exc: ValueError) -> str:
    """What is wrong with a JSON line: the parser's message, or Python's refusal of a number with too many digits
    (a plain ValueError, not a JSONDecodeError)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}, column {exc.colno}"
    return str(exc).split(";")[0]


def text_lines(text: str) -> list[str]:
    """The lines of a file's text (split at newlines only, CRLF endings dropped)."""
    return _lines(text)


def _lines(text: str) -> list[str]:
    """Lines split at newlines only: str.splitlines() would also split inside texts at U+2028, U+0085, ..."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_jsonl(path: Path) -> list[Row]:
    """Every JSON object of a JSON-lines file; blank lines are skipped."""
    rows: list[Row] = []
    for number, line in enumerate(_lines(_decode(path)), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or a number too long to convert
            raise ConfigError(str(path), f"is not valid JSON ({json_error(exc)})", line=number) from None
        if not isinstance(value, dict):
            raise ConfigError(str(path), f"each line must be a JSON object, got {type(value).__name__}", line=number)
        rows.append(Row(str(path), number, value))
    return rows


def _delimiter(path: Path, first_line: str) -> str:
    if path.suffix.lower() == ".tsv" or "\t" in first_line:
        return "\t"
    return ","


def names_text(names: Iterable[Any], limit: int = 40) -> str:
    """Column names for a one-line message: blanks collapsed, each cut at ``limit`` characters."""
    out = []
    for name in names:
        text = " ".join(str(name).split())
        out.append(text if len(text) <= limit else text[:limit - 3] + "...")
    return ", ".join(out) or "none"


def _pyarrow(path: Path) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise UserError(f"{path}: reading {_ARROW_KIND.get(path.suffix.lower(), 'Parquet')} files needs pyarrow; "
                        "install it with: pip install 'embedding-advisor[parquet]'") from None
    return pyarrow


def _arrow_error(path: Path, exc: BaseException) -> ConfigError:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return ConfigError(str(path), f"is not a readable {_ARROW_KIND[path.suffix.lower()]} file ({text[:200]})")


def _arrow_table(path: Path, *, schema_only: bool = False) -> Any:
    """The pyarrow Table (or only its Schema) of a Parquet, Feather or Arrow IPC file (file or stream format)."""
    pa = _pyarrow(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_schema(path) if schema_only else pq.read_table(path)
        if suffix == ".feather":
            import pyarrow.feather as feather

            table = feather.read_table(path)
            return table.schema if schema_only else table
        try:
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_file(source)
                return reader.schema if schema_only else reader.read_all()
        except pa.ArrowInvalid:  # not the file format: the stream format (what Hugging Face datasets write)
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_stream(source)
                return reader.schema if schema_only else reader.read_all()
    except (pa.ArrowException, OSError, ValueError, MemoryError, EOFError) as exc:
        raise _arrow_error(path, exc) from None


def read_arrow(path: Path, required: Sequence[str] = ()) -> list[Row]:
    """Rows of a Parquet / Arrow / Feather table (values as Python objects), numbered from 1, after checking the
    required columns."""
    pa = _pyarrow(path)
    table = _arrow_table(path)
    names = [str(n) for n in table.column_names]
    missing = [c for c in required if c not in names]
    if missing:
        raise ConfigError(str(path), f"has no column '{missing[0]}' (it has: {names_text(names)}); the "
                          f"table needs the columns {', '.join(required)}", field=missing[0])
    try:
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    except (pa.ArrowException, ValueError, OverflowError, MemoryError) as exc:
        raise _arrow_error(path, exc) from None
    return [Row(str(path), number, dict(zip(names, values)), unit="row")
            for number, values in enumerate(zip(*columns), start=1)]


def read_table(path: Path, required: Sequence[str] = (), *, header: bool = True,
               columns: Sequence[str] | None = None) -> list[Row]:
    """Rows of a TSV/CSV (first line = column names), JSONL, or Parquet / Arrow / Feather file, after checking the
    required columns.

    TSV files are read unquoted, one row per line (quotes are text); CSV files follow the usual CSV quoting.
    ``header=False`` with ``columns`` reads a file without a header line (extra trailing columns are ignored)."""
    if path.suffix.lower() in ARROW_SUFFIXES:
        return read_arrow(path, required)
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = read_jsonl(path)
        if rows:
            missing = [c for c in required if c not in rows[0].values]
            if missing:
                raise rows[0].error(missing[0], f"is missing; each line needs the fields {', '.join(required)}")
        return rows
    text = _decode(path)
    lines = _lines(text)
    if not any(line.strip() for line in lines):
        raise ConfigError(str(path), "is empty")
    delimiter = _delimiter(path, lines[0])
    if delimiter == "\t":
        reader: Iterable[list[str]] = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader([line + "\n" for line in lines], delimiter=",")
    records = list(_numbered(reader, path))
    if header:
        names = [c.strip() for c in records[0][1]]
        records = records[1:]
        missing = [c for c in required if c not in names]
        if missing:
            raise ConfigError(str(path), f"the header has no column '{missing[0]}' (it has: {names_text(names)}); "
                              f"the first line must name the columns {', '.join(required)}", line=1, field=missing[0])
    else:
        names = list(columns or required)
    rows: list[Row] = []
    for line, cells in records:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(names):
            missing_field = names[len(cells)]
            raise ConfigError(str(path), f"has {len(cells)} column(s), expected {len(names)} "
                              f"({names_text(names)}); check the {'tabs' if delimiter == chr(9) else 'commas'}",
                              line=line, field=missing_field)
        if header and len(cells) > len(names):
            raise ConfigError(str(path), f"has {len(cells)} columns but the header names {len(names)}; "
                              "a text probably contains the delimiter (quote it, or use JSONL)", line=line)
        rows.append(Row(str(path), line, dict(zip(names, cells))))
    return rows


def _numbered(reader: Any, path: Path) -> Iterable[tuple[int, list[str]]]:
    """(first line of the record, cells), also for CSV records that span several lines."""
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(str(path), f"is not valid CSV ({exc})", line=start) from None


def header_fields(path: Path) -> set[str]:
    """The column names of a table file (or the keys of a JSONL file's first object); empty if unreadable."""
    if path.suffix.lower() in ARROW_SUFFIXES:
        try:
            return {str(n) for n in _arrow_table(path, schema_only=True).names}
        except UserError:  # unreadable, or pyarrow missing: the reader says which when the file is read
            return set()
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                if path.suffix.lower() in (".jsonl", ".json"):
                    value = json.loads(line)
                    return set(value) if isinstance(value, dict) else set()
                cells = next(csv.reader([line], delimiter=_delimiter(path, line)))
                return {c.strip() for c in cells}
    except (OSError, ValueError, StopIteration, csv.Error):  # csv.Error: e.g. a field over the CSV size limit
        return set()
    return set()


def table_files(folder: Path) -> list[Path]:
    """Data files directly inside a folder, sorted by name."""
    return sorted(inside(folder, p) for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)


def inside(folder: Path, path: Path) -> Path:
    """``path``, a file found in the dataset folder ``folder``; one that is a symbolic link (itself, or through a
    linked folder) to a file outside the folder is refused in one line: a downloaded dataset could point its
    corpus at ``~/.ssh/id_rsa``, whose lines would be embedded, stored, shown, or sent to a hosted model."""
    target, root = path.resolve(), folder.resolve()
    if target != root and root not in target.parents:
        raise UserError(f"{path}: a symbolic link to {target}, outside the dataset folder {folder}; a dataset "
                        f"folder's files are read only from inside it: copy the file into the folder, or give it "
                        f"by its own path")
    return path


def map_columns(rows: Sequence[Row], mapping: Mapping[str, str], where: str) -> list[Row]:
    """``rows`` with each column ``mapping`` names read under the field it is mapped to (``{"query": "question"}``:
    the column ``question`` is the field ``query``); the mapped columns leave their own name, so a known name left
    in the table cannot compete with them. A column the table lacks is one line with the closest name. Messages
    about a mapped field name the user's column."""
    if not mapping or not rows:
        return list(rows)
    present = list(rows[0].values)
    for target, column in mapping.items():
        if column not in present:
            close = difflib.get_close_matches(column, [str(c) for c in present], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(where, f"has no column '{column}' to read as {target} (it has: "
                              f"{names_text(present)}){hint}")
    taken = set(mapping.values())
    out = []
    for row in rows:
        values = {k: v for k, v in row.values.items() if k not in taken and k not in mapping}
        values.update({target: row.values.get(column) for target, column in mapping.items()})
        out.append(replace(row, values=values, columns={**row.columns, **mapping}))
    return out
