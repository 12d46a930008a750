"""The shapes users hold retrieval data in, each built from the shipped ``data/rt-reviews-plots``: a
question/answer CSV, a query/positive JSONL, a pairs Parquet, a BEIR folder in Parquet, BEIR folders whose
judgements are ``.csv``, ``.jsonl`` or TREC ``.txt`` (with a Feather corpus and Arrow queries). Each is detected
without ``--dataset-type`` and scores the same nDCG@10 as the BEIR folder, computed independently here with
pytrec_eval from the same real embeddings (the static ``tokenlearn-static-64`` model of the offline catalog)."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.tasks import load_task
from advisor.models.variants import Variant
from advisor.quality.evaluation import evaluate_model

pa = pytest.importorskip("pyarrow", reason="Parquet and Arrow need pyarrow (the 'parquet' extra)")
import pyarrow.feather as feather  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "rt-reviews-plots"
MODEL = "tokenlearn-static-64"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


QUERIES = {r["_id"]: r["text"] for r in _jsonl(DATA / "queries.jsonl")}
CORPUS = {r["_id"]: (r["title"] + " " + r["text"]).strip() if r["title"] else r["text"].strip()
          for r in _jsonl(DATA / "corpus.jsonl")}
with (DATA / "qrels" / "test.tsv").open(encoding="utf-8") as _f:
    JUDGED = [(r["query-id"], r["corpus-id"], int(r["score"])) for r in csv.DictReader(_f, delimiter="\t")]
PAIRS = [(QUERIES[q], CORPUS[d]) for q, d, _ in JUDGED]


# --- the shapes, each written from the shipped data ---------------------------------------------------------------

def qa_csv(folder: Path) -> Path:
    path = folder / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("question", "answer"), *PAIRS])
    return path


def query_positive_jsonl(folder: Path) -> Path:
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n" for q, p in PAIRS), encoding="utf-8")
    return path


def pairs_parquet(folder: Path) -> Path:
    path = folder / "pairs.parquet"
    pq.write_table(pa.table({"anchor": [q for q, _ in PAIRS], "document": [p for _, p in PAIRS],
                             "score": [s for *_, s in JUDGED]}), path)
    return path


def _corpus_rows() -> list[dict]:
    return _jsonl(DATA / "corpus.jsonl")


def _judgement_columns() -> dict[str, list]:
    return {"query-id": [q for q, _, _ in JUDGED], "corpus-id": [d for _, d, _ in JUDGED],
            "score": [s for *_, s in JUDGED]}


def beir_parquet(folder: Path) -> Path:
    out = folder / "rt-parquet"
    (out / "qrels").mkdir(parents=True)
    rows = _corpus_rows()
    pq.write_table(pa.table({k: [r[k] for r in rows] for k in ("_id", "title", "text")}), out / "corpus.parquet")
    pq.write_table(pa.table({"_id": list(QUERIES), "text": list(QUERIES.values())}), out / "queries.parquet")
    pq.write_table(pa.table(_judgement_columns()), out / "qrels" / "test.parquet")
    return out


def _beir_with_qrels(folder: Path, name: str, write) -> Path:
    out = folder / name
    (out / "qrels").mkdir(parents=True)
    for file in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(DATA / file, out / file)
    write(out / "qrels")
    return out


def beir_qrels_csv(folder: Path) -> Path:
    def write(qrels: Path) -> None:
        with (qrels / "test.csv").open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([("query-id", "corpus-id", "score"), *JUDGED])
    return _beir_with_qrels(folder, "rt-qrels-csv", write)


def beir_qrels_jsonl(folder: Path) -> Path:
    def write(qrels: Path) -> None:
        (qrels / "test.jsonl").write_text("".join(json.dumps({"query-id": q, "corpus-id": d, "score": s}) + "\n"
                                                  for q, d, s in JUDGED), encoding="utf-8")
    return _beir_with_qrels(folder, "rt-qrels-jsonl", write)


def beir_arrow_trec(folder: Path) -> Path:
    out = folder / "rt-arrow"
    (out / "qrels").mkdir(parents=True)
    rows = _corpus_rows()
    feather.write_feather(pa.table({k: [r[k] for r in rows] for k in ("_id", "title", "text")}), out / "corpus.feather")
    table = pa.table({"_id": list(QUERIES), "text": list(QUERIES.values())})
    with pa.OSFile(str(out / "queries.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)  # the IPC stream format, as Hugging Face datasets write .arrow files
    (out / "qrels" / "test.txt").write_text("".join(f"{q} 0 {d} {s}\n" for q, d, s in JUDGED), encoding="utf-8")
    return out


SHAPES = {"beir-tsv": (lambda folder: DATA, "beir"), "qa-csv": (qa_csv, "pairs"),
          "query-positive-jsonl": (query_positive_jsonl, "pairs"), "pairs-parquet": (pairs_parquet, "pairs"),
          "beir-parquet": (beir_parquet, "beir"), "beir-qrels-csv": (beir_qrels_csv, "beir"),
          "beir-qrels-jsonl": (beir_qrels_jsonl, "beir"), "beir-feather-arrow-trec": (beir_arrow_trec, "beir")}


# --- the independent reference --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder():
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    enc = load_encoder(resolve_model(MODEL), device="cpu", weight_precision="fp32")
    yield enc
    enc.close()


@pytest.fixture(scope="module")
def vectors(encoder):
    """Unit vectors of every query and document of the BEIR folder, by id."""
    def unit(texts: list[str], kind: str) -> np.ndarray:
        v = np.asarray(encoder.encode(texts, kind=kind), dtype=np.float64)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    return (dict(zip(QUERIES, unit(list(QUERIES.values()), "query"))),
            dict(zip(CORPUS, unit(list(CORPUS.values()), "document"))))


def reference_ndcg10(vectors, judged: list[tuple[str, str, int]]) -> float:
    """pytrec_eval's mean nDCG@10 over the judged queries, every document of the BEIR corpus ranked."""
    queries, docs = vectors
    doc_ids = list(docs)
    matrix = np.stack([docs[d] for d in doc_ids])
    qrels: dict[str, dict[str, int]] = {}
    for q, d, s in judged:
        qrels.setdefault(q, {})[d] = s
    run = {q: dict(zip(doc_ids, (matrix @ queries[q]).astype(np.float32).astype(float))) for q in qrels}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))


def ndcg10(encoder, task) -> float:
    (result,) = evaluate_model(encoder, task, [Variant()], resamples=20).values()
    return result.metrics["ndcg_at_10"]


# --- the tests ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_shape_scores_the_beir_folders_ndcg(shape, tmp_path, encoder, vectors):
    build, source = SHAPES[shape]
    task = load_task(build(tmp_path))  # detected: no --dataset-type
    assert (task.type, task.source) == ("retrieval", source)
    assert (len(task.data.queries), len(task.data.corpus)) == (240, 156)
    assert sum(len(v) for v in task.data.qrels.values()) == len(JUDGED)
    assert ndcg10(encoder, task) == pytest.approx(reference_ndcg10(vectors, JUDGED), abs=1e-6)


def test_pairs_with_corpus_score_the_beir_folder_on_the_same_queries(tmp_path, encoder, vectors):
    """Pairs judge only their positives; --corpus adds the rest of the BEIR corpus as distractors, and the figure
    is the BEIR folder's on those queries. Without it the search is easier (fewer documents), and says so."""
    judged = JUDGED[:80]
    path = tmp_path / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("Question", "Answer"), *((QUERIES[q], CORPUS[d]) for q, d, _ in judged)])
    alone = load_task(path)
    with_corpus = load_task(path, corpus=DATA / "corpus.jsonl")
    assert len(alone.data.corpus) == len({d for _, d, _ in judged}) < 156
    assert len(with_corpus.data.corpus) == 156 and with_corpus.meta["corpus_added"] == 156 - len(alone.data.corpus)
    assert with_corpus.content_hash != alone.content_hash
    assert ndcg10(encoder, with_corpus) == pytest.approx(reference_ndcg10(vectors, judged), abs=1e-6)
    assert ndcg10(encoder, alone) > ndcg10(encoder, with_corpus)


def test_the_cli_evaluates_a_question_answer_csv_with_a_corpus(tmp_path, vectors):
    path = qa_csv(tmp_path)
    done = CliRunner().invoke(cli, ["evaluate", "--model", MODEL, "--dataset", str(path), "--corpus",
                                    str(DATA / "corpus.jsonl"), "--resamples", "20", "--json"])
    assert done.exit_code == 0, done.output
    (record,) = json.loads(done.stdout)["results"]
    assert record["task"]["source"] == "pairs"
    assert record["metrics"]["ndcg_at_10"] == pytest.approx(reference_ndcg10(vectors, JUDGED), abs=1e-6)


def test_a_pairs_tasks_hash_depends_on_its_pairs_not_on_the_file_or_row_order(tmp_path):
    csv_task, jsonl_task = load_task(qa_csv(tmp_path)), load_task(query_positive_jsonl(tmp_path))
    assert csv_task.content_hash == jsonl_task.content_hash == load_task(pairs_parquet(tmp_path)).content_hash
    assert csv_task.data.qrels == jsonl_task.data.qrels
    shuffled = list(PAIRS)
    random.Random(3).shuffle(shuffled)
    other = tmp_path / "shuffled.jsonl"
    other.write_text("".join(json.dumps({"anchor": q, "passage": p}) + "\n" for q, p in shuffled), encoding="utf-8")
    assert load_task(other).content_hash == csv_task.content_hash
    other.write_text("".join(json.dumps({"anchor": q, "passage": p}) + "\n" for q, p in shuffled[1:]),
                     encoding="utf-8")
    assert load_task(other).content_hash != csv_task.content_hash


def test_a_query_asked_twice_is_one_query_with_both_answers(tmp_path):
    (q1, p1), (_, p2) = PAIRS[0], PAIRS[1]
    path = tmp_path / "faq.jsonl"
    path.write_text("".join(json.dumps({"question": q1, "answer": p}) + "\n" for p in (p1, p2, p1)),
                    encoding="utf-8")
    task = load_task(path)
    assert list(task.data.queries.values()) == [q1]
    (judged,) = task.data.qrels.values()
    assert sorted(task.data.corpus[d] for d in judged) == sorted([p1, p2]) and set(judged.values()) == {1}
