"""Evaluation tasks as data. A TaskSource (plugin) turns a path or a name into a Task; the harness encodes each of
the task's text sets once and evaluates every variant from those embeddings."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from advisor.errors import UserError

TaskType = Literal["retrieval", "sts", "classification", "pair_classification", "unlabeled_retrieval", "clustering",
                   "deduplication", "reranking"]
TASK_TYPES: tuple[str, ...] = ("retrieval", "sts", "classification", "pair_classification", "unlabeled_retrieval",
                               "clustering", "deduplication", "reranking")


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


@dataclass(frozen=True)
class STSData:
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class ClassificationData:
    train_texts: tuple[str, ...]
    train_labels: tuple[str, ...]
    test_texts: tuple[str, ...]
    test_labels: tuple[str, ...]


@dataclass(frozen=True)
class ClusteringData:
    """Texts and the group each belongs to (e.g. reviews and their movie); the groups are what k-means should find."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RerankingData:
    """Retrieval data where each query ranks only its own candidate list (a first stage's output)."""

    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    candidates: dict[str, tuple[str, ...]]  # query id -> doc ids to rerank


@dataclass(frozen=True)
class DeduplicationData:
    """A corpus and its known near-duplicate pairs (row indices ``i < j``); every other pair is distinct."""

    texts: tuple[str, ...]
    duplicates: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PairClassificationData:
    text1: tuple[str, ...]
    text2: tuple[str, ...]
    labels: tuple[int, ...]


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
        """The named text sets the harness encodes once per model variant."""
        d = self.data
        if self.type in ("retrieval", "unlabeled_retrieval", "reranking"):
            return {"queries": TextSet("query", tuple(d.queries.values())),
                    "corpus": TextSet("document", tuple(d.corpus.values()))}
        if self.type == "sts":
            return {"sentence1": TextSet("query", d.sentence1), "sentence2": TextSet("query", d.sentence2)}
        if self.type == "classification":
            return {"train": TextSet("query", d.train_texts), "test": TextSet("query", d.test_texts)}
        if self.type == "pair_classification":
            return {"text1": TextSet("query", d.text1), "text2": TextSet("query", d.text2)}
        if self.type in ("clustering", "deduplication"):
            return {"texts": TextSet("query", d.texts)}
        raise ValueError(f"unknown task type {self.type}")


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


def load_task(spec: str | Path, source: str | None = None) -> Task:
    """Load a task through the registered task sources, detected from the path unless ``source`` names one."""
    from advisor.datasets.origin import with_origin
    from advisor.plugins import registered

    sources = registered("task_sources")
    spec = str(spec)
    if source is not None:
        if source not in sources:
            raise UserError(f"unknown dataset type '{source}'; available: {', '.join(sorted(sources))}")
        return with_origin(sources[source].load(spec), spec)
    for candidate in sources.values():
        if candidate.detect(spec):
            return with_origin(candidate.load(spec), spec)
    raise UserError(f"{spec}: cannot tell what kind of dataset this is; name it with --dataset-type "
                    f"({', '.join(sorted(sources)) or 'no task source plugins loaded'})")
