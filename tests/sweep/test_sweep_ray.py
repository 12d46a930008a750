"""The Ray executor on a local Ray instance (one per module, started and stopped here) gives the same cells as the
local executor (same fingerprints, same figures), with every cell streamed back to the driver and stored once; it
holds leases on the cells its tasks compute (waiting while another live run holds them, taking over dead ones) and
cancels a task whose cells do not finish within the cell timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from advisor.models.catalog import load_catalog
from advisor.sweep.planner import build_plan
from advisor.policy.spec import load_policy
from advisor.sweep.driver import run_plan
from advisor.sweep.store import ResultStore
from advisor.datasets.tasks import load_task

from .conftest import RETRIEVAL, grid_policy, hashing_catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray(hashing_site):
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as env:  # one Ray start per module: it is slow on 2 cores
        env.setenv("RAY_AUTH_MODE", "disabled")
        # Ray's workers inherit this environment: they find the hashing plugin through its entry point
        env.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(hashing_site), os.environ.get("PYTHONPATH"))
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


def one_cell_plan(tmp_path, catalog):
    policy = load_policy(grid_policy(tmp_path / "p.yaml", dims="[full]", precisions="[float32]"))
    return build_plan(load_catalog(catalog), policy, [load_task(RETRIEVAL)], measure_cost=False)


def test_a_hung_ray_task_is_cancelled_at_the_cell_timeout_and_the_sweep_goes_on(tmp_path, hashing_plugin,
                                                                              local_ray, retrieval_dir):
    plan = one_cell_plan(tmp_path, hashing_catalog(tmp_path / "c.yaml", [64], crashy={"hung": "delay: 60"}))
    store = ResultStore(tmp_path / "s.sqlite")
    summary = run_plan(plan, store, executor="ray", executor_options={"cell_timeout": 8})
    assert (summary.status, summary.computed, summary.failed) == ("finished", 2, 1)
    (hung,) = store.results(model="hung")
    # killed at the cell timeout, not waited for: only the timeout fails a cell with "timed out" (left alone, the
    # hung model is just slow); no wall-clock bound, since how long the sweep took says more about the machine's load
    assert hung.status == "failed" and "timed out" in hung.error and "--cell-timeout 8 s" in hung.error
    assert [r.status for r in store.results(model="hash-64")] == ["ok"]
    assert store.leases() == []
    deadline = time.monotonic() + 20  # the cancelled task gave its CPU back: it is not sleeping on
    while local_ray.available_resources().get("CPU", 0) < 2:
        assert time.monotonic() < deadline, local_ray.available_resources()
        time.sleep(0.2)


HOLDER = """
import sys, time
from advisor.sweep.store import ResultStore
claimed, held = ResultStore(sys.argv[1]).claim(sys.argv[2:], "another-run")
assert claimed and not held
print("claimed", flush=True)
time.sleep(3)  # then dies holding its leases, as a killed run would
"""


def test_a_ray_run_waits_for_a_live_lease_takes_over_a_dead_one_and_computes_each_cell_once(
        tmp_path, hashing_plugin, local_ray, retrieval_dir):
    plan = one_cell_plan(tmp_path, hashing_catalog(tmp_path / "c.yaml", [64, 128]))
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    (other,) = [g for g in plan.groups if g.entry.name == "hash-128"]
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), *[c.fingerprint for c in other.cells]],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "claimed"
    events, leased, holder_gone = [], {}, {}

    def watch(event):
        events.append((event.kind, event.group))
        if event.kind == "cell":  # while a task streams, the driver holds its group's leases
            leased[event.group] = {r["fingerprint"]: r["pid"] for r in ResultStore(path).leases()}
            holder_gone[event.group] = holder.poll() is not None

    summary = run_plan(plan, store, executor="ray", on_event=watch)
    holder.wait(timeout=30)
    assert (summary.status, summary.computed, summary.failed) == ("finished", 2, 0)
    assert ("waiting", other.label) in events
    assert holder_gone[other.label]  # its cells were computed only once the live holder was gone
    assert leased[other.label] == {c.fingerprint: os.getpid() for c in other.cells}
    assert [r.status for r in store.results(model="hash-128")] == ["ok"]
    assert set(store.compute_counts().values()) == {1} and store.leases() == []
