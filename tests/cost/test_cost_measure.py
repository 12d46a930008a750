"""Cost figures on real runs: latency percentiles equal numpy's over the recorded samples, the in-process load test
(advisor serve's batcher) hands every request its own vector (equal to the unbatched one) and keeps the token
budget, and ``advisor measure --json`` reports every figure with its manifest on a real model and dataset (the
serving footprint: tests/cost/test_cost_memory.py)."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from advisor.cost.inprocess_load import run_load
from advisor.models.backends import Encoder
from advisor.models.batcher import DynamicBatcher, count_tokens
from advisor.models.fastpath import FastTransformerEncoder
from advisor.models.serve_config import ServeConfig
from advisor.cost.latency import LatencyStats, measure_latency
from advisor.cost.stability import StabilityRule
from advisor.cost.storage import default_dims, index_table
from advisor.models.variants import bytes_per_vector

pytestmark = pytest.mark.slow

QUERIES = ["a gripping thriller with a weak ending", "the cast is wonderful", "boring and far too long",
           "a family comedy about a dog", "visually stunning but hollow", "the best film of the year",
           "I laughed, I cried", "a war drama set in 1944"]


@pytest.fixture(scope="module")
def encoder(minilm_dir):
    enc = FastTransformerEncoder(minilm_dir)
    yield enc
    enc.close()


def test_latency_percentiles_equal_numpy_on_a_real_run(encoder):
    # an infinite tolerance: two rounds always agree, so the count of samples does not hang on the machine's noise
    rule = StabilityRule(round_samples=10, settle_rounds=2, latency_tolerance=math.inf, resamples=200)
    t0 = time.perf_counter()
    measured = measure_latency(encoder, QUERIES, rule=rule, warmup=3)
    wall_ms = (time.perf_counter() - t0) * 1000
    stats = measured.stats
    raw = np.array(stats.raw_ms)
    assert stats.samples == 20 == raw.size  # two rounds of ten agreed (an infinite tolerance)
    assert measured.settled.settled and len(measured.settled.rounds) == 2
    assert np.all(raw > 0) and raw.sum() <= wall_ms  # each sample is a real, positive piece of the run
    np.testing.assert_allclose([stats.p50_ms, stats.p95_ms, stats.p99_ms], np.percentile(raw, [50, 95, 99]))
    assert stats.p50_ms <= stats.p95_ms <= stats.p99_ms <= stats.max_ms == raw.max()
    figures = stats.figures()
    assert figures["latency_samples"] == 20
    assert figures["latency_p50_ms_ci_low"] <= figures["latency_p50_ms"] <= figures["latency_p50_ms_ci_high"]


def test_latency_stats_reject_empty():
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def test_inprocess_load_batched_and_unbatched_answer_every_request_with_its_own_vector(encoder):
    for max_batch in (16, 1):
        res = run_load(encoder, QUERIES, config=ServeConfig(max_batch_requests=max_batch, max_wait_ms=5),
                       rate_qps=200.0, requests=24, clients=8)
        assert res.ok == res.latency.samples == 24 and res.rejected == 0 and res.achieved_qps > 0
        assert (res.mean_batch_size == 1.0) if max_batch == 1 else (res.mean_batch_size >= 1.0)
        for i, vec in enumerate(res.vectors):
            want = encoder.encode([QUERIES[i % len(QUERIES)]], kind="query")[0]
            np.testing.assert_allclose(vec, want, atol=1e-5)


class _Broken(Encoder):
    """A model that fails on every encode: what every waiting request must learn."""

    embed_dim = 4

    def encode(self, texts, *, kind="document", batch_size=32, progress=None):
        raise RuntimeError("model crashed")


def test_inprocess_load_raises_the_models_error():
    with pytest.raises(RuntimeError, match="model crashed"):
        run_load(_Broken(), QUERIES, config=ServeConfig(max_batch_requests=4), rate_qps=100.0, requests=8, warmup=0)


def test_the_batcher_counts_tokens_with_the_models_tokenizer_and_keeps_the_token_budget(encoder):
    """Each request's tokens are the model's own count (as a server's usage reports them); a batch closes before
    its tokens pass ``max_batch_tokens`` (one request over the budget would run alone)."""
    counts = count_tokens(encoder, QUERIES)
    budget = max(counts) * 2
    batches: list[list[int]] = []

    async def main() -> list[int]:
        batcher = DynamicBatcher(encoder, ServeConfig(max_batch_tokens=budget, max_wait_ms=1000),
                                 on_batch=lambda batch: batches.append([job.tokens for job in batch]))
        batcher.start()
        try:
            answers = await asyncio.gather(*(batcher.embed([q], "query") for q in QUERIES))
        finally:
            await batcher.drain(30)
        return [tokens for _, tokens in answers]

    assert asyncio.run(main()) == counts == [len(encoder.tokenizer.encode(q).ids) for q in QUERIES]
    assert sorted(t for batch in batches for t in batch) == sorted(counts)  # every request encoded once
    assert all(sum(batch) <= budget for batch in batches)
    assert max(len(batch) for batch in batches) > 1  # requests really were batched together


def test_index_table_uses_bytes_per_vector():
    rows = index_table(1000, default_dims(384))
    assert {r["dim"] for r in rows} == {384, 192, 96}
    for r in rows:
        assert r["bytes_per_vector"] == bytes_per_vector(r["dim"], r["vector_precision"])
        assert r["index_mb"] == pytest.approx(1000 * r["bytes_per_vector"] / 2**20, rel=1e-3)


def test_measure_json_on_real_model_and_dataset(repo, minilm_dir):
    dataset = repo / "data" / "rt-reviews-plots"
    if not dataset.exists():
        pytest.skip("data/rt-reviews-plots not built")
    cmd = [sys.executable, "-m", "advisor.cli", "measure", "--model", str(minilm_dir), "--dataset", str(dataset),
           "--docs", "24", "--queries", "15", "--load-requests", "16", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["runtime"]["path"] == "fast (lean BERT)" and out["device"] == "cpu"
    f = out["results"][0]["figures"]
    for name in ("docs_per_s", "tokens_per_s", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                 "serving_memory_mb", "load_time_s", "load_sustainable_qps", "bytes_per_vector"):
        assert isinstance(f[name], (int, float)) and f[name] > 0, name
    assert f["latency_samples"] % 15 == 0 and f["latency_samples"] == len(f["latency_raw_ms"])  # rounds of 15
    assert f["stability"]["latency"]["rounds"] and f["stability"]["bulk"]["rounds"]
    assert f["stability"]["contention"]["latency"]["cores"] >= 1
    assert f["bulk_docs"] == 24
    assert f["tokens_per_s"] / f["docs_per_s"] == pytest.approx(f["mean_tokens_per_doc"], rel=1e-2)
    assert f["bytes_per_vector"] == 384 * 4 and f["index_vectors"] == 156
    load = f["load_test"]  # in process, through advisor serve's own batcher and its default token budget and queue
    assert load["source"].startswith("in process") and load["requested"] == "in-process"
    assert load["batcher"]["class"] == "advisor.models.batcher.DynamicBatcher"
    assert load["batcher"]["max_batch_requests"] == 32
    assert load["batcher"]["max_batch_tokens"] == ServeConfig().max_batch_tokens
    runs = load["sweep"] + list(load["points"].values())
    assert all(run["ok"] + run["refused"] == run["sent"] == 16 for run in runs)  # --load-requests: every run
    env = f["environment"]
    assert env["hardware"]["device"] == "cpu" and env["libraries"]["torch"] and env["hardware_id"]


def test_measure_bad_dataset_is_one_line_error(repo, minilm_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", "measure", "--model", str(minilm_dir),
                           "--dataset", str(tmp_path / "missing")], capture_output=True, text=True, cwd=repo,
                          timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("advisor: error:") and "Traceback" not in proc.stderr
