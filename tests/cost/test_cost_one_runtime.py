"""One model runtime: a sweep's cost cell and ``advisor measure`` on the same model and data run the same encoder
with the same options, thread count, batch settings and stability rule, as each records them.

Only what is recorded is compared, never two timings: two timings of the same thing differ by the machine's noise,
and on a busy machine by more than any tolerance a unit test could hold. That the two paths' docs/s and p50 agree
within their noise is a measurement: ``benchmarks/one_runtime_agreement.py`` takes it and writes its result file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from advisor.sweep.store import ResultStore

pytestmark = pytest.mark.slow

MODEL = "all-MiniLM-L6-v2"


def batchers(details: Any, path: str = "") -> dict[str, Any]:
    """Every batcher setting a load test recorded (``load_test...batcher``), by where it sits."""
    out: dict[str, Any] = {}
    if isinstance(details, dict):
        for key, value in details.items():
            where = f"{path}.{key}" if path else key
            if key == "batcher":
                out[where] = value
            else:
                out.update(batchers(value, where))
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory, repo) -> tuple[Any, dict[str, Any]]:
    """(the sweep's cost cell, ``advisor measure --json``'s output) for the same model and dataset."""
    dataset = str(repo / "data" / "pang-lee-polarity")
    store = tmp_path_factory.mktemp("one-runtime") / "r.sqlite"
    run = subprocess.run([sys.executable, "-m", "advisor.cli", "run", "--model", MODEL, "--dataset", dataset,
                          "--store", str(store), "--json"], capture_output=True, text=True, timeout=900, cwd=repo)
    assert run.returncode == 0, run.stderr[-1500:]
    [cell] = ResultStore(store).results(kind="cost")
    measure = subprocess.run([sys.executable, "-m", "advisor.cli", "measure", "--model", MODEL, "--dataset", dataset,
                              "--json"], capture_output=True, text=True, timeout=900, cwd=repo)
    assert measure.returncode == 0, measure.stderr[-1500:]
    return cell, json.loads(measure.stdout)


def settings_of(runtime: dict[str, Any]) -> dict[str, Any]:
    """What an encoder records about how it runs, less what it measured (its load time: a registered figure)."""
    from advisor.figures import is_figure

    return {k: v for k, v in runtime.items() if not is_figure(k)}


def test_both_paths_load_the_same_runtime(both):
    cell, out = both
    assert cell.details["runtime"]["path"] == "fast (lean BERT)"
    # everything the encoder records about how it runs: runtime, path, dtype, device, token budget, CUDA graphs,
    # attention, quantization, the model folder
    recorded = settings_of(cell.details["runtime"])
    assert len(recorded) >= 8 and "load_time_s" not in recorded
    assert recorded == settings_of(out["runtime"]) == settings_of(out["results"][0]["figures"]["runtime"])


def test_both_paths_measure_with_the_same_options_and_stability_rule(both):
    cell, out = both
    settings = out["results"][0]["figures"]["settings"]
    # device, weight precision, encoder class, task and its content hash, every CostOptions field (bulk sample, batch
    # size, warm-up, load test clients, max batch, max wait, load server, memory probe) and the stability rule's
    # parameters (round samples, settle rounds, tolerances, budgets, bootstrap level, resamples, seed) with its text
    assert cell.details["settings"] == settings
    assert set(settings["stability"]) >= {"round_samples", "settle_rounds", "latency_tolerance", "bulk_tolerance",
                                          "resamples", "seed"}


def test_both_paths_run_the_same_thread_count(both):
    cell, out = both
    figures = out["results"][0]["figures"]
    threads = cell.details["environment"]["hardware"]["torch_threads"]
    assert threads is not None and threads == figures["environment"]["hardware"]["torch_threads"]


def test_both_paths_time_the_same_bulk_sample_and_batchers(both):
    cell, out = both
    figures = out["results"][0]["figures"]
    assert cell.metrics["bulk_docs"] == figures["bulk_docs"]
    assert cell.metrics["mean_tokens_per_doc"] == figures["mean_tokens_per_doc"]  # the same texts, tokenized alike
    recorded = batchers(cell.details.get("load_test"))
    assert recorded and recorded == batchers(figures.get("load_test"))
