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
    task = load_task(repo / "data" / "rt-reviews-plots")
    entry, load = resolve_model(str(minilm_dir)), LoadOptions()
    encoder = load_encoder(entry, load)
    try:
        figures = measure_cost(encoder, task, entry=entry, load=load,
                               options=CostOptions(load_server="subprocess", max_batch_size=8, **SMALL))
    finally:
        encoder.close()
    test = figures["load_test"]
    assert test["source"] == "advisor serve subprocess", figures["notes"]
    for label, max_batch in (("batched", 8), ("unbatched", 1)):
        run = test[label]
        assert run["ok"] == run["sent"] == 20 and run["rejected"] == run["errors"] == run["timed_out"] == 0
        assert run["server"]["host"] == "127.0.0.1" and run["server"]["max_batch_requests"] == max_batch
        # the ServeConfig both load tests build: advisor serve's own token budget and queue bound
        assert (run["server"]["max_batch_tokens"], run["server"]["max_queue"]) == (16384, 512)
        assert "api_key" not in run["server"]
        assert _gone(run["server"]["pid"])  # stopped and reaped, not left running
        assert figures[f"load_{label}_qps"] == pytest.approx(run["achieved_qps"], abs=1e-3) and run["achieved_qps"] > 0
        assert figures[f"load_{label}_p50_ms"] <= figures[f"load_{label}_p95_ms"]
    # the server's own /metrics: one text per batch when it may batch only one request
    assert figures["load_unbatched_mean_batch"] == 1.0 and figures["load_batched_mean_batch"] >= 1.0
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
    of the retired thread-based simulation is reused under neither."""
    from advisor.cost.served import IN_PROCESS, RETIRED_SIMULATION, SOURCE
    from advisor.sweep.driver import load_mode_changed
    from advisor.sweep.results import CellResult
    from advisor.sweep.store import ResultStore

    served, inprocess = _plan_under(tmp_path, repo, "subprocess"), _plan_under(tmp_path, repo, "in-process")
    (cost,) = [c for c in inprocess.cells if c.key.kind == "cost"]
    assert cost.fingerprint in {c.fingerprint for c in served.cells}  # the same cell under both policies
    with ResultStore(tmp_path / "results.sqlite") as store:
        def stored(load_test: dict) -> tuple[set, set]:
            store.put(CellResult(cost.key, metrics={"load_batched_p95_ms": 5.0}, details={"load_test": load_test}))
            return load_mode_changed(inprocess, store), load_mode_changed(served, store)

        measured_again = {cost.fingerprint}
        assert stored({"source": IN_PROCESS, "requested": "in-process"}) == (set(), measured_again)
        assert stored({"source": SOURCE, "requested": "subprocess"}) == (measured_again, set())
        # a hosted model or a pair asked for a server but ran in process: what was asked for decides
        assert stored({"source": IN_PROCESS, "requested": "subprocess"}) == (measured_again, set())
        # the retired simulation's figures, stamped or from before the stamps, are measured again under either
        assert stored({"source": RETIRED_SIMULATION, "requested": "in-process"}) == (measured_again, measured_again)
        assert stored({}) == (measured_again, measured_again)
        # a cell measured without a load test has no load figures to mismatch
        store.put(CellResult(cost.key, metrics={}, details={}))
        assert load_mode_changed(served, store) == set()
