"""Query/positive pairs as a retrieval task: a table (CSV, TSV, JSONL, Parquet / Arrow / Feather) whose columns
name a query (``query``, ``question`` or ``anchor``) and its relevant text (``positive``, ``answer``, ``document``
or ``passage``), with optional ``negative`` / ``hard_negative`` texts and an optional integer ``score`` (the
relevance grade; 1 when absent).

The corpus is the distinct positives and negatives (plus any ``--corpus`` file, see ``advisor.datasets.corpus``);
each pair judges its query -> its positive. Ids are content hashes of the texts (``q``/``d`` + SHA-256), so one
text is one query or one document however often it occurs, and the task's content hash does not depend on the
order of the rows. Training reads its pairs files through the same reader (``advisor.training.data``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from advisor.datasets.readers import (Row, TABLE_SUFFIXES, check_path, header_fields, names_text, read_table,
                                      table_files)
from advisor.datasets.tasks import RetrievalData, Task, TaskSource, content_hash
from advisor.errors import ConfigError, UserError

QUERY_COLUMNS = ("query", "question", "anchor")
POSITIVE_COLUMNS = ("positive", "answer", "document", "passage")
NEGATIVE_COLUMNS = ("negative", "hard_negative")
SCORE_COLUMN = "score"
PREFERRED_STEMS = ("test", "pairs")


@dataclass(frozen=True)
class Pair:
    """One row of a pairs file: its query, its positive, its negatives and its relevance grade."""

    row: Row
    query: str
    positive: str
    negatives: tuple[str, ...] = ()
    score: int = 1


def text_id(prefix: str, text: str) -> str:
    """The id of a text: ``prefix`` + 16 hex digits of its SHA-256 (the same text always gets the same id)."""
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pick_column(fields: Iterable[str], names: Sequence[str]) -> str | None:
    """The field (as spelled in the file) that matches the first of ``names``, ignoring case and blanks."""
    lowered = {str(f).strip().lower(): f for f in fields}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def has_pair_columns(fields: Iterable[str], query_names: Sequence[str] = QUERY_COLUMNS,
                     positive_names: Sequence[str] = POSITIVE_COLUMNS) -> bool:
    fields = list(fields)
    return pick_column(fields, query_names) is not None and pick_column(fields, positive_names) is not None


def _negatives(row: Row, column: str | None) -> tuple[str, ...]:
    if column is None:
        return ()
    value = row.values.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if not isinstance(v, str):
            raise row.error(column, f"must be a string (or a list of strings), got {type(v).__name__} {v!r}")
        if v.strip():
            out.append(v.strip())
    return tuple(out)


def _score(row: Row, column: str | None) -> int:
    if column is None:
        return 1
    score = row.number(column)
    if score != int(score):
        raise row.error(column, f"must be an integer relevance grade, got {row.values[column]!r}")
    return int(score)


def read_pairs(path: str | Path, *, query_names: Sequence[str] = QUERY_COLUMNS,
               positive_names: Sequence[str] = POSITIVE_COLUMNS) -> list[Pair]:
    """Every pair of a pairs file, checked: a missing column, an empty text or a bad score is a ConfigError naming
    the file, the line (or row) and the field."""
    file = check_path(path)
    if file.is_dir():
        raise UserError(f"{path}: is a folder; give the pairs file (CSV, TSV, JSONL or Parquet) itself")
    return pairs_of_rows(read_table(file), str(file), query_names=query_names, positive_names=positive_names,
                         header_line=file.suffix.lower() not in (".jsonl", ".json"))


def pairs_of_rows(rows: Sequence[Row], where: str, *, query_names: Sequence[str] = QUERY_COLUMNS,
                  positive_names: Sequence[str] = POSITIVE_COLUMNS, header_line: bool = False) -> list[Pair]:
    """The pairs of a table's rows, however they were read (a file, a Hugging Face dataset): ``where`` names the
    table in messages; ``header_line``: a missing column is reported on line 1 (a CSV/TSV header)."""
    expected = f"the columns {query_names[0]} and {positive_names[0]} (or {'/'.join(query_names[1:])} and " \
               f"{'/'.join(positive_names[1:])})"
    if not rows:
        raise ConfigError(where, f"holds no rows; expected {expected}")
    first = rows[0]
    query_col, positive_col = pick_column(first.values, query_names), pick_column(first.values, positive_names)
    if query_col is None or positive_col is None:
        missing = ("query" if query_col is None else "positive")
        message = f"no {missing} column (it has: {names_text(first.values)}); name {expected}"
        if first.unit == "row":
            raise ConfigError(where, message)
        raise ConfigError(where, message, line=1 if header_line else first.line)
    negative_col = pick_column(first.values, NEGATIVE_COLUMNS)
    score_col = pick_column(first.values, (SCORE_COLUMN,))
    return [Pair(row, row.text(query_col).strip(), row.text(positive_col).strip(), _negatives(row, negative_col),
                 _score(row, score_col)) for row in rows]


def pairs_data(pairs: Sequence[Pair]) -> tuple[RetrievalData, dict[str, list[str]]]:
    """The retrieval data of ``pairs`` and each query's negatives (query id -> document ids). A query judged twice
    against one positive with two different grades is a ConfigError."""
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    judged_at: dict[tuple[str, str], Row] = {}
    negatives: dict[str, list[str]] = {}

    def add(store: dict[str, str], prefix: str, text: str, row: Row) -> str:
        key = text_id(prefix, text)
        if store.setdefault(key, text) != text:  # two texts with one 64-bit hash: never seen, but never silent
            raise row.error(None, f"two different texts share the id {key}; report this as a bug")
        return key

    for pair in pairs:
        qid = add(queries, "q", pair.query, pair.row)
        did = add(corpus, "d", pair.positive, pair.row)
        before = qrels.get(qid, {}).get(did)
        if before is not None and before != pair.score:
            raise pair.row.error(SCORE_COLUMN, f"this query and positive were judged {before} on "
                                 f"{judged_at[(qid, did)].where}; one pair has one grade")
        qrels.setdefault(qid, {})[did] = pair.score
        judged_at.setdefault((qid, did), pair.row)
        for negative in pair.negatives:
            nid = add(corpus, "d", negative, pair.row)
            if nid not in negatives.setdefault(qid, []):
                negatives[qid].append(nid)
    # a text judged relevant to a query is never one of its negatives (a row's negative may be another row's
    # positive of the same query)
    negatives = {q: kept for q, nids in negatives.items() if (kept := [n for n in nids if qrels[q].get(n, 0) <= 0])}
    return RetrievalData(corpus=corpus, queries=queries, qrels=qrels), negatives


def _pairs_file(spec: str) -> Path | None:
    """The pairs file of a spec: the file itself, or the one pairs table of a folder (test.* or pairs.* first)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path if path.suffix.lower() in TABLE_SUFFIXES + (".json",) and has_pair_columns(header_fields(path)) \
            else None
    if not path.is_dir():
        return None
    found = [p for p in table_files(path) if has_pair_columns(header_fields(p))]
    for stem in PREFERRED_STEMS:
        named = [p for p in found if p.name.split(".")[0] == stem]
        if len(named) == 1:
            return named[0]
    return found[0] if len(found) == 1 else None


def load_pairs(spec: str) -> Task:
    path = check_path(spec)
    file = _pairs_file(spec) if path.is_dir() else path
    if file is None:
        names = ", ".join(p.name for p in table_files(path)) or "no data files"
        raise UserError(f"{spec}: no pairs file found (a table with the columns query and positive, or question "
                        f"and answer); the folder has: {names}")
    return pairs_task(read_pairs(file), path.name if path.is_dir() else file.stem, "pairs", {"path": str(file)})


def pairs_task(pairs: Sequence[Pair], name: str, source: str, meta: dict[str, object]) -> Task:
    """The retrieval task of checked pairs (``meta`` gains each query's negatives and the number of pairs)."""
    data, negatives = pairs_data(pairs)
    return Task(name=name, type="retrieval", source=source,
                content_hash=content_hash({"type": "retrieval", "data": data}), data=data,
                meta={**meta, "negatives": negatives, "pairs": len(pairs)},
                description=f"{len(data.queries)} queries, {len(data.corpus)} documents from {len(pairs)} pairs")


class PairsSource(TaskSource):
    name = "pairs"
    description = ("query/positive pairs: CSV/TSV/JSONL/Parquet with query|question|anchor and "
                   "positive|answer|document|passage (optional negative, score) (retrieval)")

    def detect(self, spec: str) -> bool:
        return _pairs_file(spec) is not None

    def load(self, spec: str) -> Task:
        return load_pairs(spec)
