"""Tasks from rows, whatever read them: a Hugging Face dataset's splits (``advisor.datasets.hf``) or one table file
whose columns a spec maps (``faq.csv#query=q,positive=a``). The columns decide the task type, in the order the file
sources detect it (``advisor.datasets.task_sources``), and the rows go through the same checks the file readers use
(``pairs_of_rows``, ``sts_task``, ...), so one row is read one way however it arrived."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from advisor.datasets.readers import Row, map_columns, names_text, read_table
from advisor.datasets.tasks import Task
from advisor.errors import UserError

SPLIT_PREFERENCE = ("test", "validation", "dev", "train")
# table kind -> the task source whose files hold it (its name when a file is read)
KINDS = ("pairs", "sts", "pair_classification", "classification", "clustering", "deduplication", "documents")


@dataclass(frozen=True)
class Splits:
    """A dataset as tables of rows: split name -> rows, and how messages name each split (``hf:org/name@test``,
    ``folder/test``). ``split``: the one named by the user (None: the preferred one)."""

    name: str
    source: str
    rows: dict[str, list[Row]]
    where: dict[str, str]
    split: str | None = None
    meta: dict[str, object] = field(default_factory=dict)
    origin: str | None = None  # the dataset id the rows come from (a hub id), for zero-shot checks


def table_kind(fields: set[str]) -> str | None:
    """What a table with these columns holds, as the file sources detect it."""
    from advisor.datasets.clustering import CLUSTERING_FIELDS
    from advisor.datasets.deduplication import DEDUP_FIELDS
    from advisor.datasets.documents import DOCUMENT_FIELDS
    from advisor.datasets.pairs import has_pair_columns
    from advisor.datasets.tabular import CLASSIFICATION_FIELDS, PAIR_FIELDS, STS_FIELDS

    if has_pair_columns(fields):
        return "pairs"
    for kind, needed in (("sts", STS_FIELDS), ("pair_classification", PAIR_FIELDS)):
        if set(needed) <= fields:
            return kind
    if set(CLASSIFICATION_FIELDS) <= fields and not {"text1", "text2"} & fields:
        return "classification"
    for kind, needed in (("clustering", CLUSTERING_FIELDS), ("deduplication", DEDUP_FIELDS)):
        if set(needed) <= fields:
            return kind
    if "text" in fields and fields <= set(DOCUMENT_FIELDS):
        return "documents"
    return None


def chosen_split(splits: Splits) -> str:
    """The split to evaluate: the one named, else test, validation, dev, train, else the only one."""
    if splits.split is not None:
        if splits.split not in splits.rows:
            import difflib

            close = difflib.get_close_matches(splits.split, list(splits.rows), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(f"{splits.meta.get('path', splits.name)}: no split '{splits.split}' (it has: "
                            f"{', '.join(splits.rows)}){hint}")
        return splits.split
    for name in SPLIT_PREFERENCE:
        if name in splits.rows:
            return name
    if len(splits.rows) == 1:
        return next(iter(splits.rows))
    raise UserError(f"{splits.meta.get('path', splits.name)}: splits {', '.join(splits.rows)} and none is named "
                    "test, validation, dev or train; name one (hf:ORG/NAME@SPLIT, or the split's own folder)")


def _fields(rows: list[Row]) -> set[str]:
    return {str(k) for k in rows[0].values} if rows else set()


def task_of_splits(splits: Splits, spec: str, columns: Mapping[str, str] | None = None,
                   kind: str | None = None) -> Task:
    """The task of a dataset's splits: the chosen split's columns (read under ``columns``' names) give its kind
    (``kind``: the one the user named); a classification table with a ``train`` split beside the chosen one trains
    on it, otherwise one table is split 3:1 as a classification file is."""
    split = chosen_split(splits)
    where = splits.where[split]
    rows = map_columns(splits.rows[split], columns or {}, where)
    fields = _fields(rows)
    found = table_kind(fields)
    if kind is not None and kind in KINDS and found not in (kind, None):
        raise UserError(f"{where}: its columns ({names_text(sorted(fields))}) make a {found} table, not {kind}; "
                        "map the columns (FIELD=COLUMN) or leave --dataset-type out")
    kind = kind if kind in KINDS else found
    if kind is None:
        raise UserError(f"{where}: cannot tell what its columns hold ({names_text(sorted(fields)) or 'none'}); "
                        "name them with FIELD=COLUMN (e.g. #query=question,positive=answer or --columns), see "
                        "docs/datasets.md for the fields of each task type")
    meta = {**splits.meta, "split": split}
    if columns:
        meta["columns"] = dict(columns)
    task = _task(splits, split, where, rows, columns, kind, meta, spec)
    return replace(task, origin=splits.origin) if splits.origin else task


def _task(splits: Splits, split: str, where: str, rows: list[Row], columns: Mapping[str, str] | None, kind: str,
          meta: dict[str, object], spec: str) -> Task:
    from advisor.datasets.clustering import clustering_task
    from advisor.datasets.deduplication import deduplication_task
    from advisor.datasets.documents import documents_task
    from advisor.datasets.pairs import pairs_of_rows, pairs_task
    from advisor.datasets.tabular import classification_task, pair_classification_task, sts_task

    name, source = splits.name, splits.source or kind  # a table file: the source that reads its kind
    if kind == "pairs":
        return pairs_task(pairs_of_rows(rows, where), name, source, meta)
    if kind == "sts":
        return sts_task(rows, where, name, source, meta)
    if kind == "pair_classification":
        return pair_classification_task(rows, where, name, source, meta)
    if kind == "clustering":
        return clustering_task(rows, where, name, source, meta)
    if kind == "deduplication":
        return deduplication_task(rows, where, name, source, meta)
    if kind == "documents":
        return documents_task(rows, where, name, source, meta)
    if split != "train" and "train" in splits.rows:
        train = map_columns(splits.rows["train"], columns or {}, splits.where["train"])
        return classification_task(train, rows, (splits.where["train"], where), name, source,
                                   {**meta, "train_split": "train"}, spec)
    return classification_task(rows, None, (where,), name, source, meta, spec)


def table_splits(path: Path) -> Splits:
    """One table file as a dataset of one split (for a spec that maps its columns)."""
    if path.is_dir():
        raise UserError(f"{path}: FIELD=COLUMN maps the columns of one table (or a Hugging Face dataset); give the "
                        "table file itself")
    return Splits(name=path.stem, source="", rows={"table": read_table(path)}, where={"table": str(path)},
                  meta={"path": str(path)})


def splits_of(spec: str) -> Splits:
    """The rows of a dataset whose columns a spec maps: a Hugging Face dataset (``hf:``, a save_to_disk folder) or
    one table file."""
    from advisor.datasets.hf import PREFIX, hub_splits, saved_kind, saved_splits
    from advisor.datasets.readers import check_path

    if spec.startswith(PREFIX):
        return hub_splits(spec)
    path = check_path(spec)
    if saved_kind(path) is not None:
        return saved_splits(path)
    return table_splits(path)


def mapped_task(base: str, columns: Mapping[str, str], source: str | None, spec: str) -> Task:
    """The task of ``base`` (a table file or a Hugging Face dataset) with ``columns`` read under known names;
    ``source`` (``--dataset-type``) may name the table's kind."""
    from advisor.datasets.hf import DISK_SOURCE, HUB_SOURCE

    if source is not None and source not in (*KINDS, HUB_SOURCE, DISK_SOURCE):
        raise UserError(f"{spec}: FIELD=COLUMN maps the columns of a table or a Hugging Face dataset; the "
                        f"dataset type '{source}' reads no such table")
    return task_of_splits(splits_of(base), spec, columns, kind=source)
