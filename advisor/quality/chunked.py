"""Retrieval quality of a chunked corpus: every chunk scored against every query with the variant's vectors, a
document's score the max or mean of its chunks' scores, then the same metrics (and per-query values for the paired
bootstrap) as an unchunked retrieval cell, so "truncate or chunk?" is one paired comparison."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.config.task_types import TASK_TYPES
from advisor.quality import bootstrap as boot
from advisor.quality.evaluation import QualityResult, _search_device
from advisor.quality.metrics import K_VALUES, retrieval_metrics
from advisor.quality.search import search
from advisor.quality.vectors import derive
from advisor.models.variants import Chunking, Variant, bytes_per_vector

if TYPE_CHECKING:
    from advisor.datasets.chunking import ChunkedCorpus
    from advisor.datasets.tasks import Task


def document_scores(chunk_scores: np.ndarray, chunked: "ChunkedCorpus", aggregate: str) -> np.ndarray:
    """(n_queries, n_documents) from (n_queries, n_distinct_chunks): each document's chunks reduced by max or
    mean (a chunk text repeated inside one document counts each time it occurs)."""
    docs = np.array([d for d, _ in chunked.occurrences], dtype=np.int64)
    rows = np.array([t for _, t in chunked.occurrences], dtype=np.int64)
    per_occurrence = chunk_scores[:, rows]
    n_docs = len(chunked.doc_ids)
    starts = np.searchsorted(docs, np.arange(n_docs))  # occurrences are in document order
    if aggregate == "max":
        return np.maximum.reduceat(per_occurrence, starts, axis=1)
    if aggregate == "mean":
        counts = np.bincount(docs, minlength=n_docs).astype(np.float64)
        return np.add.reduceat(per_occurrence, starts, axis=1) / counts
    raise ValueError(f"unknown aggregate {aggregate!r}")


def evaluate_chunked(task: "Task", query_embeddings: np.ndarray, chunk_embeddings: np.ndarray,
                     chunked: "ChunkedCorpus", variant: Variant, *, k_values: tuple[int, ...] = K_VALUES,
                     resamples: int = boot.DEFAULT_RESAMPLES, seed: int = boot.DEFAULT_SEED) -> QualityResult:
    """Score one (dim, vector precision, chunking) variant of a retrieval task from full-size float32 embeddings
    of its queries and of its distinct chunk texts (``chunked.texts`` order)."""
    t0 = time.perf_counter()
    chunking = Chunking.parse(variant.chunking)
    data = task.data
    if tuple(data.corpus) != chunked.doc_ids:
        raise ValueError("the chunks were cut from another corpus")
    vecs = derive({"queries": query_embeddings, "corpus": chunk_embeddings}, variant.dim, variant.vector_precision,
                  calibrate_on="corpus")
    dim = vecs["queries"].dim
    n_chunks = len(chunked.texts)
    res = search(vecs["queries"], vecs["corpus"], n_chunks, device=_search_device(variant))
    scores = np.full((len(data.queries), n_chunks), -np.inf, dtype=np.float64)
    np.put_along_axis(scores, res.indices.astype(np.int64), res.scores.astype(np.float64), axis=1)
    doc_scores = document_scores(scores, chunked, chunking.aggregate)
    depth = min(max(k_values), doc_scores.shape[1])
    top = np.argsort(-doc_scores, axis=1, kind="stable")[:, :depth]
    metrics, per_query, evaluated = retrieval_metrics(top, np.take_along_axis(doc_scores, top, axis=1),
                                                      list(data.queries), list(chunked.doc_ids), data.qrels,
                                                      k_values)
    units = boot.items(len(evaluated), TASK_TYPES["retrieval"].unit)  # the query, as in an unchunked cell
    cis = boot.many_mean_ci(per_query, resamples=resamples, seed=seed, units=units)
    summary = chunked.summary()
    details: dict[str, Any] = {
        "variant": variant.to_dict(), "dim": dim, "task_type": "retrieval",
        "bytes_per_vector": bytes_per_vector(dim, variant.vector_precision),
        "bytes_per_document": round(bytes_per_vector(dim, variant.vector_precision) * summary["vectors_per_document"],
                                    3),
        "chunking": {**summary, "aggregate": chunking.aggregate, "requested_tokens": chunking.tokens},
        "bootstrap": {"statistic": "mean", "resamples": resamples, "seed": seed, "level": boot.DEFAULT_LEVEL,
                      **units.summary()},
        "ci": {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in cis.items()} if resamples > 0 else {},
        "n_queries": len(evaluated), "query_ids": evaluated,
        "timing": {"total_s": round(time.perf_counter() - t0, 4)},
    }
    main = TASK_TYPES["retrieval"].main_metric
    return QualityResult(metrics=metrics, main_metric=main, per_item=[float(v) for v in per_query[main]],
                         details=details)
