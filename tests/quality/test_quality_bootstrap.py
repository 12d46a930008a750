"""Paired bootstrap: intervals contain the point estimate, runs repeat exactly, identical systems are never
"different", and a clearly worse variant of a real model is."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.quality import bootstrap
from advisor.quality.evaluation import evaluate_embeddings
from advisor.models.variants import Variant


@pytest.fixture(scope="module")
def retrieval(example_task, embed):
    task = example_task("rt-reviews-plots")
    return task, embed(task)


def test_every_interval_contains_its_point_estimate(retrieval):
    task, emb = retrieval
    r = evaluate_embeddings(task, emb, Variant(dim=128, vector_precision="int8"))
    assert set(r.details["ci"]) == set(r.metrics)
    for name, (lo, hi) in r.details["ci"].items():
        assert lo <= r.metrics[name] + 1e-6 and r.metrics[name] - 1e-6 <= hi, name
    lo, hi = r.details["ci"]["ndcg_at_10"]
    assert hi - lo > 0.01  # 240 queries: a real, non-degenerate interval


def test_bootstrap_is_deterministic(retrieval):
    task, emb = retrieval
    a = evaluate_embeddings(task, emb, Variant(dim=64), resamples=300)
    b = evaluate_embeddings(task, emb, Variant(dim=64), resamples=300)
    assert a.details["ci"] == b.details["ci"]
    c = evaluate_embeddings(task, emb, Variant(dim=64), resamples=300, seed=1)
    assert c.details["ci"] != a.details["ci"]


def test_identical_systems_are_not_different(retrieval):
    task, emb = retrieval
    a = evaluate_embeddings(task, emb, Variant())
    b = evaluate_embeddings(task, {k: v.copy() for k, v in emb.items()}, Variant())
    comp = bootstrap.compare(a, b)
    assert comp.difference == 0 and comp.ci_low == comp.ci_high == 0
    assert not comp.different and comp.p_value == 1.0


def test_much_smaller_variant_is_different(retrieval):
    task, emb = retrieval
    full = evaluate_embeddings(task, emb, Variant())
    tiny = evaluate_embeddings(task, emb, Variant(dim=16, vector_precision="binary"))
    comp = bootstrap.compare(full, tiny)
    assert comp.difference == pytest.approx(full.main_score - tiny.main_score)
    assert comp.different and comp.ci_low > 0 and comp.p_value < 0.05
    # the same comparison from stored cells (the runner keeps main_metric and per_item in details)
    as_cell = lambda r: {"main_metric": r.main_metric, "per_item": r.per_item, **r.details}
    assert bootstrap.compare(as_cell(full), as_cell(tiny)) == comp


def test_correlation_bootstrap_recomputes_spearman():
    """STS: per_item holds similarities; each resample recomputes Spearman against the resampled gold scores."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, 300)
    sim = gold + rng.normal(0, 1.5, 300)
    lo, hi = bootstrap.main_ci(sim, "spearman", gold, resamples=400)
    point = spearmanr(sim, gold).statistic
    assert lo < point < hi
    idx = bootstrap.resample_indices(300, 400)
    manual = [spearmanr(sim[i], gold[i]).statistic for i in idx]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(manual, [0.025, 0.975])), abs=1e-9)


def test_mean_ci_matches_explicit_resampling():
    x = np.random.default_rng(5).normal(size=200)
    idx = bootstrap.resample_indices(200, 500, seed=9)
    expected = np.quantile(x[idx].mean(axis=1), [0.025, 0.975])
    assert bootstrap.mean_ci(x, resamples=500, seed=9) == pytest.approx(tuple(expected), abs=1e-12)
