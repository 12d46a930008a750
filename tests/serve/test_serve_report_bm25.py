"""``advisor serve --report`` on a real report whose recommendation is BM25 (lexical: no vectors to serve): it
serves the report's best-ranked embedding model and says so in one line, or, when the report ranks none, refuses
with that advice. The reports come from a real sweep of two shipped static models on a real retrieval task, where
BM25 wins."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from advisor.cli import cli

from .conftest import require_serve_deps, running_server

require_serve_deps()

pytestmark = pytest.mark.slow

MODELS = ("wordllama-l2-supercat-256", "tokenlearn-static-64")
POLICY = """name: research-english
description: Research use, English.
languages:
  require: [en]
variants:
  dims: [full, 128, 32]
  vector_precisions: [float32, binary]
"""
LEXICAL_ONLY = POLICY.replace("name: research-english", "name: lexical-only") + "limits:\n  max_bytes_per_vector: 1\n"
# 4 bytes: 32 binary dims, a size neither model was trained for (wordllama: 64, 128, 256; tokenlearn: 64)
TINY_VECTORS = POLICY.replace("name: research-english", "name: tiny-vectors") + "limits:\n  max_bytes_per_vector: 4\n"
POLICIES = {"research": POLICY, "lexical-only": LEXICAL_ONLY, "tiny-vectors": TINY_VECTORS}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, advisor_cli, repo):
    base = tmp_path_factory.mktemp("bm25-report")
    store = base / "results.sqlite"
    out = {}
    for name, text in POLICIES.items():
        (base / f"{name}.yaml").write_text(text, encoding="utf-8")
    args = ["run", "--no-cost", "--catalog", "offline", "--policy", str(base / "research.yaml"), "--dataset",
            str(repo / "data" / "rt-reviews-plots"), "--store", str(store)]
    for m in MODELS:
        args += ["--model", m]
    proc = advisor_cli(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in POLICIES:
        proc = advisor_cli("report", "--store", str(store), "--policy", str(base / f"{name}.yaml"), "--out",
                           str(base / name), "--format", "json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = base / name / "report.json"
    return out


def _best_embedding(report: dict) -> dict:
    """Read independently of the server: the ranked candidate with vectors and the best position."""
    ranked = [c for g in report["groups"] for c in g["candidates"]
              if c["backend"] != "bm25" and c["status"] in ("recommended", "pareto", "dominated") and c["position"]
              and c.get("hybrid") is None]
    return min(ranked, key=lambda c: c["position"])


def test_the_report_recommends_bm25(reports):
    report = json.loads(reports["research"].read_text(encoding="utf-8"))
    assert report["recommended"]["backend"] == "bm25"  # the premise: BM25 wins on this data


def test_serve_report_serves_the_best_ranked_embedding_model_and_says_so(reports):
    report = json.loads(reports["research"].read_text(encoding="utf-8"))
    best = _best_embedding(report)
    with running_server("--report", str(reports["research"])) as srv:
        health = httpx.get(srv.url + "/health", timeout=10).json()
        vector = httpx.post(srv.url + "/v1/embeddings", json={"input": "a quiet film"}, timeout=30).json()
        srv.stop()
        log = srv.proc.stdout.read()
    assert health["model"] == best["model"]
    assert health["embed_dim"] == (best["variant"]["dim"] or best["embed_dim"])
    assert health["vector_precision"] == best["variant"]["vector_precision"]
    assert len(vector["data"][0]["embedding"]) == health["embed_dim"]
    lines = [x for x in log.splitlines() if x.startswith("advisor serve: the report recommends")]
    assert lines == [f"advisor serve: the report recommends {report['recommended']['label']}, which has no vectors "
                     f"to serve; serving its best-ranked embedding model instead: {best['label']} (position "
                     f"{best['position']})"]


def test_serve_report_refuses_when_the_report_ranks_no_embedding_model(reports):
    report = json.loads(reports["lexical-only"].read_text(encoding="utf-8"))
    assert report["recommended"]["backend"] == "bm25"
    assert all(c["status"] == "rejected" for g in report["groups"] for c in g["candidates"] if c["backend"] != "bm25")
    result = CliRunner().invoke(cli, ["serve", "--report", str(reports["lexical-only"])])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "which is lexical (BM25: no vectors to serve), and ranks no embedding model" in line
    assert "advisor serve --model NAME" in line


def test_serve_report_refuses_a_size_the_model_was_not_trained_for_unless_allowed(reports):
    report = json.loads(reports["tiny-vectors"].read_text(encoding="utf-8"))
    best = _best_embedding(report)
    assert best["variant"]["dim"] == 32 and not best["trained_dim"]  # the report marks it untrained
    result = CliRunner().invoke(cli, ["serve", "--report", str(reports["tiny-vectors"])])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"advisor: error: report {reports['tiny-vectors']} picks {best['label']}, at 32 dims: ")
    assert "--allow-untrained-dims" in line
    with running_server("--report", str(reports["tiny-vectors"]), "--allow-untrained-dims") as srv:
        response = httpx.post(srv.url + "/v1/embeddings", json={"input": "a quiet film"}, timeout=30)
    assert response.status_code == 200 and len(response.json()["data"][0]["embedding"]) == 32
    assert response.headers["X-Advisor-Warning"].startswith(f"untrained dimensions: {best['model']} was trained for")
