"""A store that cannot be written, as a user meets it: the disk fills mid-sweep (a file-size limit on the real
``advisor run``), the store file or its folder is read-only, the disk fills while the write-ahead log is folded into
the store. Each time the CLI exits non-zero with one line naming the store and the fix, and the store reopened
afterwards holds every cell finished before the failure, intact and equal to an undisturbed computation, with
nothing half-written and no run left 'running'."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from advisor.datasets.tasks import load_task
from advisor.models.catalog import load_catalog
from advisor.policy.spec import load_policy
from advisor.sweep.planner import build_plan
from advisor.sweep.results import CellKey, CellResult
from advisor.sweep.store import ResultStore
from advisor.sweep.worker import run_group

from .conftest import grid_policy, hashing_catalog
from .test_sweep_resume import advisor_command

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs POSIX file-size limits")]
DIMS = [64, 96]  # two models, four cells each: the failures below land in the second one


@pytest.fixture
def sweep(tmp_path, hashing_plugin, retrieval_dir):
    """The CLI command of a two-model sweep and every cell of it computed here, undisturbed, by fingerprint."""
    catalog = hashing_catalog(tmp_path / "catalog.yaml", DIMS)
    policy = grid_policy(tmp_path / "policy.yaml", dims="[full, 32]", precisions="[float32, int8]")
    plan = build_plan(load_catalog(catalog), load_policy(policy), [load_task(retrieval_dir)], measure_cost=False)
    reference = {e.result.fingerprint: e.result for g in plan.groups for e in run_group(g, is_done=lambda fp: False)
                 if e.kind == "cell"}
    assert len(reference) == len(plan.cells) == 4 * len(DIMS)
    store = tmp_path / "store" / "s.sqlite"
    return advisor_command(catalog, policy, retrieval_dir, store), store, reference, plan


def file_size_limit(limit: int):
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored, so write() returns the error)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def without_root_override() -> None:
    """preexec_fn: as root, drop the capabilities that ignore file modes, so a read-only file is read-only."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec too
                raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def run_cli(command: list[str], env: dict, preexec) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, preexec_fn=preexec)


def assert_one_line_error(done: subprocess.CompletedProcess, store: Path, *words: str) -> None:
    assert done.returncode not in (0, None), done.stdout
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"advisor: error: {store}: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def assert_intact(store: Path, reference: dict[str, CellResult], expected: set[str] | None = None) -> set[str]:
    """Reopen the store: integrity ok, every cell equal to the reference and computed once, no run running,
    no lease left. Returns the fingerprints it holds."""
    with ResultStore(store) as results:
        assert results.integrity_check() == "ok"
        cells = {r.fingerprint: r for r in results.results()}
        assert results.compute_counts() == {fp: 1 for fp in cells}  # nothing half-written, nothing twice
        for fp, cell in cells.items():
            if fp in reference:
                want = reference[fp]
                assert (cell.status, cell.metrics, cell.details["per_item"]) == \
                       ("ok", want.metrics, want.details["per_item"])
        assert "running" not in {r["status"] for r in results.runs()}
        assert results.leases() == []
    if expected is not None:
        assert set(cells) == expected
    return set(cells)


def test_disk_full_mid_sweep_keeps_every_finished_cell(sweep, sweep_env):
    command, store, reference, _ = sweep
    done = run_cli(command, sweep_env, file_size_limit(300_000))
    assert_one_line_error(done, store, "cannot write the results store", "free space", "--store")
    kept = assert_intact(store, reference)
    assert 0 < len(kept) < len(reference)  # the failure came mid-sweep
    with ResultStore(store) as results:
        assert [r["status"] for r in results.runs()] in (["failed"], ["interrupted"])
    resumed = run_cli(command, sweep_env, None)  # space again: the same command computes only what is missing
    assert resumed.returncode == 0, resumed.stderr
    assert_intact(store, reference, expected=set(reference))


def seed(store: Path, reference: dict[str, CellResult], plan, model: str) -> set[str]:
    """Store one model's cells as a finished earlier run would have; returns their fingerprints."""
    fps = {c.fingerprint for g in plan.groups if g.entry.name == model for c in g.cells}
    with ResultStore(store) as results:
        for fp in sorted(fps):
            results.put(reference[fp], run_id="earlier")
        results.checkpoint()
    return fps


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_a_read_only_store_is_a_one_line_error_and_keeps_its_cells(sweep, sweep_env, read_only):
    command, store, reference, plan = sweep
    store.parent.mkdir()
    kept = seed(store, reference, plan, f"hash-{DIMS[0]}")
    target = store if read_only == "file" else store.parent
    mode = target.stat().st_mode
    target.chmod(stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        done = run_cli(command, sweep_env, without_root_override)
    finally:
        target.chmod(mode)
    assert_one_line_error(done, store, "read-only", "writable", "--store")
    assert_intact(store, reference, expected=kept)
    with ResultStore(store) as results:
        assert results.runs() == []  # the run could not even be recorded: nothing half-written


def test_disk_full_while_the_log_is_checkpointed_keeps_every_cell(sweep, sweep_env, tmp_path):
    command, store, reference, plan = sweep
    store.parent.mkdir()
    kept = seed(store, reference, plan, f"hash-{DIMS[0]}")
    with ResultStore(store) as results:  # an older, larger store: the log of one model fits under the limit
        for i in range(300):
            key = CellKey("quality", f"old-{i}", "r", "hashing", "cpu", "fp32", "old-task", "h", hardware="hw",
                          versions="v", options="")
            filler = CellResult(key=key, status="ok", metrics={"ndcg_at_10": i / 300},
                                details={"per_item": [i / 7] * 200}, started_at=1.0, finished_at=2.0)
            results.put(filler, run_id="older")
            kept.add(filler.fingerprint)
        results.checkpoint()
    size = store.stat().st_size
    assert not Path(f"{store}-wal").exists() or Path(f"{store}-wal").stat().st_size < size
    done = run_cli(command, sweep_env, file_size_limit(size + 8192))  # the store file may grow two pages
    assert_one_line_error(done, store, "write-ahead log", f"{store.name}-wal", "free space")
    # the second model's cells were committed to the log before the checkpoint failed: all of them are kept
    assert_intact(store, reference, expected=kept | set(reference))
