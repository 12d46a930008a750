"""Dataset task sources: BEIR folders, query/positive pairs, STS / classification / pair-classification tables,
unlabeled retrieval, corpora of documents (with pseudo-queries), Hugging Face datasets, official MTEB tasks by name,
and the bridge that runs an advisor Task through mteb's own evaluators.

Light at import time: mteb and the HF ``datasets`` library are imported inside the functions that need them."""

from __future__ import annotations

from advisor.datasets.tasks import TaskSource


def task_sources() -> list[TaskSource]:
    """Every built-in task source, in detection order (the most specific layouts first)."""
    from advisor.datasets.beir import BeirSource, UnlabeledSource
    from advisor.datasets.documents import DocumentsSource
    from advisor.datasets.hf import HubDatasetSource, SavedDatasetSource
    from advisor.datasets.mteb_hub import MtebSource
    from advisor.datasets.pairs import PairsSource
    from advisor.datasets.tabular import ClassificationSource, PairClassificationSource, STSSource

    from advisor.datasets.clustering import ClusteringSource
    from advisor.datasets.deduplication import DeduplicationSource
    from advisor.datasets.reranking import RerankingSource

    # a save_to_disk folder holds .arrow tables: it is claimed before any source that reads a folder's tables;
    # a corpus of documents is whatever table or text folder no other source claims
    return [MtebSource(), HubDatasetSource(), SavedDatasetSource(), RerankingSource(), BeirSource(),
            UnlabeledSource(), PairsSource(), STSSource(), PairClassificationSource(), ClassificationSource(),
            ClusteringSource(), DeduplicationSource(), DocumentsSource()]
