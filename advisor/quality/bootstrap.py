"""Paired bootstrap over the task's independent units: a confidence interval for each quality figure, and whether
two candidates evaluated on the same items really differ.

Resampling is deterministic (a fixed seed gives the same draws), and paired: both candidates are scored on the
same resampled units, so the noise of the items cancels and only the difference between the systems remains.
A figure that is a mean over items (nDCG@10, accuracy) is resampled as a weighted mean; a figure that is not
(Spearman, average precision) is recomputed on every resample from the per-item scores and the gold values.

What is resampled is the unit that is independent, found from the data (:func:`units_of_texts`):

- ``items``: each item (a query, a pair, a test example) shares nothing with the others, so items are drawn with
  replacement (Efron's bootstrap). Retrieval and reranking are always this: the query is the unit.
- ``clusters``: items that share a text are dependent (an STS set whose sentences recur in several pairs, a test
  set with repeated texts). The connected components of the graph whose nodes are the texts and whose edges are
  the items are drawn whole, with replacement (the one-way cluster bootstrap).
- ``texts``: one component holds most items (lee-sts: 1,225 pairs of only 50 documents), or there are too few
  components to draw from. The texts are drawn with replacement and every item whose texts were all drawn is
  kept, weighted by the product of their multiplicities (a text drawn twice brings its pairs twice): the vertex
  bootstrap for dyadic data (Snijders & Borgatti 1999), the one-set form of Owen's pigeonhole bootstrap (2007),
  shown consistent for jointly exchangeable arrays by Davezies, D'Haultfoeuille & Guyonvarch (2021).

The chosen scheme, its unit and the number of units are recorded in each result's ``details['bootstrap']``
(``scheme``, ``unit``, ``n_units``) and the item-to-unit map in ``details['bootstrap_units']``, so a paired
comparison of two stored cells resamples the same units for both (docs/quality.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Hashable, Iterator, Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95

SCHEMES = ("items", "clusters", "texts")
# Fewer components than this are too few to draw whole (a cluster bootstrap with few clusters understates the
# noise; Cameron, Gelbach & Miller 2008): the texts are drawn instead.
MIN_CLUSTERS = 30
CLUSTER_UNIT, TEXT_UNIT = "text group", "text"
_CHUNK_CELLS = 1 << 22  # weights computed for at most this many (resample, item) cells at a time
_PLURALS = {"query": "queries"}


def plural(unit: str, n: int) -> str:
    """'1 query', '240 queries', '1,225 pairs' (the count written as every other count is)."""
    return f"{n:,} {unit if n == 1 else _PLURALS.get(unit, unit + 's')}"


@dataclass(frozen=True)
class Units:
    """What one resample draws. ``unit`` names one of the ``count`` things drawn (singular); ``first`` holds, per
    item, its cluster (``clusters``) or its first text (``texts``); ``second`` its second text (``texts``; the same
    as ``first`` for an item of one text). ``items`` needs no map."""

    scheme: str
    unit: str
    count: int
    n_items: int
    first: tuple[int, ...] = ()
    second: tuple[int, ...] = ()

    def text(self) -> str:
        """'50 texts', '240 queries'."""
        return plural(self.unit, self.count)

    def summary(self) -> dict[str, Any]:
        """The facts ``details['bootstrap']`` records."""
        return {"scheme": self.scheme, "unit": self.unit, "n_units": self.count, "n_items": self.n_items}

    def mapping(self) -> dict[str, list[int]]:
        """The item-to-unit map ``details['bootstrap_units']`` records (empty for ``items``)."""
        if self.scheme == "items":
            return {}
        if self.scheme == "clusters":
            return {"first": list(self.first)}
        return {"first": list(self.first), "second": list(self.second)}

    def same_draws(self, other: "Units") -> bool:
        return (self.scheme, self.count, self.n_items, self.first, self.second) == (
            other.scheme, other.count, other.n_items, other.first, other.second)


def items(n: int, unit: str) -> Units:
    """Independent items: each item is its own unit."""
    return Units("items", unit, n, n)


def units_of_texts(first: Sequence[Hashable], second: Sequence[Hashable] | None, item: str) -> Units:
    """The independent units of items made of one text (``first``) or of two (``first[i]``, ``second[i]``; the same
    text in either column is the same node). No text in two items: the items themselves. Otherwise the connected
    components of the text graph (``clusters``), unless one component holds more than half of the items or there
    are fewer than ``MIN_CLUSTERS`` components, when the texts are drawn (``texts``)."""
    ids: dict[Hashable, int] = {}
    a = np.array([ids.setdefault(t, len(ids)) for t in first], dtype=np.int64)
    b = a if second is None else np.array([ids.setdefault(t, len(ids)) for t in second], dtype=np.int64)
    if len(a) != len(b):
        raise ValueError("every item needs both of its texts")
    n = len(a)
    parent = list(range(len(ids)))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    component: dict[int, int] = {}
    cluster = np.array([component.setdefault(root(x), len(component)) for x in a.tolist()], dtype=np.int64)
    if len(component) == n:
        return items(n, item)
    largest = int(np.bincount(cluster).max()) if n else 0
    if largest * 2 > n or len(component) < MIN_CLUSTERS:
        return Units("texts", TEXT_UNIT, len(ids), n, tuple(a.tolist()), tuple(b.tolist()))
    return Units("clusters", CLUSTER_UNIT, len(component), n, tuple(cluster.tolist()))


def recorded_units(details: Mapping[str, Any], n_items: int) -> Units | None:
    """The units a result recorded (``details['bootstrap']`` and ``details['bootstrap_units']``); None for a result
    that records none (cells from before units were recorded, BM25's and hybrid's), which resamples its items."""
    boot = details.get("bootstrap") or {}
    scheme = boot.get("scheme")
    if scheme is None:
        return None
    if scheme not in SCHEMES:
        raise ValueError(f"unknown bootstrap scheme '{scheme}'")
    if scheme == "items":
        return items(n_items, boot.get("unit", "item"))
    mapping = details.get("bootstrap_units") or {}
    first = tuple(int(x) for x in mapping.get("first", ()))
    second = tuple(int(x) for x in mapping.get("second", ())) if scheme == "texts" else ()
    if len(first) != n_items or (scheme == "texts" and len(second) != n_items):
        raise ValueError("the result's bootstrap units do not cover its items")
    return Units(scheme, boot.get("unit", CLUSTER_UNIT if scheme == "clusters" else TEXT_UNIT),
                 int(boot["n_units"]), n_items, first, second)


def resample_indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(resamples, n) item indices drawn with replacement; the same (n, resamples, seed) gives the same draws."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)


def resample_weights(units: Units, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> Iterator[np.ndarray]:
    """The multiplicity of every item in every resample, in chunks of rows ((r, n_items) each): the ``count``
    units are drawn with replacement (``resample_indices`` at the unit level); an item counts as often as its
    cluster was drawn (``clusters``), or as the product of its two texts' draws (``texts``; an item of one text,
    as often as that text)."""
    if resamples <= 0 or units.count == 0:
        return
    drawn = _counts(resample_indices(units.count, resamples, seed), units.count)  # (resamples, count)
    step = max(1, _CHUNK_CELLS // max(units.n_items, 1))
    first, second = np.asarray(units.first, dtype=np.int64), np.asarray(units.second, dtype=np.int64)
    for start in range(0, resamples, step):
        m = drawn[start:start + step]
        if units.scheme == "items":
            yield m
        elif units.scheme == "clusters":
            yield m[:, first]
        else:
            yield m[:, first] * np.where(first == second, 1.0, m[:, second])


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    if values.size == 0 or np.all(np.isnan(values)):  # no resamples asked for (--resamples 0)
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_ci(per_item: Sequence[float] | np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = DEFAULT_LEVEL, units: Units | None = None) -> tuple[float, float]:
    """Percentile interval of the mean of one per-item array."""
    return many_mean_ci({"x": np.asarray(per_item, dtype=np.float64)}, resamples=resamples, seed=seed,
                        level=level, units=units)["x"]


def many_mean_ci(per_item: dict[str, np.ndarray], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = DEFAULT_LEVEL, units: Units | None = None) -> dict[str, tuple[float, float]]:
    """Intervals for several per-item arrays over the *same* resamples (one count matrix, one product)."""
    if not per_item:
        return {}
    names = list(per_item)
    matrix = np.stack([np.asarray(per_item[k], dtype=np.float64) for k in names], axis=1)  # (n, m)
    n = len(matrix)
    if n == 0 or resamples <= 0:
        return {k: (float("nan"), float("nan")) for k in names}
    if units is None or units.scheme == "items":
        idx = resample_indices(n, resamples, seed)
        counts = _counts(idx, n)
        means = counts @ matrix / n  # (resamples, m)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.concatenate([w @ matrix / w.sum(axis=1, keepdims=True)
                                    for w in resample_weights(units, resamples, seed)])
    return {k: _interval(means[:, j], level) for j, k in enumerate(names)}


def statistic_ci(stat: Callable[[np.ndarray], np.ndarray], n: int, *, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Interval of any statistic over independent items; ``stat`` receives the (resamples, n) index matrix and
    returns one value per resample (vectorized: correlations over 2-D arrays)."""
    return _interval(np.asarray(stat(resample_indices(n, resamples, seed)), dtype=np.float64), level)


# -- per-item statistics as recorded by advisor.quality.evaluation ------------------------------------------------------

def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson correlation of the sample in which item i occurs w[r, i] times, per row r of ``w``; ``x``/``y``
    are (n,) or (r, n)."""
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = x - (w * x).sum(axis=1, keepdims=True) / total
        ym = y - (w * y).sum(axis=1, keepdims=True) / total
        return (w * xm * ym).sum(axis=1) / np.sqrt((w * xm * xm).sum(axis=1) * (w * ym * ym).sum(axis=1))


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The average rank (1-based, ties averaged as scipy does) each item's value has in the sample in which item
    i occurs w[r, i] times: the weight of the smaller values plus the mean position within its tie."""
    order = np.argsort(x, kind="stable")
    sx = x[order]
    starts = np.flatnonzero(np.r_[True, sx[1:] != sx[:-1]])
    ws = w[:, order]
    tie = np.add.reduceat(ws, starts, axis=1)  # weight of each distinct value
    before = np.cumsum(tie, axis=1) - tie
    sizes = np.diff(np.r_[starts, len(sx)])
    ranks = np.empty_like(ws)
    ranks[:, order] = np.repeat(before + (tie + 1.0) / 2.0, sizes, axis=1)
    return ranks


def _weighted_average_precision(labels: np.ndarray, scores: np.ndarray, w: np.ndarray) -> np.ndarray:
    """scikit-learn's average precision (one step per distinct score) of the sample in which item i occurs
    w[r, i] times, per row r; a distinct score none of whose items was drawn adds nothing."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    ws = w[:, order]
    tp = np.cumsum(ws * y, axis=1)[:, last]
    taken = np.cumsum(ws, axis=1)[:, last]
    positives = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(taken > 0, tp / np.where(taken > 0, taken, 1.0), 0.0)
        recall = tp / positives
        gain = np.diff(np.concatenate([np.zeros((len(ws), 1)), recall], axis=1), axis=1)
        ap = (gain * precision).sum(axis=1)
    return np.where(positives[:, 0] > 0, ap, np.nan)


@dataclass(frozen=True)
class _Statistic:
    """One main figure from its per-item values: on index resamples (independent items, the draws as they have
    always been) or on weighted resamples (clusters and texts)."""

    per_item: np.ndarray
    statistic: str
    reference: np.ndarray | None

    def __post_init__(self) -> None:
        if self.statistic not in ("mean", "spearman", "pearson", "average_precision"):
            raise ValueError(f"unknown bootstrap statistic '{self.statistic}'")
        if self.statistic != "mean":
            assert self.reference is not None, f"statistic '{self.statistic}' needs the reference values"

    def on_indices(self, idx: np.ndarray) -> np.ndarray:
        from advisor.quality.metrics import average_precision, pearson, spearman

        x, ref = self.per_item, self.reference
        if self.statistic == "mean":
            return x[idx].mean(axis=1)
        if self.statistic == "spearman":
            return spearman(x[idx], ref[idx])
        if self.statistic == "pearson":
            return pearson(x[idx], ref[idx])
        return np.array([average_precision(ref[i], x[i]) for i in idx])

    def on_weights(self, w: np.ndarray) -> np.ndarray:
        x, ref = self.per_item, self.reference
        if self.statistic == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                return w @ x / w.sum(axis=1)
        if self.statistic == "spearman":
            return _weighted_pearson(_weighted_ranks(x, w), _weighted_ranks(ref, w), w)
        if self.statistic == "pearson":
            return _weighted_pearson(x, ref, w)
        return _weighted_average_precision(ref, x, w)

    def point(self) -> float:
        return float(self.on_indices(np.arange(len(self.per_item))[None, :])[0])


def _resampled(stats: Sequence[_Statistic], units: Units, resamples: int, seed: int) -> list[np.ndarray]:
    """Each statistic on the same resamples of ``units``."""
    if resamples <= 0:
        return [np.empty(0) for _ in stats]
    if units.scheme == "items":
        idx = resample_indices(units.n_items, resamples, seed)
        return [np.asarray(s.on_indices(idx), dtype=np.float64) for s in stats]
    parts: list[list[np.ndarray]] = [[] for _ in stats]
    for w in resample_weights(units, resamples, seed):
        for part, s in zip(parts, stats):
            part.append(np.asarray(s.on_weights(w), dtype=np.float64))
    return [np.concatenate(p) for p in parts]


@dataclass(frozen=True)
class Comparison:
    """The paired difference a - b of one figure, its interval, and whether the interval excludes zero;
    ``unit``/``n_units``: what both were resampled over."""

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
    unit: str = "item"
    n_units: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(a: Any, b: Any, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = DEFAULT_LEVEL) -> Comparison:
    """Whether two candidates differ on the main figure of one task. ``a`` and ``b`` are QualityResults (or
    their ``details`` dicts / CellResult details): same task, same items in the same order. Both are scored on
    the same resampled units (the ones either recorded; two that recorded different units are refused)."""
    pa, pb = _bootstrap_view(a), _bootstrap_view(b)
    if pa["statistic"] != pb["statistic"] or len(pa["per_item"]) != len(pb["per_item"]):
        raise ValueError("the two results do not cover the same items with the same statistic; "
                         "compare results of one task only")
    units = _shared_units(pa["units"], pb["units"], len(pa["per_item"]))
    fa = _Statistic(np.asarray(pa["per_item"], dtype=np.float64), pa["statistic"], pa["reference"])
    fb = _Statistic(np.asarray(pb["per_item"], dtype=np.float64), pb["statistic"], pb["reference"])
    point_a, point_b = fa.point(), fb.point()
    ra, rb = _resampled((fa, fb), units, resamples, seed)
    diffs = ra - rb
    lo, hi = _interval(diffs, level)
    # two-sided bootstrap p-value: twice the share of resamples on the far side of zero (ties count for both); a
    # resample on which the figure is undefined (a correlation of too few drawn items) counts for neither
    diffs = diffs[~np.isnan(diffs)]
    p = float(min(1.0, 2.0 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))) if diffs.size else float("nan")
    return Comparison(metric=pa["metric"], a=point_a, b=point_b, difference=point_a - point_b, ci_low=lo, ci_high=hi,
                      p_value=p, different=bool(lo > 0 or hi < 0), resamples=resamples, seed=seed,
                      unit=units.unit, n_units=units.count)


def _shared_units(a: Units | None, b: Units | None, n: int) -> Units:
    """The units both results are resampled over: the ones either recorded (a result from before units were
    recorded takes the other's); two that recorded different units are refused."""
    if a is not None and b is not None and not a.same_draws(b):
        raise ValueError("the two results were resampled over different units; compare results of one task only")
    return a or b or items(n, "item")


def _bootstrap_view(result: Any) -> dict[str, Any]:
    details = result.details if hasattr(result, "details") else result
    per_item = getattr(result, "per_item", None)
    if per_item is None:
        per_item = details.get("per_item")
    boot = details.get("bootstrap", {})
    ref = boot.get("reference")
    return {"per_item": per_item, "statistic": boot.get("statistic", "mean"),
            "reference": None if ref is None else np.asarray(ref, dtype=np.float64),
            "units": recorded_units(details, len(per_item)),
            "metric": getattr(result, "main_metric", None) or details.get("main_metric", "main")}


def main_ci(per_item: Sequence[float], statistic: str = "mean", reference: Sequence[float] | None = None, *,
            resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL,
            units: Units | None = None) -> tuple[float, float]:
    """Interval of a main figure from its per-item values (and the gold values for non-mean statistics), over
    ``units`` (independent items when None)."""
    stat = _Statistic(np.asarray(per_item, dtype=np.float64), statistic,
                      None if reference is None else np.asarray(reference, dtype=np.float64))
    units = units or items(len(per_item), "item")
    return _interval(_resampled((stat,), units, resamples, seed)[0], level)
