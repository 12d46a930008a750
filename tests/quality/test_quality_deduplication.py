"""De-duplication: every pair of a corpus with known near-duplicates, scored by cosine. The best-threshold F1 and
average precision equal mteb's own pair-classification evaluator run on the same pairs and the same vectors, and the
threshold reported is one that gives that F1."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.datasets.deduplication import all_pairs, near_duplicate_task
from advisor.datasets.tasks import PairClassificationData, Task
from advisor.models.variants import Variant
from advisor.config.task_types import TASK_TYPES
from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.vectors import derive


@pytest.fixture(scope="module")
def reviews_with_copies(example_task, embed):
    reviews = example_task("rt-sentiment").data.train_texts[:120]
    task = near_duplicate_task(reviews, n_copies=40, name="rt-near-duplicates", source="data/rt-sentiment")
    assert len(task.data.duplicates) == 40
    return task, embed(task)


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8")])
def test_deduplication_equals_mteb_pair_classification(reviews_with_copies, mteb_encoder_for, dim, precision):
    from advisor.datasets.mteb_local import run_mteb

    task, emb = reviews_with_copies
    left, right, labels = all_pairs(task.data)
    texts = task.data.texts
    pairs = Task(name="pairs", type="pair_classification", source="test", content_hash="x",
                 data=PairClassificationData(tuple(texts[i] for i in left), tuple(texts[j] for j in right),
                                             tuple(labels)))
    unit = derive(emb, dim, precision)["texts"].unit_float()
    theirs = run_mteb(pairs, mteb_encoder_for(pairs, {"text1": unit[left], "text2": unit[right]}))
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=0)
    assert ours.main_metric == TASK_TYPES["deduplication"].main_metric == "cosine_ap"
    for name in ("cosine_ap", "cosine_f1", "cosine_precision", "cosine_recall", "cosine_accuracy"):
        assert abs(ours.metrics[name] - theirs[name]) <= 1e-4, name


def test_the_reported_threshold_gives_the_best_f1(reviews_with_copies):
    task, emb = reviews_with_copies
    result = evaluate_embeddings(task, emb, Variant(), resamples=0)
    _, _, labels = all_pairs(task.data)
    flagged = np.asarray(result.per_item) > result.metrics["cosine_f1_threshold"]
    y = np.asarray(labels, dtype=bool)
    tp = int((flagged & y).sum())
    f1 = 2 * tp / (int(flagged.sum()) + int(y.sum()))
    assert f1 == pytest.approx(result.metrics["cosine_f1"])
    assert result.details["n_pairs"] == len(labels) and result.details["n_duplicates"] == 40
