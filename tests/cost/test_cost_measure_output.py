"""``advisor measure``'s plain text tells what its ``--json`` tells: every measured figure with its 95% interval and
its sample count, the machine it was measured on, and, when a measurement did not settle or was taken under
contention, an unstable mark on its figures and a line with the reasons (as the report marks them)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from advisor.builtin.cost.command import _summary
from advisor.cost import CostOptions, measure_cost
from advisor.cost.stability import StabilityRule
from advisor.datasets.tasks import load_task
from advisor.figures import DOCS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS, LATENCY_SAMPLES, lookup
from advisor.models.backends import LoadOptions, load_encoder
from advisor.models.resolve import resolve_model

pytestmark = pytest.mark.slow

MODEL = "wordllama-l2-supercat-256"  # a static model: a measure takes seconds


@pytest.fixture(scope="module")
def unsettled(repo):
    """A real measure whose rule no machine meets (round medians must agree exactly), so both the batch-1 latency
    and the bulk throughput end unstable, with the reason the stability record gives."""
    task = load_task(repo / "data" / "rt-reviews-plots")
    entry, load = resolve_model(MODEL), LoadOptions()
    rule = StabilityRule(round_samples=10, settle_rounds=2, latency_tolerance=0.0, max_latency_rounds=3,
                         bulk_tolerance=0.0, max_bulk_rounds=2, resamples=100)
    encoder = load_encoder(entry, load)
    try:
        figures = measure_cost(encoder, task, entry=entry, load=load,
                               options=CostOptions(bulk_docs=16, stability=rule, load_test=False, memory=False))
    finally:
        encoder.close()
    return task.name, figures


def _line(text: str, start: str) -> str:
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(start))


def test_an_unstable_latency_is_marked_on_each_figure_and_its_reason_printed(unsettled):
    task, f = unsettled
    reasons = f["stability"]["unstable"]["latency"]
    assert reasons and f["unstable_figures"] == 2  # what --json says: the printer must say it too
    text = _summary(task, f)
    batch1 = _line(text, "batch-1")
    for name in (LATENCY_P50_MS, LATENCY_P95_MS):
        fig = lookup(name)
        assert f"{fig.interval_text(f[name], f[fig.ci_low], f[fig.ci_high])} unstable" in batch1
    assert _line(text, "UNSTABLE    batch-1 latency:") == f"UNSTABLE    batch-1 latency: {'; '.join(reasons)}"


def test_an_unstable_throughput_is_marked_and_its_reason_printed(unsettled):
    task, f = unsettled
    text = _summary(task, f)
    fig = lookup(DOCS_PER_S)
    assert f"{fig.interval_text(f[DOCS_PER_S], f[fig.ci_low], f[fig.ci_high])} unstable" in _line(text, "bulk")
    reasons = f["stability"]["unstable"]["throughput"]
    assert _line(text, "UNSTABLE    bulk throughput:") == f"UNSTABLE    bulk throughput: {'; '.join(reasons)}"


def test_the_sample_count_and_the_machine_are_printed(unsettled):
    task, f = unsettled
    text = _summary(task, f)
    assert f"({lookup(LATENCY_SAMPLES).text(f[LATENCY_SAMPLES])} after warm-up, 3 rounds)" in _line(text, "batch-1")
    load = lookup("load_avg_1m")
    assert _line(text, "machine").startswith(f"machine     {load.label} {load.text(f[load.name])}")


def test_a_settled_measurement_carries_no_unstable_mark(unsettled):
    task, f = unsettled
    settled = {**f, "stability": {**f["stability"], "unstable": {}}, "unstable_figures": 0}
    text = _summary(task, settled)
    assert "unstable" not in text.lower()
    assert "95% CI" in _line(text, "batch-1")


def test_measure_prints_intervals_and_sample_counts_on_a_real_run(repo):
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", "measure", "--model", MODEL, "--dataset",
                           str(repo / "data" / "rt-reviews-plots"), "--docs", "16", "--queries", "10",
                           "--load-requests", "20", "--no-memory"], capture_output=True, text=True, timeout=600,
                          cwd=repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    batch1 = _line(proc.stdout, "batch-1")
    for q in ("p50", "p95", "p99"):
        assert re.search(rf"{q} [0-9.,]+ ms \(95% CI [0-9.,]+ to [0-9.,]+ ms\)", batch1), batch1
    samples = re.search(r"\(([0-9,]+) samples after warm-up, (the last [0-9]+ of )?[0-9]+ rounds\)", batch1)
    assert samples and int(samples.group(1).replace(",", "")) % 10 == 0, batch1  # rounds of --queries 10
    assert re.search(r"docs/s \(95% CI [0-9.,]+ to [0-9.,]+ docs/s\)", _line(proc.stdout, "bulk"))
    assert _line(proc.stdout, "machine").startswith("machine     load average")
    # whatever the machine was doing, the text marks exactly what the stability record would: a mark has its line
    assert ("unstable" in batch1) == ("UNSTABLE    batch-1 latency:" in proc.stdout)
    # the load test: the sustainable rate, then each run below it with its intervals and samples
    assert re.match(r"load        sustains [0-9.,]+ queries/s \(", _line(proc.stdout, "load "))
    runs = [x.strip() for x in proc.stdout.splitlines() if re.match(r"\s+at (50|80)%", x)]
    assert runs or "did not keep up" in proc.stdout  # a run past saturation is a probe, noted, not a latency
    for run in runs:
        assert re.search(r"p50 [0-9.,]+ ms \(95% CI [0-9.,]+ to [0-9.,]+ ms\)( unstable)?, p95 [0-9.,]+ ms \(95% CI",
                         run), run
        assert run.endswith(" samples") and ("unstable" in run) == ("unstable" in batch1), run
