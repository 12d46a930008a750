"""The datasets layer's half of the task-type table (``advisor.config.task_types``): per type, the class its data
is held in, the slicer that cuts a smaller task from it, and the built-in task sources (readers) that can produce
it. Checked at import: a type of the table without an entry here fails at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from advisor.config.task_types import require_every_type, task_type
from advisor.datasets import slicing
from advisor.datasets.tasks import (ClassificationData, ClusteringData, DeduplicationData, PairClassificationData,
                                    RerankingData, RetrievalData, STSData)


@dataclass(frozen=True)
class DatasetType:
    """``slicer(data, n, corpus_limit) -> data``: the first ``n`` units of the type (``advisor.datasets.slicing``).
    ``sources``: the names of the built-in task sources (``advisor.datasets.task_sources``) that read it."""

    data_class: type
    slicer: Callable[[Any, int, int | None], Any]
    sources: tuple[str, ...]


_HF = ("hf", "hf-disk")  # Hugging Face datasets: their columns give the type (advisor.datasets.rows)
DATASET_TYPES: dict[str, DatasetType] = {
    # a corpus of documents is retrieval with pseudo-queries (#pseudo-queries=N: synthetic judgements)
    "retrieval": DatasetType(RetrievalData, slicing.slice_retrieval, ("beir", "pairs", "mteb", *_HF, "documents")),
    "sts": DatasetType(STSData, slicing.slice_sts, ("sts", "mteb", *_HF)),
    "classification": DatasetType(ClassificationData, slicing.slice_classification,
                                  ("classification", "mteb", *_HF)),
    "pair_classification": DatasetType(PairClassificationData, slicing.slice_pair_classification,
                                       ("pair_classification", "mteb", *_HF)),
    "unlabeled_retrieval": DatasetType(RetrievalData, slicing.slice_retrieval, ("unlabeled", "documents", *_HF)),
    "clustering": DatasetType(ClusteringData, slicing.slice_clustering, ("clustering", *_HF)),
    "deduplication": DatasetType(DeduplicationData, slicing.slice_deduplication, ("deduplication", *_HF)),
    "reranking": DatasetType(RerankingData, slicing.slice_reranking, ("reranking",)),
}
require_every_type(DATASET_TYPES, "advisor.datasets.types.DATASET_TYPES")


def dataset_type(name: str) -> DatasetType:
    """The datasets layer's entry for task type ``name`` (an unknown name is a UserError naming the known ones)."""
    task_type(name)
    return DATASET_TYPES[name]
