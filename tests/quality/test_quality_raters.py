"""Unlabeled data: a rater scores each query's top documents and the figure is their position-weighted average.
The built-in judge runs a real model through the backends; ratings are cached across variants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.metrics import position_weighted_score
from advisor.quality.raters import get_rater, rate_results
from advisor.datasets.tasks import RetrievalData
from advisor.models.variants import Variant


@pytest.fixture(scope="module")
def unlabeled(example_task, embed):
    task = example_task("rt-reviews-plots")
    # the same queries and corpus with the judgements removed: what a user without qrels has
    data = RetrievalData(corpus=task.data.corpus, queries=task.data.queries, qrels={})
    return dataclasses.replace(task, type="unlabeled_retrieval", data=data), embed(task), task


def test_position_weights():
    ratings = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    w = 1 / np.log2([2, 3, 4])
    np.testing.assert_allclose(position_weighted_score(ratings, 3), [w[0] / w.sum(), w[2] / w.sum(), 1.0])
    assert position_weighted_score(ratings, 1)[1] == 0.0


def test_judge_ratings_are_the_judge_models_cosines(unlabeled, minilm_encoder):
    task, emb, _ = unlabeled
    judge = get_rater("minilm-judge")
    rng = np.random.default_rng(0)
    indices = np.stack([rng.permutation(len(task.data.corpus))[:10] for _ in task.data.queries])
    metrics, per_query, info = rate_results(task, indices, rater=judge)
    # independent: the judge is all-MiniLM-L6-v2, so its ratings are the clipped cosines of that model
    q = emb["queries"] / np.linalg.norm(emb["queries"], axis=1, keepdims=True)
    d = emb["corpus"] / np.linalg.norm(emb["corpus"], axis=1, keepdims=True)
    expected = np.clip(np.einsum("qd,qkd->qk", q, d[indices]), 0, 1)
    np.testing.assert_allclose(per_query["rated_score_at_10"], position_weighted_score(expected, 10), atol=1e-5)
    assert info["rater"] == "minilm-judge" and info["ratings"] == 10 * len(indices)
    again, _, info2 = rate_results(task, indices, rater=judge)
    assert again == metrics and info2["new_ratings"] == 0  # every pair came from the cache


def test_unlabeled_evaluation_ranks_variants_like_the_judgements(unlabeled):
    task, emb, labelled = unlabeled
    judge = get_rater("minilm-judge")
    full = evaluate_embeddings(task, emb, Variant(), rater=judge)
    tiny = evaluate_embeddings(task, emb, Variant(dim=16, vector_precision="binary"), rater=judge)
    assert full.main_metric == "rated_score_at_10"
    assert full.details["rater"]["model"] == "all-MiniLM-L6-v2"
    lo, hi = full.details["ci"]["rated_score_at_10"]
    assert lo <= full.main_score <= hi
    assert full.main_score > tiny.main_score
    # the labelled version of the same data agrees on the order
    assert evaluate_embeddings(labelled, emb, Variant()).main_score > \
        evaluate_embeddings(labelled, emb, Variant(dim=16, vector_precision="binary")).main_score


def test_unknown_rater_is_a_user_error():
    from advisor.errors import UserError

    with pytest.raises(UserError, match="rater 'nope' is not registered"):
        get_rater("nope")
