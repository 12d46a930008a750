"""A racing sweep on the Ray executor (a local Ray instance, started and stopped here): its rounds are ordinary
run specs, so Ray runs them unchanged (the driver cuts each slice and ships it), and the race ends as the same race
on the local executor does."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.inputs import read_inputs
from advisor.sweep.planner import plan_sweep
from advisor.sweep.racing import run_race
from advisor.sweep.store import ResultStore

REPO = Path(__file__).resolve().parents[2]
STATIC = ["tokenlearn-static-64", "wordllama-l2-supercat-256"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from advisor.sweep.executors import start_local_ray

    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "disabled")
        start_local_ray(2)
        try:
            yield ray
        finally:
            ray.shutdown()


def test_ray_runs_a_race_as_the_local_executor_does(tmp_path, local_ray):
    inputs = read_inputs(catalogs=["offline"], datasets=[str(REPO / "data" / "rt-reviews-plots")], models=STATIC)
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    races = {}
    for executor in ("ray", "local"):
        store = ResultStore(tmp_path / f"{executor}.sqlite")
        races[executor] = run_race(plan, inputs.tasks, store, budget_s=None, policy=inputs.policy, finalists=1,
                                   executor=executor)
        assert races[executor].status == "finished"
        assert set(store.compute_counts().values()) == {1}
        runs = [r.run_id for r in races[executor].rounds]
        assert len(runs) >= 2 and all(store.run(run)["executor"] == executor for run in runs)
    assert local_ray.is_initialized()  # the executor used the running instance and left it to its owner
    ray, local = races["ray"], races["local"]
    assert {m: x.text for m, x in ray.exits.items()} == {m: x.text for m, x in local.exits.items()}
    assert ray.finalists == local.finalists
    assert [r.sizes for r in ray.rounds] == [r.sizes for r in local.rounds]
