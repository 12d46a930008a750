"""One model runtime: a sweep's cost cell and ``advisor measure`` on the same model, data and settings run the same
encoder and agree (docs/s and batch-1 p50 within their measured noise)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advisor.sweep.store import ResultStore

pytestmark = pytest.mark.slow


def _agree(a: float, a_ci: tuple[float, float], b: float, b_ci: tuple[float, float], tolerance: float) -> bool:
    """Two measurements agree when their intervals overlap or they differ by less than ``tolerance``."""
    overlap = a_ci[0] <= b_ci[1] and b_ci[0] <= a_ci[1]
    return overlap or abs(a - b) / min(a, b) <= tolerance


def test_sweep_cost_cell_equals_advisor_measure(tmp_path, repo):
    dataset = str(repo / "data" / "pang-lee-polarity")
    store = tmp_path / "r.sqlite"
    run = subprocess.run([sys.executable, "-m", "advisor.cli", "run", "--model", "all-MiniLM-L6-v2", "--dataset",
                          dataset, "--store", str(store), "--json"], capture_output=True, text=True, timeout=900,
                         cwd=repo)
    assert run.returncode == 0, run.stderr[-1500:]
    [cell] = ResultStore(store).results(kind="cost")
    measure = subprocess.run([sys.executable, "-m", "advisor.cli", "measure", "--model", "all-MiniLM-L6-v2",
                              "--dataset", dataset, "--json"], capture_output=True, text=True, timeout=900, cwd=repo)
    assert measure.returncode == 0, measure.stderr[-1500:]
    out = json.loads(measure.stdout)
    figures = out["results"][0]["figures"]

    same = ("runtime", "path", "dtype", "device", "token_budget", "cuda_graphs")
    assert {k: cell.details["runtime"].get(k) for k in same} == {k: out["runtime"].get(k) for k in same}
    assert cell.details["runtime"]["path"] == "fast (lean BERT)"
    assert cell.metrics["bulk_docs"] == figures["bulk_docs"]
    assert cell.details["settings"]["stability_rule"] == figures["settings"]["stability_rule"]
    m = cell.metrics
    assert _agree(m["docs_per_s"], (m["docs_per_s_ci_low"], m["docs_per_s_ci_high"]), figures["docs_per_s"],
                  (figures["docs_per_s_ci_low"], figures["docs_per_s_ci_high"]), 0.25)
    assert _agree(m["latency_p50_ms"], (m["latency_p50_ms_ci_low"], m["latency_p50_ms_ci_high"]),
                  figures["latency_p50_ms"], (figures["latency_p50_ms_ci_low"], figures["latency_p50_ms_ci_high"]),
                  0.25)
