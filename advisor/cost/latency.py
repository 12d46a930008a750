"""Batch-1 query latency after warm-up, as a serving stack sees it: raw text in, vector out (tokenization included).

Percentiles are numpy's linear interpolation over the raw samples; the sample count is always reported with
them, because a p99 over 50 samples is one sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from advisor.models.backends import Encoder


@dataclass
class LatencyStats:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    samples: int
    raw_ms: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> "LatencyStats":
        if len(samples_ms) == 0:
            raise ValueError("no latency samples")
        a = np.asarray(samples_ms, dtype=np.float64)
        p50, p95, p99 = np.percentile(a, [50, 95, 99])
        return cls(float(p50), float(p95), float(p99), float(a.mean()), float(a.max()), int(a.size),
                   [float(x) for x in a])

    def figures(self, prefix: str = "latency") -> dict[str, float]:
        return {f"{prefix}_p50_ms": round(self.p50_ms, 4), f"{prefix}_p95_ms": round(self.p95_ms, 4),
                f"{prefix}_p99_ms": round(self.p99_ms, 4), f"{prefix}_mean_ms": round(self.mean_ms, 4),
                f"{prefix}_samples": self.samples}


def single_query_fn(encoder: Encoder, kind: str = "query") -> Callable[[str], Any]:
    """The encoder's batch-1 serving call: ``encode_one`` when it has a lean path (the fast path's CUDA graphs),
    else ``encode([text], batch_size=1)``."""
    one = getattr(encoder, "encode_one", None)
    if callable(one):
        return lambda text: one(text, kind=kind)
    return lambda text: encoder.encode([text], kind=kind, batch_size=1)


def measure_latency(encoder: Encoder, queries: Sequence[str], *, samples: int = 100, warmup: int = 10,
                    kind: str = "query", sync: Callable[[], None] | None = None) -> LatencyStats:
    """Time ``samples`` batch-1 calls (cycling through ``queries``) after ``warmup`` untimed calls. The call
    returns a host array, so the device work is finished when the clock stops; ``sync`` is for encoders that
    might not (called inside the timed region)."""
    if not queries:
        raise ValueError("no queries to time")
    warm = getattr(encoder, "warmup", None)
    if callable(warm):
        warm(list(queries[: min(len(queries), 3)]))
    call = single_query_fn(encoder, kind)
    for i in range(warmup):
        call(queries[i % len(queries)])
    out = []
    for i in range(samples):
        text = queries[i % len(queries)]
        t0 = time.perf_counter()
        call(text)
        if sync is not None:
            sync()
        out.append((time.perf_counter() - t0) * 1000.0)
    return LatencyStats.from_samples(out)
