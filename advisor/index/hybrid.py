"""Hybrid retrieval: BM25 and a dense variant fused by reciprocal rank fusion (Cormack et al., 2009), as a served
hybrid search does it. Each list contributes ``1 / (k + rank)`` (rank from 1) for every document it returns in its
top ``depth``; BM25 returns only documents sharing a term with the query (score > 0). ``k = 60`` by default, the
constant of the paper and of Elasticsearch and OpenSearch. The fused ranking goes through the same trec_eval rules
(``advisor.quality.metrics``) as every quality cell, and its per-query nDCG@10 feeds the same paired bootstrap.

The dense half is exact search on the (dim, vector precision) vectors the quality cell scores; the cost of a
hybrid query is query encode + dense search + BM25 search + fusion, measured one query at a time."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from advisor.config.task_types import TASK_TYPES
from advisor.quality import bootstrap as boot
from advisor.quality.evaluation import QualityResult
from advisor.quality.metrics import K_VALUES, retrieval_metrics
from advisor.quality.search import search
from advisor.quality.vectors import VectorSet

RRF_K = 60
DEPTH = 100
LATENCY_QUERIES = 200


def rrf_k_of(options: str) -> int | None:
    """The RRF constant of a hybrid cell's ``options`` (``...,hybrid=bm25+rrf;k=60``), None for other cells."""
    for part in options.split(","):
        if part.startswith("hybrid="):
            return int(part.rsplit("k=", 1)[1])
    return None


def rrf(rankings: Sequence[Sequence[Sequence[int]]], *, k: int = RRF_K) -> list[list[tuple[int, float]]]:
    """Per query, the fused (row, score) pairs of several rankings (each: per query, rows best first), highest
    fused score first; a row missing from a list gets nothing from it."""
    out = []
    for lists in zip(*rankings):
        fused: dict[int, float] = {}
        for rows in lists:
            for rank, row in enumerate(rows, start=1):
                fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (k + rank)
        out.append(sorted(fused.items(), key=lambda rs: -rs[1]))
    return out


def dense_rows(task: Any, vecs: dict[str, VectorSet], depth: int = DEPTH) -> np.ndarray:
    """Exact dense top-``depth`` corpus rows per query, ties broken as the quality cell breaks them."""
    doc_ids = list(task.data.corpus)
    order = np.argsort(np.array(doc_ids, dtype=object))[::-1].astype(np.int64)
    res = search(vecs["queries"], vecs["corpus"].take(order), min(depth, len(doc_ids)))
    return order[res.indices]


def bm25_rows(rows: np.ndarray, scores: np.ndarray) -> list[list[int]]:
    """BM25's ranked rows per query, keeping only documents it actually matched (score > 0)."""
    return [[int(r) for r, s in zip(rr, ss) if s > 0] for rr, ss in zip(rows, scores)]


def hybrid_quality(task: Any, dense: np.ndarray, lexical: list[list[int]], *, rrf_k: int = RRF_K,
                   k_values: Sequence[int] = K_VALUES, resamples: int = boot.DEFAULT_RESAMPLES,
                   seed: int = boot.DEFAULT_SEED) -> QualityResult:
    """The fused ranking's retrieval figures on ``task`` (main: nDCG@10), shaped like a quality cell's."""
    fused = rrf([[list(r) for r in dense], lexical], k=rrf_k)
    doc_ids = list(task.data.corpus) + ["\x00missing"]  # padding row: never relevant, scored below every hit
    width = max(len(f) for f in fused)
    rows = np.full((len(fused), width), len(doc_ids) - 1, dtype=np.int64)
    scores = np.zeros((len(fused), width), dtype=np.float64)
    for i, f in enumerate(fused):
        rows[i, :len(f)] = [r for r, _ in f]
        scores[i, :len(f)] = [s for _, s in f]
    query_ids = list(task.data.queries)
    metrics, per_query, evaluated = retrieval_metrics(rows, scores, query_ids, doc_ids, task.data.qrels, k_values)
    cis = boot.many_mean_ci(per_query, resamples=resamples, seed=seed)
    details = {"task_type": "retrieval",
               "hybrid": {"fusion": "reciprocal rank fusion", "rrf_k": rrf_k, "depth": int(dense.shape[1]),
                          "lists": ["dense exact search", "bm25 (score > 0)"]},
               "n_queries": len(evaluated), "query_ids": evaluated,
               "bootstrap": {"statistic": "mean", "resamples": resamples, "seed": seed, "level": boot.DEFAULT_LEVEL},
               "ci": {name: [round(lo, 6), round(hi, 6)] for name, (lo, hi) in cis.items()}}
    main = TASK_TYPES["retrieval"].main_metric
    return QualityResult(metrics=metrics, main_metric=main, per_item=[float(v) for v in per_query[main]],
                         details=details)


def hybrid_latency_ms(task: Any, vecs: dict[str, VectorSet], *, rrf_k: int = RRF_K, depth: int = DEPTH,
                      n: int = LATENCY_QUERIES) -> dict[str, float]:
    """Batch-1 search of a hybrid query (dense exact search + BM25 + fusion, the query already encoded), p50/p95
    over up to ``n`` queries after a warm-up; BM25's index is built once beforehand."""
    from advisor.index.bm25 import DEFAULTS, _index, _query

    texts = list(task.data.queries.values())
    retriever = _index(list(task.data.corpus.values()), DEFAULTS)
    corpus = vecs["corpus"]
    depth = min(depth, len(corpus))

    def one(i: int) -> None:
        res = search(vecs["queries"].take(slice(i, i + 1)), corpus, depth)
        rows, scores = _query(retriever, texts[i], depth, DEFAULTS["stopwords"])
        rrf([[res.indices[0]], [[r for r, s in zip(rows, scores) if s > 0]]], k=rrf_k)

    one(0)
    seconds = []
    for i in range(min(n, len(texts))):
        t = time.perf_counter()
        one(i)
        seconds.append(time.perf_counter() - t)
    ms = np.array(seconds) * 1000.0
    return {"hybrid_search_p50_ms": float(np.percentile(ms, 50)), "hybrid_search_p95_ms": float(np.percentile(ms, 95)),
            "hybrid_search_samples": float(len(ms))}
