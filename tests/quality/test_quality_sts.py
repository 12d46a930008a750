"""STS: the advisor's Spearman/Pearson equal scipy's and mteb's on the same vectors, and all-MiniLM-L6-v2 on the
STS Benchmark test split reproduces its published MTEB figure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from advisor.quality.evaluation import evaluate_embeddings
from advisor.quality.metrics import rankdata, spearman
from advisor.datasets.tasks import load_task
from advisor.models.variants import Variant
from advisor.quality.vectors import derive

# SOURCE.md beside the data: the published MTEB result for sentence-transformers/all-MiniLM-L6-v2 (rev 8b3219a9)
PUBLISHED_SPEARMAN = 0.82032
PUBLISHED_PEARSON = 0.82741


@pytest.fixture(scope="module")
def stsb(stsb_dir, embed):
    task = load_task(stsb_dir / "sts-test.csv")
    assert task.type == "sts" and len(task.data.scores) == 1379
    return task, embed(task)


def test_minilm_reproduces_published_mteb_figure(stsb):
    task, emb = stsb
    result = evaluate_embeddings(task, emb, Variant())
    # the published figures are rounded to 5 decimals: agreement to that rounding
    assert round(result.metrics["cosine_spearman"], 5) == PUBLISHED_SPEARMAN
    assert abs(result.metrics["cosine_pearson"] - PUBLISHED_PEARSON) < 5e-5
    lo, hi = result.details["ci"]["cosine_spearman"]
    assert lo < result.metrics["cosine_spearman"] < hi and hi - lo < 0.1


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8"), (256, "binary"), (64, "float16")])
def test_sts_equals_scipy(stsb, dim, precision):
    task, emb = stsb
    result = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=50)
    v = derive(emb, dim, precision)
    a, b = v["sentence1"].as_float().astype(np.float64), v["sentence2"].as_float().astype(np.float64)
    cos = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    gold = np.array(task.data.scores)
    if precision == "binary":  # exact ties: cosines of +-1 codes are multiples of 2/dim
        cos = np.round(cos * dim) / dim
    # 1e-6, not 1e-12: a different summation order may swap two pairs whose cosines differ in the last bit
    assert abs(result.metrics["cosine_spearman"] - spearmanr(cos, gold).statistic) <= 1e-6
    assert abs(result.metrics["cosine_pearson"] - pearsonr(cos, gold).statistic) <= 1e-6
    np.testing.assert_allclose(result.per_item, cos, atol=1e-6)  # per pair: the similarity the bootstrap resamples


def test_rankdata_handles_ties_like_scipy():
    from scipy.stats import rankdata as scipy_rankdata

    x = np.random.default_rng(0).integers(0, 7, size=(5, 40)).astype(float)
    np.testing.assert_array_equal(rankdata(x), scipy_rankdata(x, axis=1))
    assert abs(spearman(x[0], x[1]) - spearmanr(x[0], x[1]).statistic) < 1e-12


@pytest.mark.parametrize("dim,precision", [(None, "float32"), (128, "int8"), (256, "float16")])
def test_sts_equals_mteb_evaluator(stsb, mteb_encoder_for, dim, precision):
    """mteb's own AbsTaskSTS on the same data and the same (truncated, quantized) vectors. (Not binary: mteb's
    float cosine of +-1 codes breaks their exact ties by rounding noise, which moves Spearman by ~4e-4.)"""
    from advisor.datasets.mteb_local import run_mteb

    task, emb = stsb
    v = derive(emb, dim, precision)
    vectors = {name: vs.unit_float() for name, vs in v.items()}
    scores = run_mteb(task, mteb_encoder_for(task, vectors))
    ours = evaluate_embeddings(task, emb, Variant(dim=dim, vector_precision=precision), resamples=10).metrics
    for name in ("cosine_spearman", "cosine_pearson"):
        assert abs(ours[name] - scores[name]) <= 1e-4, name


def test_evaluate_model_encodes_each_text_once(stsb_dir, minilm_encoder):
    """Several variants from one pass; a sentence repeated across pairs is encoded once."""
    import dataclasses

    from advisor.quality.evaluation import evaluate_model
    from advisor.datasets.tasks import STSData

    task = load_task(stsb_dir / "sts-test.csv")
    d = task.data
    # 20 more pairs re-using sentences of the first 60 (new pairings, so no exactly tied similarities)
    small = STSData(d.sentence1[:60] + d.sentence1[:20], d.sentence2[:60] + d.sentence2[20:40],
                    d.scores[:60] + d.scores[60:80])
    task = dataclasses.replace(task, data=small)
    seen: list[str] = []

    class Counting:  # the real encoder, counting what it is asked to encode
        embed_dim = minilm_encoder.embed_dim

        def encode(self, texts, **kw):
            seen.extend(texts)
            return minilm_encoder.encode(texts, **kw)

    variants = [Variant(dim=dm, vector_precision=p) for dm in (None, 128) for p in ("float32", "binary")]
    results = evaluate_model(Counting(), task, variants)
    assert sorted(seen) == sorted(set(small.sentence1) | set(small.sentence2))
    assert list(results) == variants
    full = results[variants[0]]
    assert full.details["timing"]["encode_s"]["sentence1"] > 0
    direct = {name: minilm_encoder.encode(list(ts.texts), kind=ts.kind) for name, ts in task.text_sets().items()}
    for v in variants:
        expected = evaluate_embeddings(task, direct, v, resamples=10).metrics
        assert results[v].metrics == pytest.approx(expected, abs=1e-5)  # batching changes the last float bits
