"""The new input shapes under bad rows: each is one line naming the file, the line (or the row of a Parquet table)
and the field. And never a silently different task: judgements that cannot be read stop the load, a folder is
unlabeled only when it holds no judgements at all (and every output says so first), a mistyped path is 'no such
file or directory' with a did-you-mean."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError, UserError

pa = pytest.importorskip("pyarrow", reason="Parquet and Arrow need pyarrow (the 'parquet' extra)")
import pyarrow.parquet as pq  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data"
RT = DATA / "rt-reviews-plots"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


QUERIES = {r["_id"]: r["text"] for r in _jsonl(RT / "queries.jsonl")}
CORPUS = {r["_id"]: r["text"] for r in _jsonl(RT / "corpus.jsonl")}
with (RT / "qrels" / "test.tsv").open(encoding="utf-8") as _f:
    JUDGED = [(r["query-id"], r["corpus-id"], r["score"]) for r in csv.DictReader(_f, delimiter="\t")][:30]
PAIRS = [(QUERIES[q], CORPUS[d]) for q, d, _ in JUDGED]


def error_of(spec: Path, **kw) -> str:
    with pytest.raises(UserError) as info:
        load_task(spec, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture()
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "rt"
    shutil.copytree(RT, folder)
    return folder


# --- a bad row in each new shape -------------------------------------------------------------------------------------

def test_question_answer_csv_with_an_empty_answer(tmp_path):
    path = tmp_path / "faq.csv"
    rows = [list(p) for p in PAIRS[:6]]
    rows[3][1] = "  "
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("question", "answer"), *rows])
    line = 1 + 1 + sum(1 + q.count("\n") + a.count("\n") for q, a in rows[:3])  # records may span lines
    assert error_of(path) == f"{path}:{line}: field 'answer': is empty"


def test_query_positive_jsonl_with_a_number_for_a_positive(tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"query": q, "positive": p}) for q, p in PAIRS[:5]]
    lines[2] = json.dumps({"query": PAIRS[2][0], "positive": 42})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert error_of(path) == f"{path}:3: field 'positive': must be a string, got int 42"


def test_pairs_parquet_with_a_missing_query_names_the_row(tmp_path):
    path = tmp_path / "pairs.parquet"
    queries = [q for q, _ in PAIRS[:8]]
    queries[4] = None
    pq.write_table(pa.table({"anchor": queries, "positive": [p for _, p in PAIRS[:8]]}), path)
    assert error_of(path) == f"{path}: row 5: field 'anchor': is missing"


def test_pairs_with_a_grade_that_is_not_an_integer(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"query": q, "positive": p, "score": 0.5 if i == 1 else 1}) + "\n"
                            for i, (q, p) in enumerate(PAIRS[:3])), encoding="utf-8")
    assert error_of(path) == f"{path}:2: field 'score': must be an integer relevance grade, got 0.5"


def test_pairs_that_judge_one_pair_twice_differently(tmp_path):
    (q, p), = PAIRS[:1]
    path = tmp_path / "pairs.tsv"
    path.write_text(f"query\tpositive\tscore\n{q}\t{' '.join(p.split())}\t1\nother\tdoc\t1\n"
                    f"{q}\t{' '.join(p.split())}\t2\n", encoding="utf-8")
    assert error_of(path) == (f"{path}:4: field 'score': this query and positive were judged 1 on line 2; one pair "
                              "has one grade")


def test_pairs_without_a_positive_column(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("question,reply\nwhy,because\n", encoding="utf-8")
    assert error_of(path, source="pairs") == (
        f"{path}:1: no positive column (it has: question, reply); name the columns query and positive (or "
        "question/anchor and answer/document/passage)")


def test_beir_parquet_with_an_empty_query(tmp_path, beir):
    queries = list(QUERIES.items())
    texts = [t for _, t in queries]
    texts[2] = ""
    pq.write_table(pa.table({"_id": [q for q, _ in queries], "text": texts}), beir / "queries.parquet")
    (beir / "queries.jsonl").unlink()
    assert error_of(beir) == f"{beir / 'queries.parquet'}: row 3: field 'text': is empty"


def test_qrels_csv_with_an_unknown_document(beir):
    (beir / "qrels" / "test.tsv").unlink()
    path = beir / "qrels" / "test.csv"
    rows = [list(r) for r in JUDGED]
    rows[6][1] = "no-such-movie"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("query-id", "corpus-id", "score"), *rows])
    assert error_of(beir) == (f"{path}:8: field 'corpus-id': unknown document id 'no-such-movie' "
                              "(not in corpus.jsonl)")


def test_qrels_jsonl_with_a_grade_in_words(beir):
    (beir / "qrels" / "test.tsv").unlink()
    path = beir / "qrels" / "test.jsonl"
    rows = [{"query-id": q, "corpus-id": d, "score": int(s)} for q, d, s in JUDGED]
    rows[4]["score"] = "high"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert error_of(beir) == f"{path}:5: field 'score': must be a number, got 'high'"


def test_trec_qrels_with_a_short_line(beir):
    (beir / "qrels" / "test.tsv").unlink()
    path = beir / "qrels" / "test.txt"
    lines = [f"{q} 0 {d} {s}" for q, d, s in JUDGED]
    lines[9] = f"{JUDGED[9][0]} {JUDGED[9][1]} 1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert error_of(beir) == (f"{path}:10: has 3 column(s); a TREC qrels line is 'query-id iteration corpus-id "
                              "score' (or save the judgements as .tsv, .csv, .jsonl or .parquet with the columns "
                              "query-id, corpus-id, score)")


def test_a_corrupt_parquet_file_is_one_line(tmp_path):
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.table({"query": ["a"], "positive": ["b"]}), path)
    path.write_bytes(path.read_bytes()[:-12])
    message = error_of(path, source="pairs")
    assert message.startswith(f"{path}: is not a readable Parquet file (")


def test_without_pyarrow_the_error_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.table({"query": ["a"], "positive": ["b"]}), path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what an install without the extra has: no pyarrow
    assert error_of(path, source="pairs") == (f"{path}: reading Parquet files needs pyarrow; install it with: "
                                              "pip install 'embedding-advisor[parquet]'")


# --- never a silently different task ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["qrels/test.xlsx", "qrels/README.md", "judgements.docx", "qrels.trec.gz"])
def test_judgements_that_cannot_be_read_stop_the_load(beir, name):
    shutil.rmtree(beir / "qrels")
    path = beir / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not a table")
    suffix = path.suffix
    assert error_of(beir) == (f"{path}: judgements in a '{suffix}' file cannot be read; save them as .tsv, .csv, "
                              ".jsonl or .parquet with the columns query-id, corpus-id, score")


def test_unreadable_judgements_stop_the_cli_with_one_line(beir):
    (beir / "qrels" / "test.tsv").rename(beir / "qrels" / "test.xls")
    done = CliRunner().invoke(cli, ["datasets", "show", str(beir)])
    assert done.exit_code == 2 and done.output.count("\n") == 1, done.output
    assert "test.xls: judgements in a '.xls' file cannot be read" in done.output


def test_two_files_for_one_split_are_not_a_guess(beir):
    shutil.copy(beir / "qrels" / "test.tsv", beir / "qrels" / "test.csv")
    assert error_of(beir) == f"{beir}: two judgement files for split 'test' (qrels/test.csv, qrels/test.tsv); keep one"


def test_a_judgement_file_beside_the_corpus_makes_the_folder_labelled(beir):
    (beir / "qrels" / "test.tsv").rename(beir / "qrels.tsv")
    shutil.rmtree(beir / "qrels")
    task = load_task(beir)
    assert (task.type, task.meta["split"]) == ("retrieval", "qrels")
    assert task.content_hash == load_task(RT).content_hash


def test_only_a_folder_without_any_judgements_is_unlabeled_and_every_output_says_so(beir):
    shutil.rmtree(beir / "qrels")
    task = load_task(beir)
    assert task.type == "unlabeled_retrieval"
    done = CliRunner().invoke(cli, ["datasets", "show", str(beir)])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0] == (
        "rt: UNLABELED: no relevance judgements (no qrels/ in the folder); its figures are scores given by a "
        "rater, not by relevance judgements")


def test_naming_a_labelled_folder_unlabeled_says_its_judgements_are_ignored(beir):
    task = load_task(beir, source="unlabeled")
    assert task.meta["unlabeled"] == "the judgements in qrels/test.tsv are ignored (--dataset-type unlabeled)"


def test_evaluate_names_the_rater_on_its_first_line(tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    keep_q = list(QUERIES)[:3]
    keep_d = list(CORPUS)[:12]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": QUERIES[q]}) + "\n"
                                                  for q in keep_q), encoding="utf-8")
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": "", "text": CORPUS[d]}) + "\n"
                                                 for d in keep_d), encoding="utf-8")
    from advisor.quality.raters import get_rater

    try:
        rater = get_rater().name
    except UserError as exc:
        pytest.skip(f"no rater can run here: {exc}")
    done = CliRunner().invoke(cli, ["evaluate", "--model", "tokenlearn-static-64", "--dataset", str(folder),
                                    "--resamples", "10"])
    assert done.exit_code == 0, done.output
    first = done.stdout.splitlines()[0]
    assert first == (f"few: UNLABELED: no relevance judgements (no qrels/ in the folder); its figures are scores "
                     f"given by the rater '{rater}', not by relevance judgements")


def test_a_mistyped_dataset_path_is_no_such_file_with_a_did_you_mean(tmp_path):
    (tmp_path / "data" / "rt-reviews-plots").mkdir(parents=True)
    wrong = tmp_path / "data" / "rt-reviws-plots"
    assert error_of(wrong) == (f"{wrong}: no such file or directory (did you mean "
                               f"{tmp_path / 'data' / 'rt-reviews-plots'}?)")
    deeper = wrong / "qrels" / "test.tsv"
    assert error_of(deeper, source="beir") == (
        f"{deeper}: no such file or directory ({wrong} does not exist; did you mean "
        f"{tmp_path / 'data' / 'rt-reviews-plots'}?)")
    done = CliRunner().invoke(cli, ["datasets", "show", str(wrong)])
    assert done.exit_code == 2 and "no such file or directory" in done.output and "cannot tell" not in done.output


def test_a_corpus_needs_a_text_column_and_a_retrieval_task(tmp_path):
    pairs = tmp_path / "faq.csv"
    with pairs.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("question", "answer"), *PAIRS[:4]])
    bad = tmp_path / "docs.csv"
    bad.write_text("body\nsome text\n", encoding="utf-8")
    assert error_of(pairs, corpus=bad) == (f"{bad}:1: field 'text': the header has no column 'text' (it has: "
                                           "body); the first line must name the columns text")
    assert error_of(DATA / "lee-sts", corpus=RT / "corpus.jsonl") == (
        f"--corpus {RT / 'corpus.jsonl'}: adds documents to a retrieval task; lee-sts is a sts task (give --corpus "
        "only with retrieval datasets)")
