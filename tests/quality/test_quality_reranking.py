"""Reranking: each Rotten Tomatoes review reorders ten candidate plots (its movie's plot and nine others). MAP and
MRR@10 equal mteb's own retrieval evaluator run in reranking mode (``top_ranked``) on the same vectors."""

from __future__ import annotations

import dataclasses

import pytest

from advisor.datasets.reranking import reranking_from_retrieval
from advisor.datasets.tasks import RetrievalData
from advisor.models.variants import Variant
from advisor.config.task_types import TASK_TYPES
from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.vectors import derive


@pytest.fixture(scope="module")
def reviews_rerank_plots(example_task, embed):
    task = reranking_from_retrieval(example_task("rt-reviews-plots"), n_candidates=10)
    assert task.type == "reranking" and all(len(c) == 10 for c in task.data.candidates.values())
    return task, embed(task)


def _mteb_scores(task, vectors, mteb_encoder_for):
    import mteb

    from advisor.datasets.mteb_local import to_mteb_task

    d = task.data
    retrieval = dataclasses.replace(task, type="retrieval", data=RetrievalData(d.corpus, d.queries, d.qrels))
    mt = to_mteb_task(retrieval)
    mt.load_data()
    split = mt.metadata.eval_splits[0]
    mt.dataset["default"][split]["top_ranked"] = {q: list(c) for q, c in d.candidates.items()}
    result = mteb.evaluate(mteb_encoder_for(task, vectors), mt, cache=None, show_progress_bar=False,
                           overwrite_strategy="always")
    return result.task_results[0].scores[split][0]


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8")])
def test_reranking_equals_mteb(reviews_rerank_plots, mteb_encoder_for, dim, precision):
    task, emb = reviews_rerank_plots
    v = derive(emb, dim, precision, calibrate_on="corpus")
    theirs = _mteb_scores(task, {k: x.unit_float() for k, x in v.items()}, mteb_encoder_for)
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=0)
    assert ours.main_metric == TASK_TYPES["reranking"].main_metric == "map_at_1000"
    for name in ("map_at_1000", "mrr_at_10", "ndcg_at_10", "recall_at_1"):
        assert abs(ours.metrics[name] - theirs[name]) <= 1e-4, name
    assert ours.metrics["map_at_1000"] < 1.0  # the distractors make it a real ranking
