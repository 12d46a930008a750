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


def load_task(spec: str | Path, source: str | None = None, *, corpus: str | Path | None = None) -> Task:
    """Load a task through the registered task sources, detected from the path unless ``source`` names one;
    ``corpus`` (``--corpus``) adds the documents of a corpus file to a retrieval task. A path that does not exist
    is '<path>: no such file or directory', with the missing part and a did-you-mean."""
    from advisor.datasets.origin import with_origin
    from advisor.datasets.readers import missing_path
    from advisor.plugins import registered

    sources = registered("task_sources")
    spec = str(spec)
    task: Task | None = None
    if source is not None:
        if source not in sources:
            raise UserError(f"unknown dataset type '{source}'; available: {', '.join(sorted(sources))}")
        task = sources[source].load(spec)
    else:
        for candidate in sources.values():
            if candidate.detect(spec):
                task = candidate.load(spec)
                break
    if task is None:
        if not Path(spec).expanduser().exists():
            raise missing_path(spec)
        raise UserError(f"{spec}: cannot tell what kind of dataset this is; name it with --dataset-type "
                        f"({', '.join(sorted(sources)) or 'no task source plugins loaded'})")
    if corpus is not None:
        from advisor.datasets.corpus import with_corpus

        task = with_corpus(task, corpus)
    return with_origin(task, spec)


def unlabeled_notice(task: Task, rater: str | None = None) -> str | None:
    """The line every output that evaluates ``task`` prints first when no relevance judgements score it (None when
    judgements do): the figures are a rater's, not a judged nDCG."""
    if not task_type(task.type).rated:
        return None
    return unlabeled_line(task.name, task.meta.get("unlabeled"), rater)


def unlabeled_line(name: str, why: str | None = None, rater: str | None = None) -> str:
    """'<task>: UNLABELED: <why>; its figures are scores given by the rater '<rater>', not by relevance
    judgements' (the report writes it from the stored cells, where only the name and the rater are known)."""
    by = f"the rater '{rater}'" if rater else "a rater"
    return (f"{name}: UNLABELED: {why or 'no relevance judgements'}; its figures are scores given by {by}, "
            "not by relevance judgements")
