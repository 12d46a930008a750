"""Chunking variants in a real sweep: MiniLM on a small long-document task, the corpus cut by the model's own
tokenizer into overlapping windows, each distinct chunk encoded, a document scored by the max (or mean) of its
chunks. The stored nDCG@10 equals an independent computation: the Hugging Face tokenizer's offsets, windows cut
here, sentence-transformers embeddings, numpy max/mean, pytrec_eval."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.errors import ConfigError
from advisor.sweep.store import ResultStore

DATA = Path(__file__).resolve().parents[2] / "data"
TOKENS, OVERLAP = 64, 16
POLICY = f"""\
name: chunking-test
baselines: []  # these tests are about the model's chunked cells; BM25 (the default on retrieval) would add its own
variants:
  chunking: [none, {{tokens: {TOKENS}, overlap: {OVERLAP}, aggregate: max}},
             {{tokens: {TOKENS}, overlap: {OVERLAP}, aggregate: mean}}]
"""


def small_long_task(out: Path, n_docs: int = 6) -> Path:
    """The first documents of data/rt-long-plots (about 720 tokens each) and the queries that point into them."""
    src = DATA / "rt-long-plots"
    docs = [json.loads(line) for line in (src / "corpus.jsonl").read_text().splitlines()][:n_docs]
    keep = {d["_id"] for d in docs}
    qrels = [line.split("\t") for line in (src / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    qrels = [q for q in qrels if q[1] in keep]
    wanted = {q[0] for q in qrels}
    queries = [json.loads(line) for line in (src / "queries.jsonl").read_text().splitlines()]
    (out / "qrels").mkdir(parents=True)
    (out / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries if q["_id"] in wanted))
    lines = "".join("\t".join(q) + "\n" for q in qrels)
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    shutil.copy(src / "dataset.yaml", out / "dataset.yaml")
    return out


def independent_scores(folder: Path, model_dir: Path) -> tuple[list[dict], list[str], np.ndarray]:
    """Queries, the document of each chunk, and query x chunk cosines, computed without the advisor."""
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    docs = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    step = TOKENS - OVERLAP
    chunks, owner = [], []
    for d in docs:
        offsets = tok(d["text"], add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        n = len(offsets)
        starts = [0] if n <= TOKENS else list(range(0, n - TOKENS + step, step))
        for s in starts:
            e = min(s + TOKENS, n)
            chunks.append(d["text"][offsets[s][0]:offsets[e - 1][1]])
            owner.append(d["_id"])
    model = SentenceTransformer(str(model_dir), device="cpu")
    q = model.encode([x["text"] for x in queries], normalize_embeddings=True)
    c = model.encode(chunks, normalize_embeddings=True)
    return queries, owner, q @ c.T


def independent_ndcg(folder: Path, scores: tuple[list[dict], list[str], np.ndarray], aggregate: str) -> float:
    import pytrec_eval

    queries, owner, sims = scores
    run = {}
    for i, query in enumerate(queries):
        per_doc: dict[str, list[float]] = {}
        for j, doc in enumerate(owner):
            per_doc.setdefault(doc, []).append(float(sims[i, j]))
        reduce = max if aggregate == "max" else (lambda xs: sum(xs) / len(xs))
        run[query["_id"]] = {doc: reduce(xs) for doc, xs in per_doc.items()}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([s["ndcg_cut_10"] for s in scores.values()]))


@pytest.fixture(scope="module")
def chunked_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chunking")
    folder = small_long_task(tmp / "long-small")
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    store = tmp / "runs.db"
    done = CliRunner().invoke(cli, ["run", "--model", "all-MiniLM-L6-v2", "--no-cost", "--store", str(store),
                                    "--policy", str(policy), "--dataset", str(folder)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return folder, store


@pytest.fixture(scope="module")
def independent(chunked_store, minilm_dir):
    return independent_scores(chunked_store[0], minilm_dir)


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_sweep_chunked_ndcg_equals_an_independent_computation(chunked_store, independent, aggregate):
    folder, store = chunked_store
    cells = {r.key.chunking: r for r in ResultStore(store).results(kind="quality")}
    assert set(cells) == {"", f"{TOKENS}:{OVERLAP}:max", f"{TOKENS}:{OVERLAP}:mean"}
    cell = cells[f"{TOKENS}:{OVERLAP}:{aggregate}"]
    assert cell.status == "ok", cell.error
    stats = cell.details["chunking"]
    assert stats["n_documents"] == 6 and stats["vectors_per_document"] > 5  # ~720-token documents, 48-token steps
    assert cell.metrics["ndcg_at_10"] == pytest.approx(independent_ndcg(folder, independent, aggregate), abs=1e-4)


def test_sweep_chunking_in_the_policy_leaves_the_unchunked_fingerprints_unchanged(chunked_store, tmp_path):
    from advisor.datasets.tasks import load_task
    from advisor.models.catalog import default_catalog_paths, load_catalogs
    from advisor.policy.spec import load_policy
    from advisor.sweep.planner import build_plan

    folder, store = chunked_store
    entry = next(e for e in load_catalogs(default_catalog_paths()) if e.name == "all-MiniLM-L6-v2")
    task = load_task(folder)
    with_chunks = tmp_path / "chunks.yaml"
    with_chunks.write_text(POLICY)
    without = tmp_path / "plain.yaml"
    without.write_text("name: plain\nbaselines: []\n")
    planned = {c.fingerprint for c in build_plan([entry], load_policy(with_chunks), [task], measure_cost=False).cells
               if not c.key.chunking}
    plain = {c.fingerprint for c in build_plan([entry], load_policy(without), [task], measure_cost=False).cells}
    assert planned == plain
    stored = [r for r in ResultStore(store).results(kind="quality")]
    assert {r.key.identity() for r in stored if not r.key.chunking} != {r.key.identity() for r in stored
                                                                          if r.key.chunking}
    assert all("chunking" not in r.key.options for r in stored if not r.key.chunking)


def test_sweep_report_shows_truncation_share_and_each_chunking_beside_truncation(chunked_store, tmp_path):
    folder, store = chunked_store
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    out = tmp_path / "report"
    done = CliRunner().invoke(cli, ["report", "--store", str(store), "--policy", str(policy), "--out", str(out),
                                    "--format", "markdown"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    text = (out / "report.md").read_text()
    section = text.split("## Long documents: truncate or chunk?", 1)[1].split("\n## ", 1)[0]
    assert "| all-MiniLM-L6-v2 | long-small | 256 | corpus | 6 of 6 | 100.0% |" in section  # every document is cut
    rows = [line for line in section.splitlines() if line.startswith(f"| all-MiniLM-L6-v2 | long-small | {TOKENS}:")]
    assert len(rows) == 2 and all(any(a in r for a in ("| chunk |", "| truncate |", "| tie within noise |"))
                                  for r in rows)


def test_sweep_chunking_policy_mistakes_name_the_field(tmp_path):
    from advisor.policy.spec import load_policy

    bad = tmp_path / "bad.yaml"
    bad.write_text("variants:\n  chunking: [{tokens: 64, overlap: 64}]\n")
    with pytest.raises(ConfigError, match=r"overlap.*smaller than tokens"):
        load_policy(bad)
    bad.write_text("variants:\n  chunking: [{tokens: 64, aggregate: median}]\n")
    with pytest.raises(ConfigError, match="aggregate"):
        load_policy(bad)


def test_sweep_a_policy_without_chunking_reports_only_the_truncated_variant(chunked_store, tmp_path):
    _, store = chunked_store
    out = tmp_path / "plain-report"
    done = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out), "--format", "markdown"],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    text = (out / "report.md").read_text()
    assert "all-MiniLM-L6-v2" in text and f"chunks {TOKENS}:" not in text
