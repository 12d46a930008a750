"""BM25 as a candidate, BM25 + dense hybrids and the report's "is this model better than BM25?" line: one real
sweep (all-MiniLM-L6-v2 on data/rt-reviews-plots, policy ``baselines: [bm25]``, the default said out loud, and
``variants.hybrid``), its figures checked against bm25s used directly, reciprocal rank fusion written out here,
pytrec_eval and ``advisor.quality.bootstrap``."""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("bm25s", "pytrec_eval", "faiss")),
                                reason="bm25s, pytrec_eval or faiss is not installed (pip install -e '.[indexes]')")

POLICY = """\
name: bm25-hybrid
baselines: [bm25]
variants:
  hybrid: {rrf_k: 60}
  indexes:
    - {name: exact}
    - {name: faiss-hnsw, M: 16, ef_search: 64}
costs: {machine_usd_per_hour: 0.5, corpus_documents: 2000000}
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory, repo):
    """The model's quality, index and hybrid cells (no cost cell: slow and not what is tested here) and BM25's
    quality and cost cells, in one store; ranked and reported."""
    from advisor.datasets.tasks import load_task
    from advisor.models.resolve import resolve_model
    from advisor.pipeline import Ranked, write_report
    from advisor.policy.spec import load_policy
    from advisor.ranking import rank
    from advisor.sweep.driver import run_plan
    from advisor.sweep.planner import build_plan
    from advisor.sweep.store import ResultStore

    tmp = tmp_path_factory.mktemp("bm25")
    (tmp / "p.yaml").write_text(POLICY)
    policy = load_policy(tmp / "p.yaml")
    entry = resolve_model("all-MiniLM-L6-v2")
    task = load_task(repo / "data" / "rt-reviews-plots")
    model_plan = build_plan([entry], policy, [task], measure_cost=False)
    bm25_plan = build_plan([], policy, [task])  # only the baseline group: its quality and cost cells
    store = ResultStore(tmp / "r.sqlite")
    for plan in (model_plan, bm25_plan):
        summary = run_plan(plan, store, executor="local")
        assert summary.status == "finished" and summary.failed == 0
    results = store.results()
    rec = rank(results, [entry], policy)
    paths = write_report(Ranked(rec, [entry], results), tmp / "report")
    return {"task": task, "store": store, "plans": (model_plan, bm25_plan), "rec": rec, "paths": paths,
            "cells": {(r.key.kind, r.key.model): r for r in results if r.key.kind != "index"}}


def _pytrec_ndcg(task, runs: dict[str, dict[str, float]]) -> dict[str, float]:
    import pytrec_eval

    qrels = {q: dict(d) for q, d in task.data.qrels.items()}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    return {q: v["ndcg_cut_10"] for q, v in evaluator.evaluate(runs).items()}


def _bm25_direct(task, k: int = 100) -> dict[str, list[tuple[str, float]]]:
    """bm25s as its README shows it, with the settings the docs state (Lucene, k1 1.5, b 0.75, English stop words)."""
    import bm25s

    doc_ids, texts = list(task.data.corpus), list(task.data.corpus.values())
    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    out = {}
    for qid, text in task.data.queries.items():
        tokens = bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)
        rows, scores = retriever.retrieve([tokens[0] or [""]], k=k, show_progress=False)
        out[qid] = [(doc_ids[r], float(s)) for r, s in zip(rows[0], scores[0])]
    return out


def test_the_bm25_cell_is_bm25s_scored_by_pytrec_eval(swept):
    task = swept["task"]
    per_query = _pytrec_ndcg(task, {q: dict(hits) for q, hits in _bm25_direct(task).items()})
    cell = swept["cells"][("quality", "bm25")]
    assert cell.metrics["ndcg_at_10"] == pytest.approx(np.mean(list(per_query.values())), abs=1e-9)
    assert cell.details["per_item"] == pytest.approx([per_query[q] for q in cell.details["query_ids"]], abs=1e-9)


def test_the_bm25_line_is_the_paired_bootstrap_of_the_model_against_bm25(swept):
    from advisor.quality import bootstrap as boot
    from advisor.ranking.baseline import bm25_lines

    task, rec = swept["task"], swept["rec"]
    dense = swept["cells"][("quality", "all-MiniLM-L6-v2")]
    bm25 = _pytrec_ndcg(task, {q: dict(hits) for q, hits in _bm25_direct(task).items()})
    independent = {"per_item": [bm25[q] for q in dense.details["query_ids"]], "main_metric": "ndcg_at_10"}
    expected = boot.compare(dense.details, independent)
    [line] = [x for x in bm25_lines(rec) if "+ bm25" not in x.candidate]
    assert line.difference == pytest.approx(dense.metrics["ndcg_at_10"] - np.mean(list(bm25.values())), abs=1e-9)
    assert (line.ci_low, line.ci_high) == pytest.approx((expected.ci_low, expected.ci_high), abs=1e-9)
    assert line.verdict == ("no significant difference" if not expected.different else
                            "better than BM25" if expected.difference > 0 else "worse than BM25")


def test_hybrid_ndcg_is_reciprocal_rank_fusion_of_dense_and_bm25(swept, minilm_dir):
    from sentence_transformers import SentenceTransformer

    task = swept["task"]
    model = SentenceTransformer(str(minilm_dir), device="cpu")
    doc_ids = list(task.data.corpus)
    docs = model.encode(list(task.data.corpus.values()), normalize_embeddings=True)
    queries = model.encode(list(task.data.queries.values()), normalize_embeddings=True)
    lexical = _bm25_direct(task)
    runs = {}
    for qid, q in zip(task.data.queries, queries):
        dense = [doc_ids[i] for i in np.argsort(-(docs @ q), kind="stable")[:100]]
        fused: dict[str, float] = defaultdict(float)
        for ranking in (dense, [d for d, s in lexical[qid] if s > 0]):
            for rank, doc in enumerate(ranking, start=1):
                fused[doc] += 1.0 / (60 + rank)
        runs[qid] = dict(fused)
    expected = np.mean(list(_pytrec_ndcg(task, runs).values()))
    cell = swept["cells"][("hybrid", "all-MiniLM-L6-v2")]
    assert cell.metrics["ndcg_at_10"] == pytest.approx(expected, abs=1e-6)
    assert cell.details["hybrid"]["rrf_k"] == 60
    m = cell.metrics  # a served hybrid query: encode, then both searches and the fusion
    assert m["end_to_end_p95_ms"] == pytest.approx(m["query_encode_p95_ms"] + m["hybrid_search_p95_ms"])


def test_rrf_adds_one_over_k_plus_rank_from_each_list():
    from advisor.index.hybrid import rrf

    [fused] = rrf([[[1, 2, 3]], [[3, 1]]], k=60)
    assert [row for row, _ in fused] == [1, 3, 2]
    assert dict(fused)[3] == pytest.approx(1 / 63 + 1 / 61)


def test_bm25_is_a_ranked_candidate_with_its_own_cost_figures(swept):
    rec = swept["rec"]
    [bm25] = [c for c in rec.candidates() if c.backend == "bm25"]
    cost = swept["cells"][("cost", "bm25")].metrics
    assert bm25.status in ("recommended", "pareto", "dominated") and bm25.position
    assert bm25.cost["latency_p95_ms"] == cost["latency_p95_ms"] and bm25.cost["docs_per_s"] == cost["docs_per_s"]
    assert cost["index_memory_bytes"] > 0 and cost["index_disk_bytes"] > 0
    assert bm25.label == "bm25 [cpu, lexical]"
    assert [c for c in rec.candidates() if c.hybrid == 60]


def test_the_report_answers_is_this_model_better_than_bm25_in_every_format(swept):
    paths = swept["paths"]
    md, html = paths["markdown"].read_text(), paths["html"].read_text()
    data = json.loads(paths["json"].read_text())
    for text in (md, html):
        assert "Is this model better than BM25 on your data?" in text
        assert "vs BM25" in text and "95% CI" in text
    assert {line["candidate"] for line in data["bm25"]} >= {"all-MiniLM-L6-v2 [cpu fp32, 384 dims, float32 vectors]"}
    assert all(line["verdict"] in ("better than BM25", "worse than BM25", "no significant difference")
               for line in data["bm25"])


def test_the_report_plots_recall_against_qps_per_index(swept):
    paths = swept["paths"]
    plot = paths["markdown"].parent / "plots" / "index-recall-qps.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "(plots/index-recall-qps.png)" in paths["markdown"].read_text()
    assert "Recall@10 vs QPS per index" in paths["html"].read_text()


def test_the_switching_cost_uses_the_policy_prices(swept):
    from advisor.reporting.retrieval import switching_section

    section = switching_section(swept["rec"])
    [line] = [x for x in section.lines if x.startswith("Switching to bm25")]
    docs_per_s = swept["cells"][("cost", "bm25")].metrics["docs_per_s"]
    hours = 2_000_000 / docs_per_s / 3600
    from advisor.formatting import figure, money

    assert f"{figure(hours, 'h')} in all, {money(hours * 0.5)}" in line
    assert "corpus_documents 2.0 M" in section.intro and "(the default)" not in section.intro


def test_a_resumed_sweep_does_not_recompute_bm25_or_the_hybrid(swept):
    from advisor.sweep.driver import run_plan

    for plan in swept["plans"]:
        assert run_plan(plan, swept["store"], executor="local").computed == 0


def test_an_unknown_baseline_or_hybrid_field_is_a_one_line_error(tmp_path):
    from advisor.errors import ConfigError
    from advisor.policy.spec import load_policy

    path = tmp_path / "p.yaml"
    path.write_text("name: x\nbaselines: [tfidf]\n")
    with pytest.raises(ConfigError, match="'tfidf' is not allowed; allowed: bm25"):
        load_policy(path)
    path.write_text("name: x\nvariants:\n  hybrid: {k: 60}\n")
    with pytest.raises(ConfigError, match="unknown field; allowed fields: rrf_k"):
        load_policy(path)


def test_a_gpu_policy_keeps_bm25_which_runs_on_the_cpu(swept, tmp_path):
    from advisor.pipeline import in_grid
    from advisor.policy.spec import load_policy

    path = tmp_path / "gpu.yaml"
    path.write_text("name: gpu\nvariants: {devices: [cuda]}\n")
    kept = {r.key.model for r in swept["store"].results() if in_grid(r, load_policy(path))}
    assert kept == {"bm25"}  # the model's CPU cells are not in a cuda grid; BM25's are (it has no GPU variant)
    path.write_text("name: gpu\nbaselines: []\nvariants: {devices: [cuda]}\n")
    assert not [r for r in swept["store"].results() if in_grid(r, load_policy(path))]


def test_without_bm25_cells_the_report_says_why(swept, tmp_path):
    from advisor.models.resolve import resolve_model
    from advisor.policy.spec import load_policy
    from advisor.ranking import rank
    from advisor.reporting.retrieval import bm25_section

    dense = [r for r in swept["store"].results() if r.key.model != "bm25"]
    entry, task = resolve_model("all-MiniLM-L6-v2"), swept["task"].name
    path = tmp_path / "off.yaml"
    path.write_text("name: bm25-off\nbaselines: []\n")
    off = bm25_section(rank(dense, [entry], load_policy(path)))
    assert off.lines == [f"BM25 was not measured on {task}: the policy turns it off ('baselines: []'); drop that "
                         f"line to measure it."]
    path.write_text("name: bm25-on\n")  # BM25 is asked for (the default) but these results hold no BM25 cell
    on = bm25_section(rank(dense, [entry], load_policy(path)))
    assert on.lines[-1] == f"BM25 was not measured on {task}: run the sweep again under this policy to measure it."


def test_the_tui_table_tells_bm25_and_the_hybrid_from_the_model(swept):
    pytest.importorskip("textual")
    from advisor.builtin.tui.screens.results import variant_label

    labels = {c.label: variant_label(c) for c in swept["rec"].candidates()}
    assert labels["bm25 [cpu, lexical]"] == "cpu lexical"
    assert len(set(labels.values())) == len(labels)
    assert any(v.endswith("+bm25 rrf k=60") for v in labels.values())


def test_the_demo_policy_asks_for_every_index_bm25_and_a_hybrid(repo):
    from advisor.index.bm25 import bm25_entry
    from advisor.policy.rules import check_metadata
    from advisor.policy.spec import load_policy

    policy = load_policy(repo / "advisor/shipped/policies" / "indexes-demo.yaml")
    assert [name for name, _ in policy.variants.indexes] == ["exact", "faiss-hnsw", "usearch-hnsw", "pgvector-hnsw"]
    assert policy.baselines == ("bm25",) and policy.variants.hybrid == (60,)
    assert check_metadata(bm25_entry(), policy) == []  # MIT, English: BM25 passes the demo's rules


def test_a_recommended_hybrid_names_both_of_its_indexes(swept):
    import copy

    from advisor.reporting.content import headline

    rec = copy.deepcopy(swept["rec"])
    for c in rec.candidates():
        c.status = "recommended" if c.hybrid is not None else "pareto"
    assert "behind exact dense search and a BM25 index (bm25s)" in headline(rec)
