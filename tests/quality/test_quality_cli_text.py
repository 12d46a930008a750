"""``advisor evaluate``'s plain text, as a user runs it (a real subprocess, real models, real data): a header with
the model and each task, every figure of the task's type with its interval, how many texts the model truncates,
BM25 on a retrieval task with the paired difference, the loss of each smaller variant against the full-size
float32 one, and no bytes per vector where the task stores no vectors."""

from __future__ import annotations

import re

import pytest

from advisor.config.task_types import task_type
from advisor.figures import figure_of
from advisor.models.backends import load_encoder
from advisor.models.resolve import resolve_model
from advisor.models.variants import Variant
from advisor.quality.evaluation import encode_task, evaluate_embeddings

pytestmark = pytest.mark.slow

STATIC = "tokenlearn-static-64"  # a 64-dim static model: encodes the example tasks in a second


def _block(text: str, start: str) -> list[str]:
    """The lines of the block that starts with ``start`` (up to the next line indented as little)."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    depth = len(lines[i]) - len(lines[i].lstrip())
    out = [lines[i]]
    for line in lines[i + 1:]:
        if not line.strip() or len(line) - len(line.lstrip()) <= depth:
            break
        out.append(line)
    return out


@pytest.fixture(scope="module")
def static_run(advisor_cli):
    proc = advisor_cli("evaluate", "--model", STATIC, "--dataset", "data/rt-reviews-plots", "--dataset",
                       "data/lee-sts", "--dim", "32", "--dim", "64", "--vector-precision", "float32",
                       "--vector-precision", "binary", "--resamples", "200")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def static_results(example_task):
    """The library's own results for the same model, tasks and variants (the figures the text must show)."""
    entry = resolve_model(STATIC)
    encoder = load_encoder(entry, device="cpu", weight_precision="fp32")
    out = {}
    try:
        for name in ("rt-reviews-plots", "lee-sts"):
            task = example_task(name)
            emb, _, _ = encode_task(encoder, task)
            out[name] = {(d, p): evaluate_embeddings(task, emb, Variant(dim=d, vector_precision=p), resamples=200)
                         for d in (32, 64) for p in ("float32", "binary")}
    finally:
        encoder.close()
    return out


def test_the_header_names_the_model_and_each_task(static_run):
    lines = static_run.splitlines()
    assert lines[0].startswith(f"Model {STATIC} (static runtime on cpu, fp32 weights; loaded in ")
    assert "Task rt-reviews-plots (retrieval: queries 240, corpus 156)" in lines
    assert "Task lee-sts (sts: sentence1 1,225, sentence2 1,225)" in lines


@pytest.mark.parametrize("task", ["rt-reviews-plots", "lee-sts"])
def test_each_task_says_what_its_intervals_resample(static_run, static_results, task):
    from advisor.quality.bootstrap import recorded_units

    result = static_results[task][(32, "binary")]
    units = recorded_units(result.details, len(result.per_item)).text()  # '240 queries', '50 texts'
    block = _block(static_run, f"Task {task} ")
    assert f"  intervals: 95% bootstrap over {units} (200 resamples); differences paired, on the same draws" in block


@pytest.mark.parametrize("task", ["rt-reviews-plots", "lee-sts"])
def test_every_figure_of_the_task_type_is_printed_with_its_interval(static_run, static_results, task):
    block = _block(static_run, f"Task {task} ")
    variant = "\n".join(_block("\n".join(block), "32 dims (untrained), binary vectors"))
    result = static_results[task][(32, "binary")]
    for name in task_type(result.details["task_type"]).metrics:
        fig = figure_of(name)
        low, high = result.details["ci"][name]
        shown = fig.interval_text(result.metrics[name], low, high)
        assert re.search(rf"^\s+{re.escape(fig.label)}\s+{re.escape(shown)}", variant, re.MULTILINE), (name, variant)


def test_each_smaller_variant_tells_its_loss_against_the_full_size_float32_one(static_run, static_results):
    block = "\n".join(_block(static_run, "Task rt-reviews-plots "))
    results = static_results["rt-reviews-plots"]
    reference = results[(64, "float32")]
    assert "full size (64 dims), float32 vectors, 256 B per vector (the reference):" in block
    for d, p in ((32, "float32"), (32, "binary"), (64, "binary")):
        title = f"{d} dims (untrained), {p} vectors" if d == 32 else f"full size (64 dims), {p} vectors"
        lines = _block(block, title)
        line = next(x.strip() for x in lines if x.strip().startswith("against full size float32:"))
        difference = results[(d, p)].metrics["ndcg_at_10"] - reference.metrics["ndcg_at_10"]  # point difference
        assert line.startswith(f"against full size float32: nDCG@10 {difference:+.4f} (95% CI "), line
    assert not any(x.strip().startswith("against full size") for x in _block(block, "full size (64 dims), float32"))


def test_a_retrieval_task_has_bm25_and_each_variants_paired_difference_against_it(static_run, static_results,
                                                                                   example_task):
    from advisor.index.bm25 import bm25_quality

    bm25 = bm25_quality(example_task("rt-reviews-plots"), resamples=200)
    fig = figure_of("ndcg_at_10")
    low, high = bm25.details["ci"]["ndcg_at_10"]
    block = "\n".join(_block(static_run, "Task rt-reviews-plots "))
    assert (f"BM25 (bm25s, k1 1.5, b 0.75) on the same queries: nDCG@10 "
            f"{fig.interval_text(bm25.metrics['ndcg_at_10'], low, high)}") in block
    dense = static_results["rt-reviews-plots"][(32, "float32")]
    line = next(x.strip() for x in _block(block, "32 dims (untrained), float32") if "against BM25" in x)
    assert line.startswith(f"against BM25: nDCG@10 {dense.metrics['ndcg_at_10'] - bm25.metrics['ndcg_at_10']:+.4f}")
    assert "BM25" not in "\n".join(_block(static_run, "Task lee-sts "))  # BM25 is a retrieval baseline


def test_bytes_per_vector_only_where_the_task_stores_vectors(static_run):
    assert "B per vector" in "\n".join(_block(static_run, "Task rt-reviews-plots "))
    assert "per vector" not in "\n".join(_block(static_run, "Task lee-sts "))


def test_the_truncation_count_is_the_tokenizers(advisor_cli, minilm_dir, example_task):
    from transformers import AutoTokenizer

    proc = advisor_cli("evaluate", "--model", "all-MiniLM-L6-v2", "--dataset", "data/rt-reviews-plots",
                       "--resamples", "50")
    assert proc.returncode == 0, proc.stderr[-2000:]
    task = example_task("rt-reviews-plots")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir))
    limit = 256  # all-MiniLM-L6-v2's max_seq_length
    counts = {}
    for name, text_set in task.text_sets().items():
        texts = list(dict.fromkeys(text_set.texts))
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
        counts[name] = (sum(n >= limit for n in lengths), len(texts))
    assert counts["corpus"][0] > 0  # the long plots: some are cut
    line = next(x.strip() for x in proc.stdout.splitlines() if x.strip().startswith("truncation:"))
    for name, (cut, total) in counts.items():
        assert f"{name} {cut} of {total}" in line, line
