"""Ranking on hand-built cells (the real input of ``rank``): hard rules, Pareto front, weighted score, ties within
the paired-bootstrap noise, quality floors, and machines never compared with each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advisor.policy.spec import load_policy
from advisor.ranking import quality_difference, rank


def policy(tmp_path: Path, text: str = "name: p\n"):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def by_label(rec):
    return {c.label: c for c in rec.candidates()}


def find(rec, model, dim=None, vp="float32"):
    return next(c for c in rec.candidates() if c.model == model and c.variant.dim == dim
                and c.variant.vector_precision == vp)


@pytest.fixture
def sweep(cells):
    """Two models on one machine: 'fast' is quicker and smaller, 'big' better on quality; 'slow' is worse than
    'big' on every figure."""
    entries = [cells.entry("big"), cells.entry("fast", dim=256), cells.entry("slow")]
    results = [
        cells.quality("big", cells.scores(0.60, seed=1)),
        cells.quality("big", cells.scores(0.57, seed=1), dim=128, vp="int8"),
        cells.quality("big", cells.scores(0.59, seed=1), vp="int8"),
        cells.quality("fast", cells.scores(0.45, seed=2)),
        cells.quality("slow", cells.scores(0.50, seed=3)),
        cells.cost("big", p95=12.0, docs=300.0, mem=400.0),
        cells.cost("fast", p95=1.5, docs=5000.0, mem=90.0),
        cells.cost("slow", p95=30.0, docs=100.0, mem=900.0),
    ]
    return entries, results


def test_pareto_front_and_dominated(tmp_path, sweep):
    entries, results = sweep
    rec = rank(results, entries, policy(tmp_path))
    assert len(rec.groups) == 1
    slow, big = find(rec, "slow"), find(rec, "big")
    assert slow.status == "dominated" and slow.dominated_by == big.label
    assert slow.why.startswith(f"dominated by {big.label}")
    front = {c.label for c in rec.candidates() if c.status in ("recommended", "pareto")}
    assert front == {big.label, find(rec, "big", 128, "int8").label, find(rec, "big", vp="int8").label,
                     find(rec, "fast").label}
    # Independent check of the front: no front member is beaten on every figure by another candidate.
    figs = {c.label: (c.quality_mean, -c.cost["latency_p95_ms"], c.cost["docs_per_s"], -c.cost["serving_memory_mb"],
                      -c.bytes_per_vector) for c in rec.candidates()}
    for a in front:
        assert not any(all(x >= y for x, y in zip(figs[b], figs[a])) and figs[b] != figs[a] for b in figs if b != a)
    # The recommendation is the best weighted score and it is on the front.
    rec_c = rec.recommended
    assert rec_c.label in front and rec_c.score == max(c.score for c in rec.candidates() if c.score is not None)
    assert rec_c.why.startswith("recommended: best weighted score")
    assert all(c.why for c in rec.candidates())
    # Positions: front first (by score), then the dominated.
    assert slow.position == len(rec.candidates())


def test_weights_change_the_recommendation(tmp_path, sweep):
    entries, results = sweep
    quality_first = rank(results, entries, policy(tmp_path, "ranking:\n  weights: {quality: 1, latency: 0, "
                                                             "throughput: 0, memory: 0, bytes_per_vector: 0}\n"))
    assert quality_first.recommended.model == "big" and quality_first.recommended.variant.dim is None
    assert quality_first.recommended.variant.vector_precision == "float32"
    cost_first = rank(results, entries, policy(tmp_path, "ranking:\n  weights: {quality: 0.1, latency: 1, "
                                                          "throughput: 1, memory: 1, bytes_per_vector: 0}\n"))
    assert cost_first.recommended.model == "fast"
    assert "against the recommendation: quality +0.15" in find(cost_first, "big").why
    assert "8x slower p95 query latency" in find(cost_first, "big").why


def test_scores_follow_the_stated_formula(tmp_path, sweep):
    """Score = weighted mean of criteria scaled to [0, 1] (quality linear, costs log-scaled), recomputed here."""
    entries, results = sweep
    pol = policy(tmp_path)
    rec = rank(results, entries, pol)
    live = [c for c in rec.candidates() if c.score is not None]
    w = pol.ranking.weights
    cols = {"quality": [c.quality_mean for c in live],
            "latency": [-np.log(c.cost["latency_p95_ms"]) for c in live],
            "throughput": [np.log(c.cost["docs_per_s"]) for c in live],
            "memory": [-np.log(c.cost["serving_memory_mb"]) for c in live],
            "bytes_per_vector": [-np.log(c.bytes_per_vector) for c in live]}
    expected = np.zeros(len(live))
    for name, values in cols.items():
        v = np.array(values)
        expected += w[name] * (v - v.min()) / (v.max() - v.min())
    expected /= sum(w.values())
    assert np.allclose([c.score for c in live], expected)


def test_ties_within_bootstrap_noise(tmp_path, cells):
    base = cells.scores(0.55, seed=7)
    rng = np.random.default_rng(11)
    noise = rng.normal(0, 0.2, base.size)
    close = np.clip(base + noise - noise.mean() + 0.003, -1, 2)   # mean +0.003, per-query noise 0.2
    far = base - 0.15
    entries = [cells.entry("a"), cells.entry("b"), cells.entry("c")]
    results = [cells.quality("a", base), cells.quality("b", close), cells.quality("c", far),
               cells.cost("a", p95=5, docs=1000, mem=100), cells.cost("b", p95=5, docs=1000, mem=100),
               cells.cost("c", p95=1, docs=1000, mem=100)]
    rec = rank(results, entries, policy(tmp_path))
    a, b, c = find(rec, "a"), find(rec, "b"), find(rec, "c")
    assert rec.recommended is b and a.status == "dominated" and a.dominated_by == b.label
    assert b.label in a.tied_with and "within noise" in a.why
    assert "tied within noise" in b.why
    assert c.status == "pareto" and not c.tied_with and "within noise" not in c.why
    d = quality_difference(b, a)
    cmp = d.per_task["reviews"]
    assert d.delta == pytest.approx(close.mean() - base.mean()) and cmp.ci_low <= d.delta <= cmp.ci_high
    assert d.within_noise and "95% CI" in a.why
    # Independent check of the interval: a plain numpy paired bootstrap of the mean difference.
    rng = np.random.default_rng(0)
    idx = rng.integers(0, base.size, size=(4000, base.size))
    boot = (close[idx] - base[idx]).mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    assert cmp.ci_low == pytest.approx(lo, abs=0.006) and cmp.ci_high == pytest.approx(hi, abs=0.006)
    far_d = quality_difference(c, b)
    assert far_d.per_task["reviews"].ci_high < 0 and not far_d.within_noise


def test_quality_floor_and_limits(tmp_path, sweep):
    entries, results = sweep
    pol = policy(tmp_path, """
limits:
  max_p95_latency_ms: 20
  max_bytes_per_vector: 1024
  min_quality:
    - {task: reviews, metric: ndcg_at_10, min: 0.5}
    - {task: not-run, metric: ndcg_at_10, min: 0.9}
""")
    rec = rank(results, entries, pol)
    fast, slow = find(rec, "fast"), find(rec, "slow")
    assert fast.status == "rejected" and fast.why == "below the quality floor on reviews: ndcg_at_10 0.4500 < 0.5"
    assert slow.status == "rejected" and "rejected by rule limits.max_p95_latency_ms" in slow.why
    big = find(rec, "big")  # 384 float32 = 1536 bytes
    assert big.status == "rejected" and "limits.max_bytes_per_vector" in big.why
    assert rec.recommended.label in (find(rec, "big", 128, "int8").label, find(rec, "big", vp="int8").label)
    assert any("not-run" in n for n in rec.notes)


def test_metadata_rules_and_unknown_models(tmp_path, cells):
    entries = [cells.entry("ok"), cells.entry("nolicence", license="unknown"), cells.entry("never-run")]
    results = [cells.quality("ok", cells.scores(0.5)), cells.quality("nolicence", cells.scores(0.9)),
               cells.quality("stranger", cells.scores(0.95)),
               *(cells.cost(m, p95=5, docs=100, mem=100) for m in ("ok", "nolicence", "stranger"))]
    rec = rank(results, entries, policy(tmp_path, "licenses:\n  commercial_use: true\n"))
    nolic = find(rec, "nolicence")
    assert nolic.status == "rejected" and nolic.why.startswith("rejected by rule licenses.commercial_use")
    assert find(rec, "stranger").status == "rejected" and "rule catalog" in find(rec, "stranger").why
    assert rec.recommended.model == "ok"
    verdicts = {m.name: m for m in rec.models}
    assert not verdicts["nolicence"].admitted and verdicts["never-run"].admitted
    assert not verdicts["never-run"].evaluated and "not in these results" in verdicts["never-run"].why


def test_failed_and_incomplete(tmp_path, cells):
    entries = [cells.entry("a"), cells.entry("b"), cells.entry("c")]
    results = [cells.quality("a", cells.scores(0.5)), cells.quality("a", cells.scores(0.4), task="sts"),
               cells.quality("b", cells.scores(0.6)),                       # b never ran on sts
               cells.quality("c", cells.scores(0.6)),
               cells.quality("c", [], task="sts", status="failed", error="CUDA out of memory"),
               *(cells.cost(m, p95=5, docs=100, mem=100) for m in "abc")]
    rec = rank(results, entries, policy(tmp_path))
    assert find(rec, "b").status == "incomplete" and "not evaluated on sts" in find(rec, "b").why
    assert find(rec, "c").status == "failed" and "CUDA out of memory" in find(rec, "c").why
    assert rec.recommended.model == "a"


def test_machines_are_ranked_apart(tmp_path, cells):
    entries = [cells.entry("a"), cells.entry("b")]
    results = [cells.quality("a", cells.scores(0.6)), cells.quality("b", cells.scores(0.5)),
               cells.cost("a", p95=50, docs=100, mem=100), cells.cost("b", p95=40, docs=100, mem=100),
               # b measured again on a GPU machine: much faster, but never compared with a's CPU figures
               cells.quality("b", cells.scores(0.5), hardware="hw-gpu", device="cuda"),
               cells.cost("b", p95=2, docs=9000, mem=100, hardware="hw-gpu", device="cuda")]
    rec = rank(results, entries, policy(tmp_path))
    assert [g.hardware for g in rec.groups] == ["hw-gpu", "hw-laptop"]
    gpu, cpu = rec.groups
    assert [c.model for c in gpu.candidates] == ["b"] and gpu.recommended.model == "b"
    assert {c.model for c in cpu.candidates} == {"a", "b"}
    assert any("never compared" in n for n in rec.notes)


def test_latest_result_wins_and_stale_data_is_dropped(tmp_path, cells):
    entries = [cells.entry("a")]
    results = [cells.quality("a", cells.scores(0.3), finished_at=1.0),
               cells.quality("a", cells.scores(0.6), finished_at=2.0),
               cells.quality("a", cells.scores(0.9), finished_at=0.5, task_hash="old"),
               cells.cost("a", p95=5, docs=100, mem=100)]
    rec = rank(results, entries, policy(tmp_path))
    assert len(rec.candidates()) == 1 and rec.recommended.quality_mean == pytest.approx(0.6)
    assert any("older data" in n for n in rec.notes)


def test_untrained_truncation_and_quality_retained(tmp_path, cells):
    entries = [cells.entry("m", dim=256, matryoshka=(128,))]
    results = [cells.quality("m", cells.scores(0.6)), cells.quality("m", cells.scores(0.54), dim=128),
               cells.quality("m", cells.scores(0.45), dim=64), cells.cost("m", p95=5, docs=100, mem=100)]
    rec = rank(results, entries, policy(tmp_path))
    assert find(rec, "m").trained_dim and find(rec, "m", 128).trained_dim and not find(rec, "m", 64).trained_dim
    assert find(rec, "m", 128).quality_retained == pytest.approx(0.54 / 0.6)
    assert find(rec, "m", 64).bytes_per_vector == 256


def test_policy_picks_the_ranking_metric_by_task_type(tmp_path, sweep):
    """The task type is read from the cell's main metric; a policy may rank retrieval on another figure (then
    no per-query scores back it, so no tie is claimed)."""
    entries, results = sweep
    rec = rank(results, entries, policy(tmp_path, "ranking:\n  quality_metrics: {retrieval: recall_at_10}\n"))
    assert rec.tasks[0].type == "retrieval" and rec.tasks[0].metric == "recall_at_10"
    big = find(rec, "big")
    assert big.quality["reviews"] == pytest.approx(big.metrics["reviews"]["recall_at_10"])
    assert all(not c.tied_with for c in rec.candidates())


def test_failed_cost_measurement_leaves_figures_missing(tmp_path, cells):
    """A failed cost cell does not hide the quality: without a cost limit the candidate is ranked on quality and
    bytes per vector; with one it is rejected because the limit cannot be checked, and the error is shown."""
    from advisor.sweep.results import CellKey, CellResult

    entries = [cells.entry("a"), cells.entry("b")]
    broken = CellResult(CellKey("cost", "b", None, "torch", "cpu", "fp32", "reviews", "h1", None, None, cells.HW,
                                "v1"), status="failed", error="measuring cost: RuntimeError: boom")
    results = [cells.quality("a", cells.scores(0.5)), cells.quality("b", cells.scores(0.6)),
               cells.cost("a", p95=5, docs=100, mem=100), broken]
    rec = rank(results, entries, policy(tmp_path))
    b = find(rec, "b")
    assert b.status == "recommended" and b.cost == {} and "boom" in b.why
    assert any("b (fp32)" in n and "boom" in n for n in rec.notes)
    limited = rank(results, entries, policy(tmp_path, "limits:\n  max_p95_latency_ms: 10\n"))
    b = find(limited, "b")
    assert b.status == "rejected" and "not measured" in b.why and "boom" in b.why
    assert limited.recommended.model == "a"


def test_a_cell_without_the_tasks_origin_does_not_hide_a_trained_on_mark(cells, tmp_path):
    from dataclasses import replace

    trained = replace(cells.entry("trained"), training_datasets=("SUBJ",))
    plain = cells.quality("other", cells.scores(0.3))  # first, and says nothing of where the task comes from
    marked = cells.quality("trained", cells.scores(0.4, seed=1))
    marked.details["task_origin"] = {"origin": "SUBJ", "overlaps": []}
    rec = rank([plain, marked], [cells.entry("other"), trained], policy(tmp_path))
    assert [t.origin for t in rec.tasks] == [("SUBJ",)]
    assert find(rec, "trained").trained_on == {"reviews": ["SUBJ"]} and find(rec, "other").trained_on == {}
