"""A real ``advisor recommend`` on pseudo-queries built from a folder of text files (the plots of
``data/rt-reviews-plots``, one ``.txt`` file each): the command's first line, the report's headline (Markdown and
HTML) and its JSON say the judgements are synthetic and how they were built, from what the cells stored."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from advisor.datasets.tasks import load_task, synthetic_line

pytestmark = pytest.mark.slow

POLICY = """name: one-variant
description: one size and one precision, so the sweep stays small
variants:
  dims: [full]
  vector_precisions: [float32]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, advisor_cli, repo):
    base = tmp_path_factory.mktemp("synthetic")
    plots = base / "plots"
    plots.mkdir()
    for line in (repo / "data" / "rt-reviews-plots" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        (plots / f"{record['_id']}.txt").write_text(record["text"], encoding="utf-8")
    policy = base / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    out, store = base / "report", base / "results.sqlite"
    proc = advisor_cli("recommend", "--policy", str(policy), "--model", "tokenlearn-static-64", "--dataset",
                       str(plots), "--pseudo-queries", "40,seed=5", "--out", str(out), "--store", str(store),
                       timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    task = load_task(f"{plots}#pseudo-queries=40,seed=5")
    return {"proc": proc, "out": out, "line": synthetic_line("plots", task.meta["synthetic"]), "task": task}


def test_recommend_says_first_that_the_judgements_are_synthetic(run):
    """On stderr, before the sweep's lines (stdout holds the report's path only)."""
    assert run["proc"].stderr.splitlines()[0] == run["line"]
    assert "40 pseudo-queries" in run["line"] and "seed 5" in run["line"] and "12-word span" in run["line"]


def test_the_reports_headline_begins_with_the_synthetic_line(run):
    markdown = (run["out"] / "report.md").read_text(encoding="utf-8")
    headline = next(line for line in markdown.splitlines() if line.startswith("**"))
    assert headline.startswith(f"**{run['line']}. ")
    assert html.escape(run["line"], quote=False) in (run["out"] / "report.html").read_text(encoding="utf-8")


def test_the_reports_json_names_how_the_judgements_were_built(run):
    data = json.loads((run["out"] / "report.json").read_text(encoding="utf-8"))
    (task,) = data["tasks"]
    assert (task["name"], task["type"], task["synthetic"]) == ("plots", "retrieval", run["task"].meta["synthetic"])
    assert task["task_hash"] == run["task"].content_hash
