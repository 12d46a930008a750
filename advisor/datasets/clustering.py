"""Clustering tasks. One comes from a retrieval task whose queries each have one relevant document: the queries
grouped by that document (Rotten Tomatoes reviews grouped by movie, from ``data/rt-reviews-plots``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from advisor.datasets.tasks import ClusteringData, Task, TaskSource, content_hash
from advisor.errors import UserError

if TYPE_CHECKING:
    from advisor.datasets.readers import Row


def clustering_from_retrieval(task: Task, *, name: str | None = None, min_group: int = 2) -> Task:
    """The queries of ``task`` labelled by their one relevant document; groups smaller than ``min_group`` and
    queries with several relevant documents are left out (their group would be ambiguous)."""
    if task.type != "retrieval":
        raise UserError(f"task {task.name} is {task.type}; clustering needs a retrieval task with one relevant "
                        f"document per query")
    data = task.data
    groups: dict[str, list[str]] = {}
    for qid, text in data.queries.items():
        relevant = [d for d, grade in data.qrels.get(qid, {}).items() if grade > 0]
        if len(relevant) == 1:
            groups.setdefault(relevant[0], []).append(text)
    texts, labels = [], []
    for doc_id in sorted(groups):
        if len(groups[doc_id]) >= min_group:
            texts += groups[doc_id]
            labels += [doc_id] * len(groups[doc_id])
    if len(set(labels)) < 2:
        raise UserError(f"task {task.name} has fewer than two groups of {min_group}+ queries sharing a document")
    clustering = ClusteringData(tuple(texts), tuple(labels))
    return Task(name=name or f"{task.name}-clustering", type="clustering", source=f"{task.source} (clustered)",
                content_hash=content_hash(clustering), data=clustering, languages=task.languages,
                description=f"queries of {task.name} grouped by their relevant document")


# --- a clustering table: one text per row with the group it belongs to ------------------------------------------

CLUSTERING_FIELDS = ("text", "cluster")


def _table(spec: str, fields: tuple[str, ...]):
    from advisor.datasets.readers import check_path, header_fields, table_files

    path = check_path(spec)
    if path.is_file():
        return path
    found = [p for p in table_files(path) if set(fields) <= header_fields(p)]
    if len(found) != 1:
        raise UserError(f"{spec}: expected one .tsv/.csv/.jsonl/.parquet file with columns {', '.join(fields)}")
    return found[0]


def _detect(spec: str, fields: tuple[str, ...]) -> bool:
    from pathlib import Path

    from advisor.datasets.readers import header_fields, table_files

    path = Path(spec).expanduser()
    if path.is_file():
        return set(fields) <= header_fields(path)
    return path.is_dir() and sum(set(fields) <= header_fields(p) for p in table_files(path)) == 1


def load_clustering(spec: str) -> Task:
    from pathlib import Path

    from advisor.datasets.readers import read_table

    file = _table(spec, CLUSTERING_FIELDS)
    path = Path(spec).expanduser()
    return clustering_task(read_table(file, CLUSTERING_FIELDS), str(file), path.name if path.is_dir() else file.stem,
                           "clustering", {"path": str(file)})


def clustering_task(rows: "Sequence[Row]", where: str, name: str, source: str, meta: dict) -> Task:
    """The clustering task of a table's rows (``text``, ``cluster``), however they were read."""
    from advisor.errors import ConfigError

    if not rows:
        raise ConfigError(where, "holds no rows")
    data = ClusteringData(tuple(r.text("text") for r in rows), tuple(r.label("cluster") for r in rows))
    if len(set(data.labels)) < 2:
        raise ConfigError(where, "needs at least two clusters in column 'cluster'")
    return Task(name=name, type="clustering", source=source,
                content_hash=content_hash({"type": "clustering", "data": data}), data=data,
                meta=meta, description=f"{len(data.texts)} texts in {len(set(data.labels))} clusters")



class ClusteringSource(TaskSource):
    name = "clustering"
    description = "clustering: TSV/CSV/JSONL/Parquet with text, cluster (scored by V-measure of k-means, as mteb does)"

    def detect(self, spec: str) -> bool:
        return _detect(spec, CLUSTERING_FIELDS)

    def load(self, spec: str) -> Task:
        return load_clustering(spec)
