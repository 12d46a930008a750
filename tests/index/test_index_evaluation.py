"""Served indexes on a real retrieval task: data/rt-reviews-plots embedded by the real all-MiniLM-L6-v2. Recall of
every index is checked against faiss IndexFlatIP (an exact search computed independently of the advisor), the
exact index's nDCG@10 against the quality cell's, and the pgvector cells come from a real PostgreSQL that the test
starts and stops."""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

from advisor.errors import UserError
from advisor.index import index_types, make_index
from advisor.index.evaluation import evaluate_index, evaluate_indexes, recall_against
from advisor.quality.vectors import derive

needs = {name: pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} is not installed")
         for name in ("faiss", "usearch", "pgserver", "psycopg")}


@pytest.fixture(scope="module")
def task(repo):
    from advisor.datasets.tasks import load_task

    return load_task(repo / "data" / "rt-reviews-plots")


@pytest.fixture(scope="module")
def embeddings(task):
    """Real MiniLM embeddings of the task, encoded once for the module."""
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model
    from advisor.quality.evaluation import encode_task

    encoder = load_encoder(resolve_model("all-MiniLM-L6-v2"))
    try:
        return encode_task(encoder, task, batch_size=64)[0]
    finally:
        encoder.close()


def flat_ip_top(embeddings, task, k):
    """Independent reference: faiss IndexFlatIP over the unit float32 vectors, ids = corpus rows."""
    import faiss

    vecs = derive(embeddings, None, "float32")
    flat = faiss.IndexFlatIP(vecs["corpus"].dim)
    flat.add(vecs["corpus"].data)
    return flat.search(vecs["queries"].data, k)[1]


def test_every_built_in_index_declares_what_it_holds():
    types = index_types()
    assert {"exact", "faiss-hnsw", "faiss-ivfpq", "faiss-binary", "usearch-hnsw", "pgvector-hnsw",
            "pgvector-ivfflat"} <= set(types)
    assert types["exact"].capabilities()["exact"] and "binary" in types["usearch-hnsw"].precisions
    assert types["faiss-binary"].metrics == ("hamming",)


def test_an_index_refuses_a_precision_it_cannot_hold_in_one_line():
    with pytest.raises(UserError, match="does not hold int8"):
        make_index("faiss-hnsw", "int8")
    with pytest.raises(UserError, match="no setting"):
        make_index("exact", "float32", M=4)


def test_the_exact_index_gives_the_quality_cells_ndcg(task, embeddings):
    from advisor.models.variants import Variant
    from advisor.quality.evaluation import evaluate_embeddings

    result = evaluate_index(task, embeddings, index="exact", latency_queries=20)
    quality = evaluate_embeddings(task, embeddings, Variant(), resamples=100)
    assert result.metrics["ndcg_at_10"] == pytest.approx(quality.metrics["ndcg_at_10"], abs=1e-12)
    assert result.metrics["recall_at_10"] == 1.0 and result.metrics["recall_at_100"] == 1.0


@needs["faiss"]
@needs["usearch"]
@pytest.mark.parametrize("entry", [{"name": "faiss-hnsw", "M": 16, "ef_search": 64},
                                   {"name": "usearch-hnsw", "M": 16, "ef_search": 64}])
def test_hnsw_recall_matches_an_independent_exact_search(task, embeddings, entry):
    reference = flat_ip_top(embeddings, task, 10)
    vecs = derive(embeddings, None, "float32")
    settings = {k: v for k, v in entry.items() if k != "name"}
    index = make_index(entry["name"], "float32", **settings)
    index.build(vecs["corpus"], np.arange(len(vecs["corpus"])))
    ids, _ = index.search(vecs["queries"], 10)
    independent = recall_against(ids, reference, 10).mean()
    result = evaluate_index(task, embeddings, index=entry["name"], settings=settings, latency_queries=20)
    assert independent >= 0.95
    assert result.metrics["recall_at_10"] == pytest.approx(independent, abs=0.02)  # ties in the reference only
    assert result.metrics["search_p95_ms"] >= result.metrics["search_p50_ms"] > 0
    assert result.metrics["qps"] > 0 and result.info["qps_threads"] == 4


@needs["faiss"]
@needs["usearch"]
def test_indexes_over_packed_bits_find_the_hamming_neighbours(task, embeddings):
    grid = [{"name": "faiss-binary"}, {"name": "usearch-hnsw"}]
    flat, hnsw = evaluate_indexes(task, embeddings, grid, precision="binary", latency_queries=20)
    assert flat.metrics["recall_at_10"] == 1.0  # IndexBinaryFlat is exact
    assert hnsw.metrics["recall_at_10"] >= 0.9
    assert flat.metrics["memory_bytes"] < 20_000  # 156 documents x 48 bytes, plus ids


@needs["faiss"]
def test_inserts_are_measured_against_a_rebuild(task, embeddings):
    result = evaluate_index(task, embeddings, index="faiss-hnsw", latency_queries=10)
    m = result.metrics
    assert m["inserted_docs"] == 16 and m["insert_docs_per_s"] > 0
    assert m["recall_at_10_after_inserts"] >= 0.95 and m["build_s"] > 0


@needs["pgserver"]
@needs["psycopg"]
def test_pgvector_cells_come_from_a_real_server_that_is_stopped_after(task, embeddings, tmp_path):
    import psutil

    import advisor.builtin.pgvector

    grid = [{"name": "pgvector-hnsw", "M": 16, "ef_search": 40, "pgdata": str(tmp_path / "pg")},
            {"name": "pgvector-ivfflat", "lists": 4, "probes": 2, "pgdata": str(tmp_path / "pg")}]
    try:
        hnsw, ivf = evaluate_indexes(task, embeddings, grid, latency_queries=20, k_values=(10,))
        server = advisor.builtin.pgvector.private_server(str(tmp_path / "pg"))
        pid = server.get_pid()
    finally:
        pids = advisor.builtin.pgvector.stop_servers()
    assert hnsw.info["index"]["extension"]["version"] and "hnsw" in hnsw.info["index"]["extension"]["index_types"]
    assert hnsw.metrics["recall_at_10"] >= 0.95 and ivf.metrics["recall_at_10"] >= 0.5
    assert hnsw.metrics["disk_bytes"] > 0
    assert pid in pids
    deadline = time.time() + 10
    while psutil.pid_exists(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(pid)
    left = [p for p in psutil.process_iter(["name", "cmdline"]) if "postgres" in (p.info["name"] or "")
            and str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert not left


needs_bm25 = pytest.mark.skipif(importlib.util.find_spec("bm25s") is None, reason="bm25s is not installed")


@needs_bm25
def test_bm25_ranks_as_the_lucene_formula_computed_by_hand(task):
    import bm25s

    from advisor.index.bm25 import bm25_search

    rows, scores, _ = bm25_search(task, k=10)
    docs = bm25s.tokenize(list(task.data.corpus.values()), stopwords="en", return_ids=False, show_progress=False)
    query = bm25s.tokenize([next(iter(task.data.queries.values()))], stopwords="en", return_ids=False,
                           show_progress=False)[0]
    n, avgdl, k1, b = len(docs), np.mean([len(d) for d in docs]), 1.5, 0.75
    by_hand = np.zeros(n)
    for term in set(query):
        df = sum(term in d for d in docs)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(term)
            # Lucene's BM25 leaves out the constant (k1 + 1) of the numerator
            by_hand[i] += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl)) if tf else 0.0
    assert scores[0] == pytest.approx(np.sort(by_hand)[::-1][:10], rel=1e-4)
    assert by_hand[rows[0, 0]] == pytest.approx(by_hand.max(), rel=1e-6)


@needs_bm25
def test_the_dense_model_is_compared_with_bm25_on_the_same_queries(task, embeddings):
    from advisor.index.bm25 import bm25_quality, compare_with_bm25
    from advisor.models.variants import Variant
    from advisor.quality.evaluation import evaluate_embeddings

    bm25 = bm25_quality(task, resamples=200)
    dense = evaluate_embeddings(task, embeddings, Variant(), resamples=200)
    verdict = compare_with_bm25(dense, bm25, resamples=500)
    assert 0 < bm25.metrics["ndcg_at_10"] < 1 and len(bm25.per_item) == len(dense.per_item)
    assert verdict.a == pytest.approx(dense.metrics["ndcg_at_10"]) and verdict.b == pytest.approx(
        bm25.metrics["ndcg_at_10"])
    assert verdict.ci_low <= verdict.difference <= verdict.ci_high


@needs["pgserver"]
@needs["psycopg"]
def test_pgvector_uses_a_users_own_database_through_a_connection_string(task, embeddings, tmp_path):
    import pgserver

    server = pgserver.get_server(str(tmp_path / "own"), cleanup_mode="stop")  # "the user's" PostgreSQL
    try:
        result = evaluate_index(task, embeddings, index="pgvector-ivfflat", latency_queries=5, k_values=(10,),
                                settings={"dsn": server.get_uri(), "lists": 2, "probes": 2})
        tables = server.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'advisor_idx_%';")
    finally:
        server.cleanup()
    assert result.info["index"]["server"] == "user dsn" and result.metrics["recall_at_10"] >= 0.9
    assert " 0\n" in tables  # every index table dropped on close
