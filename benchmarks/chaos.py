"""Chaos: twenty random SIGKILLs of a real ``advisor run`` during a sweep of at least fifty cells, each followed by
a resume of the same command; then the tally that must be all zeros:

    corrupt stores     ``PRAGMA integrity_check`` not ok after a kill
    lost cells         a cell finished before a kill and missing (or no longer ok) after it
    computed twice     cells whose ``computations`` log holds more than one entry
    leftover procs     worker processes still alive 5 s after their driver was killed
    wrong results      final cells that differ from an undisturbed sweep's

and the wall time of all the interrupted runs together against the undisturbed sweep.

    python benchmarks/chaos.py [--kills 20] [--models 9] [--delay 0.05] [--seed 0]

Uses the example hashing backend (pip-installed into a scratch folder, as the sweep tests do) through the test
suite's ``crashy`` plugin with a per-batch delay, so a group takes long enough to be killed in the middle.
Exits 1 when any count is not 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CELLS_PER_MODEL = 6  # dims [full, 32] x vector precisions [float32, int8, binary]


def _conftest():
    spec = importlib.util.spec_from_file_location("sweep_conftest", REPO / "tests" / "sweep" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sweep_conftest"] = module
    spec.loader.exec_module(module)
    return module


def _ok(store: Path) -> dict[str, str]:
    """Finished cells: fingerprint -> metrics JSON (read-only, so a check never changes what it checks)."""
    if not store.exists():
        return {}
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT fingerprint, metrics FROM cells WHERE status = 'ok'").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def _integrity(store: Path) -> str:
    if not store.exists():
        return "ok"
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    import psutil

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--models", type=int, default=9, help="models in the sweep (6 cells each; >= 9 for 50)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each encode call of a model sleeps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    conftest = _conftest()
    work = Path(tempfile.mkdtemp(prefix="advisor-chaos-"))
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(REPO / "examples" / "advisor-hashing-backend")], check=True)
    conftest.write_crashy_plugin(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", ""))
                                                          if p), "HF_HUB_OFFLINE": "1"}
    catalog = conftest.hashing_catalog(work / "catalog.yaml", [], crashy={
        f"slow-{i}": f"delay: {args.delay}" for i in range(args.models)})
    policy = conftest.grid_policy(work / "policy.yaml", dims="[full, 32]")
    dataset = REPO / "data" / "rt-reviews-plots"
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]

    def command(store: Path) -> list[str]:
        return base + ["run", "--catalog", str(catalog), "--policy", str(policy), "--dataset", str(dataset),
                       "--store", str(store), "--no-cost", "--json"]

    total = args.models * CELLS_PER_MODEL
    started = time.monotonic()
    reference = work / "reference.sqlite"
    subprocess.run(command(reference), env=env, capture_output=True, check=True)
    undisturbed = time.monotonic() - started
    expected = _ok(reference)
    assert len(expected) == total, f"the undisturbed sweep finished {len(expected)} of {total} cells"

    store = work / "chaos.sqlite"
    corrupt = lost = leftover = kills = 0
    chaos_wall = 0.0
    while kills < args.kills:
        before = _ok(store)
        if len(before) == total:  # finished before all the kills: the table says how many there were
            break
        # a moment after the start-up (~1 s: imports, plan, first spawn) within this kill's share of the sweep, so
        # that all the kills land before it ends
        at = rng.uniform(1.0, 1.0 + max(0.5, 2.0 * undisturbed / args.kills))
        t0 = time.monotonic()
        driver = subprocess.Popen(command(store), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: dict[int, psutil.Process] = {}
        while time.monotonic() - t0 < at and driver.poll() is None:
            try:
                for child in psutil.Process(driver.pid).children(recursive=True):
                    workers.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        if driver.poll() is None:
            os.kill(driver.pid, signal.SIGKILL)
            kills += 1
        driver.wait()
        chaos_wall += time.monotonic() - t0
        _, alive = psutil.wait_procs(list(workers.values()), timeout=5)
        leftover += len(alive)
        for proc in alive:
            proc.kill()
        corrupt += _integrity(store) != "ok"
        after = _ok(store)
        lost += len(set(before) - set(after))
        print(f"kill {kills:>2} at {at:5.1f} s: {len(after):>3}/{total} cells, {len(alive)} left alive", flush=True)

    t0 = time.monotonic()
    done = subprocess.run(command(store), env=env, capture_output=True, text=True)
    chaos_wall += time.monotonic() - t0
    final = _ok(store)
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    twice = conn.execute("SELECT COUNT(*) FROM (SELECT fingerprint FROM computations GROUP BY fingerprint "
                         "HAVING COUNT(*) > 1)").fetchone()[0]
    conn.close()
    wrong = len(set(expected) ^ set(final)) + sum(final.get(fp) != m for fp, m in expected.items())
    rows = [("kills", kills), ("corrupt stores", corrupt), ("lost cells", lost), ("computed twice", twice),
            ("leftover procs", leftover), ("wrong results", wrong), ("final resume exit", done.returncode)]
    print(f"\n{total}-cell sweep, {kills} SIGKILLs, each followed by a resume")
    for name, value in rows:
        print(f"{name:<18} {value:>6}")
    print(f"{'wall (chaos)':<18} {chaos_wall:>6.1f} s")
    print(f"{'wall (undisturbed)':<18} {undisturbed:>6.1f} s")
    bad = corrupt or lost or twice or leftover or wrong or done.returncode
    shutil.rmtree(work, ignore_errors=True)  # the scratch stores and the plugin install
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
