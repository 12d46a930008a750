"""``load_server: subprocess``: a cost cell's load figures come from a real ``advisor serve`` of the same model on
127.0.0.1 (started from a ServeSpec file), driven over HTTP by ``advisor loadtest``'s open-loop client; the server is
gone afterwards; a policy that names another load server fails in one line."""

from __future__ import annotations

import os

import pytest

from advisor.cost import CostOptions, measure_cost
from advisor.cost.stability import StabilityRule
from advisor.datasets.tasks import load_task
from advisor.errors import ConfigError, UserError
from advisor.models.backends import LoadOptions, load_encoder
from advisor.models.resolve import resolve_model
from advisor.policy.spec import load_policy

pytest.importorskip("uvicorn", reason="uvicorn is not installed (pip install -e '.[serve]')")
pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[serve]')")

pytestmark = pytest.mark.slow

SMALL = dict(bulk_docs=16, memory=False, load_requests=20,
             stability=StabilityRule(round_samples=10, settle_rounds=2, latency_tolerance=10.0, resamples=100,
                                     bulk_tolerance=10.0))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_subprocess_load_figures_come_from_a_real_server_that_is_stopped_after(repo, minilm_dir):
    """One real advisor serve answers the whole sweep and its points: the sweep finds the rate it keeps up with,
    the points are runs offered exactly 50% and 80% of it, a policy's rate is run too, every run is bounded by its
    request count, and the server is gone afterwards. No timing is asserted."""
    from advisor.figures import LOAD_P95, LOAD_SUSTAINABLE_QPS, load_figure, load_rate_figure

    task = load_task(repo / "data" / "rt-reviews-plots")
    entry, load = resolve_model(str(minilm_dir)), LoadOptions()
    encoder = load_encoder(entry, load)
    try:
        figures = measure_cost(encoder, task, entry=entry, load=load,
                               options=CostOptions(load_server="subprocess", max_batch_size=8, load_rates=(2,),
                                                   **SMALL))
    finally:
        encoder.close()
    test = figures["load_test"]
    assert test["source"] == "advisor serve subprocess", figures["notes"]
    server = test["server"]
    assert server["host"] == "127.0.0.1" and server["max_batch_requests"] == 8
    # the ServeConfig both load tests build: advisor serve's own token budget and queue bound
    assert (server["max_batch_tokens"], server["max_queue"]) == (16384, 512) and "api_key" not in server
    assert _gone(server["pid"])  # stopped and reaped, not left running
    runs = test["sweep"] + list(test["points"].values()) + list(test["rates"].values())
    assert all(run["sent"] == 20 and run["ok"] + run["refused"] + run["failed"] == 20 for run in runs)
    assert 1 <= len(test["sweep"]) <= 8 and figures["load_sweep_runs"] == len(test["sweep"])
    sustainable = test["sustainable_qps"]
    assert sustainable is not None, figures["notes"]  # MiniLM on a CPU keeps up with 1/2 of its batch-1 capacity
    assert figures[LOAD_SUSTAINABLE_QPS] == round(sustainable, 3)
    assert any(run["kept_up"] and run["target_qps"] == round(sustainable, 3) for run in test["sweep"])
    for key, fraction in (("50%", 0.5), ("80%", 0.8)):
        point = test["points"][key]
        assert point["target_qps"] == round(fraction * sustainable, 3)  # offered exactly that share of it
        name = load_figure(fraction, LOAD_P95)
        # a point kept up with is a latency figure; one that was not is a saturation probe, never a figure
        assert (name in figures) == point["kept_up"] == ("p95_ms" in point) != ("saturation_probe" in point)
    assert test["rates"]["2"]["target_qps"] == 2.0 and test["rates_asked"] == [2]
    assert (load_rate_figure(2) in figures) == test["rates"]["2"]["kept_up"]
    for run in test["sweep"]:  # a sweep run past saturation keeps its latency only under the probe's name
        assert ("saturation_probe" in run) == (not run["kept_up"]) == ("p95_ms" not in run)
    assert figures["settings"]["load_server"] == "subprocess"
    assert figures["load_served"] == 1.0 and test["requested"] == "subprocess"  # what the report reads


def test_a_hosted_model_keeps_the_in_process_load_test_and_says_why(repo):
    """A hosted model's load test is of the remote API (through this process's client), not of a local server."""
    from advisor.cost.measure import _not_served

    hosted = resolve_model("openai/text-embedding-3-small", [repo / "advisor/shipped/catalogs" / "hosted.yaml"])
    assert "remote API" in _not_served(hosted)
    assert _not_served(resolve_model("all-MiniLM-L6-v2")) is None


def test_policy_load_server_must_be_one_of_the_two(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("name: p\ncosts:\n  load_server: docker\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert "load_server" in message and "in-process, subprocess" in message and "\n" not in message


def test_policy_load_server_reaches_the_cost_cells(tmp_path, repo):
    from advisor.sweep.planner import build_plan

    path = tmp_path / "policy.yaml"
    path.write_text("name: p\nbaselines: []\ncosts:\n  load_server: subprocess\n", encoding="utf-8")
    policy = load_policy(path)
    plan = build_plan([resolve_model("all-MiniLM-L6-v2")], policy, [load_task(repo / "data" / "rt-reviews-plots")])
    (group,) = plan.groups
    assert policy.costs.load_server == group.load_server == "subprocess"
    assert load_policy(tmp_path / "policy.yaml").costs.load_server == "subprocess"
    assert load_policy(repo / "advisor/shipped/policies" / "default.yaml").costs.load_server == "subprocess"  # the quick start's
    path.write_text("name: p\n", encoding="utf-8")
    assert load_policy(path).costs.load_server == "in-process"  # the default


def test_cost_options_refuse_an_unknown_load_server():
    with pytest.raises(UserError, match="load_server 'docker'"):
        CostOptions(load_server="docker")


def _plan_under(tmp_path, repo, load_server: str):
    from advisor.sweep.planner import build_plan

    path = tmp_path / f"{load_server}.yaml"
    path.write_text(f"name: p\nbaselines: []\ncosts:\n  load_server: {load_server}\n", encoding="utf-8")
    return build_plan([resolve_model("all-MiniLM-L6-v2")], load_policy(path),
                      [load_task(repo / "data" / "rt-reviews-plots")])


def test_a_cost_cell_measured_under_the_other_load_server_is_measured_again(tmp_path, repo):
    """The cost cell's key does not hold the load server, so the sweep compares what the stored cell was asked
    for with what the policy asks for now: an in-process figure is never reused as a served one, nor back; a figure
    of a retired load test (the thread-based simulation, or the saturation probe at 1.5x the batch-1 capacity) is
    reused under neither."""
    from advisor.cost.served import IN_PROCESS, RETIRED_SIMULATION, SOURCE, SWEEP_METHOD
    from advisor.sweep.driver import load_mode_changed
    from advisor.sweep.results import CellResult
    from advisor.sweep.store import ResultStore

    served, inprocess = _plan_under(tmp_path, repo, "subprocess"), _plan_under(tmp_path, repo, "in-process")
    (cost,) = [c for c in inprocess.cells if c.key.kind == "cost"]
    assert cost.fingerprint in {c.fingerprint for c in served.cells}  # the same cell under both policies
    with ResultStore(tmp_path / "results.sqlite") as store:
        def stored(load_test: dict) -> tuple[set, set]:
            store.put(CellResult(cost.key, metrics={"load_sustainable_qps": 5.0}, details={"load_test": load_test}))
            return load_mode_changed(inprocess, store), load_mode_changed(served, store)

        measured_again = {cost.fingerprint}
        sweep = {"method": SWEEP_METHOD}
        assert stored({**sweep, "source": IN_PROCESS, "requested": "in-process"}) == (set(), measured_again)
        assert stored({**sweep, "source": SOURCE, "requested": "subprocess"}) == (measured_again, set())
        # a hosted model or a pair asked for a server but ran in process: what was asked for decides
        assert stored({**sweep, "source": IN_PROCESS, "requested": "subprocess"}) == (measured_again, set())
        # the retired simulation's figures, stamped or from before the stamps, are measured again under either
        assert stored({**sweep, "source": RETIRED_SIMULATION, "requested": "in-process"}) == (measured_again,
                                                                                              measured_again)
        assert stored({}) == (measured_again, measured_again)
        # the saturation probe at 1.5x the batch-1 capacity (no sweep) is measured again under either
        assert stored({"source": SOURCE, "requested": "subprocess"}) == (measured_again, measured_again)
        assert stored({"source": IN_PROCESS, "requested": "in-process"}) == (measured_again, measured_again)
        # a cell measured without a load test has no load figures to mismatch
        store.put(CellResult(cost.key, metrics={}, details={}))
        assert load_mode_changed(served, store) == set()


def test_a_cost_cell_without_p95_at_the_policys_rate_is_measured_again(tmp_path, repo):
    """``limits.max_p95_latency_ms_at_load: {rate_qps: 20, ...}`` needs a run at 20 queries/s: a stored cell whose
    sweep was not asked for that rate is measured again; one that was is reused."""
    from advisor.cost.served import IN_PROCESS, SWEEP_METHOD
    from advisor.sweep.driver import load_mode_changed
    from advisor.sweep.planner import build_plan
    from advisor.sweep.results import CellResult
    from advisor.sweep.store import ResultStore

    path = tmp_path / "rate.yaml"
    path.write_text("name: p\nbaselines: []\nlimits:\n  max_p95_latency_ms_at_load: {rate_qps: 20, ms: 200}\n",
                    encoding="utf-8")
    plan = build_plan([resolve_model("all-MiniLM-L6-v2")], load_policy(path),
                      [load_task(repo / "data" / "rt-reviews-plots")])
    assert [g.load_rates for g in plan.groups] == [(20,)]
    (cost,) = [c for c in plan.cells if c.key.kind == "cost"]
    with ResultStore(tmp_path / "results.sqlite") as store:
        def stored(rates: list[int]) -> set:
            store.put(CellResult(cost.key, metrics={"load_sustainable_qps": 5.0},
                                 details={"load_test": {"method": SWEEP_METHOD, "source": IN_PROCESS,
                                                        "requested": "in-process", "rates_asked": rates}}))
            return load_mode_changed(plan, store)

        assert stored([]) == {cost.fingerprint}
        assert stored([10]) == {cost.fingerprint}
        assert stored([10, 20]) == set()
