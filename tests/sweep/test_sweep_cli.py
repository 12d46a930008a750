"""The sweep commands as a user runs them (real subprocesses): dry run, a run on the ray executor, runs
list/show/export, and one-line errors for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from advisor.sweep.store import ResultStore

from .conftest import grid_policy, hashing_catalog


def advisor(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    return subprocess.run(base + list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def files(tmp_path, retrieval_dir):
    catalog = hashing_catalog(tmp_path / "catalog.yaml", [128, 512], {512: [256]},
                              crashy={"corrupt": "mode: raise"})
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 256, 1024]", precisions="[float32, binary]")
    return ["--catalog", str(catalog), "--policy", str(policy), "--dataset", str(retrieval_dir), "--no-cost"]


def test_dry_run_shows_plan_and_skips(files, sweep_env, tmp_path):
    done = advisor("run", *files, "--dry-run", "--json", env=sweep_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert [g["model"] for g in plan["groups"]] == ["corrupt", "hash-128", "hash-512"]
    assert plan["cells"] == 2 + 2 + 4 and plan["already_done"] == 0
    assert "skipped hash-128 dim=1024: dim 1024 is larger than the model's output size 128" in done.stderr
    flags = {c["label"]: c["flags"] for g in plan["groups"] for t in g["tasks"] for c in t["cells"]}
    assert flags["hash-128 rt-reviews-plots cpu/fp32/dim=full/binary"] == []
    assert not (tmp_path / ".advisor").exists()  # a dry run writes nothing


def test_ray_run_then_runs_list_show_export(files, sweep_env, tmp_path):
    done = advisor("run", *files, "--executor", "ray", "--json", env=sweep_env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # a failed model makes the exit code 1; the sweep still finished
    summary = json.loads(done.stdout)
    assert (summary["status"], summary["computed"], summary["failed"]) == ("finished", 8, 2)
    store = ResultStore(tmp_path / ".advisor" / "results.sqlite")  # the default store
    assert len(store.results(status="ok")) == 6

    listed = advisor("runs", "list", "--json", env=sweep_env, cwd=tmp_path)
    runs = json.loads(listed.stdout)
    assert len(runs) == 1 and runs[0]["executor"] == "ray" and (runs[0]["ok"], runs[0]["failed"]) == (6, 2)
    shown = advisor("runs", "show", runs[0]["run_id"][:12], env=sweep_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "failed  corrupt rt-reviews-plots" in shown.stdout and "weights file is corrupt" in shown.stdout
    assert "skipped hash-512 dim=1024" in shown.stdout

    out = tmp_path / "export"
    csv = advisor("runs", "export", "--out-file", str(out / "cells.csv"), "--run", "latest", env=sweep_env,
                  cwd=tmp_path)
    assert csv.returncode == 0, csv.stderr
    frame = pd.read_csv(out / "cells.csv")
    assert len(frame) == 8 and set(frame["status"]) == {"ok", "failed"}
    for cell in store.results(status="ok"):
        row = frame[frame["fingerprint"] == cell.fingerprint].iloc[0]
        assert row["ndcg_at_10"] == pytest.approx(cell.metrics["ndcg_at_10"], rel=1e-12)
    pq = advisor("runs", "export", "--out-file", str(out / "ok.parquet"), "--model", "hash-512", env=sweep_env,
                 cwd=tmp_path)
    assert pq.returncode == 0, pq.stderr
    assert sorted(pd.read_parquet(out / "ok.parquet")["fingerprint"]) == sorted(
        c.fingerprint for c in store.results(model="hash-512"))


def test_user_mistakes_are_one_line(files, sweep_env, tmp_path):
    cases = [
        (["run", *files, "--executor", "nope"], "unknown executor 'nope'"),
        (["run", *files, "--model", "absent-model"], "absent-model"),
        (["runs", "list", "--store", str(tmp_path / "none.sqlite")], "no results store at"),
        (["runs", "show", "zzz", "--store", str(tmp_path / "none.sqlite")], "no results store at"),
    ]
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("variants:\n  dims: [full, -3]\n")
    cases.append((["run", *files[:2], "--policy", str(bad_policy), *files[4:]], "bad.yaml"))
    for args, message in cases:
        done = advisor(*args, env=sweep_env, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, (args, done.stderr)


def test_sigterm_stops_like_ctrl_c(tmp_path, sweep_env, retrieval_dir):
    import os
    import signal
    import time

    catalog = hashing_catalog(tmp_path / "catalog.yaml", [64, 96, 128])
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 32]")
    store = tmp_path / "r.sqlite"
    script = Path(sys.executable).parent / "advisor"
    proc = subprocess.Popen([str(script), "run", "--catalog", str(catalog), "--policy", str(policy), "--dataset",
                             str(retrieval_dir), "--store", str(store), "--no-cost"], env=sweep_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not store.exists() or not ResultStore(store).results():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: finished cells are kept" in err
    db = ResultStore(store)
    run = db.runs()[0]
    assert run["status"] == "interrupted" and 0 < run["ok"] < 18 and db.integrity_check() == "ok"
