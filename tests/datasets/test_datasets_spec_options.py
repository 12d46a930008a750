"""Dataset options after ``#`` (``advisor.datasets.spec``): how a spec is split, how ``--pseudo-queries`` and
``--columns`` are written onto it, and that a sweep's worker, reading the spec again from another working folder,
reads the same task (``TaskRef``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.datasets.spec import DatasetSpec, PseudoQueries, absolute_spec, parse_spec, with_options
from advisor.datasets.tasks import load_task
from advisor.errors import UserError

DATA = Path(__file__).resolve().parents[2] / "data" / "rt-reviews-plots"


@pytest.fixture()
def plots(tmp_path) -> Path:
    path = tmp_path / "plots.jsonl"
    rows = [json.loads(x) for x in (DATA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({"id": r["_id"], "text": r["text"]}) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_spec_splits_into_its_data_and_its_options():
    spec = parse_spec("notes#pseudo-queries=20, seed=4,query=Frage")
    assert spec == DatasetSpec("notes", PseudoQueries(count=20, seed=4), {"query": "Frage"})
    assert spec.text() == "notes#pseudo-queries=20,span=12,seed=4,mask=0.25,query=Frage"
    assert parse_spec("hf:org/name:cfg@test#text=body").base == "hf:org/name:cfg@test"
    assert parse_spec("mteb:STSBenchmark") == DatasetSpec("mteb:STSBenchmark")


def test_an_existing_path_with_a_hash_in_its_name_is_a_path(tmp_path):
    odd = tmp_path / "notes#2"
    odd.mkdir()
    assert parse_spec(str(odd)) == DatasetSpec(str(odd))


def test_the_command_line_options_are_written_onto_each_spec():
    assert with_options("notes", "30,span=8", None) == "notes#pseudo-queries=30,span=8,seed=0,mask=0.25"
    assert with_options("qa.csv#query=q", None, "positive=a") == "qa.csv#positive=a,query=q"
    assert with_options("notes#pseudo-queries=30", "30", None) == "notes#pseudo-queries=30,span=12,seed=0,mask=0.25"
    with pytest.raises(UserError, match="--pseudo-queries says"):
        with_options("notes#pseudo-queries=30", "40", None)
    with pytest.raises(UserError, match="reads query from 'q' and --columns says 'x'"):
        with_options("qa.csv#query=q", None, "query=x")


@pytest.mark.parametrize("bad, message", [
    ("notes#pseudo-queries=0", "give the number of queries to build"),
    ("notes#pseudo-queries=5,mask=0.6", "mask=0.6: removes 0 to 0.4"),
    ("notes#seed=3", "add pseudo-queries=N"),
    ("notes#query", "needs a value"),
    ("notes#query=a,positive=a", "the column 'a' is read as two fields"),
    ("notes#pseudo-queries=5,pseudo-queries=6", "given twice"),
    ("#pseudo-queries=5", "options without a dataset"),
])
def test_a_bad_option_is_one_line_naming_it(bad, message):
    with pytest.raises(UserError, match=message) as info:
        parse_spec(bad)
    assert "\n" not in str(info.value) and str(info.value).startswith(bad)


def test_a_sweep_worker_reads_the_same_task_from_another_working_folder(plots, monkeypatch):
    from advisor.sweep.planner import TaskRef

    monkeypatch.chdir(plots.parent)
    task = load_task(f"{plots.name}#pseudo-queries=25,seed=9")
    ref = TaskRef.of(task, f"{plots.name}#pseudo-queries=25,seed=9")
    assert ref.spec == f"{plots}#pseudo-queries=25,span=12,seed=9,mask=0.25" and ref.source == "documents"
    monkeypatch.chdir(Path(__file__).parent)
    again = ref.load()
    assert (again.content_hash, again.meta["synthetic"]) == (task.content_hash, task.meta["synthetic"])


def test_absolute_spec_leaves_names_alone():
    assert absolute_spec("hf:org/name#query=q") == "hf:org/name#query=q"
    assert absolute_spec("mteb:STSBenchmark") == "mteb:STSBenchmark"
