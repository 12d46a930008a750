"""Clustering: the advisor's V-measure equals mteb's own clustering evaluator (Mini-Batch k-means, then
scikit-learn's V-measure, as mteb scores it) on the same embeddings of Rotten Tomatoes reviews grouped by movie."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.datasets.clustering import clustering_from_retrieval
from advisor.models.variants import Variant
from advisor.config.task_types import TASK_TYPES
from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.vectors import derive


@pytest.fixture(scope="module")
def reviews_by_movie(example_task, embed):
    task = clustering_from_retrieval(example_task("rt-reviews-plots"))
    assert task.type == "clustering" and len(set(task.data.labels)) >= 5
    return task, embed(task)


def _mteb_v_measure(task, vectors: np.ndarray, mteb_encoder_for) -> float:
    import mteb
    from datasets import Dataset
    from mteb._evaluators.clustering_evaluator import ClusteringEvaluator
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
    from mteb.timing import TimingStack

    labels = list(task.data.labels)
    evaluator = ClusteringEvaluator(Dataset.from_dict({"sentences": list(task.data.texts), "labels": labels}),
                                    input_column_name="sentences", label_column_name="labels",
                                    task_metadata=mteb.get_task("TwentyNewsgroupsClustering").metadata,
                                    hf_split="test", hf_subset="default", timer=TimingStack())
    assigned = evaluator(mteb_encoder_for(task, {"texts": vectors}), encode_kwargs={"batch_size": 64})
    return float(AbsTaskClusteringLegacy._compute_metrics(None, labels, assigned, v_measure_only=True)["v_measure"])


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8")])
def test_clustering_v_measure_equals_mteb(reviews_by_movie, mteb_encoder_for, dim, precision):
    task, emb = reviews_by_movie
    theirs = _mteb_v_measure(task, derive(emb, dim, precision)["texts"].unit_float(), mteb_encoder_for)
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=0)
    assert ours.main_metric == TASK_TYPES["clustering"].main_metric == "v_measure"
    assert abs(ours.metrics["v_measure"] - theirs) <= 1e-4
    assert 0.0 < ours.metrics["v_measure"] <= 1.0


def test_clustering_reports_how_many_texts_and_groups(reviews_by_movie):
    task, emb = reviews_by_movie
    result = evaluate_embeddings(task, emb, Variant(), resamples=0)
    assert result.details["n_texts"] == len(task.data.texts) == len(result.per_item)
    assert result.details["n_clusters"] == len(set(task.data.labels))


def test_evaluation_records_how_many_texts_reach_the_models_max_tokens(minilm_encoder):
    from advisor.datasets.tasks import ClusteringData, Task
    from advisor.quality.evaluation import evaluate_model

    long_text = " ".join(["review"] * 2000)
    data = ClusteringData(("a short review", long_text, "another short one", "plot " * 5), ("a", "b", "a", "b"))
    task = Task(name="long", type="clustering", source="test", content_hash="long", data=data)
    [result] = evaluate_model(minilm_encoder, task, [Variant()], resamples=0).values()
    truncation = result.details["truncation"]
    assert truncation["max_tokens"] == 256  # all-MiniLM-L6-v2's limit
    assert truncation["sets"]["texts"] == {"texts": 4, "truncated": 1, "share": 0.25}
