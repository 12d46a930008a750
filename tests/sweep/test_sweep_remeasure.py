"""``advisor run --remeasure unstable``: cost cells measured under contention are marked unstable, measured again
on request, and no other finished cell is computed twice."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from advisor.sweep.store import ResultStore

from .conftest import grid_policy, hashing_catalog
from .test_sweep_cli import advisor

BUSY = "import time\nend = time.time() + 120\nwhile time.time() < end: pass\n"


def _counts(store) -> dict[str, int]:
    with sqlite3.connect(store) as conn:
        return dict(conn.execute("SELECT kind || ':' || fingerprint, compute_count FROM cells"))


def test_unstable_cost_cells_are_measured_again_and_nothing_else(tmp_path, sweep_env, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "catalog.yaml", [128])
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full]", precisions="[float32]")
    store = tmp_path / "r.sqlite"
    args = ["run", "--catalog", str(catalog), "--policy", str(policy), "--dataset", str(retrieval_dir),
            "--store", str(store)]
    loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        busy = advisor(*args, env=sweep_env, cwd=tmp_path)
    finally:
        for p in loops:
            p.kill()
            p.wait()
    assert busy.returncode == 0, busy.stderr
    [cost] = ResultStore(store).results(kind="cost")
    unstable = cost.details["stability"]["unstable"]
    assert unstable and "cores busy" in " ".join(r for rs in unstable.values() for r in rs)
    shown = advisor("runs", "show", "--store", str(store), env=sweep_env, cwd=tmp_path)
    assert "UNSTABLE" in shown.stdout and "others busy" in shown.stdout

    again = advisor(*args, env=sweep_env, cwd=tmp_path)  # a plain resume keeps the unstable figures
    assert again.returncode == 0 and "0 computed" in again.stdout
    before = _counts(store)
    redo = advisor(*args, "--remeasure", "unstable", env=sweep_env, cwd=tmp_path)
    assert redo.returncode == 0, redo.stderr
    after = _counts(store)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {f"cost:{cost.fingerprint}"} and after[f"cost:{cost.fingerprint}"] == 2
