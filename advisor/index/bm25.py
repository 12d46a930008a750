"""BM25 (the bm25s package) as the baseline a dense model has to beat: nDCG@10 of BM25 on a retrieval task,
computed with the same trec_eval rules as the quality cells, and the paired bootstrap of a dense result against it
(the same queries in the same order, so the per-query figures pair up). ``bm25_entry`` is the catalog entry a
sweep plans BM25 under (by default on retrieval tasks; policy ``baselines: []`` turns it off), ``bm25_cost`` its
cost figures (indexing docs/s, batch-1 query latency, index memory and disk, and its serving footprint measured as a
model's is: a fresh process that builds the index of the corpus and answers queries, ``bm25_footprint``; run as
``python -P -m advisor.index.bm25`` that process is this module's probe)."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from advisor.config.task_types import TASK_TYPES
from advisor.cost.memory import (FOOTPRINT_METHOD, HOW, QUERIES, TOP_K, Footprint, FootprintSpec, Stages, probe_main,
                                 serving_footprint)
from advisor.figures import (DOCS_PER_S, INDEX_BUILD_S, INDEX_DISK_BYTES, INDEX_MEMORY_BYTES, LATENCY_P50_MS,
                             LATENCY_P95_MS, LATENCY_P99_MS, LATENCY_SAMPLES, N_DOCS)
from advisor.quality import bootstrap as boot
from advisor.quality.evaluation import QualityResult
from advisor.quality.metrics import K_VALUES, retrieval_metrics

DEFAULTS = {"k1": 1.5, "b": 0.75, "method": "lucene", "stopwords": "en"}
NAME = "bm25"               # the candidate's model name and backend in cells and reports
WEIGHTS = "none"            # its weight precision: BM25 has no model weights
VECTORS = "sparse"          # its vector precision: term-weight postings, not dense vectors
LATENCY_QUERIES = 200
INDEX_ROUNDS = 3
PROBE = "advisor.index.bm25"  # this module, run as BM25's serving process (``python -P -m advisor.index.bm25``)


def bm25_entry() -> Any:
    """BM25 as a catalog entry, so the metadata rules and the ranking treat it like any candidate: MIT (bm25s),
    English (its stop words and tokenizer), no weights, no remote code."""
    import bm25s

    from advisor.config.languages import normalize_language
    from advisor.models.catalog import ModelEntry

    return ModelEntry(name=NAME, source="builtin:bm25", backend=NAME, embed_dim=0, license="MIT",
                      languages=(normalize_language("en"),),
                      revision=f"bm25s-{bm25s.__version__}", weights_format="none", training_datasets=(),
                      notes="lexical baseline: bm25s, Lucene BM25 (k1 1.5, b 0.75), English stop words")


def _index(docs: list[str], s: dict[str, Any]) -> Any:
    import bm25s

    retriever = bm25s.BM25(k1=s["k1"], b=s["b"], method=s["method"])
    retriever.index(bm25s.tokenize(docs, stopwords=s["stopwords"], show_progress=False), show_progress=False)
    return retriever


def _query(retriever: Any, text: str, k: int, stopwords: str) -> tuple[np.ndarray, np.ndarray]:
    import bm25s

    tokens = bm25s.tokenize([text], stopwords=stopwords, return_ids=False, show_progress=False)
    tokens = [t if t else [""] for t in tokens]
    rows, scores = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    return rows[0], scores[0]


def memory_bytes(retriever: Any) -> int:
    """Bytes of a BM25 index in memory: its postings arrays plus the vocabulary as JSON text (counted term by term,
    without writing that text: in the serving footprint's process it would be a peak of its own)."""
    import json

    memory = sum(v.nbytes for v in retriever.scores.values() if isinstance(v, np.ndarray))
    vocab = retriever.vocab_dict
    # json.dumps({k: v, ...}): "{" + '"k": v' joined by ", " + "}" (ASCII: characters are bytes)
    text = sum(len(json.dumps(k)) + 2 + len(json.dumps(v)) for k, v in vocab.items()) + 2 * max(len(vocab) - 1, 0) + 2
    return int(memory + text)


def index_bytes(retriever: Any) -> tuple[int, int]:
    """(memory, disk) of a BM25 index: ``memory_bytes``; the files bm25s saves."""
    import tempfile
    from pathlib import Path

    memory = memory_bytes(retriever)
    with tempfile.TemporaryDirectory() as tmp:
        retriever.save(tmp, show_progress=False)
        disk = sum(f.stat().st_size for f in Path(tmp).iterdir() if f.is_file())
    return int(memory), int(disk)


def bm25_cost(task: Any, *, latency_queries: int = LATENCY_QUERIES, rounds: int = INDEX_ROUNDS,
              memory_probe: bool = True, **settings: Any) -> dict[str, Any]:
    """BM25's cost figures under the names dense cost cells use: ``docs_per_s`` is indexing (tokenize + index)
    throughput, the median of ``rounds`` builds; ``latency_*_ms`` one query at a time (tokenize + top-10) after a
    warm-up; the index in memory and on disk as bm25s saves it; and the serving footprint (``bm25_footprint``:
    ``serving_memory_mb`` and its parts, measured as a model's are)."""
    s = {**DEFAULTS, **settings}
    docs, queries = list(task.data.corpus.values()), list(task.data.queries.values())[:latency_queries]
    builds = []
    for _ in range(max(1, rounds)):
        t = time.perf_counter()
        retriever = _index(docs, s)
        builds.append(time.perf_counter() - t)
    build_s = float(np.median(builds))
    k = min(10, len(docs))
    _query(retriever, queries[0], k, s["stopwords"])  # warm-up
    seconds = []
    for text in queries:
        t = time.perf_counter()
        _query(retriever, text, k, s["stopwords"])
        seconds.append(time.perf_counter() - t)
    ms = np.array(seconds) * 1000.0
    memory, disk = index_bytes(retriever)
    out: dict[str, Any] = {
        DOCS_PER_S: len(docs) / build_s if build_s > 0 else float("inf"), INDEX_BUILD_S: build_s,
        LATENCY_P50_MS: float(np.percentile(ms, 50)), LATENCY_P95_MS: float(np.percentile(ms, 95)),
        LATENCY_P99_MS: float(np.percentile(ms, 99)), LATENCY_SAMPLES: float(len(ms)),
        INDEX_MEMORY_BYTES: float(memory), INDEX_DISK_BYTES: float(disk), N_DOCS: float(len(docs)),
        "bm25": {"settings": s, "build_rounds": len(builds), "latency_k": k}, "notes": []}
    if memory_probe:
        try:
            footprint = bm25_footprint(task, **settings)
        except RuntimeError as exc:
            out["notes"].append(f"serving memory not measured: {exc}")
            out["memory"] = {"method": FOOTPRINT_METHOD, "error": str(exc)}
        else:
            out.update(footprint.figures())
            out["memory"] = footprint.details()
            out["memory_method"] = HOW
    return out


def bm25_footprint(task: Any, **settings: Any) -> Footprint:
    """BM25's serving footprint, by ``advisor.cost.memory.serving_footprint`` as a model's: a fresh process imports
    bm25s (runtime), loads no model (weights 0), builds the index of the task's corpus from its documents and
    answers the first 32 queries (top 10 each)."""
    s = {**DEFAULTS, **settings}
    docs, queries = list(task.data.corpus.values()), list(task.data.queries.values())[:QUERIES]
    return serving_footprint(FootprintSpec(PROBE, queries, ["bm25s"], documents=docs, settings=s,
                                           vectors_source="none: BM25 builds its index from the documents"))


def _serve_bm25(spec: dict[str, Any], stages: Stages) -> dict[str, Any]:
    """BM25's serving process: no model to load; build the index from the documents, then answer the queries."""
    stages.mark("loaded")
    s = {**DEFAULTS, **spec.get("settings", {})}
    docs = spec.pop("documents")
    retriever = _index(docs, s)
    n = len(docs)
    del docs
    stages.mark("indexed")
    k = min(TOP_K, n)
    for text in spec.get("queries") or []:
        _query(retriever, text, k, s["stopwords"])
    stages.mark("answered")
    return {"index_bytes": memory_bytes(retriever), "index_docs": n}


def bm25_search(task: Any, k: int = 100, **settings: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """BM25 top-``k`` corpus rows and scores per query (rows in ``task.data.corpus`` order)."""
    import bm25s

    s = {**DEFAULTS, **settings}
    docs, queries = list(task.data.corpus.values()), list(task.data.queries.values())
    retriever = _index(docs, s)
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
    details = {"task_type": "retrieval", "bm25": info, "n_queries": len(evaluated), "query_ids": evaluated,
               "ci": {name: list(ci) for name, ci in cis.items()}}
    main = TASK_TYPES["retrieval"].main_metric
    return QualityResult(metrics=metrics, main_metric=main, per_item=[float(v) for v in per_query[main]],
                         details=details)


def compare_with_bm25(dense: QualityResult, bm25: QualityResult, *, resamples: int = boot.DEFAULT_RESAMPLES,
                      seed: int = boot.DEFAULT_SEED) -> boot.Comparison:
    """Is the dense model better than BM25 on this data? The paired bootstrap of dense minus BM25 nDCG@10."""
    if dense.details.get("query_ids") != bm25.details.get("query_ids"):
        raise ValueError("the dense and BM25 results do not cover the same queries")
    return boot.compare(dense, bm25, resamples=resamples, seed=seed)


if __name__ == "__main__":
    probe_main(_serve_bm25)
