"""Tasks stored as one row per example (TSV, CSV or JSONL with a header): STS pairs (``sentence1``, ``sentence2``,
``score``), classification (``text``, ``label``) and pair classification (``text1``, ``text2``, ``label``).

A spec is a file, or a folder: ``train.*`` and ``test.*`` for classification; ``test.*``, ``pairs.*`` or a single
data file for the pair tasks. The STS Benchmark as its authors distribute it (headerless ``sts-test.csv``) is read
in place."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

from advisor.errors import ConfigError, UserError
from advisor.datasets.tasks import ClassificationData, PairClassificationData, STSData, Task, TaskSource, content_hash
from advisor.datasets.readers import Row, check_path, header_fields, read_table, table_files

STS_FIELDS = ("sentence1", "sentence2", "score")
CLASSIFICATION_FIELDS = ("text", "label")
PAIR_FIELDS = ("text1", "text2", "label")
STSB_COLUMNS = ("genre", "file", "year", "id", "score", "sentence1", "sentence2")
STSB_FILE = re.compile(r"^sts-(train|dev|test)\.csv$")
TEST_SHARE = 0.25  # share of each label held out when a classification file is split


def _stem(path: Path) -> str:
    return path.name.split(".")[0]


def _pick_file(folder: Path, fields: tuple[str, ...], preferred: tuple[str, ...]) -> Path | None:
    """The data file of a folder whose header has ``fields``: a preferred name first, else the only one."""
    candidates = [p for p in table_files(folder) if set(fields) <= header_fields(p)]
    for name in preferred:
        for p in candidates:
            if _stem(p) == name:
                return p
    return candidates[0] if len(candidates) == 1 else None


def _resolve(spec: str, fields: tuple[str, ...], preferred: tuple[str, ...], what: str) -> Path:
    path = check_path(spec)
    if path.is_file():
        return path
    found = _pick_file(path, fields, preferred)
    if found is None:
        names = ", ".join(p.name for p in table_files(path)) or "no .tsv/.csv/.jsonl/.parquet files"
        raise UserError(f"{spec}: no {what} file found (a file whose header has {', '.join(fields)}, "
                        f"named {' or '.join(n + '.tsv' for n in preferred)}); the folder has: {names}")
    return found


def _matches(spec: str, fields: tuple[str, ...], preferred: tuple[str, ...]) -> bool:
    path = Path(spec).expanduser()
    if path.is_file():
        return set(fields) <= header_fields(path)
    return path.is_dir() and _pick_file(path, fields, preferred) is not None


def _task(name: str, task_type: str, source: str, data: object, meta: dict[str, object], description: str) -> Task:
    return Task(name=name, type=task_type, source=source, content_hash=content_hash({"type": task_type, "data": data}),
                data=data, meta=meta, description=description)


# --- STS ------------------------------------------------------------------------------------------------------

def _stsbenchmark_file(path: Path) -> Path | None:
    """The authors' STS Benchmark file for this spec (folder -> its test split), or None."""
    if path.is_file() and STSB_FILE.match(path.name):
        return path
    if path.is_dir() and (path / "sts-test.csv").is_file():
        return path / "sts-test.csv"
    return None


def load_sts(spec: str) -> Task:
    path = check_path(spec)
    stsb = _stsbenchmark_file(path)
    if stsb is not None:
        rows = read_table(stsb, STS_FIELDS, header=False, columns=STSB_COLUMNS)
        file, name = stsb, (path.name if path.is_dir() else stsb.parent.name)
    else:
        file = _resolve(spec, STS_FIELDS, ("test", "pairs"), "STS")
        rows = read_table(file, STS_FIELDS)
        name = path.name if path.is_dir() else file.stem
    return sts_task(rows, str(file), name, "sts", {"path": str(file), "split": _stem(file).removeprefix("sts-")})


def sts_task(rows: Sequence[Row], where: str, name: str, source: str, meta: dict[str, object]) -> Task:
    """The STS task of a table's rows (``sentence1``, ``sentence2``, ``score``), however they were read."""
    if not rows:
        raise ConfigError(where, "holds no rows")
    s1 = tuple(r.text("sentence1") for r in rows)
    s2 = tuple(r.text("sentence2") for r in rows)
    scores = tuple(r.number("score") for r in rows)
    data = STSData(sentence1=s1, sentence2=s2, scores=scores)
    meta = {**meta, "min_score": min(scores), "max_score": max(scores)}
    return _task(name, "sts", source, data, meta, f"{len(scores)} pairs")


class STSSource(TaskSource):
    name = "sts"
    description = "STS pairs: TSV/CSV/JSONL/Parquet with sentence1, sentence2, score (also the STS Benchmark folder)"

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        return _stsbenchmark_file(path) is not None or _matches(spec, STS_FIELDS, ("test", "pairs"))

    def load(self, spec: str) -> Task:
        return load_sts(spec)


# --- classification ---------------------------------------------------------------------------------------------

def _texts_labels(rows: list[Row]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(r.text("text") for r in rows), tuple(r.label("label") for r in rows)


def split_rows(texts: tuple[str, ...], labels: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """A deterministic stratified split of one file: within each label, rows are ordered by a SHA-256 of their text
    (and their position among equal texts) and the first quarter goes to test. Depends on the data only."""
    by_label: dict[str, list[tuple[str, int]]] = {}
    seen: dict[str, int] = {}
    for i, (text, label) in enumerate(zip(texts, labels)):
        n = seen[text] = seen.get(text, -1) + 1
        key = hashlib.sha256(f"{text}\x1f{n}".encode("utf-8")).hexdigest()
        by_label.setdefault(label, []).append((key, i))
    test: list[int] = []
    for items in by_label.values():
        items.sort()
        n_test = round(len(items) * TEST_SHARE) if len(items) > 1 else 0
        test.extend(i for _, i in items[: max(n_test, 1 if len(items) > 1 else 0)])
    test_set = set(test)
    return [i for i in range(len(texts)) if i not in test_set], sorted(test)


def _classification_files(path: Path) -> tuple[Path, Path] | Path | None:
    """(train, test) files of a folder, or the single file to split, or None."""
    if path.is_file():
        return path
    files = [p for p in table_files(path) if set(CLASSIFICATION_FIELDS) <= header_fields(p)
             and not {"text1", "text2"} & header_fields(p)]
    by_stem = {_stem(p): p for p in files}
    if "train" in by_stem and "test" in by_stem:
        return by_stem["train"], by_stem["test"]
    return files[0] if len(files) == 1 else None


def load_classification(spec: str) -> Task:
    path = check_path(spec)
    found = _classification_files(path)
    if found is None:
        names = ", ".join(p.name for p in table_files(path)) or "no .tsv/.csv/.jsonl/.parquet files"
        raise UserError(f"{spec}: no classification files found (train.tsv and test.tsv, or one file, with the "
                        f"columns text, label); the folder has: {names}")
    if isinstance(found, tuple):
        train_rows, test_rows = (read_table(p, CLASSIFICATION_FIELDS) for p in found)
        return classification_task(train_rows, test_rows, (str(found[0]), str(found[1])), path.name, "classification",
                                   {"path": str(path), "split": "test", "train_file": str(found[0]),
                                    "test_file": str(found[1])}, spec)
    return classification_task(read_table(found, CLASSIFICATION_FIELDS), None, (str(found),),
                               path.name if path.is_dir() else path.stem, "classification",
                               {"path": str(found), "split": "test"}, spec)


def classification_task(rows: Sequence[Row], test_rows: Sequence[Row] | None, where: tuple[str, ...], name: str,
                        source: str, meta: dict[str, object], spec: str) -> Task:
    """The classification task of a table's rows (``text``, ``label``), however they were read: ``rows`` are the
    train rows and ``test_rows`` the test rows, or, without ``test_rows``, one table split by :func:`split_rows`.
    ``where`` names the table(s) in messages, ``spec`` the dataset."""
    if test_rows is not None:
        for table, part in zip(where, (rows, test_rows)):
            if not part:
                raise ConfigError(table, "holds no rows")
        train_texts, train_labels = _texts_labels(list(rows))
        test_texts, test_labels = _texts_labels(list(test_rows))
        meta = dict(meta)
    else:
        if len(rows) < 2:
            raise ConfigError(where[0], "needs at least 2 rows to split into train and test")
        texts, labels = _texts_labels(list(rows))
        train_idx, test_idx = split_rows(texts, labels)
        train_texts, train_labels = tuple(texts[i] for i in train_idx), tuple(labels[i] for i in train_idx)
        test_texts, test_labels = tuple(texts[i] for i in test_idx), tuple(labels[i] for i in test_idx)
        meta = {**meta, "split_rule": f"stratified sha256, test share {TEST_SHARE}"}
    unseen = sorted(set(test_labels) - set(train_labels))
    if unseen:
        raise UserError(f"{spec}: test label(s) {unseen[:5]} never occur in train; a classifier cannot predict them")
    data = ClassificationData(train_texts=train_texts, train_labels=train_labels, test_texts=test_texts,
                              test_labels=test_labels)
    meta["labels"] = sorted(set(train_labels))
    return _task(name, "classification", source, data, meta,
                 f"{len(train_texts)} train, {len(test_texts)} test, {len(meta['labels'])} labels")


class ClassificationSource(TaskSource):
    name = "classification"
    description = "classification: text, label (train.* + test.* in a folder, or one file split 3:1 per label)"

    def detect(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        if path.is_file():
            fields = header_fields(path)
            return set(CLASSIFICATION_FIELDS) <= fields and not {"text1", "text2"} & fields
        return path.is_dir() and _classification_files(path) is not None

    def load(self, spec: str) -> Task:
        return load_classification(spec)


# --- pair classification --------------------------------------------------------------------------------------

def load_pair_classification(spec: str) -> Task:
    path = check_path(spec)
    file = _resolve(spec, PAIR_FIELDS, ("test", "pairs"), "pair classification")
    return pair_classification_task(read_table(file, PAIR_FIELDS), str(file), path.name if path.is_dir() else file.stem,
                                    "pair_classification", {"path": str(file), "split": _stem(file)})


def pair_classification_task(rows: Sequence[Row], where: str, name: str, source: str,
                             meta: dict[str, object]) -> Task:
    """The pair classification task of a table's rows (``text1``, ``text2``, ``label``), however they were read."""
    if not rows:
        raise ConfigError(where, "holds no rows")
    text1 = tuple(r.text("text1") for r in rows)
    text2 = tuple(r.text("text2") for r in rows)
    labels = tuple(r.binary("label") for r in rows)
    if len(set(labels)) < 2:
        raise ConfigError(where, f"every label is {labels[0]}; average precision needs both 0 and 1", field="label")
    data = PairClassificationData(text1=text1, text2=text2, labels=labels)
    return _task(name, "pair_classification", source, data, {**meta, "positives": sum(labels)},
                 f"{len(labels)} pairs, {sum(labels)} positive")


class PairClassificationSource(TaskSource):
    name = "pair_classification"
    description = "pair classification / duplicates: text1, text2, label (0/1)"

    def detect(self, spec: str) -> bool:
        return _matches(spec, PAIR_FIELDS, ("test", "pairs"))

    def load(self, spec: str) -> Task:
        return load_pair_classification(spec)
