"""Index cells in a sweep: the policy's ``variants.indexes`` plans one index cell per (retrieval variant x index
setting), the worker measures them on the embeddings the quality cells used, and the store keeps them like any
cell (fingerprinted, resumed). Real all-MiniLM-L6-v2 (the ranking's test: the static wordllama-l2-supercat-256) on
data/rt-reviews-plots; exact, faiss HNSW, usearch and
pgvector (a real PostgreSQL that the sweep's worker starts and that stops with it)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError
from advisor.models.resolve import resolve_model
from advisor.policy.spec import load_policy
from advisor.sweep.driver import run_plan
from advisor.sweep.planner import build_plan
from advisor.sweep.store import ResultStore

POLICY = """\
name: index-sweep
baselines: []  # the model's index cells only (BM25, the default on retrieval, is tested in test_index_bm25_hybrid)
variants:
  vector_precisions: [float32, int8]
  indexes:
    - {name: exact}
    - {name: faiss-hnsw, M: 16, ef_search: 64}
    - {name: usearch-hnsw, M: 16}
    - {name: pgvector-hnsw, ef_search: 40, pgdata: PGDATA}
"""


def test_an_unknown_index_in_a_policy_is_refused_when_planned(tmp_path, repo):
    from advisor.errors import UserError

    path = tmp_path / "p.yaml"
    path.write_text("name: x\nvariants:\n  indexes:\n    - {name: annoy}\n")
    task = load_task(repo / "data" / "rt-reviews-plots")
    with pytest.raises(UserError, match="unknown index 'annoy'"):
        build_plan([resolve_model("all-MiniLM-L6-v2")], load_policy(path), [task], measure_cost=False)


def test_a_policy_index_without_a_name_is_a_one_line_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nvariants:\n  indexes:\n    - {M: 16}\n")
    with pytest.raises(ConfigError, match=r"indexes\[0\]: 'name' is required"):
        load_policy(path)


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("faiss", "usearch", "pgserver", "psycopg")),
                    reason="faiss, usearch, pgserver or psycopg is not installed (pip install -e '.[indexes]')")
def test_index_cells_are_stored_next_to_quality_cells_and_resume(tmp_path, repo):
    import psutil

    path = tmp_path / "p.yaml"
    path.write_text(POLICY.replace("PGDATA", str(tmp_path / "pg")))
    policy = load_policy(path)
    task = load_task(repo / "data" / "rt-reviews-plots")
    plan = build_plan([resolve_model("all-MiniLM-L6-v2")], policy, [task], measure_cost=False)
    kinds = sorted(c.key.kind for c in plan.cells)
    assert kinds == ["index"] * 6 + ["quality"] * 2  # int8: exact and usearch only (faiss, pgvector hold none)
    store = ResultStore(tmp_path / "r.sqlite")
    summary = run_plan(plan, store, executor="local")
    assert summary.status == "finished" and summary.failed == 0
    cells = {json.loads(c.key.options)["index"] if c.key.kind == "index" else "quality": c for c in store.results()
             if c.key.vector_precision == "float32"}
    assert cells["exact"].metrics["ndcg_at_10"] == pytest.approx(cells["quality"].metrics["ndcg_at_10"], abs=1e-12)
    assert cells["faiss-hnsw"].metrics["recall_at_10"] >= 0.95
    hnsw = cells["faiss-hnsw"].metrics
    assert hnsw["end_to_end_p95_ms"] == pytest.approx(hnsw["query_encode_p95_ms"] + hnsw["search_p95_ms"])
    assert json.loads(cells["faiss-hnsw"].key.options)["settings"] == {"M": 16, "ef_search": 64}
    assert cells["usearch-hnsw"].metrics["recall_at_10"] >= 0.95
    assert cells["pgvector-hnsw"].metrics["recall_at_10"] >= 0.95
    assert cells["pgvector-hnsw"].details["index"]["extension"]["version"]
    # the worker process started the private PostgreSQL; it stopped with the worker
    left = [p for p in psutil.process_iter(["name", "cmdline"]) if "postgres" in (p.info["name"] or "")
            and str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    _, alive = psutil.wait_procs(left, timeout=15)  # a stopping postmaster takes a moment on a busy machine
    assert not alive
    again = run_plan(plan, store, executor="local")
    assert again.computed == 0


@pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="faiss-cpu is not installed")
def test_the_recommendation_names_its_index_and_its_latency_includes_search(tmp_path, repo):
    from advisor.ranking import rank
    from advisor.reporting.content import headline

    path = tmp_path / "p.yaml"
    # the model behind its index, without BM25 (which would be ranked beside it by default)
    path.write_text("name: index-rank\nbaselines: []\nvariants:\n  indexes:\n    - {name: faiss-hnsw, M: 16, "
                    "ef_search: 64}\n")
    policy = load_policy(path)
    # a static model: the point is the ranking's index and end-to-end latency, which any model's cost cell (batch-1
    # latency) and index cell (search) give; a transformer's cost cell only took a minute longer on 2 cores
    entry = resolve_model("wordllama-l2-supercat-256")
    plan = build_plan([entry], policy, [load_task(repo / "data" / "rt-reviews-plots")])
    store = ResultStore(tmp_path / "r.sqlite")
    assert run_plan(plan, store, executor="local").failed == 0
    results = store.results()
    rec = rank(results, [entry], policy)
    best = rec.recommended
    assert best.index["name"] == "faiss-hnsw" and best.index["recall_at_10"] >= 0.95
    [cost] = [r for r in results if r.key.kind == "cost"]
    [index] = [r for r in results if r.key.kind == "index"]
    assert best.cost["query_encode_p95_ms"] == cost.metrics["latency_p95_ms"]
    assert best.cost["latency_p95_ms"] == pytest.approx(cost.metrics["latency_p95_ms"]
                                                        + index.metrics["search_p95_ms"])
    assert "behind a faiss-hnsw index (M=16, ef_search=64)" in headline(rec)
    assert "(encode + search)" in headline(rec)
