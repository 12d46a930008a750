"""The report names what each task's intervals and ties resample, and the ranking's paired comparisons resample
those units: an STS task whose pairs share texts is resampled by text."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from advisor.policy.spec import load_policy
from advisor.quality import bootstrap
from advisor.ranking import rank
from advisor.ranking.judge import quality_difference
from advisor.reporting import Report, write_reports
from advisor.sweep.results import CellKey, CellResult


def sts_cell(model: str, sim: np.ndarray, gold: np.ndarray, units: bootstrap.Units, cells) -> CellResult:
    """An STS quality cell as the sweep stores it (advisor.quality.evaluation records the units this way)."""
    from scipy.stats import spearmanr

    key = CellKey("quality", model, None, "torch", "cpu", "fp32", "pairs", "h1", None, "float32", cells.HW, "v1")
    details = {"main_metric": "cosine_spearman", "per_item": sim.tolist(), "task_type": "sts",
               "bootstrap": {"statistic": "spearman", "reference": gold.tolist(), **units.summary()},
               "bootstrap_units": units.mapping()}
    return CellResult(key, metrics={"cosine_spearman": float(spearmanr(sim, gold).statistic)}, details=details,
                      finished_at=1.0)


@pytest.fixture
def ranked(tmp_path, cells):
    texts = [f"document {i}" for i in range(20)]
    pairs = list(combinations(range(20), 2))
    units = bootstrap.units_of_texts([texts[a] for a, _ in pairs], [texts[b] for _, b in pairs], "pair")
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, len(pairs))
    results = [sts_cell(name, gold + rng.normal(0, noise, len(pairs)), gold, units, cells)
               for name, noise in (("a", 1.0), ("b", 1.1))]
    results += [cells.cost(name, p95=10, docs=1000, mem=100, task="pairs") for name in ("a", "b")]
    policy = tmp_path / "p.yaml"
    policy.write_text("name: units\nlicenses:\n  commercial_use: true\n", encoding="utf-8")
    return rank(results, [cells.entry("a"), cells.entry("b")], load_policy(policy)), units


def test_task_line_names_the_resampled_units(tmp_path, ranked):
    rec, units = ranked
    assert [(t.n_items, t.units) for t in rec.tasks] == [(190, "20 texts")]
    paths = write_reports(Report(rec), tmp_path / "out", ["markdown", "html"])
    assert "190 items, bootstrap over 20 texts" in paths["markdown"].read_text(encoding="utf-8")
    assert "190 items, bootstrap over 20 texts" in paths["html"].read_text(encoding="utf-8")


def test_ties_resample_the_texts_for_both_candidates(ranked):
    rec, units = ranked
    a, b = (next(c for c in rec.candidates() if c.model == m) for m in ("a", "b"))
    diff = quality_difference(a, b)
    comp = diff.per_task["pairs"]
    assert (comp.unit, comp.n_units) == ("text", 20)
    expected = bootstrap.compare({"per_item": a.per_item["pairs"]["per_item"], **a.per_item["pairs"]},
                                 {"per_item": b.per_item["pairs"]["per_item"], **b.per_item["pairs"]})
    assert (comp.ci_low, comp.ci_high) == (expected.ci_low, expected.ci_high)
    pair_level = bootstrap.compare({**a.per_item["pairs"], "bootstrap": {"statistic": "spearman",
                                    "reference": a.per_item["pairs"]["bootstrap"]["reference"]}},
                                   {**b.per_item["pairs"], "bootstrap": {"statistic": "spearman",
                                    "reference": b.per_item["pairs"]["bootstrap"]["reference"]}})
    assert comp.ci_high - comp.ci_low > pair_level.ci_high - pair_level.ci_low
