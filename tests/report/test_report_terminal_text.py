"""``advisor rank`` and ``advisor runs show`` in plain text tell what the store holds: each candidate's quality and
cost figures with their 95% intervals and the latency sample count, a mark on a figure that is unstable with the
reasons, and, when nothing passes the policy, every candidate with the reasons the headline promises (without
--all). A real sweep of two shipped static models (BM25 beside them) on a real retrieval task; the store is read
independently with sqlite3."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from advisor.figures import DOCS_PER_S, LATENCY_P95_MS, LATENCY_SAMPLES, lookup

pytestmark = pytest.mark.slow

MODELS = ("wordllama-l2-supercat-256", "tokenlearn-static-64")
POLICY = """name: research-english
description: Research use, English.
languages:
  require: [en]
variants:
  dims: [full, 32]
  vector_precisions: [float32, binary]
"""
NOTHING_PASSES = POLICY.replace("name: research-english", "name: too-strict") + """limits:
  min_quality:
    - {task: rt-reviews-plots, metric: ndcg_at_10, min: 0.99}
"""
CONTENDED = "other processes kept 1.20 of 2 cores busy while it was measured (limit 0.25)"


@pytest.fixture(scope="module")
def swept(tmp_path_factory, advisor_cli, repo):
    base = tmp_path_factory.mktemp("terminal")
    for name, text in (("research", POLICY), ("strict", NOTHING_PASSES)):
        (base / f"{name}.yaml").write_text(text, encoding="utf-8")
    store = base / "results.sqlite"
    args = ["run", "--catalog", "offline", "--policy", str(base / "research.yaml"), "--dataset",
            str(repo / "data" / "rt-reviews-plots"), "--store", str(store)]
    for m in MODELS:
        args += ["--model", m]
    proc = advisor_cli(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the same store with wordllama's cost cell marked as measured under contention (what a busy machine records)
    marked = base / "marked.sqlite"
    shutil.copy(store, marked)
    con = sqlite3.connect(marked)
    fingerprint, details = con.execute("SELECT fingerprint, details FROM cells WHERE kind = 'cost' AND model = ? "
                                       "AND status = 'ok'", (MODELS[0],)).fetchone()
    details = json.loads(details)
    details.setdefault("stability", {})["unstable"] = {"latency": [CONTENDED]}
    con.execute("UPDATE cells SET details = ? WHERE fingerprint = ?", (json.dumps(details), fingerprint))
    con.commit()
    con.close()
    return {"base": base, "store": store, "marked": marked}


def _cost_cells(store: Path) -> dict[str, tuple[dict, dict]]:
    """Model -> (metrics, unstable marks) of its cost cell, read with sqlite3."""
    con = sqlite3.connect(store)
    rows = con.execute("SELECT model, metrics, details FROM cells WHERE kind = 'cost' AND status = 'ok'").fetchall()
    con.close()
    return {model: (json.loads(metrics), (json.loads(details).get("stability") or {}).get("unstable") or {})
            for model, metrics, details in rows}


def _blocks(text: str) -> dict[str, list[str]]:
    """Candidate label -> its lines (the label line and the indented lines under it)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line[:3].strip().isdigit() or line[:3] == "  -":  # '{position:>3} {status:<12} {label}'
            current = line[17:].strip()
            out[current] = []
        elif current is not None and line.startswith("      "):
            out[current].append(line.strip())
        else:
            current = None
    return out


def _interval(name: str, metrics: dict, unstable: dict) -> str:
    """A figure as the store holds it, written with its interval and, when its measurement is unstable, the mark."""
    fig = lookup(name)
    text = fig.interval_text(metrics[name], metrics.get(fig.ci_low), metrics.get(fig.ci_high))
    return text + (" unstable" if unstable.get(fig.measurement) else "")


def _check_candidate(label: str, lines: list[str], metrics: dict, unstable: dict) -> None:
    """A ranked candidate's lines show its cost cell: p95 with interval, mark and samples, docs/s with interval and
    mark, and one line per unstable measurement with its reasons (and no other)."""
    figures = lines[1]
    samples = lookup(LATENCY_SAMPLES).text(metrics[LATENCY_SAMPLES])
    p95 = lookup(LATENCY_P95_MS).label
    assert f"{p95} {_interval(LATENCY_P95_MS, metrics, unstable)} over {samples}" in figures, (label, figures)
    assert _interval(DOCS_PER_S, metrics, unstable) in figures, (label, figures)
    marks = [x for x in lines if x.startswith("unstable ")]
    assert marks == [f"unstable {m}: {'; '.join(reasons)}" for m, reasons in unstable.items()], (label, lines)


def test_rank_lists_every_candidate_with_its_reasons_when_nothing_passes(swept, advisor_cli):
    policy = str(swept["base"] / "strict.yaml")
    text = advisor_cli("rank", "--store", str(swept["store"]), "--policy", policy)
    data = json.loads(advisor_cli("rank", "--store", str(swept["store"]), "--policy", policy, "--json").stdout)
    assert text.returncode == 0 and data["recommended"] is None
    assert text.stdout.startswith("No candidate passes the policy")
    assert "--all lists them" not in text.stdout
    blocks = _blocks(text.stdout)
    candidates = [c for g in data["groups"] for c in g["candidates"]]
    assert candidates and {c["label"] for c in candidates} == set(blocks)
    for c in candidates:
        for rejection in c["rejections"]:
            assert any(rejection["reason"] in line for line in blocks[c["label"]]), (c["label"], rejection)


def test_rank_prints_each_candidates_cost_with_its_interval_and_sample_count(swept, advisor_cli):
    text = advisor_cli("rank", "--store", str(swept["store"]), "--policy", str(swept["base"] / "research.yaml"),
                       "--all").stdout
    cells = _cost_cells(swept["store"])
    blocks = _blocks(text)
    assert set(cells) == {"bm25", *MODELS}
    for label, lines in blocks.items():
        _check_candidate(label, lines, *cells[label.split(" [")[0]])


def test_rank_marks_an_unstable_figure_and_prints_its_reasons(swept, advisor_cli):
    text = advisor_cli("rank", "--store", str(swept["marked"]), "--policy", str(swept["base"] / "research.yaml"),
                       "--all").stdout
    cells = _cost_cells(swept["marked"])
    metrics, unstable = cells[MODELS[0]]
    assert unstable["latency"] == [CONTENDED]  # what the marked store holds
    blocks = _blocks(text)
    marked = [label for label in blocks if label.startswith(MODELS[0] + " [")]
    assert marked
    for label in marked:
        assert f"{_interval(LATENCY_P95_MS, metrics, unstable)}" in blocks[label][1]
        assert _interval(LATENCY_P95_MS, metrics, unstable).endswith(" unstable")
        assert f"unstable latency: {CONTENDED}" in blocks[label]
    for label, lines in blocks.items():
        _check_candidate(label, lines, *cells[label.split(" [")[0]])


def test_runs_show_prints_intervals_sample_counts_and_unstable_marks(swept, advisor_cli):
    text = advisor_cli("runs", "show", "--store", str(swept["marked"])).stdout
    cells = _cost_cells(swept["marked"])
    assert cells[MODELS[0]][1]["latency"] == [CONTENDED]
    for model, (metrics, unstable) in cells.items():
        line = next(x.strip() for x in text.splitlines() if x.strip().startswith(f"{model} [") and ": p50 " in x)
        samples = lookup(LATENCY_SAMPLES).text(metrics[LATENCY_SAMPLES])
        assert f"p95 {_interval(LATENCY_P95_MS, metrics, unstable)} over {samples}" in line, line
        assert _interval(DOCS_PER_S, metrics, unstable) in line, line
        marks = "; ".join(f"{name}: {' / '.join(reasons)}" for name, reasons in unstable.items())
        assert line.endswith(f"; UNSTABLE: {marks}") if unstable else "UNSTABLE" not in line, line
