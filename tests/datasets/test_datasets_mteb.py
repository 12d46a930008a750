"""The user's datasets through mteb's own evaluators (``to_mteb_task`` / ``run_mteb``) with a real model, checked
against independent computations (scipy, pytrec_eval, scikit-learn) on the same embeddings, on small slices of
the real example data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from advisor.datasets.mteb_local import from_mteb_task, run_mteb, to_mteb_task
from advisor.datasets.slicing import head
from advisor.errors import UserError
from advisor.datasets.tasks import ClassificationData, Task, content_hash, load_task

DATA = Path(__file__).resolve().parents[2] / "data"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(minilm_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu", local_files_only=True)


def _encode(model, texts) -> np.ndarray:
    return model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def test_sts_matches_scipy(model, stsb_dir: Path) -> None:
    from scipy.stats import pearsonr, spearmanr

    task = head(load_task(stsb_dir), 60)
    scores = run_mteb(task, model)
    a, b = _encode(model, task.data.sentence1), _encode(model, task.data.sentence2)
    cosine = (a * b).sum(axis=1)
    assert scores["main_score"] == scores["cosine_spearman"]
    assert abs(scores["cosine_spearman"] - spearmanr(cosine, task.data.scores).statistic) < 1e-4
    assert abs(scores["cosine_pearson"] - pearsonr(cosine, task.data.scores).statistic) < 1e-4


def test_retrieval_matches_pytrec_eval(model) -> None:
    import pytrec_eval

    task = head(load_task(DATA / "rt-reviews-plots"), 30, corpus_limit=60)
    scores = run_mteb(task, model)
    d = task.data
    q, c = _encode(model, d.queries.values()), _encode(model, d.corpus.values())
    sims = q @ c.T
    doc_ids = list(d.corpus)
    run = {qid: {doc_ids[j]: float(sims[i, j]) for j in range(len(doc_ids))} for i, qid in enumerate(d.queries)}
    evaluator = pytrec_eval.RelevanceEvaluator(d.qrels, {"ndcg_cut.10", "recall.10", "recip_rank"})
    per_query = evaluator.evaluate(run)
    ndcg10 = np.mean([v["ndcg_cut_10"] for v in per_query.values()])
    recall10 = np.mean([v["recall_10"] for v in per_query.values()])
    assert scores["main_score"] == scores["ndcg_at_10"]
    assert abs(scores["ndcg_at_10"] - ndcg10) < 1e-4
    assert abs(scores["recall_at_10"] - recall10) < 1e-4
    assert 0.05 < scores["ndcg_at_10"] < 0.9  # the task is neither trivial nor hopeless for MiniLM


def test_classification_matches_sklearn(model) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    full = load_task(DATA / "rt-sentiment")
    f = full.data
    data = ClassificationData(f.train_texts[:100], f.train_labels[:100], f.test_texts[:50], f.test_labels[:50])
    task = replace(full, data=data, content_hash=content_hash({"type": "classification", "data": data}))
    scores = run_mteb(task, model)
    labels = sorted(set(data.train_labels))
    y_train = [labels.index(x) for x in data.train_labels]
    y_test = [labels.index(x) for x in data.test_labels]
    clf = LogisticRegression(max_iter=100).fit(_encode(model, data.train_texts), y_train)
    predicted = clf.predict(_encode(model, data.test_texts))
    assert abs(scores["accuracy"] - accuracy_score(y_test, predicted)) < 1e-9
    assert abs(scores["f1"] - f1_score(y_test, predicted, average="macro")) < 1e-9


def test_pair_classification_matches_sklearn(model) -> None:
    from sklearn.metrics import average_precision_score

    task = head(load_task(DATA / "rt-same-movie"), 60)
    scores = run_mteb(task, model)
    cosine = (_encode(model, task.data.text1) * _encode(model, task.data.text2)).sum(axis=1)
    assert abs(scores["cosine_ap"] - average_precision_score(task.data.labels, cosine)) < 1e-4
    assert scores["main_score"] == scores["max_ap"] >= scores["cosine_ap"] - 1e-12


@pytest.mark.parametrize("name", ["rt-reviews-plots", "lee-sts", "rt-same-movie", "rt-sentiment"])
def test_mteb_task_round_trip_keeps_the_data(name: str) -> None:
    task = load_task(DATA / name)
    mteb_task = to_mteb_task(task)
    mteb_task.load_data()
    back = from_mteb_task(mteb_task)
    assert back.type == task.type and back.data == task.data and back.content_hash == task.content_hash


def test_unlabeled_task_cannot_go_to_mteb() -> None:
    with pytest.raises(UserError, match="unlabeled_retrieval"):
        to_mteb_task(load_task(DATA / "rt-reviews-plots", source="unlabeled"))


def test_results_go_to_a_project_cache_only_when_asked(model, tmp_path: Path) -> None:
    task: Task = head(load_task(DATA / "rt-same-movie"), 20)
    run_mteb(task, model, cache_dir=tmp_path / "mteb-cache")
    assert list((tmp_path / "mteb-cache").rglob("*.json"))
