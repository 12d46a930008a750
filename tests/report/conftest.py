"""Report tests' fixtures. ``cells`` builds CellResults by hand: the exact input the ranking reads from a store."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from advisor.models.catalog import ModelEntry
from advisor.sweep.results import CellKey, CellResult

HW = "hw-laptop"


def entry(name: str, *, license: str = "Apache-2.0", languages=("eng-Latn",), dim: int = 384,
          matryoshka=()) -> ModelEntry:
    return ModelEntry(name=name, source="path:/nowhere", backend="torch", embed_dim=dim, license=license,
                      languages=tuple(languages), matryoshka_dims=tuple(matryoshka))


def quality(model: str, per_item, *, task: str = "reviews", dim=None, vp: str = "float32", wp: str = "fp32",
            hardware: str = HW, device: str = "cpu", status: str = "ok", error: str | None = None,
            finished_at: float = 1.0, task_hash: str = "h1") -> CellResult:
    items = [float(x) for x in per_item]
    key = CellKey("quality", model, None, "torch", device, wp, task, task_hash, dim, vp, hardware, "v1")
    metrics = {"ndcg_at_10": float(np.mean(items)), "recall_at_10": min(1.0, float(np.mean(items)) + 0.1)} \
        if status == "ok" else {}
    return CellResult(key, status=status, metrics=metrics,
                      details={"main_metric": "ndcg_at_10", "per_item": items},
                      error=error, finished_at=finished_at)


def cost(model: str, *, p95: float, docs: float, mem: float, task: str = "reviews", wp: str = "fp32",
         hardware: str = HW, device: str = "cpu", samples=None, task_hash: str = "h1") -> CellResult:
    key = CellKey("cost", model, None, "torch", device, wp, task, task_hash, None, None, hardware, "v1")
    details = {"latencies_ms": list(samples)} if samples is not None else {}
    return CellResult(key, metrics={"latency_p50_ms": p95 / 2, "latency_p95_ms": p95, "latency_p99_ms": p95 * 1.2,
                                    "latency_samples": 100, "docs_per_s": docs, "tokens_per_s": docs * 50,
                                    "serving_memory_mb": mem}, details=details, finished_at=1.0)


def scores(mean: float, n: int = 200, *, seed: int = 0, spread: float = 0.25) -> np.ndarray:
    """Per-query scores in [0, 1] with the given mean (shifted exactly)."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0.5, spread, n), 0, 1)
    return x - x.mean() + mean


@pytest.fixture
def cells() -> SimpleNamespace:
    return SimpleNamespace(entry=entry, quality=quality, cost=cost, scores=scores, HW=HW)
