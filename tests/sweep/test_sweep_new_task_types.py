"""A sweep runs the clustering, de-duplication and reranking example tasks like any other: one cell each, under
mteb's metric names, and the quality cells record how many texts reached the model's max tokens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from advisor.cli import cli

DATA = Path(__file__).resolve().parents[2] / "data"


def advisor_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_one_sweep_over_clustering_deduplication_and_reranking(tmp_path):
    store = tmp_path / "runs.db"
    done = advisor_cli("run", "--model", "all-MiniLM-L6-v2", "--no-cost", "--store", str(store),
                       "--dataset", str(DATA / "rt-reviews-by-movie"), "--dataset", str(DATA / "rt-near-duplicates"),
                       "--dataset", str(DATA / "rt-reviews-plots-rerank"))
    assert done.exit_code == 0, done.output
    ranked = advisor_cli("rank", "--store", str(store))
    assert ranked.exit_code == 0, ranked.output
    for text in ("v_measure", "on rt-reviews-by-movie", "cosine_ap", "on rt-near-duplicates", "map_at_1000",
                 "on rt-reviews-plots-rerank"):
        assert text in ranked.output
    with sqlite3.connect(store) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        rows = [r for t in tables for r in db.execute(f"select * from {t}")]
    details = [json.loads(c) for r in rows for c in r if isinstance(c, str) and '"truncation"' in c]
    assert len(details) == 3 and all(d["truncation"]["max_tokens"] == 256 for d in details)
