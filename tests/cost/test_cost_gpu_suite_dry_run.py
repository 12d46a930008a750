"""benchmarks/gpu_suite.py runs end to end on the CPU at tiny sizes (its dry run), so the day a GPU is lent the
prepared script runs the first time: every step finishes without an error and writes its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_gpu_suite_runs_every_step_on_the_cpu_at_tiny_sizes(repo, minilm_dir, tmp_path):
    from advisor.datasets.tasks import load_task

    data = repo / "data" / "rt-reviews-plots"
    if not (data / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(load_task(data).text_sets()["corpus"].texts[:32]) + "\n", encoding="utf-8")
    out = tmp_path / "dry.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, str(repo / "benchmarks" / "gpu_suite.py"), "--device", "cpu",
                           "--model", str(minilm_dir), "--corpus", str(corpus), "--n", "32", "--rounds", "1",
                           "--latency-samples", "20", "--latency-budget-s", "5",  # written settled or not
                           "--exact-docs", "4096", "--exact-queries", "16", "--grid-dims", "full,64",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    errors = {step: result[step]["error"] for step in ("bulk", "latency", "grid", "exact_search")
              if "error" in result[step]}
    assert not errors, errors
    assert result["device"] == "cpu" and result["bulk"]["docs"] == 32
    assert result["bulk"]["min_cosine_fast_vs_st"] >= 0.999  # the fast path reproduces sentence-transformers
    assert len(result["grid"]["ndcg_at_10"]) == 2 * 3  # dims x vector precisions
    assert result["exact_search"]["recall_vs_fp32_recheck"] == 1.0
    assert result["latency"]["latency_p50_ms"] > 0
