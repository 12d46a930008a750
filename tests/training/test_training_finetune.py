"""A real (tiny) fine-tune of all-MiniLM-L6-v2 on the rotten-tomatoes review -> plot task, interrupted and resumed:
the held-out queries never reach training, the loss goes down, the checkpoint resume continues the same run, the
saved model loads through the advisor's own backend and differs from the base, the catalog entry is valid, and
the report's 'before' figure equals an independent pytrec_eval computation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from advisor.models.catalog import load_catalog
from advisor.errors import UserError
from advisor.training.finetune import FinetuneConfig, finetune
from advisor.training.settings import TrainSettings
from advisor.training.split import HeldOutSplit

pytestmark = pytest.mark.slow


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def run(tmp_path_factory, repo, minilm_dir):
    out = tmp_path_factory.mktemp("ft") / "run"
    config = FinetuneConfig(model="all-MiniLM-L6-v2", dataset=str(repo / "data" / "rt-reviews-plots"), out=str(out),
                            max_pairs=16, hard_negatives=1, heldout=0.2, matryoshka_dims=(128,),
                            train=TrainSettings(batch_size=8, max_steps=8, save_steps=4, max_seq_length=64,
                                                learning_rate=1e-4))
    seen = []

    def stop_after_checkpoint(stage, done, total, info):
        seen.append((stage, done))
        if stage == "train" and done == 5:  # checkpoint-4 is on disk; step 5 is running: a crash
            raise Interrupt()

    with pytest.raises(Interrupt):
        finetune(config, progress=stop_after_checkpoint)
    assert (out / "checkpoints" / "checkpoint-4").is_dir() and not (out / "model").exists()
    report = finetune(config, resume=True)
    return config, out, report, seen


def test_heldout_queries_never_reach_training(run, repo):
    config, out, report, _ = run
    split = HeldOutSplit.load(out / "split.json")
    rows = [json.loads(line) for line in (out / "train_pairs.jsonl").read_text().splitlines()]
    heldout_texts = {json.loads(line)["text"] for line in (out / "heldout" / "queries.jsonl").read_text().splitlines()}
    assert set(json.loads(line)["_id"] for line in (out / "heldout" / "queries.jsonl").read_text().splitlines()) \
        == set(split.heldout_ids)
    assert rows and not {r["query_id"] for r in rows} & set(split.heldout_ids)
    assert not {r["anchor"] for r in rows} & heldout_texts
    qrels = {}
    for line in (repo / "data" / "rt-reviews-plots" / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, _ = line.split("\t")
        qrels.setdefault(q, set()).add(d)
    for r in rows:  # mined negatives are never relevant to their query, positives always are
        assert r["positive_id"] in qrels[r["query_id"]] and r["negative_1_id"] not in qrels[r["query_id"]]
    assert report["training"]["mining"]["mined"] > 0
    assert report["heldout"]["queries"] == len(split.heldout_ids) == round(0.2 * 240)


def test_resume_continued_the_interrupted_run(run):
    _, out, report, seen = run
    log = report["training"]["log"]
    assert log["resumed_from"].endswith("checkpoint-4")
    assert log["steps"] == 8
    steps = [s for s, _ in log["losses"]]
    assert steps == list(range(1, 9))  # the losses before the crash come back from the checkpoint
    assert ("train", 5) in seen


def test_loss_goes_down(run):
    losses = [loss for _, loss in run[2]["training"]["log"]["losses"]]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses


def test_saved_model_loads_through_the_advisor_and_differs_from_base(run, minilm_dir):
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    _, out, report, _ = run
    (entry,) = load_catalog(out / "catalog.yaml")
    assert entry.name == report["trained"] and entry.embed_dim == 384 and entry.backend == "torch"
    assert entry.matryoshka_dims == (128,) and "MatryoshkaLoss[128]" in report["training"]["loss"]
    assert {r["dim"] for r in report["quality"]} == {None, 128}
    assert (out / "model" / "model.safetensors").exists() and not list((out / "model").rglob("*.bin"))
    base = resolve_model("all-MiniLM-L6-v2")
    assert entry.n_parameters == base.n_parameters and entry.max_tokens == base.max_tokens == 256
    texts = ["A gripping thriller with a twist.", "The plot follows a family in rural Ohio."]
    vecs = {}
    for e in (base, entry):
        encoder = load_encoder(e, device="cpu")
        vecs[e.name] = encoder.encode(texts, kind="document")
        encoder.close()
    a, b = vecs[base.name], vecs[entry.name]
    assert a.shape == b.shape == (2, 384)
    assert np.abs(a - b).max() > 1e-3
    assert np.all(np.sum(a * b, axis=1) > 0.5)  # a few steps move the model, they do not wreck it


def test_report_before_figure_matches_pytrec_eval(run, minilm_dir):
    """The 'before' nDCG@10 equals an independent computation: sentence-transformers embeddings, a numpy
    ranking and pytrec_eval on the held-out folder the run wrote."""
    import pytrec_eval
    from sentence_transformers import SentenceTransformer

    _, out, report, _ = run
    row = next(r for r in report["quality"] if r["reference"] == "base" and r["dim"] is None)
    load = lambda name: [json.loads(line) for line in (out / "heldout" / name).read_text().splitlines()]  # noqa
    corpus, queries = load("corpus.jsonl"), load("queries.jsonl")
    qrels: dict = {}
    for line in (out / "heldout" / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, s = line.split("\t")
        qrels.setdefault(q, {})[d] = int(s)
    model = SentenceTransformer(str(minilm_dir), device="cpu")
    c = model.encode([d["text"] for d in corpus], normalize_embeddings=True)
    q = model.encode([x["text"] for x in queries], normalize_embeddings=True)
    scores = q @ c.T
    run_dict = {}
    for i, query in enumerate(queries):
        top = np.argsort(-scores[i])[:100]
        run_dict[query["_id"]] = {corpus[j]["_id"]: float(scores[i, j]) for j in top}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run_dict)
    expected = float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))
    assert row["metric"] == "ndcg_at_10"
    assert row["before"] == pytest.approx(expected, abs=2e-3)
    assert row["after"] != row["before"]
    assert report["verdict"].startswith(("training helped", "training did not help", "training made it WORSE"))
    assert "| cpu/fp32/dim=full/float32 | ndcg_at_10 | base" in (out / "report.md").read_text()


def test_out_folder_is_not_overwritten_and_resume_checks_settings(run):
    config, out, _, _ = run
    with pytest.raises(UserError, match="not empty; pass --resume"):
        finetune(config)
    changed = replace(config, train=replace(config.train, learning_rate=3e-5))
    with pytest.raises(UserError, match="learning_rate"):
        finetune(changed, resume=True)
