"""Defaults follow the model: every offline catalog model evaluates and measures with no weight or runtime flags,
at the weights it ships with (ONNX int8, the packaged int4 engine) or fp32 for a convertible model."""

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


def _installed(entry) -> bool:
    try:
        resolve_source(entry.source)
    except UserError:
        return False
    return True


def _advisor(*args: str, repo) -> dict:
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", *args, "--json"], capture_output=True, text=True,
                          timeout=900, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-1500:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_offline_model_evaluates_and_measures_with_default_options(entry, repo):
    if not _installed(entry):
        pytest.skip(f"{entry.name}: its package is not installed")
    dataset = str(repo / "data" / "pang-lee-polarity")
    evaluated = _advisor("evaluate", "--model", entry.name, "--dataset", dataset, "--resamples", "0", repo=repo)
    expected = entry.weight_precision or "fp32"
    assert evaluated["results"][0]["variant"]["weight_precision"] == expected
    measured = _advisor("measure", "--model", entry.name, "--dataset", dataset, "--docs", "8", "--queries", "5",
                        "--no-load", "--no-memory", repo=repo)
    assert measured["weight_precision"] == expected
    assert measured["results"][0]["figures"]["docs_per_s"] > 0
