"""``advisor evaluate`` as a user runs it: a real subprocess, the real model, JSON with mteb metric names,
bootstrap intervals and fingerprints; user mistakes are one line and exit code 2."""

from __future__ import annotations

import json

import pytest

from advisor.quality.evaluation import evaluate_embeddings
from advisor.models.variants import Variant


@pytest.fixture(scope="module")
def lee(example_task):
    return example_task("lee-sts")


def test_evaluate_json(advisor_cli, lee, embed):
    proc = advisor_cli("evaluate", "--model", "all-MiniLM-L6-v2", "--dataset", "data/lee-sts", "--dim", "128",
                       "--dim", "384", "--vector-precision", "float32", "--vector-precision", "binary",
                       "--resamples", "200", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"]["name"] == "all-MiniLM-L6-v2" and out["model"]["embed_dim"] == 384
    results = out["results"]
    assert [(r["variant"]["dim"], r["variant"]["vector_precision"]) for r in results] == [
        (128, "float32"), (128, "binary"), (384, "float32"), (384, "binary")]
    assert len({r["fingerprint"] for r in results}) == 4
    emb = embed(lee)
    for r in results:
        assert r["task"]["content_hash"] == lee.content_hash and r["task"]["type"] == "sts"
        assert r["main_metric"] == "cosine_spearman"
        assert set(r["metrics"]) == {"cosine_spearman", "cosine_pearson"}
        lo, hi = r["ci"]["cosine_spearman"]
        assert lo <= r["metrics"]["cosine_spearman"] <= hi
        assert r["bootstrap"]["resamples"] == 200
        assert r["key"]["task_hash"] == lee.content_hash and r["key"]["hardware"] and r["key"]["versions"]
        assert r["bytes_per_vector"] == {"float32": 4 * r["variant"]["dim"],
                                         "binary": r["variant"]["dim"] // 8}[r["variant"]["vector_precision"]]
        # the command's figures are the library's on the same model and data
        v = Variant(dim=r["variant"]["dim"], vector_precision=r["variant"]["vector_precision"])
        assert abs(evaluate_embeddings(lee, emb, v, resamples=10).metrics["cosine_spearman"]
                   - r["metrics"]["cosine_spearman"]) < 1e-4


@pytest.mark.parametrize("args,message", [
    (["--dataset", "data/no-such-folder"], "no-such-folder"),
    (["--dataset", "data/lee-sts", "--dim", "1000"], "dim 1000 is larger than the model's output size 384"),
    (["--dataset", "data/lee-sts", "--dataset-type", "bogus"], "unknown dataset type 'bogus'"),
])
def test_evaluate_user_errors_are_one_line(advisor_cli, args, message):
    proc = advisor_cli("evaluate", "--model", "all-MiniLM-L6-v2", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_unknown_model_is_one_line(advisor_cli):
    proc = advisor_cli("evaluate", "--model", "no-such-model", "--dataset", "data/lee-sts")
    assert proc.returncode == 2 and "no-such-model" in proc.stderr and "Traceback" not in proc.stderr
