"""A report from a real run: ``advisor recommend`` on two real static models of the offline catalog and a real
retrieval task (BM25 beside them, the default baseline), then ``advisor report`` on the same store under the
shipped policies. Every figure in the report is checked against the store, read independently with sqlite3."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MODELS = ("wordllama-l2-supercat-256", "tokenlearn-static-64")
POLICY = """name: research-english
description: Research use (no commercial rule), English.
languages:
  require: [en]
variants:
  dims: [full, 128, 32]
  vector_precisions: [float32, int8, binary]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, advisor_cli, repo):
    base = tmp_path_factory.mktemp("real")
    policy = base / "research.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    store, out = base / "results.sqlite", base / "report"
    args = ["recommend", "--catalog", str(repo / "advisor/shipped/catalogs" / "offline.yaml"), "--policy", str(policy),
            "--dataset", str(repo / "data" / "rt-reviews-plots"), "--out", str(out), "--store", str(store)]
    for m in MODELS:
        args += ["--model", m]
    proc = advisor_cli(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"base": base, "policy": policy, "store": store, "out": out, "proc": proc, "args": args}


def cells(store: Path) -> list[dict]:
    con = sqlite3.connect(store)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM cells WHERE status = 'ok'")]
    con.close()
    for r in rows:
        r["metrics"] = json.loads(r["metrics"])
    return rows


def test_recommend_writes_every_format_and_ends_with_the_path(run):
    lines = run["proc"].stdout.strip().splitlines()
    assert lines[-1] == str(run["out"] / "report.html")
    for name in ("report.html", "report.md", "report.json", "candidates.csv", "plots/pareto.png"):
        assert (run["out"] / name).stat().st_size > 0


def test_recommend_prints_the_reports_headline_in_the_terminal(run):
    head = (run["out"] / "report.md").read_text(encoding="utf-8").splitlines()[2].strip("*").replace("\\", "")
    assert " ".join(head.split()) in " ".join(run["proc"].stderr.split())  # the console may wrap it


def test_report_figures_equal_the_store(run):
    data = json.loads((run["out"] / "report.json").read_text(encoding="utf-8"))
    stored = cells(run["store"])
    quality = {(c["model"], c["dim"], c["vector_precision"]): c["metrics"]["ndcg_at_10"] for c in stored
               if c["kind"] == "quality"}
    cost = {c["model"]: c["metrics"] for c in stored if c["kind"] == "cost"}
    cands = [c for g in data["groups"] for c in g["candidates"]]
    assert len(cands) == len(quality) == 16  # wordllama 3 sizes x 3, tokenlearn 2 sizes x 3, BM25
    assert (quality[("bm25", None, "sparse")], cost["bm25"]["docs_per_s"]) == \
        (next(c for c in cands if c["model"] == "bm25")["quality"]["rt-reviews-plots"],
         next(c for c in cands if c["model"] == "bm25")["cost"]["docs_per_s"])
    for c in cands:
        v = c["variant"]
        assert c["quality"]["rt-reviews-plots"] == pytest.approx(quality[(c["model"], v["dim"],
                                                                          v["vector_precision"])])
        assert c["cost"]["latency_p95_ms"] == pytest.approx(cost[c["model"]]["latency_p95_ms"])
        assert c["cost"]["docs_per_s"] == pytest.approx(cost[c["model"]]["docs_per_s"])
        assert c["why"]
    # The recommendation: best score, and no candidate beats it on every figure.
    best = data["recommended"]
    assert best["score"] == max(c["score"] for c in cands)
    key = lambda c: (c["quality_mean"], -c["cost"]["latency_p95_ms"], c["cost"]["docs_per_s"],  # noqa: E731
                     -c["cost"]["serving_memory_mb"], -c["bytes_per_vector"] if c["bytes_per_vector"] else None)

    def dominates(a, b):  # on every figure both have (BM25 stores no vectors, so it has no bytes per vector)
        pairs = [(x, y) for x, y in zip(key(a), key(b)) if x is not None and y is not None]
        return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)
    assert not any(dominates(c, best) for c in cands)
    # Truncating wordllama below its trained sizes is marked; quality retained is relative to full float32.
    w32 = next(c for c in cands if c["model"] == MODELS[0] and c["variant"]["dim"] == 32
               and c["variant"]["vector_precision"] == "float32")
    full = quality[(MODELS[0], None, "float32")]
    assert not w32["trained_dim"] and w32["quality_retained"] == pytest.approx(w32["quality_mean"] / full)


def test_every_figure_in_the_report_and_the_store_is_registered(run):
    """A figure the run stored or the report shows and the registry (advisor.figures) does not know would be written
    without its unit, direction or interval: the registry must hold every one."""
    from advisor import figures

    data = json.loads((run["out"] / "report.json").read_text(encoding="utf-8"))
    names = {name for cell in cells(run["store"]) for name in cell["metrics"]}
    for c in (c for g in data["groups"] for c in g["candidates"]):
        names |= set(c["cost"]) | set(c["cost_ci"]) | set(c["quality_metric"].values())
        names |= {name for per_task in c["metrics"].values() for name in per_task}
        names |= {name for option in c["index_options"] for name in option if name not in ("name", "settings")}
    assert {"latency_p95_ms", "docs_per_s", "ndcg_at_10", "load_sustainable_qps", "usd_per_million_docs"} <= names
    assert sorted(n for n in names if not figures.is_figure(n)) == []


def test_store_is_a_cache(run, advisor_cli):
    again = advisor_cli(*run["args"], timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "19 cells planned, 19 already in the store, 0 computed, 0 failed" in again.stderr  # 17 + BM25's two
    con = sqlite3.connect(run["store"])
    counts = [n for (n,) in con.execute("SELECT compute_count FROM cells")]
    con.close()
    assert counts and set(counts) == {1}


@pytest.fixture(scope="module")
def commercial(run, advisor_cli, repo):
    """``advisor report`` of the same store under the quick start's commercial policy: (out folder, report.json)."""
    out = run["base"] / "commercial"
    proc = advisor_cli("report", "--store", str(run["store"]), "--policy", str(repo / "advisor/shipped/policies" / "default.yaml"),
                       "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_commercial_policy_rejects_the_model_without_a_licence(commercial):
    out, data = commercial
    cands = [c for g in data["groups"] for c in g["candidates"]]
    token = [c for c in cands if c["model"] == "tokenlearn-static-64"]
    assert token and all(c["status"] == "rejected" for c in token)
    reason = "rejected by rule licenses.commercial_use: licence unknown: no stated licence"
    assert all(c["why"].startswith(reason) for c in token)
    # the model left is worse than BM25 on this data (nDCG@10 about 0.18 against 0.25), so BM25 is recommended
    assert data["recommended"]["model"] == "bm25"
    assert {line["verdict"] for line in data["bm25"] if line["candidate"].startswith(MODELS[0])} == \
        {"worse than BM25"}
    assert reason in (out / "report.md").read_text(encoding="utf-8")
    assert reason in (out / "report.html").read_text(encoding="utf-8")


def test_when_bm25_wins_the_headline_still_names_the_best_embedding_model(run, commercial):
    out, data = commercial
    assert data["recommended"]["model"] == "bm25"
    first = data["bm25"][0]  # the best-ranked embedding model's line against BM25
    assert first["candidate"].startswith(MODELS[0])
    head = (out / "report.md").read_text(encoding="utf-8").splitlines()[2]
    assert head.startswith("**Ship bm25")
    assert (f"The best embedding model, {first['candidate']}, scores {first['metric']} {first['value']:.4f} on "
            f"rt-reviews-plots: {first['verdict']} (difference {first['difference']:+.4f}") in head
    # its load test, as stored: this store's cells ran advisor serve's batcher in process (the research policy's
    # default), and the headline says so even under default.yaml, which asks for a real server
    from advisor.formatting import figure

    load = next(c["metrics"] for c in cells(run["store"]) if c["kind"] == "cost" and c["model"] == MODELS[0])
    assert load["load_served"] == 0.0
    assert (f"sustains {figure(load['load_sustainable_qps'], 'queries/s')} under load (advisor serve's batcher in "
            f"process, no HTTP") in head
    # p95 at each fraction of that rate whose run kept up; a run that did not is a saturation probe, never written
    points = [f"{figure(load[name], 'ms')} at {pct}" for pct, name in (("50%", "load_p95_ms_at_50pct"),
                                                                       ("80%", "load_p95_ms_at_80pct"))
              if name in load]
    assert (f", p95 {' and '.join(points)} of that rate" in head) if points else ("of that rate" not in head)
    assert "under load at" not in head and "queries/s offered (" not in head  # the retired probe's sentence


def test_the_report_compares_each_ranked_model_with_bm25_by_the_paired_bootstrap(run):
    from advisor.quality import bootstrap

    data = json.loads((run["out"] / "report.json").read_text(encoding="utf-8"))
    con = sqlite3.connect(run["store"])
    details = {(m, d, vp): json.loads(x) for m, d, vp, x in con.execute(
        "SELECT model, dim, vector_precision, details FROM cells WHERE kind = 'quality' AND status = 'ok'")}
    con.close()
    bm25 = details[("bm25", None, "sparse")]
    ranked = [c for g in data["groups"] for c in g["candidates"]
              if c["status"] in ("recommended", "pareto", "dominated") and c["model"] != "bm25"]
    lines = {line["candidate"]: line for line in data["bm25"]}
    assert ranked and set(lines) == {c["label"] for c in ranked}
    for c in ranked:
        v = c["variant"]
        expected = bootstrap.compare(details[(c["model"], v["dim"], v["vector_precision"])], bm25)
        line = lines[c["label"]]
        assert (line["value"], line["bm25"]) == pytest.approx((expected.a, expected.b), abs=1e-12)
        assert (line["ci_low"], line["ci_high"]) == pytest.approx((expected.ci_low, expected.ci_high), abs=1e-12)
    md = (run["out"] / "report.md").read_text(encoding="utf-8")
    assert "Is this model better than BM25 on your data?" in md
    for label, line in lines.items():  # one row each in the section's compact table
        assert (f"| {line['task']} | {label} | {line['metric']} | {line['value']:.4f} | {line['bm25']:.4f} | "
                f"{line['difference']:+.4f} (") in md


def test_german_required_rejects_english_only_models(run, advisor_cli, repo):
    out = run["base"] / "euro"
    policy = repo / "advisor/shipped/policies" / "multilingual-european-search.yaml"
    proc = advisor_cli("report", "--store", str(run["store"]), "--policy", str(policy), "--out", str(out),
                       "--format", "markdown", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["recommended"] is None
    for c in (c for g in data["groups"] for c in g["candidates"]):
        assert c["status"] == "rejected" and "languages.require" in c["why"] and "deu-Latn" in c["why"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "No candidate passes the policy" in md and "does not cover required language(s) deu-Latn" in md
    assert not (out / "report.html").exists()


def test_rank_command_and_user_errors(run, advisor_cli):
    proc = advisor_cli("rank", "--store", str(run["store"]), "--policy", str(run["policy"]), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["recommended"]["status"] == "recommended"
    text = advisor_cli("rank", "--store", str(run["store"]), "--policy", str(run["policy"]), "--all")
    assert "recommended" in text.stdout and "dominated by" in text.stdout
    missing = advisor_cli("report", "--store", str(run["base"] / "nope.sqlite"), "--out", str(run["base"] / "x"))
    assert missing.returncode == 2 and "no results database" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad_task = advisor_cli("rank", "--store", str(run["store"]), "--task", "nope")
    assert bad_task.returncode == 2 and "--task nope" in bad_task.stderr
