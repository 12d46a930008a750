"""The Ray executor on a local Ray instance gives the same cells as the local executor (same fingerprints, same
figures), with every cell streamed back to the driver and stored once."""

from __future__ import annotations

import os

import pytest

from advisor.models.catalog import load_catalog
from advisor.sweep.planner import build_plan
from advisor.policy.spec import load_policy
from advisor.sweep.driver import run_plan
from advisor.sweep.store import ResultStore
from advisor.datasets.tasks import load_task

from .conftest import grid_policy, hashing_catalog

pytestmark = pytest.mark.slow


@pytest.fixture
def local_ray(hashing_site, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    # Ray's workers inherit this environment: they find the hashing plugin through its entry point
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(hashing_site), os.environ.get("PYTHONPATH"))
                                                     if p))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_sweep_equals_local_sweep(tmp_path, hashing_plugin, local_ray, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "c.yaml", [128, 256], crashy={"corrupt": "mode: raise"})
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full, 64]"))
    plan = build_plan(load_catalog(catalog), policy, [load_task(retrieval_dir)], measure_cost=False)
    total = len(plan.cells)

    local = ResultStore(tmp_path / "local.sqlite")
    summary_local = run_plan(plan, local, executor="local")
    remote = ResultStore(tmp_path / "ray.sqlite")
    summary_ray = run_plan(plan, remote, executor="ray")
    assert local_ray.is_initialized()  # the executor used the running instance and left it to its owner

    assert summary_ray.status == summary_local.status == "finished"
    assert summary_ray.computed == summary_local.computed == total
    assert summary_ray.failed == summary_local.failed == 6
    a = {r.fingerprint: r for r in local.results()}
    b = {r.fingerprint: r for r in remote.results()}
    assert set(a) == set(b) == {c.fingerprint for c in plan.cells}
    for fp, cell in a.items():
        assert b[fp].status == cell.status
        assert b[fp].metrics == cell.metrics
        if cell.status == "ok":
            assert b[fp].details["per_item"] == cell.details["per_item"]
        else:
            assert "weights file is corrupt" in b[fp].error
    assert set(remote.compute_counts().values()) == {1}
    assert remote.run(summary_ray.run_id)["executor"] == "ray"
    # resuming on Ray computes nothing that finished; only the failed cells are tried again
    again = run_plan(plan, remote, executor="ray")
    assert (again.already_done, again.computed, again.failed) == (total - 6, 6, 6)
