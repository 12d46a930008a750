"""The real ``advisor finetune`` / ``advisor distill`` commands in a subprocess: help, user mistakes as one line
with exit code 2, and one tiny end-to-end distillation through the command line (JSON report)."""

from __future__ import annotations

import json

import pytest

from advisor.training.settings import DISTILL_LEARNING_RATE


def test_help_lists_the_commands_and_options(advisor_cli):
    result = advisor_cli("--help")
    assert result.returncode == 0 and "finetune" in result.stdout and "distill" in result.stdout
    ft = advisor_cli("finetune", "--help").stdout
    for option in ("--model", "--dataset", "--out", "--hard-negatives", "--matryoshka-dims", "--resume",
                   "--heldout", "--device", "--catalog", "--policy", "--json"):
        assert option in ft
    ds = advisor_cli("distill", "--help").stdout
    for option in ("--teacher", "--student", "--loss", "--resume", "--measure"):
        assert option in ds


@pytest.mark.parametrize("args, message", [
    (["distill", "--teacher", "all-MiniLM-L6-v2", "--student", "layers=two", "--dataset", "data/rt-reviews-plots"],
     "student 'layers' must be a positive integer"),
    (["finetune", "--model", "no-such-model", "--dataset", "data/rt-reviews-plots"], "model 'no-such-model' not found"),
    (["finetune", "--model", "all-MiniLM-L6-v2", "--dataset", "data/rt-reviews-plots", "--heldout", "1.5"],
     "--heldout must be a fraction"),
    (["finetune", "--model", "all-MiniLM-L6-v2", "--dataset", "data/rt-reviews-plots", "--matryoshka-dims", "a,b"],
     "--matryoshka-dims takes sizes"),
    (["finetune", "--model", "wordllama-l2-supercat-256", "--dataset", "data/rt-reviews-plots"],
     "cannot be trained"),
    (["distill", "--teacher", "all-MiniLM-L6-v2", "--student", "layers=1", "--dataset", "data/rt-reviews-plots",
      "--learning-rate", "0"], "--learning-rate must be positive"),
])
def test_user_mistakes_are_one_line_errors(advisor_cli, tmp_path, args, message):
    result = advisor_cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_bad_pairs_file_names_the_line(advisor_cli, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("anchor\tpositive\nq1\td1\nq2\t\n", encoding="utf-8")
    result = advisor_cli("finetune", "--model", "all-MiniLM-L6-v2", "--dataset", str(pairs), "--out",
                         str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"{pairs}:3: field 'positive'" in result.stderr


@pytest.mark.slow
def test_distill_end_to_end_through_the_command(advisor_cli, tmp_path):
    """Next-sentence pairs from news documents of gensim's Lee corpus, a 1-layer student, JSON report; then --resume of a finished
    run's folder is refused without changes and a second run into the same --out is refused."""
    from ..conftest import package_dir

    lee_full = package_dir("gensim") / "test" / "test_data" / "lee_background.cor"
    lee = tmp_path / "lee20.txt"  # the first 20 news documents: a small real raw corpus
    lee.write_text("\n".join(lee_full.read_text(encoding="utf-8").splitlines()[:20]) + "\n", encoding="utf-8")
    out = tmp_path / "cli"
    args = ["distill", "--teacher", "all-MiniLM-L6-v2", "--student", "layers=1", "--loss", "score",
            "--dataset", str(lee), "--out", str(out), "--max-pairs", "16", "--batch-size", "8", "--max-steps", "3",
            "--max-seq-length", "32", "--heldout", "0.25", "--json"]
    result = advisor_cli(*args, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["training"]["pair_source"] == "next-sentence"
    assert report["training"]["log"]["steps"] == 3
    assert report["training"]["settings"]["learning_rate"] == DISTILL_LEARNING_RATE  # no --learning-rate given
    assert {r["reference"] for r in report["quality"]} == {"student before training", "teacher"}
    listed = advisor_cli("catalog", "list", "--catalog", str(out / "catalog.yaml"), "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["name"] == report["trained"]
    # the advisor's own evaluate command on the written held-out folder reproduces the report's figure
    evaluated = advisor_cli("evaluate", "--catalog", str(out / "catalog.yaml"), "--model", report["trained"],
                            "--dataset", str(out / "heldout"), "--json", timeout=900)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    figure = json.loads(evaluated.stdout)["results"][0]["metrics"]["ndcg_at_10"]
    row = next(r for r in report["quality"] if r["reference"] == "teacher" and r["dim"] is None)
    assert figure == pytest.approx(row["after"], abs=1e-9)
    again = advisor_cli(*args)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_matryoshka_sizes_come_from_the_policy(repo):
    from advisor.builtin.training.commands import _dims, _policy_dims

    assert _policy_dims(repo / "advisor/shipped/policies" / "default.yaml") == (256, 128, 64)  # 'full' is the model's own size
    assert _dims("256, 128") == (256, 128) and _dims(None) == ()
