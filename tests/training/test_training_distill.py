"""Real (tiny) distillations from all-MiniLM-L6-v2: into the teacher cut to 2 layers (score + embedding loss,
evaluated against the teacher and the untrained student), and into a new small BERT with a different output size
(embedding loss through a learned projection). The loss is checked against an independent computation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from advisor.models.catalog import load_catalog
from advisor.training.distill import DistillConfig, distill
from advisor.training.settings import TrainSettings, distill_settings
from advisor.training.split import HeldOutSplit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truncated(tmp_path_factory, repo, minilm_dir):
    out = tmp_path_factory.mktemp("distill") / "l2"
    config = DistillConfig(teacher="all-MiniLM-L6-v2", student="layers=2", loss="both",
                           dataset=str(repo / "data" / "rt-reviews-plots"), out=str(out), max_pairs=24,
                           train=TrainSettings(batch_size=8, max_steps=6, save_steps=6, max_seq_length=64,
                                               learning_rate=1e-4))
    return out, distill(config)


def test_truncated_student_is_smaller_and_registered(truncated, minilm_dir):
    out, report = truncated
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 2
    (entry,) = load_catalog(out / "catalog.yaml")
    assert entry.name == report["trained"] and entry.embed_dim == 384 and entry.license == "Apache-2.0"
    teacher_params = 22713216
    assert entry.n_parameters < 0.75 * teacher_params
    assert report["training"]["student_parameters"] == entry.n_parameters


def test_distilled_student_never_saw_heldout_and_loss_went_down(truncated):
    out, report = truncated
    split = HeldOutSplit.load(out / "split.json")
    rows = [json.loads(line) for line in (out / "train_pairs.jsonl").read_text().splitlines()]
    assert rows and not {r["query_id"] for r in rows} & set(split.heldout_ids)
    teacher = np.load(out / "teacher.npy")
    assert teacher.shape == (len(rows), 2, 384)
    np.testing.assert_allclose(np.linalg.norm(teacher, axis=-1), 1.0, atol=1e-4)
    log = report["training"]["log"]
    losses = [loss for _, loss in log["losses"]]
    assert np.mean(losses[-2:]) < np.mean(losses[:2]), losses
    assert {"score", "embedding"} <= set(log["components"][0])


def test_distill_report_compares_with_teacher_and_untrained_student(truncated):
    from advisor.models.backends import get_backend, load_encoder

    out, report = truncated
    refs = {r["reference"] for r in report["quality"]}
    assert refs == {"student before training", "teacher"}
    teacher_row = next(r for r in report["quality"] if r["reference"] == "teacher")
    assert 0 < teacher_row["before"] <= 1 and 0 <= teacher_row["after"] <= 1
    assert "student vs teacher" in report["verdict"]
    (entry,) = load_catalog(out / "catalog.yaml")
    init = entry.__class__(**{**entry.__dict__, "name": "init", "source": str(out / "student_init")})
    texts = ["A tense courtroom drama.", "Two friends drive across the country."]
    vecs = []
    for e in (init, entry):
        encoder = load_encoder(e, device="cpu")
        vecs.append(encoder.encode(texts, kind="query"))
        encoder.close()
    assert np.abs(vecs[0] - vecs[1]).max() > 1e-3  # training changed the student


def test_new_architecture_with_projection(tmp_path, repo, minilm_dir):
    out = tmp_path / "tiny"
    config = DistillConfig(teacher="all-MiniLM-L6-v2", student="layers=1,width=64,heads=2,dim=32",
                           loss="embedding", dataset=str(repo / "data" / "rt-reviews-plots"), out=str(out),
                           max_pairs=16, train=TrainSettings(batch_size=8, max_steps=6, save_steps=3,
                                                             max_seq_length=32, learning_rate=1e-3))
    report = distill(config, evaluate=False)
    (entry,) = load_catalog(out / "catalog.yaml")
    assert entry.embed_dim == 32 and entry.n_parameters < 2_500_000
    assert report["training"]["projection"] is True
    assert (out / "distill_projection.safetensors").exists()
    assert (out / "checkpoints" / "checkpoint-6" / "distill_projection.safetensors").exists()
    losses = [loss for _, loss in report["training"]["log"]["losses"]]
    assert losses[-1] < losses[0], losses
    assert "quality" not in report


def test_distill_loss_equals_independent_computation(minilm_dir):
    """The score and embedding parts recomputed with numpy from the student's own encode() output."""
    import torch
    from sentence_transformers import SentenceTransformer

    from advisor.training.losses import DistillLoss

    student = SentenceTransformer(str(minilm_dir), device="cpu")
    student.eval()
    q = ["a scary film about a haunted house", "a romantic comedy set in Paris"]
    d = ["A family moves into an old mansion where strange things happen.", "Two strangers fall in love in France."]
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(2, 2, 48)).astype(np.float32)
    teacher /= np.linalg.norm(teacher, axis=-1, keepdims=True)
    loss = DistillLoss(student, "both", teacher_dim=48)
    features = [student.tokenize(q), student.tokenize(d)]
    with torch.no_grad():
        parts = loss(features, torch.tensor(teacher))
        sq, sd = student.encode(q, convert_to_numpy=True), student.encode(d, convert_to_numpy=True)
        w = loss.projection.weight.numpy()
        b = loss.projection.bias.numpy()
    scores = sq @ sd.T / np.outer(np.linalg.norm(sq, axis=1), np.linalg.norm(sd, axis=1))
    tscores = teacher[:, 0] @ teacher[:, 1].T
    assert float(parts["score"]) == pytest.approx(float(np.mean((scores - tscores) ** 2)), rel=1e-4, abs=1e-6)
    projected = np.concatenate([sq, sd]) @ w.T + b
    target = np.concatenate([teacher[:, 0], teacher[:, 1]])
    assert float(parts["embedding"]) == pytest.approx(float(np.mean(np.sum((projected - target) ** 2, axis=1))),
                                                      rel=1e-4)


def test_existing_student_folder(truncated, tmp_path, repo):
    """An existing model as the student (here the folder the truncated run saved, which carries no licence):
    same size as the teacher, so no projection; the entry's licence is 'unknown' because the two licences are
    not known to agree, and the notes name both."""
    student_dir, _ = truncated
    out = tmp_path / "existing"
    config = DistillConfig(teacher="all-MiniLM-L6-v2", student=str(student_dir / "model"), loss="embedding",
                           dataset=str(repo / "data" / "rt-reviews-plots"), out=str(out), max_pairs=8,
                           train=replace(distill_settings(), batch_size=4, max_steps=2, max_seq_length=32))
    report = distill(config, evaluate=False)
    assert report["training"]["student"]["kind"] == "existing" and report["training"]["projection"] is False
    (entry,) = load_catalog(out / "catalog.yaml")
    assert entry.license == "unknown" and "licence Apache-2.0" in entry.notes and "licence unknown" in entry.notes
    assert json.loads((out / "model" / "config.json").read_text())["num_hidden_layers"] == 2
