"""``advisor.datasets.slicing.head`` cuts every task type of the table, on the shipped example of that type: the
first units in file order, with what the scoring needs kept whole (judged documents and candidates, whole groups,
both members of a near-duplicate pair)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from advisor.config.task_types import TASK_TYPES
from advisor.datasets.slicing import head
from advisor.datasets.tasks import load_task
from advisor.datasets.types import DATASET_TYPES

DATA = Path(__file__).resolve().parents[2] / "data"


def test_retrieval_keeps_the_judged_documents_then_fills_the_corpus_in_file_order():
    task = load_task(DATA / "rt-reviews-plots")
    small = head(task, 8, corpus_limit=40)
    assert list(small.data.queries) == list(task.data.queries)[:8]
    assert small.data.qrels == {q: task.data.qrels[q] for q in small.data.queries}
    judged = {d for docs in small.data.qrels.values() for d in docs}
    others = [d for d in task.data.corpus if d not in judged][:40 - len(judged)]
    assert list(small.data.corpus) == [d for d in task.data.corpus if d in judged or d in others]


def test_unlabeled_retrieval_keeps_the_first_queries_and_documents():
    task = load_task(DATA / "rt-reviews-plots", source="unlabeled")
    small = head(task, 7, corpus_limit=30)
    assert small.type == "unlabeled_retrieval" and small.data.qrels == {}
    assert small.data.queries == dict(list(task.data.queries.items())[:7])
    assert small.data.corpus == dict(list(task.data.corpus.items())[:30])


def test_reranking_keeps_each_kept_query_s_whole_candidate_list():
    task = load_task(DATA / "rt-reviews-plots-rerank")
    small = head(task, 6, corpus_limit=0)  # no filler: exactly the documents the kept queries need
    kept = list(task.data.queries)[:6]
    assert list(small.data.queries) == kept
    assert small.data.candidates == {q: task.data.candidates[q] for q in kept}
    assert small.data.qrels == {q: task.data.qrels[q] for q in kept}
    needed = {d for q in kept for d in (*task.data.candidates[q], *task.data.qrels[q])}
    assert set(small.data.corpus) == needed
    assert all(small.data.corpus[d] == task.data.corpus[d] for d in needed)


def test_sts_keeps_the_first_pairs_with_their_scores():
    task = load_task(DATA / "lee-sts")
    small = head(task, 25)
    d = task.data
    assert (small.data.sentence1, small.data.sentence2, small.data.scores) == (d.sentence1[:25], d.sentence2[:25],
                                                                               d.scores[:25])


def test_classification_keeps_the_whole_training_split_and_the_first_test_examples():
    task = load_task(DATA / "rt-sentiment")
    small = head(task, 30)
    d = task.data
    assert (small.data.train_texts, small.data.train_labels) == (d.train_texts, d.train_labels)
    assert (small.data.test_texts, small.data.test_labels) == (d.test_texts[:30], d.test_labels[:30])


def test_pair_classification_keeps_the_first_pairs_with_their_labels():
    task = load_task(DATA / "rt-same-movie")
    small = head(task, 40)
    d = task.data
    assert (small.data.text1, small.data.text2, small.data.labels) == (d.text1[:40], d.text2[:40], d.labels[:40])


def test_clustering_keeps_whole_groups_in_order_of_first_appearance():
    task = load_task(DATA / "rt-reviews-by-movie")
    small = head(task, 50)
    full, kept = Counter(task.data.labels), Counter(small.data.labels)
    assert 2 <= len(kept) and sum(kept.values()) <= 50
    assert all(kept[g] == full[g] for g in kept)  # no group is cut
    first_groups = list(dict.fromkeys(task.data.labels))[:len(kept)]
    assert set(kept) == set(first_groups)
    rows = [(t, g) for t, g in zip(task.data.texts, task.data.labels) if g in kept]
    assert list(zip(small.data.texts, small.data.labels)) == rows


def test_clustering_keeps_two_groups_even_when_n_is_smaller():
    task = load_task(DATA / "rt-reviews-by-movie")
    assert len(set(head(task, 3).data.labels)) == 2


def test_deduplication_keeps_both_members_of_every_kept_near_duplicate_pair():
    task = load_task(DATA / "rt-near-duplicates")
    small = head(task, 60)
    texts = task.data.texts
    assert len(set(texts)) == len(texts)  # distinct rows, so a pair can be compared by its texts
    kept = set(small.data.texts)
    assert len(small.data.texts) <= 60 and list(small.data.texts) == [t for t in texts if t in kept]
    for a, b in task.data.duplicates:
        assert (texts[a] in kept) == (texts[b] in kept)  # no pair loses one member
    expected = {(texts[a], texts[b]) for a, b in task.data.duplicates if texts[a] in kept}
    got = {(small.data.texts[a], small.data.texts[b]) for a, b in small.data.duplicates}
    assert got == expected and expected  # renumbered, the same pairs, and at least one
    assert all(a < b for a, b in small.data.duplicates)


def test_every_task_type_has_a_slicer_a_data_class_and_a_reader():
    from advisor.datasets import task_sources

    assert set(DATASET_TYPES) == set(TASK_TYPES)
    sources = {s.name for s in task_sources()}
    for name, kind in DATASET_TYPES.items():
        assert kind.sources and set(kind.sources) <= sources, name
