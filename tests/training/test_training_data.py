"""Training data without a model: the held-out split, the three pair sources, hard-negative mining and the
student spec. Real example data (data/ and gensim's Lee corpus); mining checked against a brute-force search."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest

from advisor.errors import ConfigError, UserError
from advisor.datasets.tasks import RetrievalData
from advisor.training.data import (detect_pair_source, load_training_task, next_sentence_pairs, read_pairs_file,
                                   split_sentences)
from advisor.training.mining import mine_negatives, top_k_blocked
from advisor.training.split import HeldOutSplit, split_queries, subset_task
from advisor.training.student import parse_student

from ..conftest import package_dir


@pytest.fixture(scope="module")
def rt_task(repo):
    return load_training_task(repo / "data" / "rt-reviews-plots")


def test_split_is_deterministic_disjoint_and_order_independent(rt_task, tmp_path):
    split = split_queries(rt_task, 0.25, seed=3)
    assert set(split.heldout_ids).isdisjoint(split.train_ids)
    assert set(split.heldout_ids) | set(split.train_ids) == set(rt_task.data.queries)
    assert len(split.heldout_ids) == round(0.25 * len(rt_task.data.queries))
    # the same split whatever order the queries come in
    items = list(rt_task.data.queries.items())
    random.Random(1).shuffle(items)
    shuffled = replace(rt_task, data=RetrievalData(rt_task.data.corpus, dict(items), rt_task.data.qrels))
    assert split_queries(shuffled, 0.25, seed=3).heldout_ids == split.heldout_ids
    assert split_queries(rt_task, 0.25, seed=4).heldout_ids != split.heldout_ids
    split.save(tmp_path)
    assert HeldOutSplit.load(tmp_path / "split.json") == split


def test_heldout_subset_keeps_corpus_and_only_heldout_queries(rt_task):
    split = split_queries(rt_task, 0.2)
    sub = subset_task(rt_task, split.heldout_ids, "heldout")
    assert set(sub.data.queries) == set(split.heldout_ids) == set(sub.data.qrels)
    assert sub.data.corpus == rt_task.data.corpus
    assert sub.content_hash != rt_task.content_hash and sub.meta["subset_of_hash"] == rt_task.content_hash


def test_split_rejects_bad_fraction(rt_task):
    with pytest.raises(UserError, match="--heldout"):
        split_queries(rt_task, 1.0)


def test_pairs_file_tsv_and_jsonl(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("query\tdocument\tnegative\nhow tall is it\tIt is 300 m tall.\tIt is red.\n"
                   "who built it\tGustave Eiffel built it.\t\n", encoding="utf-8")
    assert detect_pair_source(tsv) == "pairs"
    task = read_pairs_file(tsv)
    assert list(task.data.queries.values()) == ["how tall is it", "who built it"]
    (qid,) = [q for q, t in task.data.queries.items() if t == "how tall is it"]
    (doc,) = task.data.qrels[qid]
    assert task.data.corpus[doc] == "It is 300 m tall."
    assert [task.data.corpus[n] for n in task.meta["negatives"][qid]] == ["It is red."]
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(json.dumps({"anchor": "a question", "positive": "an answer"}) + "\n", encoding="utf-8")
    assert list(read_pairs_file(jsonl).data.corpus.values()) == ["an answer"]


def test_pairs_file_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("anchor\tpositive\nfine\talso fine\nmissing\t\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_pairs_file(bad)
    assert f"{bad}:3" in str(err.value) and "'positive'" in str(err.value)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("anchor,other\na,b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no positive column"):
        read_pairs_file(nocol)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"anchor": "a", "positive": "b"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=":2: is not valid JSON"):
        read_pairs_file(broken)


def test_next_sentence_pairs_from_a_raw_corpus():
    lee = package_dir("gensim") / "test" / "test_data" / "lee_background.cor"
    assert detect_pair_source(lee) == "next-sentence"
    task = next_sentence_pairs(lee)
    docs = lee.read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(task.data.queries) > 500
    assert not set(task.data.queries) & set(task.data.corpus)  # no sentence is both a query and a document
    for qid, rel in list(task.data.qrels.items())[:50]:
        (did,) = rel
        d, i = qid[1:].split("_")
        assert did == f"s{d}_{int(i) + 1}"
        sentences = split_sentences(docs[int(d)])
        assert (task.data.queries[qid], task.data.corpus[did]) == (sentences[int(i)], sentences[int(i) + 1])


def test_split_sentences_merges_fragments():
    assert split_sentences("Dr. Smith arrived. Yes. Then the meeting began at 9. It ended late.") == [
        "Dr. Smith arrived.", "Yes. Then the meeting began at 9.", "It ended late."]


def test_top_k_blocked_equals_brute_force():
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(37, 16)).astype(np.float32), rng.normal(size=(101, 16)).astype(np.float32)
    idx, score = top_k_blocked(q, c, 9, query_block=8, doc_block=13)  # many blocks of both
    full = q @ c.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :9]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(score, np.take_along_axis(full, expected, axis=1), rtol=1e-6)


def test_mining_skips_positives_and_likely_false_negatives():
    # query 0: doc 0 is the positive (score 0.8); doc 1 scores 0.79 (> 0.95 * 0.8: a likely unlabelled positive),
    # doc 2 scores 0.5 (a hard negative), doc 3 is a duplicate text of the positive.
    corpus = np.array([[0.8, 0.6], [0.79, 0.613], [0.5, 0.866], [0.8, 0.6], [-1.0, 0.0]], dtype=np.float32)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    texts = ["pos", "near", "hard", "pos", "far"]
    negs, stats = mine_negatives(query, corpus, [[0]], num_negatives=1, depth=5, max_ratio=0.95,
                                 corpus_texts=texts)
    assert negs == [[2]]
    assert stats.rejected_as_false_negative == 1 and stats.mined == 1 and stats.filled_random == 0
    # a stricter margin leaves nothing in the search depth: topped up at random, never with a positive
    negs, stats = mine_negatives(query, corpus, [[0]], num_negatives=2, depth=5, margin=0.5, corpus_texts=texts)
    assert 0 not in negs[0] and len(negs[0]) == 2 and stats.filled_random >= 1


def test_student_spec_forms(tmp_path):
    assert parse_student("layers=3").kind == "truncated"
    spec = parse_student("layers=2, width=256, heads=4, dim=128")
    assert (spec.kind, spec.width, spec.dim) == ("new", 256, 128)
    assert parse_student("all-MiniLM-L6-v2").model == "all-MiniLM-L6-v2"
    cfg = tmp_path / "student.yaml"
    cfg.write_text("layers: 1\nwidth: 64\nheads: 2\n", encoding="utf-8")
    assert parse_student(str(cfg)).width == 64
    for bad, message in (("layers=x", "positive integer"), ("width=64,heads=2", "needs 'layers'"),
                         ("layers=2,width=100,heads=3", "divisible"), ("layers=2,depth=3", "unknown student key")):
        with pytest.raises(UserError, match=message):
            parse_student(bad)
