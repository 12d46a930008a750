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


# -- the independent unit ----------------------------------------------------------------------------------------------

def _numbering(first, second):
    """Texts numbered in order of first appearance, the first column before the second (as units_of_texts)."""
    ids: dict[str, int] = {}
    for t in list(first) + list(second):
        ids.setdefault(t, len(ids))
    return [ids[t] for t in first], [ids[t] for t in second], len(ids)


def _explicit_text_bootstrap(first, second, n_texts, stat, resamples, seed):
    """The vertex bootstrap written out: draw the texts, then every pair of two drawn copies (of two different
    texts) that is an item of the set brings that item once. ``stat`` gets the kept rows of each resample."""
    rows_of: dict[frozenset, list[int]] = {}
    for i, (a, b) in enumerate(zip(first, second)):
        rows_of.setdefault(frozenset((a, b)), []).append(i)
    out = []
    for drawn in np.random.default_rng(seed).integers(0, n_texts, size=(resamples, n_texts)):
        rows = [r for p in range(n_texts) for q in range(p + 1, n_texts) if drawn[p] != drawn[q]
                for r in rows_of.get(frozenset((drawn[p], drawn[q])), [])]
        out.append(stat(np.array(rows, dtype=np.int64)))
    return np.array(out)


@pytest.fixture(scope="module")
def lee(example_task, embed):
    task = example_task("lee-sts")
    return task, embed(task)


def test_lee_sts_resamples_its_50_texts_and_its_interval_is_wider(lee):
    """1,225 pairs of only 50 documents: the documents are the unit, and the interval is wider than the one that
    took every pair for independent."""
    from scipy.stats import spearmanr

    task, emb = lee
    r = evaluate_embeddings(task, emb, Variant())
    b = r.details["bootstrap"]
    assert (b["scheme"], b["unit"], b["n_units"], b["n_items"]) == ("texts", "text", 50, 1225)
    assert bootstrap.plural(b["unit"], b["n_units"]) == "50 texts"
    gold = np.array(task.data.scores)
    assert r.metrics["cosine_spearman"] == pytest.approx(spearmanr(r.per_item, gold).statistic, abs=1e-12)
    lo, hi = r.details["ci"]["cosine_spearman"]
    pair_lo, pair_hi = bootstrap.main_ci(r.per_item, "spearman", gold)  # every pair taken for independent
    assert lo < pair_lo and hi > pair_hi
    assert lo < r.metrics["cosine_spearman"] < hi


def test_lee_sts_text_bootstrap_matches_explicit_resampling(lee):
    """The recorded units of the real task, resampled by the written-out vertex bootstrap with scipy's Spearman."""
    from scipy.stats import spearmanr

    task, emb = lee
    r = evaluate_embeddings(task, emb, Variant(dim=64), resamples=0)
    first, second, n_texts = _numbering(task.data.sentence1, task.data.sentence2)
    units = bootstrap.recorded_units(r.details, len(r.per_item))
    assert (list(units.first), list(units.second), units.count) == (first, second, n_texts)
    sim, gold = np.array(r.per_item), np.array(task.data.scores)
    explicit = _explicit_text_bootstrap(first, second, n_texts,
                                        lambda rows: spearmanr(sim[rows], gold[rows]).statistic, 200, 3)
    got = bootstrap.main_ci(sim, "spearman", gold, resamples=200, seed=3, units=units)
    assert got == pytest.approx(tuple(np.quantile(explicit, [0.025, 0.975])), abs=1e-9)


def test_paired_comparison_resamples_the_same_texts_for_both(lee):
    from scipy.stats import spearmanr

    task, emb = lee
    full = evaluate_embeddings(task, emb, Variant(), resamples=0)
    small = evaluate_embeddings(task, emb, Variant(dim=32), resamples=0)
    comp = bootstrap.compare(full, small, resamples=200, seed=1)
    assert (comp.unit, comp.n_units) == ("text", 50)
    first, second, n_texts = _numbering(task.data.sentence1, task.data.sentence2)
    a, b, gold = np.array(full.per_item), np.array(small.per_item), np.array(task.data.scores)
    diffs = _explicit_text_bootstrap(first, second, n_texts, lambda rows: spearmanr(a[rows], gold[rows]).statistic
                                     - spearmanr(b[rows], gold[rows]).statistic, 200, 1)
    assert (comp.ci_low, comp.ci_high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])), abs=1e-9)
    # from stored cells (the map read back from details['bootstrap_units']): the same comparison
    as_cell = lambda r: {"main_metric": r.main_metric, "per_item": r.per_item, **r.details}
    assert bootstrap.compare(as_cell(full), as_cell(small), resamples=200, seed=1) == comp


def test_dyadic_example_matches_explicit_resampling():
    """Every pair of 12 texts (one component): the texts are drawn, each pair weighted by its texts' draws; the
    mean, Pearson, Spearman (tied values) and AP on the weights equal scipy and scikit-learn on the written-out
    resamples."""
    from itertools import combinations

    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import average_precision_score

    names = [f"text {i}" for i in range(12)]
    pairs = list(combinations(range(12), 2))
    rng = np.random.default_rng(4)
    rng.shuffle(pairs)
    first, second = [names[a] for a, _ in pairs], [names[b] for _, b in pairs]
    units = bootstrap.units_of_texts(first, second, "pair")
    assert (units.scheme, units.unit, units.count, units.n_items) == ("texts", "text", 12, 66)
    x = np.round(rng.normal(size=66), 1)  # ties on both sides
    y = np.round(x + rng.normal(size=66), 1)
    labels = (y > 0.5).astype(float)
    ids_first, ids_second, n = _numbering(first, second)
    checks = {"mean": lambda rows: x[rows].mean(),
              "pearson": lambda rows: pearsonr(x[rows], y[rows]).statistic,
              "spearman": lambda rows: spearmanr(x[rows], y[rows]).statistic,
              "average_precision": lambda rows: average_precision_score(labels[rows], x[rows])}
    for statistic, stat in checks.items():
        ref = {"mean": None, "average_precision": labels}.get(statistic, y)
        explicit = _explicit_text_bootstrap(ids_first, ids_second, n, stat, 300, 7)
        got = bootstrap.main_ci(x, statistic, ref, resamples=300, seed=7, units=units)
        assert got == pytest.approx(tuple(np.nanquantile(explicit, [0.025, 0.975])), abs=1e-9), statistic


def test_text_groups_are_drawn_whole():
    """Pairs that share a text form groups (connected components); with many small groups, whole groups are
    drawn: the written-out cluster bootstrap gives the same interval."""
    from scipy.stats import spearmanr

    first = [f"a{i // 2}" for i in range(80)]  # each left text in two pairs: 40 groups of 2
    second = [f"b{i}" for i in range(80)]
    units = bootstrap.units_of_texts(first, second, "pair")
    assert (units.scheme, units.unit, units.count) == ("clusters", "text group", 40)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=80), rng.normal(size=80)
    y = x + y
    members = [np.flatnonzero(np.array(units.first) == g) for g in range(40)]
    assert all(list(m) == [2 * g, 2 * g + 1] for g, m in enumerate(members))
    draws = np.random.default_rng(5).integers(0, 40, size=(300, 40))
    explicit = [spearmanr(x[rows], y[rows]).statistic
                for rows in (np.concatenate([members[g] for g in d]) for d in draws)]
    got = bootstrap.main_ci(x, "spearman", y, resamples=300, seed=5, units=units)
    assert got == pytest.approx(tuple(np.quantile(explicit, [0.025, 0.975])), abs=1e-9)


def test_pairs_sharing_no_text_are_independent_items():
    units = bootstrap.units_of_texts([f"a{i}" for i in range(50)], [f"b{i}" for i in range(50)], "pair")
    assert (units.scheme, units.unit, units.count) == ("items", "pair", 50)


def test_few_groups_are_resampled_by_text():
    """Ten groups of eight pairs: too few groups to draw whole, so the texts are drawn."""
    first = [f"a{i // 8}" for i in range(80)]
    units = bootstrap.units_of_texts(first, [f"b{i}" for i in range(80)], "pair")
    assert (units.scheme, units.count) == ("texts", 90)


def test_independent_queries_keep_the_item_interval(retrieval):
    """rt-reviews-plots: the query is the unit, and the interval is the one resampling queries has always given."""
    task, emb = retrieval
    r = evaluate_embeddings(task, emb, Variant(dim=128))
    b = r.details["bootstrap"]
    assert (b["scheme"], b["unit"], b["n_units"]) == ("items", "query", len(r.per_item))
    assert "bootstrap_units" not in r.details
    x = np.array(r.per_item)
    idx = bootstrap.resample_indices(len(x), 1000, 0)
    explicit = np.quantile(x[idx].mean(axis=1), [0.025, 0.975])
    assert r.details["ci"]["ndcg_at_10"] == pytest.approx(list(explicit), abs=1e-6)
    assert r.details["ci"]["ndcg_at_10"] == [round(v, 6) for v in bootstrap.mean_ci(x)]


def test_sts_without_shared_texts_keeps_the_pair_interval(example_task, embed):
    """An STS set whose pairs share no text (reviews paired with distinct plots): pairs are the unit and the
    interval equals the pair-level one exactly (same seed, same draws)."""
    from scipy.stats import spearmanr

    from advisor.datasets.tasks import STSData, Task

    source = example_task("rt-reviews-plots").data
    plots = list(source.corpus)
    used: set[str] = set()
    left, right, gold = [], [], []
    for qid, text in source.queries.items():
        relevant = [d for d in source.qrels.get(qid, {}) if d not in used]
        doc = relevant[0] if relevant else next((d for d in plots if d not in used), None)
        if doc is None:  # every plot is taken
            break
        used.add(doc)
        left.append(text)
        right.append(source.corpus[doc])
        gold.append(float(bool(relevant)) + (len(text) % 5) / 5)
    data = STSData(tuple(left), tuple(right), tuple(gold))
    task = Task(name="distinct-sts", type="sts", source="test", content_hash="distinct", data=data)
    r = evaluate_embeddings(task, embed(task), Variant())
    b = r.details["bootstrap"]
    assert (b["scheme"], b["unit"], b["n_units"]) == ("items", "pair", len(left))
    sim = np.array(r.per_item)
    assert r.details["ci"]["cosine_spearman"] == [round(v, 6) for v in bootstrap.main_ci(sim, "spearman", gold)]
    idx = bootstrap.resample_indices(len(sim), 1000, 0)
    explicit = [spearmanr(sim[i], np.array(gold)[i]).statistic for i in idx]
    assert r.details["ci"]["cosine_spearman"] == pytest.approx(list(np.quantile(explicit, [0.025, 0.975])),
                                                               abs=1e-6)


def test_results_over_different_units_are_not_compared():
    a = {"main_metric": "cosine_spearman", "per_item": [0.1, 0.2, 0.3],
         "bootstrap": {"statistic": "mean", "scheme": "clusters", "unit": "text group", "n_units": 2},
         "bootstrap_units": {"first": [0, 0, 1]}}
    b = {**a, "bootstrap_units": {"first": [0, 1, 1]}}
    with pytest.raises(ValueError, match="different units"):
        bootstrap.compare(a, b)
    older = {"main_metric": "cosine_spearman", "per_item": [0.3, 0.2, 0.1], "bootstrap": {"statistic": "mean"}}
    assert (bootstrap.compare(a, older).unit, bootstrap.compare(a, older).n_units) == ("text group", 2)


def test_a_unit_count_is_written_with_thousands_separators():
    assert bootstrap.plural("query", 1000) == "1,000 queries"
    assert bootstrap.plural("pair", 1225) == "1,225 pairs"
