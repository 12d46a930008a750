"""A corpus without queries, in the shapes people keep one (a folder of ``.txt``/``.md`` files, a JSONL or Parquet
table of documents, a Hugging Face dataset with a text column), each written from the 156 plots of the shipped
``data/rt-reviews-plots``, and the pseudo-queries built from it (``#pseudo-queries=N``). Each shape loads as the same
unlabeled corpus; the pseudo-queries, written out as a BEIR folder, score the same nDCG@10 there, and both equal
pytrec_eval's nDCG@10 computed here from the same real embeddings (the static ``tokenlearn-static-64`` model of the
offline catalog). Every output that evaluates them says the judgements are synthetic, and how they were built."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.spans import span_query  # noqa: F401 - the construction under test
from advisor.datasets.tasks import load_task, synthetic_line
from advisor.errors import ConfigError, UserError
from advisor.models.variants import Variant
from advisor.quality.evaluation import evaluate_model

DATA = Path(__file__).resolve().parents[2] / "data" / "rt-reviews-plots"
MODEL = "tokenlearn-static-64"
PLOTS = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
TEXTS = {r["_id"]: r["text"].strip() for r in PLOTS}  # every title is empty: the text is the document
assert all(not r["title"] for r in PLOTS)


# --- the shapes, each written from the shipped plots ----------------------------------------------------------------

def txt_folder(folder: Path) -> Path:
    """One file per plot: most .txt, every third in a sub-folder as .md (ids are the paths inside the folder)."""
    out = folder / "plots"
    for i, (key, text) in enumerate(TEXTS.items()):
        path = out / ("by-year" if i % 3 == 0 else "") / f"{key}.{'md' if i % 3 == 0 else 'txt'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    return out


def documents_jsonl(folder: Path) -> Path:
    path = folder / "plots.jsonl"
    path.write_text("".join(json.dumps({"id": r["_id"], "title": r["title"], "text": r["text"]}) + "\n"
                            for r in PLOTS), encoding="utf-8")
    return path


def documents_parquet(folder: Path) -> Path:
    pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the 'parquet' extra)")
    import pyarrow.parquet as pq

    path = folder / "plots.parquet"
    pq.write_table(pa.table({"_id": [r["_id"] for r in PLOTS], "text": [r["text"] for r in PLOTS]}), path)
    return path


def hf_documents(folder: Path) -> Path:
    datasets = pytest.importorskip("datasets")
    path = folder / "plots-hf"
    datasets.Dataset.from_dict({"id": list(TEXTS), "text": list(TEXTS.values())}).save_to_disk(str(path))
    return path


SHAPES = {"txt-md-folder": (txt_folder, "documents"), "documents-jsonl": (documents_jsonl, "documents"),
          "documents-parquet": (documents_parquet, "documents"), "hf-save-to-disk": (hf_documents, "hf-disk")}


def write_beir(task, folder: Path) -> Path:
    """A task's queries, documents and judgements as a BEIR folder (the same ids)."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n"
                                                 for d, t in task.data.corpus.items()), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n"
                                                  for q, t in task.data.queries.items()), encoding="utf-8")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows([("query-id", "corpus-id", "score"),
                                                 *((q, d, s) for q, r in task.data.qrels.items()
                                                   for d, s in r.items())])
    return folder


# --- the independent reference --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder():
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    enc = load_encoder(resolve_model(MODEL), device="cpu", weight_precision="fp32")
    yield enc
    enc.close()


def reference_ndcg10(encoder, beir: Path) -> float:
    """pytrec_eval's mean nDCG@10 of a BEIR folder, read here with json and csv, every document ranked by the
    cosine of the model's own embeddings."""
    read = lambda name: [json.loads(x) for x in (beir / name).read_text(encoding="utf-8").splitlines()]  # noqa: E731
    corpus = {r["_id"]: r["text"] for r in read("corpus.jsonl")}
    queries = {r["_id"]: r["text"] for r in read("queries.jsonl")}
    with (beir / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        qrels: dict[str, dict[str, int]] = {}
        for r in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(r["query-id"], {})[r["corpus-id"]] = int(r["score"])

    def unit(texts: list[str], kind: str) -> np.ndarray:
        v = np.asarray(encoder.encode(texts, kind=kind), dtype=np.float64)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    doc_ids, q_ids = list(corpus), list(queries)
    scores = unit([queries[q] for q in q_ids], "query") @ unit([corpus[d] for d in doc_ids], "document").T
    run = {q: dict(zip(doc_ids, row.astype(np.float32).astype(float))) for q, row in zip(q_ids, scores)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))


def ndcg10(encoder, task) -> float:
    (result,) = evaluate_model(encoder, task, [Variant()], resamples=20).values()
    return result.metrics["ndcg_at_10"]


# --- each shape is the same corpus ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_shape_is_an_unlabeled_corpus_of_the_plots(shape, tmp_path):
    build, source = SHAPES[shape]
    task = load_task(build(tmp_path), without_queries=True)  # detected: no --dataset-type
    assert (task.type, task.source) == ("unlabeled_retrieval", source)
    assert sorted(task.data.corpus.values()) == sorted(TEXTS.values())
    assert task.data.queries == {} and task.data.qrels == {}
    assert task.meta["unlabeled"] == "a corpus of 156 documents without queries or relevance judgements"


def test_a_table_of_documents_with_ids_keeps_them_and_its_hash_does_not_depend_on_the_format(tmp_path):
    jsonl, parquet = load_task(documents_jsonl(tmp_path), without_queries=True), \
        load_task(documents_parquet(tmp_path), without_queries=True)
    assert jsonl.data.corpus == parquet.data.corpus == TEXTS
    assert jsonl.content_hash == parquet.content_hash


def test_a_txt_folders_ids_are_the_paths_inside_it(tmp_path):
    task = load_task(txt_folder(tmp_path), without_queries=True)
    first = next(iter(TEXTS))
    assert task.data.corpus[f"by-year/{first}.md"] == TEXTS[first]
    assert len(task.data.corpus) == 156 and all(k.endswith((".txt", ".md")) for k in task.data.corpus)


# --- pseudo-queries -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", list(SHAPES))
def test_pseudo_queries_score_what_the_same_queries_score_as_a_beir_folder(shape, tmp_path, encoder):
    build, source = SHAPES[shape]
    task = load_task(f"{build(tmp_path)}#pseudo-queries=60,seed=3")
    assert (task.type, task.source, len(task.data.queries), len(task.data.corpus)) == ("retrieval", source, 60, 156)
    assert task.meta["pseudo_queries"] == {"construction": "inverse cloze with span corruption", "count": 60,
                                           "asked": 60, "span": 12, "seed": 3, "mask": 0.25, "mean_span": 3,
                                           "eligible": 156}
    beir = write_beir(task, tmp_path / "as-beir")
    labelled = load_task(beir)
    assert (labelled.source, labelled.data.qrels) == ("beir", task.data.qrels)
    figure = ndcg10(encoder, task)
    assert figure == pytest.approx(ndcg10(encoder, labelled), abs=1e-9)
    assert figure == pytest.approx(reference_ndcg10(encoder, beir), abs=1e-6)


def test_a_pseudo_query_is_a_corrupted_span_of_its_one_relevant_document(tmp_path):
    task = load_task(f"{documents_jsonl(tmp_path)}#pseudo-queries=156,span=16,mask=0.25")
    assert len(task.data.queries) == 156
    for qid, judged in task.data.qrels.items():
        (doc_id, grade), = judged.items()
        words, query = task.data.corpus[doc_id].split(), task.data.queries[qid].split()
        assert grade == 1 and qid == f"pq:{doc_id}"
        # about a quarter of the span's words removed: spans until 4 are covered, the last may run 4 past them
        assert 4 <= 16 - len(query) <= 4 + (2 * 3 - 2)
        # the query's words appear in order inside one 16-word window of its document
        windows = [words[i:i + 16] for i in range(len(words) - 15)]
        assert any(_in_order(query, window) for window in windows), (query, doc_id)


def _in_order(words: list[str], window: list[str]) -> bool:
    it = iter(window)
    return all(any(w == x for x in it) for w in words)


def test_pseudo_queries_depend_on_the_seed_and_the_documents_only(tmp_path):
    path = documents_jsonl(tmp_path)
    a, b = load_task(f"{path}#pseudo-queries=40,seed=1"), load_task(f"{path}#pseudo-queries=40,seed=1")
    assert a.data.queries == b.data.queries and a.content_hash == b.content_hash
    assert load_task(f"{documents_parquet(tmp_path)}#pseudo-queries=40,seed=1").content_hash == a.content_hash
    other = load_task(f"{path}#pseudo-queries=40,seed=2")
    assert other.data.queries != a.data.queries and other.content_hash != a.content_hash


def test_asking_for_more_pseudo_queries_than_documents_builds_one_per_document_and_says_so(tmp_path):
    task = load_task(f"{documents_jsonl(tmp_path)}#pseudo-queries=500")
    assert len(task.data.queries) == 156
    assert "156 pseudo-queries (500 asked; 156 documents are long enough)" in task.meta["synthetic"]


def test_pseudo_queries_are_refused_for_a_task_that_has_judgements_or_is_not_a_corpus(repo):
    with pytest.raises(UserError, match="has relevance judgements already"):
        load_task(f"{DATA}#pseudo-queries=5")
    with pytest.raises(UserError, match="is a sts task"):
        load_task(f"{repo / 'data' / 'lee-sts'}#pseudo-queries=5")


def test_a_span_longer_than_every_document_is_one_line(tmp_path):
    folder = tmp_path / "short"
    folder.mkdir()
    (folder / "a.txt").write_text("Only five words in here.", encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_task(f"{folder}#pseudo-queries=3")
    assert str(info.value) == (f"{folder}#pseudo-queries=3: no document has 12 words or more, and a pseudo-query is a "
                               "span of span=12 words; give a smaller span=")


# --- what every output says -----------------------------------------------------------------------------------------

def test_evaluating_a_corpus_without_queries_says_how_to_build_them(tmp_path):
    path = documents_jsonl(tmp_path)
    done = CliRunner().invoke(cli, ["evaluate", "--model", MODEL, "--dataset", str(path)])
    assert done.exit_code == 2
    assert done.output.strip() == (
        f"advisor: error: {path}: a corpus of 156 documents without queries or relevance judgements, so nothing to "
        f"evaluate; build queries from its documents with --pseudo-queries N (or {path}#pseudo-queries=N): their "
        "judgements are synthetic, and every output says so")


def test_datasets_show_shows_a_corpus_as_it_is_and_with_pseudo_queries(tmp_path):
    folder = txt_folder(tmp_path)
    done = CliRunner().invoke(cli, ["datasets", "show", str(folder)])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0] == ("plots: UNLABELED: a corpus of 156 documents without queries or relevance "
                                           "judgements; nothing to evaluate until queries are built from it "
                                           "(--pseudo-queries N)")
    done = CliRunner().invoke(cli, ["datasets", "show", str(folder), "--pseudo-queries", "30,span=8", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["type"], summary["sizes"], summary["pseudo_queries"]["span"]) == \
        ("retrieval", {"queries": 30, "corpus": 156}, 8)


def test_evaluate_says_first_that_the_judgements_are_synthetic_and_how_they_were_built(tmp_path):
    path = documents_jsonl(tmp_path)
    task = load_task(f"{path}#pseudo-queries=30")
    line = synthetic_line("plots", task.meta["synthetic"])
    assert line == ("plots: SYNTHETIC: 30 pseudo-queries built from its documents (inverse cloze with span "
                    "corruption: each a 12-word span of one document with 25% of its words removed, seed 0), each "
                    "judging only the document it was cut from; its figures measure finding the document a query was "
                    "cut from, not relevance judged by people")
    done = CliRunner().invoke(cli, ["evaluate", "--model", MODEL, "--dataset", str(path), "--pseudo-queries", "30",
                                    "--resamples", "10"])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == line
    done = CliRunner().invoke(cli, ["evaluate", "--model", MODEL, "--dataset", f"{path}#pseudo-queries=30",
                                    "--resamples", "10", "--json"])
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines()[0] == line
    (record,) = json.loads(done.stdout)["results"]
    assert record["task"]["synthetic"] == task.meta["synthetic"]
    assert record["task"]["pseudo_queries"]["count"] == 30 and record["task"]["content_hash"] == task.content_hash


# --- bad files and rows: one line each ------------------------------------------------------------------------------

def _cli_error(*args: str) -> str:
    done = CliRunner().invoke(cli, ["datasets", "show", *args])
    assert done.exit_code == 2, done.output
    (line,) = done.output.strip().splitlines()
    return line.removeprefix("advisor: error: ")


def test_a_text_file_that_is_not_utf8_is_one_line_naming_it(tmp_path):
    folder = txt_folder(tmp_path)
    bad = folder / "by-year" / "latin1.txt"
    bad.write_bytes("A plot\nabout a caf\xe9.\n".encode("latin-1"))
    assert _cli_error(str(folder)) == f"{bad}:2: is not UTF-8 (byte 0xe9); save the file as UTF-8"


def test_a_bad_document_row_is_one_line_naming_its_line(tmp_path):
    path = documents_jsonl(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = json.dumps({"id": "x", "text": 5})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _cli_error(str(path)) == f"{path}:3: field 'text': must be a string, got int 5"
    lines[2] = json.dumps({"id": PLOTS[0]["_id"], "text": "a copy"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _cli_error(str(path)) == f"{path}:3: field 'id': duplicate id '{PLOTS[0]['_id']}' (first on line 1)"


def test_an_unknown_dataset_option_is_one_line_with_a_did_you_mean(tmp_path):
    path = documents_jsonl(tmp_path)
    assert _cli_error(f"{path}#pseudo-queries=5,sede=2").startswith(
        f"{path}#pseudo-queries=5,sede=2: unknown dataset option 'sede'; did you mean 'seed'?")
    assert _cli_error(str(path), "--pseudo-queries", "5,span=2") == \
        "--pseudo-queries 5,span=2: span=2: a pseudo-query is a span of at least 4 words"


def test_a_folder_of_datasets_is_not_a_corpus(repo):
    """data/ holds a README.md beside folders of tables: a corpus is a folder with text files and no table."""
    with pytest.raises(UserError, match="cannot tell what kind of dataset this is"):
        load_task(repo / "data")


def test_an_empty_text_file_is_left_out_and_counted(tmp_path):
    folder = txt_folder(tmp_path)
    (folder / "blank.txt").write_text("  \n", encoding="utf-8")
    task = load_task(folder, without_queries=True)
    assert len(task.data.corpus) == 156 and task.meta["empty_left_out"] == 1
    assert task.description == "156 documents, no queries; 1 empty left out"


def test_a_table_of_documents_needs_a_text_column(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": "a", "body": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_task(path, source="documents", without_queries=True)
    assert str(info.value) == f"{path}:1: field 'text': is missing; each line needs the fields text"
