"""Batch-1 query latency after warm-up, as a serving stack sees it: raw text in, vector out (tokenization included).

Samples are taken in rounds until they settle (``advisor.cost.stability``), while a ``ContentionWatch`` records
what else the machine was doing. Percentiles are numpy's linear interpolation over the samples of the settled
rounds, each with a bootstrap interval, and the sample count is always reported with them, because a p99 over 50
samples is one sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from advisor.cost.contention import Contention, ContentionWatch
from advisor.cost.stability import Settled, StabilityRule, latency_rounds, percentile_interval
from advisor.models.backends import Encoder

PERCENTILES = (50, 95, 99)


@dataclass
class LatencyStats:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    samples: int
    raw_ms: list[float] = field(default_factory=list, repr=False)
    intervals: dict[int, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], *, level: float = 0.95, resamples: int = 0,
                     seed: int = 0) -> "LatencyStats":
        """Percentiles of ``samples_ms``; with ``resamples`` > 0 each carries a bootstrap interval."""
        if len(samples_ms) == 0:
            raise ValueError("no latency samples")
        a = np.asarray(samples_ms, dtype=np.float64)
        p50, p95, p99 = np.percentile(a, PERCENTILES)
        intervals = {q: percentile_interval(a, q, level=level, resamples=resamples, seed=seed)
                     for q in PERCENTILES} if resamples else {}
        return cls(float(p50), float(p95), float(p99), float(a.mean()), float(a.max()), int(a.size),
                   [float(x) for x in a], intervals)

    def figures(self, prefix: str = "latency") -> dict[str, float]:
        out = {f"{prefix}_p50_ms": round(self.p50_ms, 4), f"{prefix}_p95_ms": round(self.p95_ms, 4),
               f"{prefix}_p99_ms": round(self.p99_ms, 4), f"{prefix}_mean_ms": round(self.mean_ms, 4),
               f"{prefix}_samples": self.samples}
        for q, (lo, hi) in self.intervals.items():
            out[f"{prefix}_p{q}_ms_ci_low"] = round(lo, 4)
            out[f"{prefix}_p{q}_ms_ci_high"] = round(hi, 4)
        return out


@dataclass
class LatencyMeasurement:
    stats: LatencyStats
    settled: Settled
    contention: Contention

    @property
    def unstable(self) -> list[str]:
        return ([self.settled.reason] if self.settled.reason else []) + self.contention.reasons()


def single_query_fn(encoder: Encoder, kind: str = "query") -> Callable[[str], Any]:
    """The encoder's batch-1 serving call (``Encoder.encode_one``: CUDA graphs on the fast path)."""
    return lambda text: encoder.encode_one(text, kind=kind)


def measure_latency(encoder: Encoder, queries: Sequence[str], *, rule: StabilityRule | None = None,
                    warmup: int = 10, kind: str = "query", sync: Callable[[], None] | None = None
                    ) -> LatencyMeasurement:
    """Time batch-1 calls (cycling through ``queries``) in rounds after ``warmup`` untimed calls. The call returns
    a host array, so the device work is finished when the clock stops; ``sync`` is for encoders that might not
    (called inside the timed region)."""
    if not queries:
        raise ValueError("no queries to time")
    rule = rule or StabilityRule()
    encoder.warmup(list(queries[: min(len(queries), 3)]))
    call = single_query_fn(encoder, kind)
    for i in range(warmup):
        call(queries[i % len(queries)])

    def timed(i: int) -> None:
        call(queries[i % len(queries)])
        if sync is not None:
            sync()

    with ContentionWatch() as watch:
        settled = latency_rounds(timed, rule)
    stats = LatencyStats.from_samples(settled.samples, level=rule.level, resamples=rule.resamples, seed=rule.seed)
    return LatencyMeasurement(stats, settled, watch.result)
