"""The time estimate before anything runs: ``--dry-run`` prints the expected wall time per candidate and in all, a
run records its estimate beside the time it took, the estimate reads a model's encode rate from the store's timings
(an independent count of the tokens gives the same seconds), finished cells cost nothing, and a budget is read the
same way on the command line and in a policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.config.durations import parse_duration
from advisor.datasets.tasks import load_task
from advisor.models.catalog import load_catalog
from advisor.policy.spec import load_policy
from advisor.sweep.estimate import SPECIAL_TOKENS, TOKENS_PER_WORD, estimate_plan
from advisor.sweep.planner import build_plan
from advisor.sweep.results import CellResult
from advisor.sweep.store import ResultStore

from .conftest import grid_policy, hashing_catalog

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL, LONG = REPO / "data" / "rt-reviews-plots", REPO / "data" / "rt-long-plots"
STATIC = ["--model", "tokenlearn-static-64", "--model", "wordllama-l2-supercat-256"]


def _tokens(task, max_tokens: int) -> float:
    """Words x 1.3 plus two special tokens per distinct text of each set, cut at max tokens: counted here again."""
    total = 0.0
    for ts in task.text_sets().values():
        for text in dict.fromkeys(ts.texts):
            total += min(len(text.split()) * TOKENS_PER_WORD + SPECIAL_TOKENS, max_tokens)
    return total


def test_dry_run_prints_the_expected_wall_time_per_candidate_and_in_all(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--catalog", "offline", *STATIC, "--dataset", str(RETRIEVAL),
                                      "--store", str(tmp_path / "none.sqlite"), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for model in ("tokenlearn-static-64", "wordllama-l2-supercat-256", "bm25"):
        assert any(line.strip().startswith(f"{model}: ~") and "rate from" in line for line in lines), model
    assert any(line.startswith("expected wall time: ~") and "in all" in line for line in lines)
    assert not (tmp_path / "none.sqlite").exists()  # a dry run writes nothing


def test_dry_run_json_gives_the_estimate_per_model_and_its_total(tmp_path):
    result = CliRunner().invoke(cli, ["recommend", "--catalog", "offline", *STATIC, "--dataset", str(RETRIEVAL),
                                      "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "r"),
                                      "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)["estimate"]
    assert set(estimate["per_model"]) == {"tokenlearn-static-64", "wordllama-l2-supercat-256", "bm25"}
    assert estimate["seconds"] == pytest.approx(sum(estimate["per_model"].values()), abs=0.01)
    assert all(v > 0 for v in estimate["per_model"].values())
    assert not (tmp_path / "r").exists() and not (tmp_path / "none.sqlite").exists()


def test_a_run_records_its_estimate_beside_the_time_it_took(tmp_path):
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--catalog", "offline", "--model", "tokenlearn-static-64",
                                      "--dataset", str(RETRIEVAL), "--store", str(store), "--no-cost", "--json"])
    assert result.exit_code == 0, result.output
    run = ResultStore(store).run(json.loads(result.stdout)["run_id"])
    estimate = run["plan"]["estimate"]
    assert set(estimate["per_model"]) == {"tokenlearn-static-64", "bm25"} and estimate["seconds"] > 0
    assert run["summary"]["wall_s"] > 0
    assert set(run["summary"]["group_s"]) == {"tokenlearn-static-64 [cpu/fp32]", "bm25 [cpu/none]"}


def test_the_encode_rate_comes_from_the_stores_timings(tmp_path, hashing_plugin):
    short, long = load_task(RETRIEVAL), load_task(LONG)
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [64]))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full]", precisions="[float32]"))
    done = build_plan(entries, policy, [short], measure_cost=False)
    store = ResultStore(tmp_path / "s.sqlite")
    cell = done.cells[0]
    store.put(CellResult(cell.key, metrics={"ndcg_at_10": 0.5},
                         details={"encode_s": {"queries": 2.0, "corpus": 3.0}, "load_time_s": 1.5}))
    plan = build_plan(entries, policy, [long], measure_cost=False)
    estimate = estimate_plan(plan, [short, long], store)
    (group,) = estimate.groups
    assert group.basis == "store"
    rate = _tokens(short, 512) / 5.0  # the hashing entry states no max tokens: 512
    assert group.encode_s == pytest.approx(_tokens(long, 512) / rate, rel=1e-3)
    assert group.start_s == pytest.approx(1.5 + 4.0)  # the stored load time, after a worker's start


def test_finished_cells_cost_nothing(tmp_path, hashing_plugin):
    task = load_task(RETRIEVAL)
    entries = load_catalog(hashing_catalog(tmp_path / "c.yaml", [64]))
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full]", precisions="[float32]"))
    plan = build_plan(entries, policy, [task], measure_cost=False)
    store = ResultStore(tmp_path / "s.sqlite")
    for cell in plan.cells:
        store.put(CellResult(cell.key, metrics={"ndcg_at_10": 0.5}))
    estimate = estimate_plan(plan, [task], store)
    assert estimate.seconds == 0 and [g.basis for g in estimate.groups] == ["done"]
    assert estimate.done_cells == len(plan.cells)


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("45m", 2700), ("2h", 7200), ("1h30m", 5400),
                                           ("45 min", 2700), ("600", 600), (1200, 1200)])
def test_a_duration_is_read_as_people_write_it(text, seconds):
    assert parse_duration(text) == seconds


def test_a_policy_budget_is_read_like_the_command_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nbudget: 1h30m\n")
    assert load_policy(path).budget_s == 5400


def test_a_bad_policy_budget_is_one_line_naming_the_field(tmp_path):
    from advisor.errors import ConfigError

    path = tmp_path / "p.yaml"
    path.write_text("name: p\nbudget: soon\n")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert "budget" in str(err.value) and "'soon' is not a duration" in str(err.value)


def test_a_bad_budget_option_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--catalog", "offline", "--dataset", str(RETRIEVAL), "--budget",
                                      "tomorrow", "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("advisor: error: --budget tomorrow: 'tomorrow' is not a duration; write 90s, "
                                     "45m, 2h, 1h30m or a number of seconds")
