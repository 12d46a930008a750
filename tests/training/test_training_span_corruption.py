"""``--pairs span-corruption``: two views of the same passage with different word spans removed, from raw text (the
movie plots of data/rt-reviews-plots as JSONL documents). Deterministic for a seed, views that differ, none empty."""

from __future__ import annotations

import random

import pytest

from advisor.errors import ConfigError, UserError
from advisor.training.data import load_training_task, span_corruption_pairs, span_views

PLOTS = "data/rt-reviews-plots/corpus.jsonl"


@pytest.fixture(scope="module")
def plots(repo):
    return repo / PLOTS


def test_span_corruption_is_deterministic_for_a_seed(plots):
    a, b = span_corruption_pairs(plots, seed=1), span_corruption_pairs(plots, seed=1)
    assert a.data.queries == b.data.queries and a.data.corpus == b.data.corpus
    assert a.content_hash == b.content_hash
    other = span_corruption_pairs(plots, seed=2)
    assert other.data.queries != a.data.queries  # another seed, other spans


def test_span_corruption_views_differ_and_are_never_empty(plots):
    task = span_corruption_pairs(plots)
    assert len(task.data.queries) >= 156 and task.meta["pair_source"] == "span-corruption"
    for qid, rel in task.data.qrels.items():
        (did,) = rel
        query, document = task.data.queries[qid], task.data.corpus[did]
        assert query.strip() and document.strip() and query != document


def test_span_views_remove_disjoint_spans_of_the_same_passage():
    text = " ".join(f"w{i}" for i in range(40))
    view_a, view_b, (removed_a, removed_b) = span_views(text, random.Random(0), mask_ratio=0.25, mean_span=3)
    assert removed_a and removed_b and not removed_a & removed_b
    assert len(removed_a) >= 10 and len(removed_b) >= 10  # about a quarter of the words each
    kept_a, kept_b = set(view_a.split()), set(view_b.split())
    assert kept_a | kept_b == set(text.split())  # together the views cover the passage
    assert any(j - i == 1 for i in removed_a for j in removed_a)  # spans, not only single words


def test_span_corruption_is_a_pair_source_for_training(plots):
    task = load_training_task(plots, "span-corruption")
    assert task.name.startswith("spancorrupt-") and task.type == "retrieval"
    with pytest.raises(UserError, match="0-40%"):
        span_corruption_pairs(plots, mask_ratio=0.6)


def test_span_corruption_refuses_text_too_short(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Too short.\nAlso short.\n")
    with pytest.raises(ConfigError, match="span corruption needs raw text"):
        span_corruption_pairs(short)


@pytest.mark.slow
def test_finetune_trains_on_span_corruption_pairs(tmp_path, plots, minilm_dir):
    import json

    from click.testing import CliRunner

    from advisor.cli import cli

    out = tmp_path / "span"
    result = CliRunner().invoke(cli, ["finetune", "--model", "all-MiniLM-L6-v2", "--dataset", str(plots),
                                      "--pairs", "span-corruption", "--out", str(out), "--max-pairs", "16",
                                      "--batch-size", "8", "--max-steps", "2", "--max-seq-length", "48",
                                      "--hard-negatives", "0", "--device", "cpu", "--no-evaluate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["training"]["pair_source"] == "span-corruption" and report["training"]["log"]["steps"] == 2
    rows = [json.loads(line) for line in (out / "train_pairs.jsonl").read_text().splitlines()]
    assert rows and all(r["anchor"] != r["positive"] for r in rows)
