"""BM25 (the bm25s package) as the baseline a dense model has to beat: nDCG@10 of BM25 on a retrieval task,
computed with the same trec_eval rules as the quality cells, and the paired bootstrap of a dense result against it
(the same queries in the same order, so the per-query figures pair up)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from advisor.quality import bootstrap as boot
from advisor.quality.evaluation import QualityResult
from advisor.quality.metrics import K_VALUES, retrieval_metrics

DEFAULTS = {"k1": 1.5, "b": 0.75, "method": "lucene", "stopwords": "en"}


def bm25_search(task: Any, k: int = 100, **settings: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """BM25 top-``k`` corpus rows and scores per query (rows in ``task.data.corpus`` order)."""
    import bm25s

    s = {**DEFAULTS, **settings}
    docs, queries = list(task.data.corpus.values()), list(task.data.queries.values())
    retriever = bm25s.BM25(k1=s["k1"], b=s["b"], method=s["method"])
    retriever.index(bm25s.tokenize(docs, stopwords=s["stopwords"], show_progress=False), show_progress=False)
    k = min(k, len(docs))
    tokens = bm25s.tokenize(queries, stopwords=s["stopwords"], return_ids=False, show_progress=False)
    tokens = [t if t else [""] for t in tokens]  # a query of stop words only still gets a (zero-score) ranking
    rows, scores = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    return (np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float32),
            {"library": "bm25s", "version": bm25s.__version__, "settings": s})


def bm25_quality(task: Any, *, k_values: Sequence[int] = K_VALUES, resamples: int = boot.DEFAULT_RESAMPLES,
                 seed: int = boot.DEFAULT_SEED, **settings: Any) -> QualityResult:
    """BM25's retrieval figures on ``task``, shaped like a dense model's quality result (main: nDCG@10)."""
    rows, scores, info = bm25_search(task, max(k_values), **settings)
    query_ids, doc_ids = list(task.data.queries), list(task.data.corpus)
    metrics, per_query, evaluated = retrieval_metrics(rows, scores, query_ids, doc_ids, task.data.qrels, k_values)
    cis = boot.many_mean_ci(per_query, resamples=resamples, seed=seed)
    details = {"bm25": info, "n_queries": len(evaluated), "query_ids": evaluated,
               "ci": {name: list(ci) for name, ci in cis.items()}}
    return QualityResult(metrics=metrics, main_metric="ndcg_at_10", per_item=[float(v) for v in
                                                                            per_query["ndcg_at_10"]], details=details)


def compare_with_bm25(dense: QualityResult, bm25: QualityResult, *, resamples: int = boot.DEFAULT_RESAMPLES,
                      seed: int = boot.DEFAULT_SEED) -> boot.Comparison:
    """Is the dense model better than BM25 on this data? The paired bootstrap of dense minus BM25 nDCG@10."""
    if dense.details.get("query_ids") != bm25.details.get("query_ids"):
        raise ValueError("the dense and BM25 results do not cover the same queries")
    return boot.compare(dense, bm25, resamples=resamples, seed=seed)
