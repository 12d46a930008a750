"""Classification and pair classification: the advisor's figures equal mteb's own evaluators (logistic regression
on the embeddings; threshold and average-precision figures on pair similarities) on the real example data, and
average precision equals scikit-learn's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.metrics import average_precision, undersample
from advisor.models.variants import Variant
from advisor.quality.vectors import derive


@pytest.fixture(scope="module")
def sentiment(example_task, embed):
    task = example_task("rt-sentiment")
    assert task.type == "classification"
    return task, embed(task)


@pytest.fixture(scope="module")
def same_movie(example_task, embed):
    task = example_task("rt-same-movie")
    assert task.type == "pair_classification"
    return task, embed(task)


@pytest.mark.parametrize("few_shot,dim,precision", [(None, None, "float32"), (8, None, "float32"),
                                                    (None, 128, "int8")])
def test_classification_equals_mteb(sentiment, mteb_encoder_for, few_shot, dim, precision):
    from advisor.datasets.mteb_local import run_mteb

    task, emb = sentiment
    if few_shot:  # mteb's default few-shot protocol: 8 rows per label, 10 experiments
        task = dataclasses.replace(task, meta={**task.meta, "samples_per_label": few_shot, "n_experiments": 10})
    v = derive(emb, dim, precision)
    scores = run_mteb(task, mteb_encoder_for(task, {k: x.unit_float() for k, x in v.items()}),
                      samples_per_label=few_shot, n_experiments=10 if few_shot else None)
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=50)
    for name in ("accuracy", "f1", "f1_weighted", "precision", "recall"):
        assert abs(ours.metrics[name] - scores[name]) <= 1e-4, name
    assert ours.details["classifier"]["n_experiments"] == (10 if few_shot else 1)
    assert np.mean(ours.per_item) == pytest.approx(ours.metrics["accuracy"])  # the bootstrap's per-item figure


def test_undersampling_draws_mteb_rows(sentiment):
    from advisor.datasets.mteb_local import to_mteb_task

    task, _ = sentiment
    mt = to_mteb_task(task, samples_per_label=8, n_experiments=3)
    mt.load_data()
    train = mt.dataset["train"]
    idxs = None
    for ours in undersample(list(task.data.train_labels), 3, 8, mt.seed):
        _, idxs, theirs = mt._undersample_data(train, 0, idxs)
        assert ours == theirs


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8"), (64, "float16")])
def test_pair_classification_equals_mteb(same_movie, mteb_encoder_for, dim, precision):
    from advisor.datasets.mteb_local import run_mteb

    task, emb = same_movie
    v = derive(emb, dim, precision)
    scores = run_mteb(task, mteb_encoder_for(task, {k: x.unit_float() for k, x in v.items()}))
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=50).metrics
    for fn in ("cosine", "euclidean", "manhattan", "dot", "max"):
        for m in ("ap", "accuracy", "f1", "precision", "recall"):
            assert abs(ours[f"{fn}_{m}"] - scores[f"{fn}_{m}"]) <= 1e-4, f"{fn}_{m}"


def test_average_precision_equals_sklearn_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(size=500) + labels, 1)  # rounded: many tied scores
    assert abs(average_precision(labels, scores) - average_precision_score(labels, scores)) < 1e-12
