"""``advisor distill --side query``: a 2-layer student (all-MiniLM-L6-v2's first layers kept) trained on query texts
only into MiniLM's space, registered as a pair (queries by the student, documents by MiniLM) that `advisor evaluate`
and the sweep run like any candidate, with each cost figure taken from the side the user pays it on."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest
import yaml

from advisor.models.catalog import load_catalog
from advisor.training.distill import DistillConfig, distill
from advisor.training.settings import distill_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def query_student(tmp_path_factory, repo, minilm_dir):
    from click.testing import CliRunner

    from advisor.cli import cli

    out = tmp_path_factory.mktemp("pair") / "q"
    result = CliRunner().invoke(cli, ["distill", "--teacher", "all-MiniLM-L6-v2", "--student", "layers=2",
                                      "--side", "query", "--pair-name", "student-query+minilm",
                                      "--dataset", str(repo / "data" / "rt-reviews-plots"), "--out", str(out),
                                      "--max-pairs", "24", "--batch-size", "8", "--max-steps", "4",
                                      "--save-steps", "4", "--max-seq-length", "64", "--device", "cpu",
                                      "--no-evaluate", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output[result.output.index("{"):])


def test_query_side_needs_the_teachers_size(tmp_path, repo, minilm_dir):
    from advisor.errors import UserError

    config = DistillConfig(teacher="all-MiniLM-L6-v2", student="layers=1,width=32,heads=2", side="query",
                           dataset=str(repo / "data" / "rt-reviews-plots"), out=str(tmp_path / "o"), max_pairs=8,
                           train=replace(distill_settings(), batch_size=8, max_steps=1))
    with pytest.raises(UserError, match="give the student dim=384"):
        distill(config, evaluate=False)


def _entries(out):
    return {e.name: e for e in load_catalog(out / "catalog.yaml")}


def test_query_distillation_registers_student_and_pair(query_student):
    out, report = query_student
    entries = _entries(out)
    pair = entries["student-query+minilm"]
    assert report["trained"] == pair.name and pair.backend == "pair" and pair.embed_dim == 384
    student = entries[report["training"]["pair"]["query_model"]]
    assert pair.options["query_model"]["name"] == student.name
    assert pair.options["document_model"]["name"] == "all-MiniLM-L6-v2"
    assert pair.n_parameters == student.n_parameters < 0.75 * 22713216  # what is served online
    written = yaml.safe_load((out / "catalog.yaml").read_text())["models"][-1]
    assert written["query_model"] == student.name and written["document_model"] == "all-MiniLM-L6-v2"


def test_query_distillation_trains_on_queries_only(query_student):
    out, report = query_student
    rows = [json.loads(line) for line in (out / "train_pairs.jsonl").read_text().splitlines()]
    assert report["training"]["side"] == "query" and len(rows) == report["training"]["train_rows"]
    log = report["training"]["log"]
    assert log["steps"] == 4 and {"score", "embedding"} <= set(log["components"][0])


def test_pair_encodes_queries_with_the_student_and_documents_with_the_teacher(query_student):
    from advisor.models.backends import load_encoder

    out, _ = query_student
    entries = _entries(out)
    pair = entries["student-query+minilm"]
    student = entries[pair.options["query_model"]["name"]]
    texts = ["A courtroom drama about a wrongly accused man.", "Two friends drive across the country."]
    encoders = {name: load_encoder(e, device="cpu") for name, e in
                (("pair", pair), ("student", student), ("teacher", pair.__class__.from_dict(
                    pair.options["document_model"])))}
    try:
        q, d = encoders["pair"].encode(texts, kind="query"), encoders["pair"].encode(texts, kind="document")
        np.testing.assert_allclose(q, encoders["student"].encode(texts, kind="query"), atol=1e-5)
        np.testing.assert_allclose(d, encoders["teacher"].encode(texts, kind="document"), atol=1e-5)
        assert np.abs(q - d).max() > 1e-3  # two different models
    finally:
        for encoder in encoders.values():
            encoder.close()


def test_pair_evaluates_through_advisor_evaluate(query_student):
    from click.testing import CliRunner

    from advisor.cli import cli

    out, _ = query_student
    result = CliRunner().invoke(cli, ["evaluate", "--catalog", str(out / "catalog.yaml"), "--model",
                                      "student-query+minilm", "--dataset", str(out / "heldout"), "--json"])
    assert result.exit_code == 0, result.output
    assert "ndcg_at_10" in result.output


def test_pair_runs_in_the_sweep_like_any_candidate(query_student, tmp_path):
    from advisor.datasets.tasks import load_task
    from advisor.policy.spec import load_policy
    from advisor.sweep.planner import build_plan
    from advisor.sweep.worker import run_group

    out, _ = query_student
    policy = tmp_path / "p.yaml"
    policy.write_text("name: pair-test\nvariants:\n  dims: [full, 128]\n  vector_precisions: [float32, int8]\n")
    pair = _entries(out)["student-query+minilm"]
    plan = build_plan([pair], load_policy(policy), [load_task(out / "heldout")], measure_cost=False)
    cells = [e.result for e in run_group(plan.groups[0], is_done=lambda fp: False) if e.kind == "cell"]
    assert len(cells) == 4 and all(c.status == "ok" for c in cells), [c.error for c in cells]
    assert {c.key.backend for c in cells} == {"pair"} and all(0 <= c.metrics["ndcg_at_10"] <= 1 for c in cells)


def test_pair_cost_figures_come_from_the_side_the_user_pays(query_student):
    from advisor.cost import measure_cost
    from advisor.cost.stability import StabilityRule
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import LoadOptions, load_encoder

    out, _ = query_student
    pair = _entries(out)["student-query+minilm"]
    student, teacher = pair.options["query_model"]["name"], pair.options["document_model"]["name"]
    task = load_task(out / "heldout")
    encoder = load_encoder(pair, device="cpu")
    rule = StabilityRule(round_samples=8, max_latency_rounds=3, latency_budget_s=2.0, max_bulk_rounds=2,
                         bulk_budget_s=3.0)
    try:
        figures = measure_cost(encoder, task, entry=pair, load=LoadOptions(), bulk_docs=16, load_test=False,
                               warmup=2, memory_docs=4, stability=rule)
    finally:
        encoder.close()
    sides = figures["figure_sides"]
    assert sides["latency"] == sides["serving_memory_mb"] == sides["serving_weights_mb"] == student
    assert sides["docs_per_s"] == sides["index_size_mb"] == sides["serving_index_mb"] == teacher
    assert figures["bytes_per_vector"] == 384 * 4  # the document side's vectors
    # the serving process loaded the query model alone and held the document side's vectors of the corpus
    assert figures["serving_weights_mb"] > 0 and figures["memory"]["pid"] != os.getpid()
    assert figures["memory"]["index_bytes"] == len(task.data.corpus) * 384 * 4
    assert figures["runtime"]["pair"] == {"query_model": student, "document_model": teacher}
