"""Evaluation tasks as data. A TaskSource (plugin) turns a path or a name into a Task; the harness encodes each of
the task's text sets once and evaluates every variant from those embeddings."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from advisor.config.task_types import TASK_TYPES, TaskTypeName, task_type  # noqa: F401 - TASK_TYPES re-exported
from advisor.errors import UserError

TaskType = TaskTypeName  # the task types are one table: advisor.config.task_types.TASK_TYPES


@dataclass(frozen=True)
class TextSet:
    """Texts encoded together; ``kind`` picks the query or document prompt."""

    kind: Literal["query", "document"]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalData:
    corpus: dict[str, str]             # doc id -> text (title and body joined)
    queries: dict[str, str]            # query id -> text
    qrels: dict[str, dict[str, int]]   # query id -> doc id -> graded relevance (empty for unlabeled tasks)

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return tuple({"queries": self.queries, "corpus": self.corpus}[text_set].values())


@dataclass(frozen=True)
class STSData:
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    scores: tuple[float, ...]

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return {"sentence1": self.sentence1, "sentence2": self.sentence2}[text_set]


@dataclass(frozen=True)
class ClassificationData:
    train_texts: tuple[str, ...]
    train_labels: tuple[str, ...]
    test_texts: tuple[str, ...]
    test_labels: tuple[str, ...]

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return {"train": self.train_texts, "test": self.test_texts}[text_set]


@dataclass(frozen=True)
class ClusteringData:
    """Texts and the group each belongs to (e.g. reviews and their movie); the groups are what k-means should find."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return {"texts": self.texts}[text_set]


@dataclass(frozen=True)
class RerankingData:
    """Retrieval data where each query ranks only its own candidate list (a first stage's output)."""

    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    candidates: dict[str, tuple[str, ...]]  # query id -> doc ids to rerank

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return tuple({"queries": self.queries, "corpus": self.corpus}[text_set].values())


@dataclass(frozen=True)
class DeduplicationData:
    """A corpus and its known near-duplicate pairs (row indices ``i < j``); every other pair is distinct."""

    texts: tuple[str, ...]
    duplicates: tuple[tuple[int, int], ...]

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return {"texts": self.texts}[text_set]


@dataclass(frozen=True)
class PairClassificationData:
    text1: tuple[str, ...]
    text2: tuple[str, ...]
    labels: tuple[int, ...]

    def texts_of(self, text_set: str) -> tuple[str, ...]:
        return {"text1": self.text1, "text2": self.text2}[text_set]


@dataclass(frozen=True)
class Task:
    """A loaded, validated evaluation task. ``content_hash`` fingerprints the data itself, not its path."""

    name: str
    type: str
    source: str
    content_hash: str
    data: Any
    languages: tuple[str, ...] = ()
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    # where the data comes from (advisor.datasets.origin): an MTEB task name or dataset id, or "user" (the user's
    # own data, zero-shot by construction); ``overlaps`` names other datasets that hold the same texts
    origin: str = "user"
    overlaps: tuple[str, ...] = ()
    origin_note: str = ""

    def text_sets(self) -> dict[str, TextSet]:
        """The named text sets the harness encodes once per model variant: the type's text sets
        (``advisor.config.task_types``), each read from the data by its name."""
        return {ts.name: TextSet(ts.kind, self.data.texts_of(ts.name)) for ts in task_type(self.type).text_sets}


def content_hash(payload: Any) -> str:
    """A stable hash of task data (dicts, lists, dataclasses of strings and numbers)."""
    def default(obj: Any) -> Any:
        if hasattr(obj, "__dataclass_fields__"):
            return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
        if isinstance(obj, (set, frozenset)):
            return sorted(obj)
        raise TypeError(type(obj).__name__)
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=default).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


class TaskSource(ABC):
    """Turns a dataset path (or an MTEB task name) into a Task."""

    name: str
    description: str = ""

    @abstractmethod
    def detect(self, spec: str) -> bool:
        """Whether this source recognises ``spec`` (a path, or e.g. ``mteb:STSBenchmark``) without a hint."""

    @abstractmethod
    def load(self, spec: str) -> Task:
        """Load and validate; a malformed row raises ConfigError with file, line and field."""


def load_task(spec: str | Path, source: str | None = None, *, corpus: str | Path | None = None,
              without_queries: bool = False) -> Task:
    """Load a task through the registered task sources, detected from the path unless ``source`` names one;
    ``corpus`` (``--corpus``) adds the documents of a corpus file to a retrieval task. A spec's options
    (``PATH#pseudo-queries=N``, ``#FIELD=COLUMN``: ``advisor.datasets.spec``) build pseudo-queries and map columns.
    A path that does not exist is '<path>: no such file or directory', with the missing part and a did-you-mean.
    A corpus without queries has nothing to evaluate: one line says how to build queries for it, unless
    ``without_queries`` (``advisor datasets show``, which shows it as it is)."""
    from advisor.datasets.origin import with_origin
    from advisor.datasets.readers import missing_path
    from advisor.datasets.spec import parse_spec
    from advisor.plugins import registered

    sources = registered("task_sources")
    spec = str(spec)
    parsed = parse_spec(spec)
    base = parsed.base
    task: Task | None = None
    if source is not None and source not in sources:
        raise UserError(f"unknown dataset type '{source}'; available: {', '.join(sorted(sources))}")
    if parsed.columns:
        from advisor.datasets.rows import mapped_task

        task = mapped_task(base, parsed.columns, source, spec)
    elif source is not None:
        task = sources[source].load(base)
    else:
        for candidate in sources.values():
            if candidate.detect(base):
                task = candidate.load(base)
                break
    if task is None:
        if not base.startswith(("hf:", "mteb:")) and not Path(base).expanduser().exists():
            raise missing_path(base)
        raise UserError(f"{base}: cannot tell what kind of dataset this is; name it with --dataset-type "
                        f"({', '.join(sorted(sources)) or 'no task source plugins loaded'})")
    if parsed.pseudo_queries is not None:
        from advisor.datasets.pseudo import with_pseudo_queries

        task = with_pseudo_queries(task, parsed.pseudo_queries, spec)
    if corpus is not None:
        from advisor.datasets.corpus import with_corpus

        task = with_corpus(task, corpus)
    if not without_queries and task.type == "unlabeled_retrieval" and not task.data.queries:
        raise UserError(f"{spec}: {task.meta.get('unlabeled') or 'no queries'}, so nothing to evaluate; build "
                        f"queries from its documents with --pseudo-queries N (or {parsed.text()}"
                        f"{',' if parsed.has_options else '#'}pseudo-queries=N): their "
                        "judgements are synthetic, and every output says so")
    return with_origin(task, base)


def unlabeled_notice(task: Task, rater: str | None = None) -> str | None:
    """The line every output that evaluates ``task`` prints first when no relevance judgements given by people score
    it (None when they do): UNLABELED, the figures are a rater's, not a judged nDCG; or SYNTHETIC, the judgements
    were built from the corpus (pseudo-queries, ``task.meta["synthetic"]``)."""
    if task.meta.get("synthetic"):
        return synthetic_line(task.name, task.meta["synthetic"])
    if not task_type(task.type).rated:
        return None
    if not task.data.queries:  # a corpus alone: nothing is scored until queries are built for it
        return (f"{task.name}: UNLABELED: {task.meta.get('unlabeled') or 'no queries'}; nothing to evaluate until "
                "queries are built from it (--pseudo-queries N)")
    return unlabeled_line(task.name, task.meta.get("unlabeled"), rater)


def synthetic_line(name: str, how: str | None = None) -> str:
    """'<task>: SYNTHETIC: <how its judgements were built>; its figures measure finding the document a query was cut
    from, not relevance judged by people' (the report writes it from the stored cells, which record ``how``)."""
    return (f"{name}: SYNTHETIC: {how or 'judgements built from the corpus'}; its figures measure finding the "
            "document a query was cut from, not relevance judged by people")


def unlabeled_line(name: str, why: str | None = None, rater: str | None = None) -> str:
    """'<task>: UNLABELED: <why>; its figures are scores given by the rater '<rater>', not by relevance
    judgements' (the report writes it from the stored cells, where only the name and the rater are known)."""
    by = f"the rater '{rater}'" if rater else "a rater"
    return (f"{name}: UNLABELED: {why or 'no relevance judgements'}; its figures are scores given by {by}, "
            "not by relevance judgements")
