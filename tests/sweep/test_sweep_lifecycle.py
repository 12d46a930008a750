"""Sweeps under kill, concurrency and hangs, as a user meets them: a SIGKILLed ``advisor run`` leaves no worker
alive and its run marked interrupted; two runs on one store compute every cell once; a hung or crashing model
becomes failed cells and the sweep goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from advisor.sweep.store import ResultStore

from .conftest import grid_policy, hashing_catalog
from .test_sweep_resume import advisor_command, ok_cells

psutil = pytest.importorskip("psutil", reason="the no-orphan checks read the process table with psutil")
pytestmark = pytest.mark.slow


def slow_catalog(path: Path, names: list[str], delay: float) -> Path:
    return hashing_catalog(path, [], crashy={name: f"delay: {delay}" for name in names})


def test_sigkilled_driver_leaves_no_worker_and_resumes_without_recomputing(tmp_path, sweep_env, retrieval_dir):
    catalog = slow_catalog(tmp_path / "catalog.yaml", ["slow-a", "slow-b"], delay=0.4)
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 32]", precisions="[float32, int8]")
    store = tmp_path / "s.sqlite"
    command = advisor_command(catalog, policy, retrieval_dir, store)
    driver = subprocess.Popen(command, env=sweep_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while ok_cells(store) < 1:  # mid-group: the first cell of a model is stored, the others are not
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)
    workers = psutil.Process(driver.pid).children(recursive=True)
    assert workers, "the driver had no worker process"
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"workers outlived their driver: {[p.pid for p in alive]}"

    done = subprocess.run(command, env=sweep_env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    with ResultStore(store) as results:
        assert set(results.compute_counts().values()) == {1}
        assert all(r.status == "ok" for r in results.results())
        statuses = [r["status"] for r in results.runs()]  # newest first
        assert statuses == ["finished", "interrupted"]
        assert results.leases() == []


def test_two_runs_at_once_on_one_store_compute_every_cell_once(tmp_path, sweep_env, retrieval_dir):
    catalog = slow_catalog(tmp_path / "catalog.yaml", ["slow-a", "slow-b", "slow-c"], delay=0.1)
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 32]", precisions="[float32, int8]")
    store = tmp_path / "s.sqlite"
    command = advisor_command(catalog, policy, retrieval_dir, store)
    runs = [subprocess.Popen(command, env=sweep_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    with ResultStore(store) as results:
        counts = results.compute_counts()
        assert len(counts) == 3 * 4 and set(counts.values()) == {1}
        assert sum(json.loads(out)["computed"] for out, _ in outputs) == 3 * 4


@pytest.mark.parametrize("given_by", ["cli", "policy"])
def test_a_hung_model_is_killed_at_the_cell_timeout_and_the_sweep_goes_on(tmp_path, sweep_env, retrieval_dir,
                                                                          given_by):
    catalog = hashing_catalog(tmp_path / "catalog.yaml", [64], crashy={"hung": "delay: 60"})
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full]", precisions="[float32]",
                         extra="cell_timeout: 10\n" if given_by == "policy" else "")
    store = tmp_path / "s.sqlite"
    flags = ["--cell-timeout", "10"] if given_by == "cli" else []  # 10 s: a loaded 2-core machine takes 4 s
    done = subprocess.run(advisor_command(catalog, policy, retrieval_dir, store) + flags,
                          env=sweep_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    with ResultStore(store) as results:
        (hung,) = results.results(model="hung")
        # killed at the cell timeout, not waited for: only the timeout fails a cell with "timed out" (left alone,
        # the hung model is just slow); no wall-clock bound, since the sweep's duration says more about the load
        assert hung.status == "failed" and "timed out" in hung.error
        assert [r.status for r in results.results(model="hash-64")] == ["ok"]


def test_a_segfaulting_backend_becomes_a_failed_cell(tmp_path, sweep_env, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "catalog.yaml", [64], crashy={"native-crash": "mode: segfault"})
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full]", precisions="[float32]")
    store = tmp_path / "s.sqlite"
    done = subprocess.run(advisor_command(catalog, policy, retrieval_dir, store), env=sweep_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    with ResultStore(store) as results:
        (crashed,) = results.results(model="native-crash")
        assert crashed.status == "failed" and "SIGSEGV" in crashed.error
        assert [r.status for r in results.results(model="hash-64")] == ["ok"]


def _run_with_driver(store: ResultStore, pid: int, started: float | None) -> str:
    run_id = store.start_run({}, cells=[])
    with store._write() as conn:
        conn.execute("UPDATE runs SET pid = ?, pid_started = ? WHERE run_id = ?", (pid, started, run_id))
    return run_id


def test_a_run_whose_driver_pid_was_recycled_is_marked_interrupted_on_open(tmp_path):
    from advisor.sweep.store import process_started

    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        recycled = _run_with_driver(store, os.getpid(), process_started() - 3600)  # same pid, another process
        alive = _run_with_driver(store, os.getpid(), process_started())
    with ResultStore(path) as store:
        status = {r["run_id"]: r["status"] for r in store.runs()}
    assert status == {recycled: "interrupted", alive: "running"}


def test_a_live_lease_holds_its_cells_and_a_dead_one_is_taken_over(tmp_path):
    from advisor.sweep.store import process_started

    other = subprocess.Popen(["sleep", "30"])
    try:
        with ResultStore(tmp_path / "s.sqlite") as store:
            with store._write() as conn:
                for fp, pid in (("held", other.pid), ("orphaned", 2 ** 22 + 7)):
                    conn.execute("INSERT INTO leases VALUES (?, 'r', ?, ?, ?, 0, 0)",
                                 (fp, pid, __import__("socket").gethostname(), process_started(other.pid)))
            assert store.claim(["held", "orphaned"]) == ([], ["held"])
            assert store.claim(["orphaned", "free"]) == (["orphaned", "free"], [])
            assert {r["fingerprint"]: r["pid"] for r in store.leases()}["orphaned"] == os.getpid()
    finally:
        other.kill()
        other.wait()
