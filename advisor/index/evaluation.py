"""How much a served index keeps of exact search, and what it costs: for one retrieval task at one (dim, vector
precision), build an index setting and measure recall@k against exact search on the same stored vectors, nDCG@10
through the index (next to exact nDCG@10), batch-1 search latency, build time, insert throughput and recall after
inserts (build on 90%, add 10%) against a rebuild, memory and disk.

The corpus is indexed in document-id-descending order with each document's row as its id, exactly as
``advisor.quality.evaluation`` searches it: exact search breaks ties by the lower row, so the exact index's
ranking, and so its nDCG, is the quality cell's.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from advisor.index import make_index
from advisor.quality.metrics import retrieval_metrics
from advisor.quality.search import search
from advisor.quality.vectors import VectorSet, derive

DEFAULT_K_VALUES = (10, 100)
LATENCY_QUERIES = 200
INSERT_FRACTION = 0.1
QPS_THREADS = 4


@dataclass
class IndexEvaluation:
    index: str
    settings: dict[str, Any]
    dim: int
    precision: str
    metrics: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recall_against(found: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Per query: the share of the reference top-``k`` ids that the index returned in its top ``k``."""
    k = min(k, reference.shape[1])
    return np.array([len(set(f[:k].tolist()) & set(r[:k].tolist())) / k for f, r in zip(found, reference)])


def _ndcg(ids: np.ndarray, scores: np.ndarray, task: Any, k_values: Sequence[int]) -> float:
    doc_ids = list(task.data.corpus) + ["\x00missing"]  # an index that found fewer than k: never relevant
    ids = np.where(ids < 0, len(doc_ids) - 1, ids)
    means, _, _ = retrieval_metrics(ids, scores, list(task.data.queries), doc_ids, task.data.qrels,
                                    tuple(sorted(set(k_values) | {10})))
    return means["ndcg_at_10"]


def _percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.array(seconds) * 1000.0, q)) if seconds else float("nan")


def _latency(index: Any, queries: VectorSet, n: int) -> list[float]:
    index.search(queries.take(slice(0, 1)), 10)  # warm up
    out = []
    for i in range(min(n, len(queries))):
        q = queries.take(slice(i, i + 1))
        t = time.perf_counter()
        index.search(q, 10)
        out.append(time.perf_counter() - t)
    return out


def _qps(index: Any, queries: VectorSet, n: int, threads: int) -> float:
    """Queries per second with ``threads`` clients each sending batch-1 searches (the libraries release the GIL;
    an index on one database connection serializes them, which is what it would do when served that way)."""
    from concurrent.futures import ThreadPoolExecutor

    rows = [queries.take(slice(i, i + 1)) for i in range(min(n, len(queries)))]
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda q: index.search(q, 10), rows))
    return len(rows) / (time.perf_counter() - t)


def evaluate_index(task: Any, embeddings: dict[str, np.ndarray], *, index: str, settings: dict[str, Any] | None = None,
                   dim: int | None = None, precision: str = "float32", k_values: Sequence[int] = DEFAULT_K_VALUES,
                   latency_queries: int = LATENCY_QUERIES, insert_fraction: float = INSERT_FRACTION,
                   seed: int = 0, vectors: dict[str, VectorSet] | None = None,
                   threads: int = QPS_THREADS) -> IndexEvaluation:
    """One index setting on one retrieval task's embeddings (full size, from ``encode_task``), derived to
    (``dim``, ``precision``) as the quality cell derives them (``vectors`` skips that when already derived)."""
    settings = dict(settings or {})
    vecs = vectors or derive(embeddings, dim, precision, calibrate_on="corpus")
    queries, corpus = vecs["queries"], vecs["corpus"]
    doc_ids = list(task.data.corpus)
    order = np.argsort(np.array(doc_ids, dtype=object))[::-1].astype(np.int64)
    sorted_corpus = corpus.take(order)
    kmax = min(max(k_values), len(corpus))
    exact = search(queries, sorted_corpus, kmax)
    ref_ids, ref_scores = order[exact.indices], exact.scores

    built = make_index(index, corpus.precision, **settings)
    try:
        t = time.perf_counter()
        built.build(sorted_corpus, order)
        build_s = time.perf_counter() - t
        ids, scores = built.search(queries, kmax)
        metrics: dict[str, float] = {f"recall_at_{k}": float(recall_against(ids, ref_ids, k).mean())
                                     for k in k_values}
        metrics["ndcg_at_10"] = _ndcg(ids, scores, task, k_values)
        metrics["exact_ndcg_at_10"] = _ndcg(ref_ids, ref_scores, task, k_values)
        lat = _latency(built, queries, latency_queries)
        metrics.update(search_p50_ms=_percentile_ms(lat, 50), search_p95_ms=_percentile_ms(lat, 95),
                       build_s=build_s, memory_bytes=float(built.memory_bytes()), disk_bytes=float(built.disk_bytes()),
                       n_docs=float(len(corpus)), n_queries=float(len(queries)))
        metrics["qps"] = _qps(built, queries, latency_queries, threads)
        info = {"index": built.info(), "latency_queries": len(lat), "k": kmax, "qps_threads": threads}
    finally:
        built.close()
    metrics.update(_inserts(task, queries, sorted_corpus, order, ref_ids, index, settings, insert_fraction, seed))
    info["inserts"] = {"fraction": insert_fraction, "seed": seed,
                       "compared_with": "the same setting built from scratch on the whole corpus"}
    return IndexEvaluation(index=index, settings=settings, dim=corpus.dim, precision=corpus.precision,
                           metrics=metrics, info=info)


def _inserts(task: Any, queries: VectorSet, sorted_corpus: VectorSet, order: np.ndarray, ref_ids: np.ndarray,
             index: str, settings: dict[str, Any], fraction: float, seed: int) -> dict[str, float]:
    """Build on (1 - fraction) of the corpus, add the rest, and measure docs/s and recall@10 after the inserts."""
    n = len(sorted_corpus)
    n_new = max(1, int(round(n * fraction)))
    chosen = np.random.default_rng(seed).permutation(n)
    base, new = np.sort(chosen[n_new:]), np.sort(chosen[:n_new])
    grown = make_index(index, sorted_corpus.precision, **settings)
    try:
        grown.build(sorted_corpus.take(base), order[base])
        t = time.perf_counter()
        grown.add(sorted_corpus.take(new), order[new])
        add_s = time.perf_counter() - t
        ids, _ = grown.search(queries, min(10, n))
    finally:
        grown.close()
    return {"insert_docs_per_s": n_new / add_s if add_s > 0 else float("inf"),
            "recall_at_10_after_inserts": float(recall_against(ids, ref_ids, 10).mean()),
            "inserted_docs": float(n_new)}


def evaluate_indexes(task: Any, embeddings: dict[str, np.ndarray], grid: Sequence[dict[str, Any]], *,
                     dim: int | None = None, precision: str = "float32", **kwargs: Any) -> list[IndexEvaluation]:
    """Every ``{name: ..., <setting>: ...}`` entry of ``grid`` on the same derived vectors."""
    vecs = derive(embeddings, dim, precision, calibrate_on="corpus")
    out = []
    for entry in grid:
        entry = dict(entry)
        name = entry.pop("name")
        out.append(evaluate_index(task, embeddings, index=name, settings=entry, vectors=vecs, **kwargs))
    return out
