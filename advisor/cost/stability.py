"""Measuring until the figure settles, and saying how sure it is.

pyperf's rules are the model: warm up, take many samples in rounds, report the spread, and say when the system
was not stable. Batch-1 latency is taken in rounds of ``round_samples`` calls; it has settled when the medians of
the last ``settle_rounds`` rounds lie within ``latency_tolerance`` of each other ((max - min) / min). Bulk
throughput is taken in rounds over the whole bulk sample; it has settled when the last ``bulk_settle_rounds``
rounds agree within ``bulk_tolerance``. Both stop early when settled and give up when their time budget ends,
and a figure that did not settle is marked unstable with the reason. Percentiles are computed over the settled
rounds (all rounds when none settled) and carry a bootstrap interval (``level``, ``resamples``) and the count.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from advisor.formatting import duration, number, percent


@dataclass(frozen=True)
class StabilityRule:
    round_samples: int = 40
    settle_rounds: int = 3
    latency_tolerance: float = 0.10
    latency_budget_s: float = 20.0
    max_latency_rounds: int = 25
    bulk_settle_rounds: int = 2
    bulk_tolerance: float = 0.05
    bulk_budget_s: float = 40.0
    max_bulk_rounds: int = 6
    level: float = 0.95
    resamples: int = 1000
    seed: int = 0

    def describe(self) -> str:
        return (f"latency: rounds of {self.round_samples} batch-1 calls until the medians of the last "
                f"{self.settle_rounds} rounds agree within {percent(self.latency_tolerance, decimals=0)} (budget "
                f"{duration(self.latency_budget_s)}); bulk: rounds over the sample until the last "
                f"{self.bulk_settle_rounds} agree within {percent(self.bulk_tolerance, decimals=0)} (budget "
                f"{duration(self.bulk_budget_s)}); percentiles with a {percent(self.level, decimals=0)} bootstrap "
                f"interval")


def spread(values: Sequence[float]) -> float:
    """(max - min) / min of positive values: 0 when they agree exactly."""
    lo = min(values)
    return (max(values) - lo) / lo if lo > 0 else float("inf")


def percentile_interval(samples: Sequence[float], q: float, *, level: float = 0.95, resamples: int = 1000,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the q-th percentile (numpy's linear interpolation)."""
    a = np.asarray(samples, dtype=np.float64)
    if a.size < 2 or resamples < 1:
        value = float(np.percentile(a, q))
        return value, value
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    stats = np.percentile(a[idx], q, axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


@dataclass
class Settled:
    """The outcome of measuring in rounds: which rounds count, and whether they agreed."""

    settled: bool
    rounds: list[float]                  # per-round statistic (median ms, or docs/s)
    used_rounds: int                     # how many of the last rounds the figures are computed over
    seconds: float
    reason: str | None = None
    samples: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("samples")
        out["rounds"] = [round(x, 4) for x in self.rounds]
        out["spread"] = round(spread(self.rounds[-self.used_rounds:]), 4) if self.rounds else None
        return out


def latency_rounds(call: Callable[[int], None], rule: StabilityRule) -> Settled:
    """Time ``call(i)`` in rounds until the round medians settle (or the budget ends). Returns every sample (ms)
    of the rounds the figures are computed over."""
    rounds: list[list[float]] = []
    medians: list[float] = []
    t_start = time.perf_counter()
    i = 0
    while True:
        samples = []
        for _ in range(rule.round_samples):
            t0 = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - t0) * 1000.0)
            i += 1
        rounds.append(samples)
        medians.append(float(np.median(samples)))
        elapsed = time.perf_counter() - t_start
        if len(medians) >= rule.settle_rounds and spread(medians[-rule.settle_rounds:]) <= rule.latency_tolerance:
            used = rule.settle_rounds
            return Settled(True, medians, used, elapsed, None, [x for r in rounds[-used:] for x in r])
        if elapsed >= rule.latency_budget_s or len(rounds) >= rule.max_latency_rounds:
            last = medians[-rule.settle_rounds:]
            if len(rounds) < rule.settle_rounds:
                why = (f"batch-1 latency could not be repeated: {len(rounds)} round(s) of {rule.round_samples} calls "
                       f"took {duration(elapsed)} of the {duration(rule.latency_budget_s)} budget, and "
                       f"{rule.settle_rounds} agreeing rounds are needed")
            else:
                why = (f"batch-1 latency did not settle: the last round medians "
                       f"{', '.join(number(m) for m in last)} ms differ by {percent(spread(last), decimals=0)} "
                       f"(tolerance {percent(rule.latency_tolerance, decimals=0)}) after {len(rounds)} rounds in "
                       f"{duration(elapsed)}")
            return Settled(False, medians, len(rounds), elapsed, why, [x for r in rounds for x in r])


def bulk_rounds(run: Callable[[], float], rule: StabilityRule) -> Settled:
    """Call ``run()`` (one timed pass over the bulk sample, returning its docs/s) until the rounds agree."""
    rates: list[float] = []
    t_start = time.perf_counter()
    while True:
        rates.append(float(run()))
        elapsed = time.perf_counter() - t_start
        n = rule.bulk_settle_rounds
        if len(rates) >= n and spread(rates[-n:]) <= rule.bulk_tolerance:
            return Settled(True, rates, n, elapsed, None, rates[-n:])
        if len(rates) >= rule.max_bulk_rounds or (elapsed >= rule.bulk_budget_s and len(rates) >= 1):
            if len(rates) < n:
                why = (f"bulk throughput was timed once: one pass took {duration(elapsed)} of the "
                       f"{duration(rule.bulk_budget_s)} budget, so it could not be repeated")
            else:
                why = (f"bulk throughput did not settle: the last rounds "
                       f"({', '.join(number(r, digits=4) for r in rates[-n:])} docs/s) differ by "
                       f"{percent(spread(rates[-n:]), decimals=0)} (tolerance "
                       f"{percent(rule.bulk_tolerance, decimals=0)})")
            return Settled(False, rates, len(rates), elapsed, why, list(rates))
