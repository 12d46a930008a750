"""The figure registry (advisor.figures): every figure the advisor produces is registered with a true unit and
direction, each kind is written one way, a policy naming an unknown figure gets a did-you-mean, the docs' figure
table is the registry's, and no figure name is spelled as a string outside the registry and its producers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from advisor import figures
from advisor.errors import ConfigError, UserError
from advisor.figures import (BYTES_PER_VECTOR, DOCS_PER_S, LATENCY_P95_MS, QUALITY_MEAN, SERVING_MEMORY_MB,
                             USD_PER_MILLION_DOCS, UnknownFigure, lookup)

REPO = Path(__file__).resolve().parents[2]


def unregistered(names) -> list[str]:
    return sorted(n for n in names if not figures.is_figure(n))


# -- the registry -------------------------------------------------------------------------------------------------

def test_a_family_member_is_looked_up_at_any_cutoff():
    fig = lookup("ndcg_at_100")
    assert (fig.name, fig.label, fig.kind, fig.direction, fig.decimals) == ("ndcg_at_100", "nDCG@100", "quality", 1,
                                                                           4)
    assert lookup("recall_at_3").label == "recall@3" and lookup("rated_score_at_10").kind == "quality"


def test_an_interval_end_is_a_figure_of_its_measured_figure():
    assert lookup("latency_p95_ms_ci_low").unit == "ms" and lookup("docs_per_s_ci_high").unit == "docs/s"
    assert not figures.is_figure("bytes_per_vector_ci_low")  # bytes per vector has no interval


def test_an_unknown_figure_is_a_key_error_with_a_did_you_mean():
    with pytest.raises(KeyError) as err:
        lookup("latency_p95", "report.json")
    assert str(err.value) == "unknown figure 'latency_p95' in report.json; did you mean 'latency_p95_ms'?"
    assert isinstance(err.value, UnknownFigure) and isinstance(err.value, UserError)


def test_a_family_is_suggested_at_the_cutoff_the_name_was_written_with():
    assert figures.suggest("ndcg@10") == "ndcg_at_10"
    assert figures.suggest("NDCG@100") == "ndcg_at_100"
    assert figures.suggest("recall-at-5") == "recall_at_5"
    assert figures.suggest("zzzz") is None


def test_every_limit_bounds_its_figure_the_way_the_figure_gets_worse():
    from advisor.policy.spec import LIMIT_FIELDS, NUMERIC_LIMIT_FIELDS, Limits

    assert [f.limit for f in figures.limits()] == list(NUMERIC_LIMIT_FIELDS)
    assert set(NUMERIC_LIMIT_FIELDS) | {figures.LOAD_LIMIT, "min_quality", "strict"} == set(LIMIT_FIELDS) \
        == set(Limits.__dataclass_fields__)
    for fig in figures.limits():
        assert fig.bound == ("max" if fig.direction < 0 else "min")
        assert fig.limit.startswith(("max_", "min_")) is False or fig.limit.startswith(fig.bound + "_")
    assert {f.limit: f.bound for f in figures.limits()} == {
        "max_p95_latency_ms": "max", "min_throughput_docs_per_s": "min", "max_peak_memory_mb": "max",
        "max_bytes_per_vector": "max", "usd_per_million_docs": "max", "usd_per_thousand_queries": "max"}


def test_the_load_limit_bounds_registered_p95_figures_under_load_as_a_maximum():
    """``limits.max_p95_latency_ms_at_load`` names a rate or a fraction of the sustainable rate; either way the figure
    it bounds is registered, a p95 in ms where lower is better, with a latency interval."""
    from advisor.policy.rules import load_limit_figure
    from advisor.policy.spec import LoadLimit

    for limit in (LoadLimit(200.0, rate_qps=20), *(LoadLimit(200.0, fraction=f) for f in figures.LOAD_FRACTIONS)):
        fig = load_limit_figure(limit)
        assert figures.is_figure(fig.name) and fig.name == limit.figure
        assert (fig.unit, fig.direction, fig.measurement, fig.bound) == ("ms", -1, "latency", "max")
    assert LoadLimit(200.0, rate_qps=20).figure == "load_p95_ms_at_20qps"
    assert LoadLimit(200.0, fraction=0.8).figure == "load_p95_ms_at_80pct"


def test_the_retired_saturation_probe_is_labelled_so_and_bounds_nothing():
    """A store from before the sustainable-rate sweep holds the probe at 1.5x the batch-1 capacity: it still reads,
    every label and description says saturation probe, and nothing ranks or limits on it."""
    assert "load_batched_p95_ms" in figures.RETIRED_LOAD_FIGURES and "load_target_qps" in figures.RETIRED_LOAD_FIGURES
    for name in figures.RETIRED_LOAD_FIGURES:
        fig = lookup(name)
        assert "saturation probe" in fig.label and "saturation" in fig.description
        assert (fig.kind, fig.direction, fig.limit, fig.objective, fig.measurement) == ("info", 0, None, None, None)


def test_the_ranking_weighs_the_registered_objectives_in_their_direction():
    from advisor.policy.spec import RANKING_WEIGHT_NAMES, Ranking
    from advisor.ranking.model import COST_OBJECTIVES

    assert RANKING_WEIGHT_NAMES == ("quality", *COST_OBJECTIVES) == tuple(Ranking().weights)
    assert COST_OBJECTIVES == {"latency": (LATENCY_P95_MS, -1), "throughput": (DOCS_PER_S, 1),
                               "memory": (SERVING_MEMORY_MB, -1), "bytes_per_vector": (BYTES_PER_VECTOR, -1),
                               "money": (USD_PER_MILLION_DOCS, -1)}


def test_measured_intervals_name_their_measurement():
    load = {figures.load_figure(f, q): "latency" for f in figures.LOAD_FRACTIONS
            for q in (figures.LOAD_P50, figures.LOAD_P95)}  # p50/p95 under load at 50% and 80% of sustainable
    assert figures.intervals() == {"latency_p50_ms": "latency", "latency_p95_ms": "latency",
                                   "latency_p99_ms": "latency", "docs_per_s": "throughput", **load}
    assert figures.LOAD_P95_AT_RATE.figure(20).measurement == "latency"  # p95 at a policy's rate
    assert lookup(USD_PER_MILLION_DOCS).measurement == "throughput"  # by the machine-hour, over bulk docs/s
    assert lookup("usd_per_thousand_queries").measurement == "latency"  # one query at a time, at p50


def test_worst_is_the_end_a_deployment_must_plan_for():
    assert lookup(DOCS_PER_S).worst([120.0, 80.0]) == 80.0
    assert lookup(LATENCY_P95_MS).worst([12.0, 30.0]) == 30.0
    assert lookup("load_avg_1m").worst([0.2, 1.5]) == 1.5  # no direction: the most


# -- writing each kind ----------------------------------------------------------------------------------------------

def test_quality_is_written_with_four_decimals_everywhere():
    fig = lookup("ndcg_at_10")
    assert (fig.text(0.41234), fig.cell(0.41234), fig.cell(0.5)) == ("0.4123", "0.4123", "0.5000")
    assert lookup(QUALITY_MEAN).text(None) == "n/a" and fig.cell(None) == "–"
    assert lookup("quality_retained").text(0.9731) == "97.3%"  # a share of the plain model's quality
    assert lookup("score").text(0.81234) == "0.812"  # the ranking's weighted score: three decimals


def test_cost_figures_carry_their_unit_in_a_sentence_and_not_in_a_cell():
    assert lookup(LATENCY_P95_MS).text(1209.4) == "1,209 ms"
    assert lookup(LATENCY_P95_MS).cell(1209.4) == "1,209"
    assert lookup(DOCS_PER_S).text(23.47) == "23.5 docs/s"
    assert lookup(BYTES_PER_VECTOR).text(1536) == "1,536 B"
    assert lookup(SERVING_MEMORY_MB).text(2150) == "2.1 GB" and lookup(SERVING_MEMORY_MB).text(512.3) == "512 MB"
    assert lookup("load_time_s").text(0.0421) == "42.1 ms"


def test_money_is_written_in_dollars():
    assert lookup(USD_PER_MILLION_DOCS).text(0.000357) == "$0.000357"
    assert lookup("usd_per_month_per_million").text(0.0154) == "$0.0154/month"
    assert lookup(USD_PER_MILLION_DOCS).text(12.34567, exact=True) == "$12.3457"


def test_a_limit_someone_wrote_keeps_its_digits_in_its_own_unit():
    assert lookup(SERVING_MEMORY_MB).text(1536, exact=True) == "1,536 MB"
    assert lookup(LATENCY_P95_MS).text(212.5, exact=True) == "212.5 ms"


def test_an_interval_is_written_one_way():
    assert lookup(LATENCY_P95_MS).interval_text(230, 221, 240) == "230 ms (95% CI 221 to 240 ms)"
    assert lookup(LATENCY_P95_MS).interval_cell(1209.4, 1100, 1300) == "1,209 (1,100 to 1,300)"
    assert lookup("ndcg_at_10").interval_cell(0.41234, 0.4, 0.42) == "0.4123 (0.4000 to 0.4200)"
    assert lookup(USD_PER_MILLION_DOCS).interval_text(32.5, 30, 35) == "$32.5 (95% CI $30 to $35)"
    assert lookup("ndcg_at_10").difference_text(0.0123, -0.001, 0.025) == "+0.0123 (95% CI -0.0010 to +0.0250)"
    assert lookup(LATENCY_P95_MS).interval_text(230, None, None) == "230 ms"


def test_a_limit_field_has_a_label_for_a_form():
    assert figures.limit_figure("max_p95_latency_ms").limit_label == "max p95 query latency (ms)"
    assert figures.limit_figure("min_throughput_docs_per_s").limit_label == "min throughput (docs/s)"


# -- the policy names figures the registry knows -------------------------------------------------------------------

def _policy(tmp_path, text: str):
    from advisor.policy.spec import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path), str(path)


def test_a_quality_floor_on_an_unknown_metric_is_one_line_with_the_registered_name(tmp_path):
    with pytest.raises(ConfigError) as err:
        _policy(tmp_path, "limits:\n  min_quality:\n    - {task: reviews, metric: ndcg@10, min: 0.3}\n")
    text = str(err.value)
    assert len(text.splitlines()) == 1 and "p.yaml" in text and "field 'metric'" in text
    assert "unknown quality figure 'ndcg@10'; did you mean 'ndcg_at_10'?" in text


def test_a_quality_floor_on_a_cost_figure_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown quality figure 'latency_p95_ms'"):
        _policy(tmp_path, "limits:\n  min_quality:\n    - {task: reviews, metric: latency_p95_ms, min: 3}\n")


def test_a_ranking_metric_the_registry_does_not_know_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ranking.quality_metrics.*did you mean 'recall_at_100'"):
        _policy(tmp_path, "ranking:\n  quality_metrics: {retrieval: recall@100}\n")


def test_an_unknown_limit_field_gets_a_did_you_mean(tmp_path):
    with pytest.raises(ConfigError) as err:
        _policy(tmp_path, "limits:\n  max_p95_latency: 200\n")
    assert "field 'max_p95_latency'" in str(err.value) and "did you mean 'max_p95_latency_ms'?" in str(err.value)


def test_every_shipped_policy_bounds_and_ranks_registered_figures():
    from advisor.policy.spec import load_policy

    for path in sorted((REPO / "advisor/shipped/policies").glob("*.yaml")):
        policy = load_policy(path)
        named = [f.metric for f in policy.limits.min_quality] + list(policy.ranking.quality_metrics.values())
        set_limits = [f for f in figures.limits() if getattr(policy.limits, f.limit) is not None]
        assert all(lookup(n).kind == "quality" for n in named), path.name
        assert all(figures.is_figure(f.name) for f in set_limits), path.name


def test_a_registered_floor_loads(tmp_path):
    policy, _ = _policy(tmp_path, "limits:\n  min_quality:\n    - {task: reviews, metric: recall_at_100, min: 0.5}\n")
    assert policy.limits.min_quality[0].metric == "recall_at_100"


# -- every figure the producers write is registered ----------------------------------------------------------------

def test_quality_producers_write_registered_figures():
    from advisor.quality.clustering import clustering_metrics
    from advisor.quality.metrics import (classification_metrics, pair_classification_metrics, retrieval_metrics,
                                         sts_metrics)

    rng = np.random.default_rng(0)
    ids = [f"d{i}" for i in range(20)]
    indices = np.tile(np.arange(20), (3, 1))
    metrics, per_query, _ = retrieval_metrics(indices, rng.random((3, 20)), ["q0", "q1", "q2"], ids,
                                              {"q0": {"d1": 1}, "q1": {"d2": 2}, "q2": {"d3": 1}})
    produced = set(metrics) | set(per_query)
    produced |= set(sts_metrics(rng.random(10), rng.random(10)))
    vecs = rng.normal(size=(12, 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    produced |= set(pair_classification_metrics(vecs[:6], vecs[6:], np.array([0, 1, 0, 1, 1, 0]))[0])
    labels = ["a", "b", "c"] * 4
    produced |= set(classification_metrics(vecs, labels, vecs, labels, n_experiments=2, samples_per_label=2)[0])
    produced |= set(clustering_metrics(vecs, labels)[0])
    assert unregistered(produced) == []
    assert all(lookup(n).kind == "quality" and lookup(n).direction == 1 for n in produced)


def test_cost_producers_write_registered_figures():
    from advisor.cost.latency import LatencyStats
    from advisor.cost.money import machine_money, per_token_money
    from advisor.cost.storage import index_table, reembed_estimates

    produced = set(LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0], resamples=20).figures())
    produced |= set(reembed_estimates(100.0, 5000.0, 1000, 50.0))
    produced |= {k for row in index_table(100, [64]) for k in row} - {"dim", "vector_precision"}
    produced |= set(machine_money(100.0, 10.0, 0.1).figures()) | set(per_token_money(50.0, 8.0, 0.1,
                                                                                      source="x").figures())
    assert unregistered(produced) == []


def test_the_load_test_writes_registered_figures():
    from advisor.cost.http_load import RateResult
    from advisor.serving.loadgen import LoadTestResult

    row = RateResult(10.0, 20, 19, 1, 0, 0, 2.0, 9.5, 3.0, 5.0, 7.0, 0.4, offered_qps=10.2).to_dict()
    counts = {"sent", "ok", "rejected", "errors", "timed_out", "duration_s"}  # the row's counts and its length
    produced = set(row) - counts
    produced |= set(LoadTestResult("http://127.0.0.1:1", "/v1/embeddings", [], 10.0, None, "rule").to_dict()) - {
        "url", "endpoint", "rates", "rule"}
    assert unregistered(produced) == []


def test_the_sustainable_rate_sweep_writes_registered_figures():
    """Every figure the cost cell writes from a sweep (its rate, the runs at fractions of it and at a policy's rate,
    with their intervals) is registered."""
    from advisor.cost.latency import LatencyStats
    from advisor.cost.measure import load_figures
    from advisor.cost.stability import StabilityRule
    from advisor.cost.sustainable import LoadRun, Sweep, SweepPlan

    def run(rate: float) -> LoadRun:
        return LoadRun(rate, rate, rate, 20, 20, 0, 0, LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0]), 1.5,
                       kept_up=True)

    sweep = Sweep(100.0, [run(50.0), run(100.0)], 100.0, 200.0, "saturated", 2.0,
                  points={f: run(f * 100.0) for f in figures.LOAD_FRACTIONS}, rates={20: run(20.0)})
    produced = set(load_figures(sweep, SweepPlan(), StabilityRule(resamples=20)))
    assert {"load_sustainable_qps", "load_p95_ms_at_80pct", "load_p95_ms_at_20qps_ci_high"} <= produced
    assert unregistered(produced) == []


def test_index_and_bm25_producers_write_registered_figures(repo):
    from advisor.datasets.tasks import load_task
    from advisor.index.bm25 import bm25_cost, bm25_quality
    from advisor.index.evaluation import evaluate_index
    from advisor.index.hybrid import hybrid_latency_ms
    from advisor.quality.vectors import derive

    task = load_task(repo / "data" / "rt-reviews-plots")
    rng = np.random.default_rng(0)
    embeddings = {"queries": rng.normal(size=(len(task.data.queries), 16)).astype(np.float32),
                  "corpus": rng.normal(size=(len(task.data.corpus), 16)).astype(np.float32)}
    produced = set(evaluate_index(task, embeddings, index="exact", latency_queries=5).metrics)
    produced |= {k for k, v in bm25_cost(task, latency_queries=5, rounds=1).items() if isinstance(v, float)}
    produced |= set(bm25_quality(task, resamples=0).metrics)
    produced |= set(hybrid_latency_ms(task, derive(embeddings, None, "float32"), n=5))
    assert unregistered(produced) == []


# -- the docs' table is the registry's ------------------------------------------------------------------------------

def test_the_docs_figure_table_is_the_registrys():
    text = (REPO / "docs" / "figures.md").read_text(encoding="utf-8")
    start, end = "<!-- figure table: advisor.figures.markdown_table() -->", "<!-- end of figure table -->"
    assert start in text and end in text, "docs/figures.md lost its table markers"
    table = text.split(start, 1)[1].split(end, 1)[0].strip() + "\n"
    assert table == figures.markdown_table(), ("docs/figures.md differs from the registry; write it again with "
                                               "advisor.figures.markdown_table()")
    assert "docs/figures.md" in (REPO / "README.md").read_text(encoding="utf-8")


# -- no figure name outside the registry and its producers ---------------------------------------------------------

# Modules that measure or store figures (and so write their keys), and the tables that name them.
PRODUCERS = {
    "advisor/figures.py": "the registry",
    "advisor/cost/measure.py": "writes the cost cell's figures",
    "advisor/cost/memory.py": "the memory probe's figures",
    "advisor/cost/money.py": "derives the money figures",
    "advisor/cost/storage.py": "the storage table and re-embedding estimates",
    "advisor/cost/throughput.py": "bulk throughput",
    "advisor/quality/metrics.py": "quality under mteb's names",
    "advisor/quality/evaluation.py": "quality per task type",
    "advisor/quality/clustering.py": "clustering quality",
    "advisor/quality/chunked.py": "chunked retrieval quality",
    "advisor/index/evaluation.py": "index cells",
    "advisor/index/bm25.py": "BM25's quality and cost",
    "advisor/index/hybrid.py": "hybrid search figures",
    "advisor/models/backends.py": "an encoder's measured load time",
    "advisor/sweep/worker.py": "end-to-end latency of index and hybrid cells",
    "advisor/serving/loadgen.py": "advisor loadtest's result and its plot",
    "advisor/config/task_types.py": "the task-type table: each type's main metric and the figures it produces",
    "advisor/datasets/mteb_local.py": "mteb's own names for its main scores",
}
# Words that name a figure and also other things: a qrels or similarity "score", a vector or weight "precision".
ORDINARY_WORDS = {"score", "precision"}


def _literals(path: Path):
    """String constants of a module, without docstrings and without click option declarations (an option's
    destination may be the name of the figure it sets)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            skip.add(id(node.body[0].value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("option",
                                                                                                       "argument"):
            skip |= {id(a) for a in node.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def test_no_figure_name_is_spelled_outside_the_registry_and_its_producers():
    found = []
    for root in ("advisor", "plugins"):
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in PRODUCERS:
                continue
            found += [f"{rel}:{line}: '{text}'" for line, text in _literals(path)
                      if text not in ORDINARY_WORDS and figures.is_figure(text)]
    assert found == [], ("figure names spelled as strings; use the constants of advisor.figures (or add a producer "
                         "to PRODUCERS):\n" + "\n".join(found))


def test_the_producer_list_names_modules_that_exist():
    assert [p for p in PRODUCERS if not (REPO / p).exists()] == []


def test_the_scan_catches_a_spelled_figure_name(tmp_path):
    path = tmp_path / "consumer.py"
    path.write_text('"""docstring latency_p95_ms"""\nvalue = c.cost["latency_p95_ms"]\n', encoding="utf-8")
    assert [text for _, text in _literals(path) if figures.is_figure(text)] == ["latency_p95_ms"]


def test_every_registered_name_is_snake_case_with_a_known_kind():
    for fig in figures.all_figures():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", fig.name) and fig.kind in figures.KINDS and fig.description
