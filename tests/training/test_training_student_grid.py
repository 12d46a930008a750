"""``advisor distill --student-grid``: every student of the grid distilled from all-MiniLM-L6-v2 with the same tiny
budget, each evaluated on the same held-out split, all in one catalog; running it again trains nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.errors import UserError
from advisor.models.catalog import load_catalog
from advisor.training.grid import parse_student_grid

pytestmark = pytest.mark.slow

GRID = "layers=1,2 width=32 heads=2,3"


def test_grid_is_the_product_without_impossible_students(tmp_path):
    students, notes = parse_student_grid(GRID)
    assert [(s.layers, s.width, s.heads) for s in students] == [(1, 32, 2), (2, 32, 2)]
    assert len(notes) == 2 and "not divisible" in notes[0]
    file = tmp_path / "grid.yaml"
    file.write_text("layers: [2, 3]\nwidth: 64\nheads: [4]\n")
    assert [s.layers for s in parse_student_grid(str(file))[0]] == [2, 3]
    with pytest.raises(UserError, match="needs a 'layers' axis"):
        parse_student_grid("width=64 heads=4")


def _run(out, repo, *extra):
    from advisor.cli import cli

    args = ["distill", "--teacher", "all-MiniLM-L6-v2", "--student-grid", GRID, "--loss", "score",
            "--dataset", str(repo / "data" / "rt-reviews-plots"), "--out", str(out), "--max-pairs", "16",
            "--batch-size", "8", "--max-steps", "2", "--max-seq-length", "32", "--device", "cpu", "--json", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])


@pytest.fixture(scope="module")
def grid(tmp_path_factory, repo, minilm_dir):
    out = tmp_path_factory.mktemp("grid") / "grid"
    return out, _run(out, repo)


def test_student_grid_distills_each_student_with_the_same_budget(grid):
    out, report = grid
    rows = report["students"]
    assert [r["student"] for r in rows] == ["layers=1,width=32,heads=2", "layers=2,width=32,heads=2"]
    assert all(not r["reused"] and r["steps"] == 2 for r in rows)
    assert all({q["reference"] for q in r["quality"]} == {"student before training", "teacher"} for r in rows)
    assert rows[0]["parameters"] < rows[1]["parameters"]
    entries = load_catalog(out / "catalog.yaml")
    assert [e.name for e in entries] == [r["trained"] for r in rows]
    assert all((out / "students" / e.source.split("/students/")[1]).is_dir() for e in entries)


def test_running_the_grid_again_trains_nothing_and_benchmarks_into_the_store(grid, repo, tmp_path):
    from advisor.sweep.store import ResultStore

    out, first = grid
    weights = sorted((out / "students").rglob("model/*.safetensors"))
    stamps = [w.stat().st_mtime_ns for w in weights]
    store = tmp_path / "results.sqlite"
    again = _run(out, repo, "--benchmark", "--no-cost", "--store", str(store))
    assert all(r["reused"] for r in again["students"])
    assert [w.stat().st_mtime_ns for w in weights] == stamps  # nothing trained twice
    assert again["sweep"]["status"] == "finished" and again["sweep"]["failed"] == 0
    results = ResultStore(store)
    for name in ["all-MiniLM-L6-v2", *(r["trained"] for r in first["students"])]:
        cells = results.results(model=name)
        assert cells and all(c.status == "ok" and c.key.kind == "quality" for c in cells), name
