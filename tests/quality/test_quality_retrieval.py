"""Retrieval: the advisor's figures equal pytrec_eval's on the same ranking of a real example task (every metric,
every cutoff, every vector precision), mteb's MRR, and mteb's whole retrieval evaluator on the same vectors."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.metrics import K_VALUES, retrieval_metrics
from advisor.quality.search import search
from advisor.models.variants import Variant
from advisor.quality.vectors import derive

TREC = {"ndcg_at": "ndcg_cut_", "map_at": "map_cut_", "recall_at": "recall_", "precision_at": "P_"}


@pytest.fixture(scope="module")
def retrieval(example_task, embed):
    task = example_task("rt-reviews-plots")
    assert task.type == "retrieval"
    return task, embed(task)


def run_of(task, result):
    qids, dids = list(task.data.queries), list(task.data.corpus)
    return {qids[i]: {dids[j]: float(s) for j, s in zip(result.indices[i], result.scores[i])}
            for i in range(len(qids))}


@pytest.mark.parametrize("dim,precision,rescore", [(None, "float32", 0), (128, "float16", 0), (None, "int8", 0),
                                                   (256, "binary", 0), (None, "binary", 4)])
def test_retrieval_metrics_equal_pytrec_eval(retrieval, dim, precision, rescore):
    task, emb = retrieval
    v = derive(emb, dim, precision, calibrate_on="corpus")
    res = search(v["queries"], v["corpus"], max(K_VALUES), rescore_multiplier=rescore,
                 query_float=v["queries"].unit_float() if rescore else None)
    ours, per_query, evaluated = retrieval_metrics(res.indices, res.scores, list(task.data.queries),
                                                   list(task.data.corpus), task.data.qrels)
    measures = {name.rstrip("_") + "." + ",".join(map(str, K_VALUES)) for name in TREC.values()}
    trec = pytrec_eval.RelevanceEvaluator(task.data.qrels, measures).evaluate(run_of(task, res))
    assert sorted(trec) == sorted(evaluated)
    for k in K_VALUES:
        for ours_name, trec_name in TREC.items():
            theirs = np.mean([trec[q][f"{trec_name}{k}"] for q in evaluated])
            assert abs(ours[f"{ours_name}_{k}"] - theirs) <= 1e-4, f"{ours_name}_{k}"
            # and query by query, not only on average
            np.testing.assert_allclose(per_query[f"{ours_name}_{k}"],
                                       [trec[q][f"{trec_name}{k}"] for q in evaluated], atol=1e-9)
    q = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), rescore_multiplier=rescore,
                            resamples=20)
    assert q.details["rescore_multiplier"] == rescore
    assert len(q.per_item) == len(evaluated)


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (None, "int8"), (256, "binary"), (32, "binary")])
def test_evaluation_equals_pytrec_eval_on_the_full_ranking(retrieval, dim, precision):
    """evaluate_embeddings keeps the top 100; trec_eval here ranks *every* document (ties by id descending).
    Equal figures at every cutoff, including @100 on coarse binary codes where many scores tie at the boundary."""
    task, emb = retrieval
    v = derive(emb, dim, precision, calibrate_on="corpus")
    if precision == "binary":
        qb = np.unpackbits(v["queries"].data, axis=1, count=v["queries"].dim).astype(np.int32) * 2 - 1
        db = np.unpackbits(v["corpus"].data, axis=1, count=v["corpus"].dim).astype(np.int32) * 2 - 1
        full = (qb @ db.T).astype(np.float64)   # dim - 2 * hamming
    else:
        full = v["queries"].as_float().astype(np.float64) @ v["corpus"].as_float().astype(np.float64).T
    full = full.astype(np.float32).astype(np.float64)  # the search scores in float32
    qids, dids = list(task.data.queries), list(task.data.corpus)
    run = {q: {d: float(full[i, j]) for j, d in enumerate(dids)} for i, q in enumerate(qids)}
    measures = {name.rstrip("_") + "." + ",".join(map(str, K_VALUES)) for name in TREC.values()}
    trec = pytrec_eval.RelevanceEvaluator(task.data.qrels, measures).evaluate(run)
    q = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=20)
    if precision == "binary":
        assert len(np.unique(full)) < full.size / 10  # heavy ties: the case that needs the tie rule
    for k in K_VALUES:
        for ours_name, trec_name in TREC.items():
            theirs = np.mean([trec[x][f"{trec_name}{k}"] for x in trec])
            assert abs(q.metrics[f"{ours_name}_{k}"] - theirs) <= 1e-4, f"{ours_name}_{k}"
    np.testing.assert_allclose(q.per_item, [trec[x]["ndcg_cut_10"] for x in q.details["query_ids"]], atol=1e-9)


def test_mrr_equals_mteb_mrr(retrieval):
    from mteb._evaluators.retrieval_metrics import mrr

    task, emb = retrieval
    v = derive(emb, 64, "binary", calibrate_on="corpus")  # coarse codes: many tied scores
    res = search(v["queries"], v["corpus"], 100)
    ours, _, evaluated = retrieval_metrics(res.indices, res.scores, list(task.data.queries), list(task.data.corpus),
                                           task.data.qrels)
    run = {q: d for q, d in run_of(task, res).items() if q in task.data.qrels}
    theirs = mrr(task.data.qrels, run, list(K_VALUES))
    for k in K_VALUES:
        assert abs(ours[f"mrr_at_{k}"] - float(np.mean(theirs[f"MRR@{k}"]))) <= 1e-4


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "float32"), (256, "binary")])
def test_retrieval_equals_mteb_evaluator(retrieval, mteb_encoder_for, dim, precision):
    """mteb's AbsTaskRetrieval (its own search and pytrec_eval call) on the same data and vectors."""
    from advisor.datasets.mteb_local import run_mteb

    task, emb = retrieval
    v = derive(emb, dim, precision, calibrate_on="corpus")
    # mteb scores by cosine; unit float vectors and +-1 bit vectors (constant norm) rank the same by dot product
    vectors = {name: vs.as_float() for name, vs in v.items()}
    scores = run_mteb(task, mteb_encoder_for(task, vectors))
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=10).metrics
    for k in K_VALUES:
        for name in ("ndcg_at", "map_at", "recall_at", "precision_at", "mrr_at"):
            assert abs(ours[f"{name}_{k}"] - scores[f"{name}_{k}"]) <= 1e-4, f"{name}_{k}"
