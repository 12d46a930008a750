"""A real ``advisor run`` interrupted twice (Ctrl-C, then SIGKILL) part-way and resumed: same results as an
uninterrupted sweep, no finished cell computed twice, finished cells kept, and an intact database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from advisor.sweep.store import ResultStore

from .conftest import grid_policy, hashing_catalog

pytestmark = pytest.mark.slow
DIMS = [64, 96, 128, 160, 192, 224]   # six models: six worker processes, one after another
CELLS_PER_MODEL = 2 * 3               # dims [full, 32] x vector precisions [float32, int8, binary]


def advisor_command(catalog: Path, policy: Path, dataset: Path, store: Path) -> list[str]:
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    return base + ["run", "--catalog", str(catalog), "--policy", str(policy), "--dataset", str(dataset),
                   "--store", str(store), "--no-cost", "--json"]


def ok_cells(store: Path) -> int:
    if not store.exists():
        return 0
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM cells WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        conn.close()


def interrupt_after(command: list[str], store: Path, env: dict, at_least: int, sig: int) -> tuple[int, int]:
    """Start the sweep, wait until ``at_least`` cells are stored, send ``sig``; returns (exit code, cells kept)."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while ok_cells(store) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)
    kept = ok_cells(store)
    time.sleep(1.5)  # a worker left behind would still be writing
    assert ok_cells(store) == kept, "a worker outlived its sweep"
    return proc.returncode, kept


def test_interrupted_sweep_resumes_to_the_same_results(tmp_path, sweep_env, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "catalog.yaml", DIMS)
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 32]")
    total = len(DIMS) * CELLS_PER_MODEL
    store = tmp_path / "resumed.sqlite"
    command = advisor_command(catalog, policy, retrieval_dir, store)

    code, after_ctrl_c = interrupt_after(command, store, sweep_env, CELLS_PER_MODEL + 1, signal.SIGINT)
    assert code == 130 and CELLS_PER_MODEL < after_ctrl_c < total
    code, after_kill = interrupt_after(command, store, sweep_env, after_ctrl_c + CELLS_PER_MODEL + 1,
                                       signal.SIGKILL)
    assert code == -signal.SIGKILL and after_ctrl_c < after_kill < total
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    done = subprocess.run(command, env=sweep_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["already_done"], summary["computed"], summary["failed"]) == (after_kill, total - after_kill, 0)

    fresh = tmp_path / "uninterrupted.sqlite"
    done = subprocess.run(advisor_command(catalog, policy, retrieval_dir, fresh), env=sweep_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    resumed, reference = ResultStore(store), ResultStore(fresh)
    a = {r.fingerprint: r for r in resumed.results()}
    b = {r.fingerprint: r for r in reference.results()}
    assert len(a) == total and set(a) == set(b)
    for fp, cell in a.items():
        assert cell.status == "ok" and cell.metrics == b[fp].metrics and cell.details["per_item"] == \
            b[fp].details["per_item"], cell.key
    counts = resumed.compute_counts()
    assert len(counts) == total and set(counts.values()) == {1}  # no finished cell computed twice
    assert resumed.integrity_check() == "ok"
    runs = resumed.runs()  # newest first
    assert [r["status"] for r in runs] == ["finished", "interrupted", "interrupted"]  # the killed one too
    assert [r["computed"] for r in runs] == [total - after_kill, after_kill - after_ctrl_c, after_ctrl_c]
