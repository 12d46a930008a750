"""Every task source on the real example data in data/ and on the STS Benchmark as its authors ship it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from advisor.datasets.slicing import head
from advisor.plugins import registered
from advisor.datasets.tasks import load_task

DATA = Path(__file__).resolve().parents[2] / "data"


def test_all_sources_registered_by_the_builtin_plugin() -> None:
    sources = registered("task_sources")
    assert {"beir", "unlabeled", "sts", "classification", "pair_classification", "mteb"} <= set(sources)


def test_beir_folder_matches_its_files() -> None:
    task = load_task(DATA / "rt-reviews-plots")
    assert (task.type, task.source, task.meta["split"]) == ("retrieval", "beir", "test")
    corpus = [json.loads(line) for line in (DATA / "rt-reviews-plots" / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (DATA / "rt-reviews-plots" / "queries.jsonl").open(encoding="utf-8")]
    with (DATA / "rt-reviews-plots" / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        qrels = list(csv.DictReader(f, delimiter="\t"))
    assert len(task.data.corpus) == len(corpus) == 156
    assert len(task.data.queries) == len(queries) == 240
    assert sum(len(v) for v in task.data.qrels.values()) == len(qrels)
    first = qrels[0]
    assert task.data.qrels[first["query-id"]][first["corpus-id"]] == int(first["score"])
    assert task.data.queries[queries[0]["_id"]] == queries[0]["text"]
    assert set(task.text_sets()) == {"queries", "corpus"}


def test_beir_joins_title_and_text_like_mteb(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "Heat", "text": "A thief and a detective."}) + "\n"
        + json.dumps({"_id": "d2", "title": "", "text": " Only a body. "}) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "heist film"}) + "\n"
                                          + json.dumps({"_id": "q2", "text": "not judged"}) + "\n", encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n", encoding="utf-8")
    task = load_task(folder)
    assert task.data.corpus == {"d1": "Heat A thief and a detective.", "d2": "Only a body."}
    assert task.data.queries == {"q1": "heist film"}  # queries without judgements in the split are dropped
    assert task.data.qrels == {"q1": {"d1": 2}}


def test_unlabeled_folder_is_detected_and_explicit_type_ignores_qrels(tmp_path: Path) -> None:
    folder = tmp_path / "u"
    shutil.copytree(DATA / "rt-reviews-plots", folder)
    shutil.rmtree(folder / "qrels")
    task = load_task(folder)
    assert (task.type, task.source, task.data.qrels) == ("unlabeled_retrieval", "unlabeled", {})
    assert len(task.data.queries) == 240
    explicit = load_task(DATA / "rt-reviews-plots", source="unlabeled")
    assert explicit.type == "unlabeled_retrieval" and explicit.content_hash == task.content_hash


def test_lee_sts_is_the_upper_triangle_of_the_human_ratings() -> None:
    import numpy as np

    import importlib.util

    task = load_task(DATA / "lee-sts")
    assert (task.type, task.source) == ("sts", "sts")
    spec = importlib.util.find_spec("gensim")
    if spec is None:
        pytest.skip("gensim is not installed")
    gensim_data = Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data"
    ratings = np.loadtxt(gensim_data / "similarities0-1.txt")
    expected = ratings[np.triu_indices(50, 1)]
    assert len(task.data.scores) == 1225
    assert np.allclose(task.data.scores, expected, atol=1e-7)
    docs = [" ".join(x.split()) for x in (gensim_data / "lee.cor").read_bytes().decode("latin-1").splitlines()]
    assert task.data.sentence1[0] == docs[0] and task.data.sentence2[0] == docs[1]
    assert task.data.sentence1[-1] == docs[48] and task.data.sentence2[-1] == docs[49]


def test_stsbenchmark_folder_loads_in_place(stsb_dir: Path) -> None:
    task = load_task(stsb_dir)
    assert (task.type, task.meta["split"], len(task.data.scores)) == ("sts", "test", 1379)
    assert task.data.sentence1[0] == "A girl is styling her hair."
    assert task.data.sentence2[0] == "A girl is brushing her hair."
    assert task.data.scores[0] == 2.5
    assert 0 <= min(task.data.scores) and max(task.data.scores) <= 5
    dev = load_task(stsb_dir / "sts-dev.csv")
    assert (dev.meta["split"], len(dev.data.scores)) == ("dev", 1500)
    # quotes inside sentences are text, not CSV quoting: every line is one pair
    with (stsb_dir / "sts-test.csv").open(encoding="utf-8") as f:
        assert sum(1 for _ in f) == len(task.data.scores)


def test_classification_folder_with_train_and_test() -> None:
    task = load_task(DATA / "rt-sentiment")
    d = task.data
    assert (task.type, len(d.train_texts), len(d.test_texts)) == ("classification", 800, 400)
    assert set(d.train_labels) == set(d.test_labels) == {"fresh", "rotten"}
    assert not set(d.train_texts) & set(d.test_texts)


def test_single_classification_file_is_split_stratified_and_deterministically(tmp_path: Path) -> None:
    task = load_task(DATA / "pang-lee-polarity")
    d = task.data
    assert len(d.train_texts) + len(d.test_texts) == 200
    assert Counter(d.test_labels) == {"neg": 25, "pos": 25}  # a quarter of each label
    assert not set(d.train_texts) & set(d.test_texts)
    # the split depends on the rows only: shuffled rows give the same split
    lines = (DATA / "pang-lee-polarity" / "polarity.tsv").read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "shuffled.tsv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    other = load_task(shuffled)
    assert set(other.data.test_texts) == set(d.test_texts)


def test_pair_classification_file() -> None:
    task = load_task(DATA / "rt-same-movie")
    assert (task.type, len(task.data.labels), sum(task.data.labels)) == ("pair_classification", 400, 200)


@pytest.mark.parametrize("name,expected", [("rt-reviews-plots-large", (1000, 1083)), ("rt-plots-reviews", (156, 4866))])
def test_larger_retrieval_examples(name: str, expected: tuple[int, int]) -> None:
    task = load_task(DATA / name)
    assert (len(task.data.queries), len(task.data.corpus)) == expected
    assert all(doc in task.data.corpus for docs in task.data.qrels.values() for doc in docs)


def test_content_hash_is_path_independent_and_data_dependent(tmp_path: Path) -> None:
    original = load_task(DATA / "rt-reviews-plots")
    copy = tmp_path / "some" / "other-name"
    shutil.copytree(DATA / "rt-reviews-plots", copy)
    assert load_task(copy).content_hash == original.content_hash
    assert load_task(DATA / "rt-reviews-plots").content_hash == original.content_hash
    qrels = copy / "qrels" / "test.tsv"
    lines = qrels.read_text(encoding="utf-8").splitlines()
    qid, did, _ = lines[1].split("\t")
    lines[1] = f"{qid}\t{did}\t2"
    qrels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_task(copy).content_hash != original.content_hash


def test_same_rows_in_csv_tsv_and_jsonl_give_the_same_hash(tmp_path: Path) -> None:
    rows = [("A man plays a guitar.", 'He said "hi", then left.', 4.2), ("x, y", "z", 0.0)]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows), encoding="utf-8")
    with (tmp_path / "b.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["score", "sentence1", "sentence2"])
        writer.writerows([s, a, b] for a, b, s in rows)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n"
                                              for a, b, s in rows), encoding="utf-8")
    hashes = {load_task(tmp_path / n).content_hash for n in ("a.tsv", "b.csv", "c.jsonl")}
    assert len(hashes) == 1
    assert load_task(tsv).data.sentence2[0] == 'He said "hi", then left.'


def test_head_slices_keep_judged_documents() -> None:
    task = load_task(DATA / "rt-plots-reviews")
    small = head(task, 5, corpus_limit=300)
    assert len(small.data.queries) == 5 and len(small.data.corpus) == 300
    assert all(doc in small.data.corpus for docs in small.data.qrels.values() for doc in docs)
    assert small.content_hash != task.content_hash and small.meta["sliced_from"] == task.content_hash


def test_loading_imports_no_heavy_library() -> None:
    """Loading every example through the plugin registry stays light (checked in a fresh interpreter)."""
    code = ("import sys; from advisor.datasets.tasks import load_task; from advisor.plugins import heavy_modules_loaded; "
            f"[load_task(p) for p in {[str(p) for p in sorted(DATA.iterdir()) if p.is_dir()]!r}]; "
            "print(','.join(heavy_modules_loaded()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
