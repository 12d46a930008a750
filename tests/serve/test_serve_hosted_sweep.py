"""A hosted model as a ranked candidate: a real ``advisor serve`` of a static model (tokenlearn-static-64: real
weights and tokenizer, so the server's usage counts real tokens; a transformer behind it only made every cost-cell
request, load-sweep run included, a MiniLM forward pass on 2 cores) on 127.0.0.1 is a catalog entry
``backend: openai`` with a price per million tokens, swept by ``advisor recommend`` beside a local model on a real
retrieval task (a small slice of data/rt-reviews-plots, served at 64 tokens, so it stays fast). The report's money
figures are checked against independent computations: the per-token ones from the server's own reported usage on
the same texts (asked directly over HTTP), the machine-hour ones from the stored cost cell read with sqlite3."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.serve.conftest import require_serve_deps, running_server

require_serve_deps()
pytestmark = pytest.mark.slow

import httpx  # noqa: E402

SERVED_MODEL = "tokenlearn-static-64"  # what the advisor serve answers with
LOCAL = "wordllama-l2-supercat-256"
SERVED = "served-tokenlearn"
PRICE = 0.02           # USD per million tokens, as text-embedding-3-small's
MACHINE_PRICE = 0.50   # USD per machine-hour for the local model
DATA = "rt-reviews-plots"
N_DOCS = 24


def _small_task(repo: Path, folder: Path) -> Path:
    """The first N_DOCS documents of the shipped task and up to N_DOCS queries judged against them."""
    src = repo / "data" / DATA
    (folder / "qrels").mkdir(parents=True)
    docs = (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:N_DOCS]
    ids = {json.loads(d)["_id"] for d in docs}
    rows = [r.split("\t") for r in (src / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    rows = [r for r in rows if r[1] in ids]
    qids = list(dict.fromkeys(r[0] for r in rows))[:N_DOCS]
    queries = [q for q in (src / "queries.jsonl").read_text(encoding="utf-8").splitlines()
               if json.loads(q)["_id"] in qids]
    (folder / "corpus.jsonl").write_text("\n".join(docs) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        "\t".join(r) + "\n" for r in rows if r[0] in qids), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, repo, advisor_cli):
    base = tmp_path_factory.mktemp("hosted-sweep")
    task = _small_task(repo, base / "task")
    with running_server("--model", SERVED_MODEL, "--max-input-tokens", "64") as server:
        catalog = base / "served.yaml"
        catalog.write_text(f"""models:
  - name: {SERVED}
    source: builtin:openai
    backend: openai
    license: Apache-2.0
    languages: [eng-Latn]
    embed_dim: 64
    price_per_million_tokens: {PRICE}
    options:
      base_url: {server.url}/v1
      model: {SERVED_MODEL}
""", encoding="utf-8")
        policy = base / "policy.yaml"
        policy.write_text(f"""name: hosted-beside-local
costs:
  machine_usd_per_hour: {MACHINE_PRICE}
ranking:
  weights: {{money: 0.5}}
""", encoding="utf-8")
        store, out = base / "results.sqlite", base / "report"
        proc = advisor_cli("recommend", "--catalog", str(repo / "advisor/shipped/catalogs" / "offline.yaml"), "--catalog",
                           str(catalog), "--policy", str(policy), "--dataset", str(task),
                           "--model", LOCAL, "--model", SERVED, "--out", str(out), "--store", str(store),
                           timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # The server's own count of the tokens in the texts the cost cell billed, asked independently.
        docs, queries = _texts(task)
        doc_tokens = _usage(server.url, docs)
        query_sample = queries if len(queries) <= 64 else [
            queries[i] for i in np.linspace(0, len(queries) - 1, num=64).round().astype(int)]
        query_tokens = _usage(server.url, query_sample)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return {"report": report, "out": out, "store": store, "docs": docs, "doc_tokens": doc_tokens,
            "query_tokens": query_tokens, "n_queries": len(query_sample)}


def _texts(folder: Path) -> tuple[list[str], list[str]]:
    """The task's documents (title joined to text, as BEIR readers do) and queries, read straight from the files."""
    docs = []
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        title, text = row.get("title") or "", row["text"]
        docs.append((title + " " + text).strip() if title else text.strip())
    queries = [json.loads(line)["text"] for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    return docs, queries


def _usage(url: str, texts: list[str]) -> int:
    total = 0
    for i in range(0, len(texts), 32):
        answer = httpx.post(f"{url}/v1/embeddings", json={"model": SERVED_MODEL, "input": texts[i:i + 32]}, timeout=60)
        assert answer.status_code == 200, answer.text
        total += answer.json()["usage"]["prompt_tokens"]
    return total


def _candidates(report: dict, model: str) -> list[dict]:
    return [c for g in report["groups"] for c in g["candidates"] if c["model"] == model]


def _cost_cell(store: Path, model: str) -> dict:
    con = sqlite3.connect(store)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM cells WHERE kind = 'cost' AND status = 'ok' AND model = ?",
                                         (model,))]
    con.close()
    assert len(rows) == 1
    return json.loads(rows[0]["metrics"])


def test_the_served_model_is_ranked_beside_the_local_one(sweep):
    served, local = _candidates(sweep["report"], SERVED), _candidates(sweep["report"], LOCAL)
    assert served and local
    for c in served + local:
        assert c["status"] in ("recommended", "pareto", "dominated"), c["why"]
        assert c["position"] is not None
    assert sweep["report"]["recommended"] is not None


def test_per_token_money_is_the_servers_reported_usage_times_the_price(sweep):
    assert _cost_cell(sweep["store"], SERVED)["billed_docs"] == len(sweep["docs"])  # the whole corpus is the sample
    assert sweep["doc_tokens"] > len(sweep["docs"])  # real token counts: a plot is many tokens
    per_doc = sweep["doc_tokens"] / len(sweep["docs"])
    per_query = sweep["query_tokens"] / sweep["n_queries"]
    for c in _candidates(sweep["report"], SERVED):
        assert c["money_basis"]["pricing"] == "per token"
        assert c["cost"]["usd_per_million_docs"] == pytest.approx(per_doc * PRICE, rel=1e-9)
        assert c["cost"]["usd_per_thousand_queries"] == pytest.approx(per_query * PRICE / 1000, rel=1e-9)
        # its why line weighs the money: the figure itself when recommended, the ratio to the recommendation else
        assert "per million docs (per token)" in c["why"] or "per million documents" in c["why"] \
            or c["status"] == "dominated"


def test_machine_hour_money_is_the_price_over_the_stored_rates(sweep):
    cell = _cost_cell(sweep["store"], LOCAL)
    per_s = MACHINE_PRICE / 3600
    for c in _candidates(sweep["report"], LOCAL):
        assert c["money_basis"]["pricing"] == "machine-hour"
        assert c["cost"]["usd_per_million_docs"] == pytest.approx(per_s * 1e6 / cell["docs_per_s"], rel=1e-9)
        assert c["cost"]["usd_per_thousand_queries"] == pytest.approx(per_s * cell["latency_p50_ms"], rel=1e-9)
        low, high = c["cost_ci"]["usd_per_million_docs"]
        assert low == pytest.approx(per_s * 1e6 / cell["docs_per_s_ci_high"], rel=1e-9)
        assert high == pytest.approx(per_s * 1e6 / cell["docs_per_s_ci_low"], rel=1e-9)


def test_the_markdown_and_html_reports_show_the_money(sweep):
    md = (sweep["out"] / "report.md").read_text(encoding="utf-8")
    html = (sweep["out"] / "report.html").read_text(encoding="utf-8")
    for text in (md, html):
        assert "USD / M docs" in text and "USD / 1k queries" in text
        assert f"{MACHINE_PRICE:g} USD per machine-hour (stated by the policy)" in text
        assert "per token" in text
