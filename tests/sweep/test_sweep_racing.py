"""A racing sweep on real models (the offline catalog's static and small models) over the shipped retrieval task: a
clearly worse candidate leaves after round 1 with its slice figure, interval and the leader's, and the report says so
in those words; the finalists' full measurement keeps the full sweep's decision; a race stopped by its budget after
round 1 continues from the store with a larger one (no cell computed twice); a hard limit broken beyond a quick
probe's figure removes a candidate; candidates whose weights are not on this machine are listed with the command
that fetches them and the race goes on without them. No timing is asserted: the budget logic runs on an injected
estimator and clock."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.datasets.tasks import load_task
from advisor.inputs import read_inputs
from advisor.pipeline import plan_results, rank_results, recommend
from advisor.ranking import rank
from advisor.sweep.estimate import Estimate, GroupEstimate
from advisor.sweep.planner import TaskRef, plan_sweep
from advisor.sweep.racing import BASELINE, race_cell, run_race, slice_of, slice_sizes
from advisor.sweep.store import ResultStore

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL = REPO / "data" / "rt-reviews-plots"
SMALL = ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8", "tokenlearn-static-64", "wordllama-l2-supercat-256"]
STATIC = ["tokenlearn-static-64", "wordllama-l2-supercat-256"]

pytestmark = pytest.mark.slow


def _inputs(models, policy=None):
    return read_inputs(catalogs=["offline"], policy=policy, datasets=[str(RETRIEVAL)], models=models)


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    """``recommend`` with a budget over four small models (four candidates race; the last three go to the final),
    quality only, into a fresh store: the report and the store it leaves."""
    root = tmp_path_factory.mktemp("race")
    inputs = _inputs(SMALL)
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    store = ResultStore(root / "s.sqlite")
    paths, summary = recommend(plan, store, inputs.catalog, inputs.policy, root / "report", tasks=inputs.tasks,
                               budget_s=3600.0, formats=["markdown", "html", "json"])
    report = json.loads(paths["json"].read_text(encoding="utf-8"))
    return {"inputs": inputs, "plan": plan, "store": store, "paths": paths, "summary": summary,
            "race": report["meta"]["race"], "report": report}


def test_the_schedule_depends_on_the_task_only():
    assert slice_sizes(240) == [60, 120]
    assert slice_sizes(1000) == [60, 120, 240, 480]
    assert slice_sizes(119) == [] and slice_sizes(50) == []  # under two first slices: the final at once


def test_a_worker_cuts_the_same_slice_from_its_ref():
    task = load_task(RETRIEVAL)
    sliced, ref = slice_of(task, TaskRef.of(task), 60)
    again = ref.load()
    assert (again.name, again.content_hash) == (sliced.name, sliced.content_hash) == (ref.name, ref.content_hash)
    assert len(again.data.queries) == 60 and sliced.content_hash != task.content_hash
    judged = {d for docs in sliced.data.qrels.values() for d in docs}
    assert judged <= set(sliced.data.corpus)  # every judged document of a kept query is searched
    assert len(sliced.data.corpus) == max(len(judged), -(-len(task.data.corpus) * 60 // 240))


def test_a_clearly_worse_candidate_leaves_after_round_one_with_its_slice_figure(raced):
    out = raced["race"]["exits"]["tokenlearn-static-64"]
    assert (out["round"], out["reason"], out["n_units"], out["unit"]) == (1, "quality", 60, "query")
    assert out["leader"] in ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-int8")
    # the figure is the stored round-1 cell's: the mean of its 60 per-query scores on the slice
    store = raced["store"]
    (cell,) = [r for r in store.results(model="tokenlearn-static-64", kind="quality")
               if r.key.task == "rt-reviews-plots[:60]"]
    assert len(cell.details["per_item"]) == 60
    assert out["value"] == pytest.approx(sum(cell.details["per_item"]) / 60)
    assert out["ci_low"] < out["value"] < out["ci_high"]
    assert out["difference_ci"][1] < 0  # the whole paired difference below zero: worse beyond noise
    assert "tokenlearn-static-64" not in raced["race"]["finalists"]
    assert {"all-MiniLM-L6-v2", BASELINE} <= set(raced["race"]["finalists"])


def test_the_report_names_the_round_and_the_interval_that_ended_it(raced):
    text = raced["paths"]["markdown"].read_text(encoding="utf-8")
    assert "## The race: who left, when and why" in text
    row = next(line for line in text.splitlines() if line.startswith("| tokenlearn-static-64 |"))
    assert re.search(r"left after round 1: nDCG@10 0\.\d{4} \(95% CI 0\.\d{4} to 0\.\d{4}\) vs leader "
                     r"all-MiniLM-L6-v2(-onnx-int8)? 0\.\d{4} on 60 queries of rt-reviews-plots", row), row
    assert "Round 2 (final): 3 candidate(s) measured in full (every variant, every cost figure)" in text
    assert re.search(r"^Time: estimated \S+ \S+ before the run, took \S+ \S+", text, re.M)
    html = raced["paths"]["html"].read_text(encoding="utf-8")
    assert "left after round 1: nDCG@10" in html and 'id="race"' in html
    # a candidate that left is not listed as 'not run yet'
    assert not any(line.startswith("Admitted by the policy but not in these results") and "tokenlearn" in line
                   for line in text.splitlines())


def test_the_race_is_recorded_with_the_final_run(raced):
    run = raced["store"].run(raced["summary"].run_id)
    assert run["plan"]["race"]["exits"]["tokenlearn-static-64"]["round"] == 1
    assert run["plan"]["estimate"]["seconds"] > 0 and run["summary"]["wall_s"] > 0


def test_report_of_the_final_run_shows_the_race_and_the_time_from_the_store(raced, tmp_path):
    result = CliRunner().invoke(cli, ["report", "--store", str(raced["store"].path), "--run",
                                      raced["summary"].run_id, "--catalog", "offline", "--out", str(tmp_path),
                                      "--format", "markdown"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| tokenlearn-static-64 | 1 | left after round 1: nDCG@10" in text
    assert re.search(r"Round 2 \(final\): 3 candidate\(s\) measured in full .*; estimated \S+ \S+, took \S+ \S+\.",
                     text)
    assert re.search(r"^Time: estimated \S+ \S+ before the run, took \S+ \S+ \(per model load", text, re.M)


def test_slice_cells_never_mix_with_the_whole_tasks(raced):
    store = raced["store"]
    full = load_task(RETRIEVAL)
    slices = [r for r in store.results() if race_cell(r.key)]
    assert slices and all(r.key.task_hash != full.content_hash for r in slices)
    ranked = rank_results(store, raced["inputs"].catalog, raced["inputs"].policy)
    assert [t.name for t in ranked.recommendation.tasks] == ["rt-reviews-plots"]


def test_the_race_keeps_the_full_sweeps_decision(raced):
    """The full sweep over the same candidates (into the same store: the finalists' cells are reused) recommends
    the race's recommendation, or one tied with it within the bootstrap noise."""
    from advisor.sweep.driver import run_plan

    inputs, store, plan = raced["inputs"], raced["store"], raced["plan"]
    run_plan(plan, store)
    full = rank(plan_results(store, plan), inputs.catalog, inputs.policy).recommended
    race = raced["report"]["groups"][0]["candidates"][0]
    assert race["status"] == "recommended"
    assert full.label == race["label"] or race["label"] in full.tied_with, (full.label, full.tied_with, race)


def _estimator(store, seconds: float = 10.0):
    """Ten 'seconds' for each group with a cell not yet in the store: an estimate independent of any clock."""
    def estimate(plan):
        pending = [g for g in plan.groups if any(not store.has(c.fingerprint, ok_only=False) for c in g.cells)]
        return Estimate([GroupEstimate(g.label, g.entry.name, seconds) for g in pending])
    return estimate


class _Clock:
    """Ten 'seconds' for each model load that computed something: the race's clock without wall time."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self) -> float:
        return 10.0 * self.loads

    def on_event(self, event) -> None:
        if event.kind == "start" and event.total:
            self.loads += 1


def test_a_race_stopped_by_its_budget_after_round_one_continues_with_a_larger_one(tmp_path):
    inputs = _inputs(STATIC)
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    store = ResultStore(tmp_path / "s.sqlite")
    clock = _Clock()
    first = run_race(plan, inputs.tasks, store, budget_s=30.0, policy=inputs.policy, finalists=1,
                     estimator=_estimator(store), clock=clock, on_event=clock.on_event)
    assert first.status == "stopped" and first.final_plan is None
    assert [r.number for r in first.rounds] == [1] and first.rounds[0].computed == 3  # two models and BM25
    assert "--budget" in first.stopped
    round_1 = {r.fingerprint for r in store.results() if r.key.task == "rt-reviews-plots[:60]"}
    assert len(round_1) == 3

    clock = _Clock()
    second = run_race(plan, inputs.tasks, store, budget_s=1000.0, policy=inputs.policy, finalists=1,
                      estimator=_estimator(store), clock=clock, on_event=clock.on_event)
    assert second.status == "finished" and second.final_plan is not None
    assert second.rounds[0].replayed and second.rounds[0].computed == 0
    assert {m: x.text for m, x in first.exits.items()} == {m: x.text for m, x in second.exits.items()
                                                           if x.round == 1}
    assert set(store.compute_counts().values()) == {1}  # no cell, of any round, computed twice
    assert all(store.compute_counts()[fp] == 1 for fp in round_1)


def test_a_limit_broken_beyond_the_probe_removes_a_candidate(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("name: tight\nlimits:\n  max_peak_memory_mb: 1\n")  # no serving process fits in 1 MB
    inputs = _inputs(STATIC, str(policy))
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    store = ResultStore(tmp_path / "s.sqlite")
    race = run_race(plan, inputs.tasks, store, budget_s=None, policy=inputs.policy, finalists=1)
    for model in STATIC:
        out = race.exits[model]
        assert (out.round, out.reason) == (1, "limit")
        assert "over the limit of 1 MB" in out.text and "quick cost probe on 60 queries of rt-reviews-plots" in \
            out.text
    (probe, *_), = [[r for r in store.results(model=m, kind="cost")] for m in STATIC[:1]]
    assert (probe.key.options, probe.key.task) == ("probe:memory", "rt-reviews-plots[:60]")
    assert race.finalists == [BASELINE]


def test_missing_weights_are_listed_with_the_fetch_command_and_the_race_goes_on(tmp_path):
    catalog = tmp_path / "c.yaml"
    catalog.write_text("models:\n  - name: not-here\n    source: hub:example-org/not-cached-model\n"
                       "    backend: torch\n    embed_dim: 384\n    license: MIT\n    languages: [eng-Latn]\n")
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--catalog", "offline", "--catalog", str(catalog), "--model",
                                      "not-here", "--model", "tokenlearn-static-64", "--dataset", str(RETRIEVAL),
                                      "--store", str(store), "--no-cost", "--budget", "1h"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("not-here: not raced:"))
    assert "example-org/not-cached-model" in line and "download example-org/not-cached-model" in line
    assert "finalists: tokenlearn-static-64, bm25" in result.stdout
    assert {r.key.model for r in ResultStore(store).results()} == {"tokenlearn-static-64", BASELINE}


def test_dry_run_with_a_budget_says_what_round_one_runs(tmp_path):
    args = ["run", "--catalog", "offline", *[x for m in SMALL for x in ("--model", m)], "--dataset", str(RETRIEVAL),
            "--store", str(tmp_path / "none.sqlite"), "--dry-run", "--budget", "20m"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"racing sweep under a budget of 20(\.0)? min: round 1 runs 5 candidate\(s\) on the first 60 of "
                     r"rt-reviews-plots, ~\S+ \S+ by the estimate", result.stdout), result.stdout
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)
    assert data["race"]["round_1"]["sizes"] == {"rt-reviews-plots": 60}
    assert data["race"]["round_1"]["candidates"] == 5


def test_a_budget_too_small_for_round_one_writes_no_report_and_says_what_it_needs(tmp_path):
    result = CliRunner().invoke(cli, ["recommend", "--catalog", "offline", *[x for m in SMALL for x in ("--model", m)],
                                      "--dataset", str(RETRIEVAL), "--store", str(tmp_path / "s.sqlite"), "--out",
                                      str(tmp_path / "report"), "--budget", "1s"])
    assert result.exit_code == 3, result.output
    assert re.search(r"race stopped: round 1 needs ~\S+ \S+ by the estimate and \S+ \S+ of the 1(\.00)? s budget is "
                     r"left; .* run the same command with a larger --budget \(at least ~\S+ \S+\)", result.stderr)
    assert "no report written" in result.stderr and not (tmp_path / "report").exists()
    assert ResultStore(tmp_path / "s.sqlite").results() == []  # nothing ran


def test_the_mteb_registry_races_without_the_models_this_machine_lacks(tmp_path):
    pytest.importorskip("mteb")
    result = CliRunner().invoke(cli, ["run", "--catalog", "mteb", "--policy", "commercial-english-rag-cpu",
                                      "--dataset", str(RETRIEVAL), "--store", str(tmp_path / "none.sqlite"),
                                      "--budget", "2h", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    admitted = {g["model"] for g in data["groups"]} - {BASELINE}
    missing = {m["model"]: m["message"] for m in data["missing"]}
    assert len(admitted) > 50 and set(missing) <= admitted and missing  # the network is off: weights are absent
    assert all(f"download {model}" in message for model, message in missing.items())
    assert data["race"]["round_1"] is None or data["race"]["round_1"]["candidates"] == len(admitted - set(missing)) + 1
