"""The clustering, de-duplication and reranking example tasks load from their folders by detection, with the
structure data/README.md describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError

DATA = Path(__file__).resolve().parents[2] / "data"


def test_clustering_folder_loads_reviews_grouped_by_movie():
    task = load_task(DATA / "rt-reviews-by-movie")
    assert task.type == "clustering" and len(task.data.texts) == 300 and len(set(task.data.labels)) == 20


def test_deduplication_folder_loads_its_near_duplicate_pairs():
    task = load_task(DATA / "rt-near-duplicates")
    assert task.type == "deduplication" and len(task.data.texts) == 250 and len(task.data.duplicates) == 50
    assert all(i < j for i, j in task.data.duplicates)


def test_reranking_folder_loads_ten_candidates_per_query_with_the_relevant_one_among_them():
    task = load_task(DATA / "rt-reviews-plots-rerank")
    assert task.type == "reranking" and len(task.data.queries) == 120
    for qid, candidates in task.data.candidates.items():
        assert len(candidates) == 10 and set(task.data.qrels[qid]) <= set(candidates)


def test_a_plain_beir_folder_is_still_retrieval():
    assert load_task(DATA / "rt-reviews-plots").type == "retrieval"


def test_a_deduplication_table_without_shared_groups_says_so(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tgroup\na\tg1\nb\tg2\n")
    with pytest.raises(ConfigError, match="no two rows share"):
        load_task(path)
