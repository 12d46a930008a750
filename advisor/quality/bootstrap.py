"""Paired bootstrap over queries (or pairs): a confidence interval for each quality figure, and whether two
candidates evaluated on the same items really differ.

Resampling is deterministic (a fixed seed gives the same draws), and paired: both candidates are scored on the
same resampled items, so the noise of the items cancels and only the difference between the systems remains.
A figure that is a mean over items (nDCG@10, accuracy) is resampled as a weighted mean; a figure that is not
(Spearman, average precision) is recomputed on every resample from the per-item scores and the gold values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95


def resample_indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(resamples, n) item indices drawn with replacement; the same (n, resamples, seed) gives the same draws."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    if values.size == 0 or np.all(np.isnan(values)):  # no resamples asked for (--resamples 0)
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_ci(per_item: Sequence[float] | np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Percentile interval of the mean of one per-item array."""
    return many_mean_ci({"x": np.asarray(per_item, dtype=np.float64)}, resamples=resamples, seed=seed,
                        level=level)["x"]


def many_mean_ci(per_item: dict[str, np.ndarray], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = DEFAULT_LEVEL) -> dict[str, tuple[float, float]]:
    """Intervals for several per-item arrays over the *same* resamples (one count matrix, one product)."""
    if not per_item:
        return {}
    names = list(per_item)
    matrix = np.stack([np.asarray(per_item[k], dtype=np.float64) for k in names], axis=1)  # (n, m)
    n = len(matrix)
    if n == 0 or resamples <= 0:
        return {k: (float("nan"), float("nan")) for k in names}
    idx = resample_indices(n, resamples, seed)
    counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
    means = counts @ matrix / n  # (resamples, m)
    return {k: _interval(means[:, j], level) for j, k in enumerate(names)}


def statistic_ci(stat: Callable[[np.ndarray], np.ndarray], n: int, *, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Interval of any statistic; ``stat`` receives the (resamples, n) index matrix and returns one value per
    resample (vectorized: correlations over 2-D arrays)."""
    return _interval(np.asarray(stat(resample_indices(n, resamples, seed)), dtype=np.float64), level)


# -- per-item statistics as recorded by advisor.quality.evaluation ------------------------------------------------------

def _statistic(per_item: np.ndarray, statistic: str, reference: np.ndarray | None
               ) -> Callable[[np.ndarray], np.ndarray]:
    from advisor.quality.metrics import average_precision, pearson, spearman

    if statistic == "mean":
        return lambda idx: per_item[idx].mean(axis=1)
    assert reference is not None, f"statistic '{statistic}' needs the reference values"
    if statistic == "spearman":
        return lambda idx: spearman(per_item[idx], reference[idx])
    if statistic == "pearson":
        return lambda idx: pearson(per_item[idx], reference[idx])
    if statistic == "average_precision":
        return lambda idx: np.array([average_precision(reference[i], per_item[i]) for i in idx])
    raise ValueError(f"unknown bootstrap statistic '{statistic}'")


@dataclass(frozen=True)
class Comparison:
    """The paired difference a - b of one figure, its interval, and whether the interval excludes zero."""

    metric: str
    a: float
    b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    different: bool
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(a: Any, b: Any, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = DEFAULT_LEVEL) -> Comparison:
    """Whether two candidates differ on the main figure of one task. ``a`` and ``b`` are QualityResults (or
    their ``details`` dicts / CellResult details): same task, same items in the same order."""
    pa, pb = _bootstrap_view(a), _bootstrap_view(b)
    if pa["statistic"] != pb["statistic"] or len(pa["per_item"]) != len(pb["per_item"]):
        raise ValueError("the two results do not cover the same items with the same statistic; "
                         "compare results of one task only")
    n = len(pa["per_item"])
    fa = _statistic(np.asarray(pa["per_item"], dtype=np.float64), pa["statistic"], pa["reference"])
    fb = _statistic(np.asarray(pb["per_item"], dtype=np.float64), pb["statistic"], pb["reference"])
    idx = resample_indices(n, resamples, seed)
    full = np.arange(n)[None, :]
    point_a, point_b = float(fa(full)[0]), float(fb(full)[0])
    diffs = fa(idx) - fb(idx)
    lo, hi = _interval(diffs, level)
    # two-sided bootstrap p-value: twice the share of resamples on the far side of zero (ties count for both)
    p = float(min(1.0, 2.0 * min(np.mean(diffs <= 0), np.mean(diffs >= 0))))
    return Comparison(metric=pa["metric"], a=point_a, b=point_b, difference=point_a - point_b, ci_low=lo, ci_high=hi,
                      p_value=p, different=bool(lo > 0 or hi < 0), resamples=resamples, seed=seed)


def _bootstrap_view(result: Any) -> dict[str, Any]:
    details = result.details if hasattr(result, "details") else result
    per_item = getattr(result, "per_item", None)
    if per_item is None:
        per_item = details.get("per_item")
    boot = details.get("bootstrap", {})
    ref = boot.get("reference")
    return {"per_item": per_item, "statistic": boot.get("statistic", "mean"),
            "reference": None if ref is None else np.asarray(ref, dtype=np.float64),
            "metric": getattr(result, "main_metric", None) or details.get("main_metric", "main")}


def main_ci(per_item: Sequence[float], statistic: str = "mean", reference: Sequence[float] | None = None, *,
            resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Interval of a main figure from its per-item values (and the gold values for non-mean statistics)."""
    f = _statistic(np.asarray(per_item, dtype=np.float64), statistic,
                   None if reference is None else np.asarray(reference, dtype=np.float64))
    return statistic_ci(f, len(per_item), resamples=resamples, seed=seed, level=level)
