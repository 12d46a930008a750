"""What the advisor's processes leave behind: a sweep worker killed at the cell timeout takes with it the ``advisor
serve`` it started and the private PostgreSQL it started (which runs in a session of its own); what the worker of a
SIGKILLed driver left running is stopped by the next sweep; and a private pgvector server's temporary
``advisor-pgvector-*`` folder is removed when it stops, or when its process exits.
Real processes: a real ``advisor run`` whose model (a third-party backend plugin) starts a real served load test's
``advisor serve`` and a real pgserver, then hangs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil", reason="the no-orphan checks read the process table with psutil")
pytest.importorskip("pgserver", reason="the private PostgreSQL comes from the pgserver wheel")

REPO = Path(__file__).resolve().parents[2]
RETRIEVAL = REPO / "data" / "rt-reviews-plots"


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_stopped_private_pgvector_server_leaves_no_folder_behind():
    import advisor.builtin.pgvector as pgvector

    server = pgvector.private_server()
    folder, pid = Path(server.pgdata), server.get_pid()
    assert folder.name.startswith("advisor-pgvector-") and folder.is_dir() and not gone(pid)
    assert pgvector.stop_servers() == [pid]
    assert not folder.exists()
    deadline = time.monotonic() + 30
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pid)


def test_a_private_pgvector_server_leaves_no_folder_behind_when_its_process_exits(tmp_path):
    script = "import advisor.builtin.pgvector as p; s = p.private_server(); print(s.pgdata, s.get_pid(), flush=True)"
    done = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    folder, pid = done.stdout.split()
    try:
        assert not Path(folder).exists()
        assert gone(int(pid))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ORPHANING = '''"""A third-party backend whose model starts what a real cell starts, then hangs: the served load test's advisor
serve and a private PostgreSQL (pgvector). It writes their pids and the database folder to the file its catalog
entry names."""
import json
import os
import time

from advisor.hookspecs import hookimpl
from advisor.models.backends import Backend, BackendCapabilities


class OrphaningBackend(Backend):
    name = "orphaning"
    capabilities = BackendCapabilities()

    def load(self, entry, options):
        from advisor.builtin.pgvector import private_server
        from advisor.cost.served import serve_subprocess
        from advisor.models.backends import LoadOptions
        from advisor.models.resolve import resolve_model
        from advisor.models.serve_config import ServeConfig

        postgres = private_server()
        served = serve_subprocess(resolve_model("wordllama-l2-supercat-256"), LoadOptions(), ServeConfig())
        server = served.__enter__()
        out = entry.options["out"]
        with open(out + ".tmp", "w") as fh:
            json.dump({"serve": server.proc.pid, "postgres": postgres.get_pid(), "folder": str(postgres.pgdata),
                       "worker": os.getpid()}, fh)
        os.rename(out + ".tmp", out)
        time.sleep(600)  # hung: the cell timeout kills this worker


@hookimpl
def register_backends(register):
    register(OrphaningBackend())
'''


def orphaning_sweep(tmp_path: Path, *extra: str) -> tuple[list[str], dict[str, str], Path]:
    """(command, environment, the file the model writes its children's pids to) of a real ``advisor run`` whose
    one model starts an ``advisor serve`` and a private PostgreSQL, then hangs."""
    if not (RETRIEVAL / "queries.jsonl").exists():
        pytest.skip("data/rt-reviews-plots not built")
    site = tmp_path / "site"
    site.mkdir()
    (site / "orphaning_backend.py").write_text(ORPHANING)
    info = site / "orphaning_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: orphaning-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[advisor]\norphaning = orphaning_backend\n")
    started = tmp_path / "started.json"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent(f"""\
        models:
          - name: hangs-with-children
            source: builtin:orphaning
            backend: orphaning
            embed_dim: 64
            license: MIT
            languages: [eng-Latn]
            options: {{out: {started}}}
        """))
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: orphans\nbaselines: []\nvariants:\n  dims: [full]\n  vector_precisions: [float32]\n")
    script = Path(sys.executable).parent / "advisor"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p),
           "HF_HUB_OFFLINE": "1", "RAY_AUTH_MODE": "disabled"}
    command = base + ["run", "--catalog", str(catalog), "--policy", str(policy), "--dataset", str(RETRIEVAL),
                      "--store", str(tmp_path / "s.sqlite"), "--no-cost", "--json", *extra]
    return command, env, started


def _stop_survivors(children: dict) -> None:
    for name in ("serve", "postgres"):
        if not gone(children[name]):
            os.kill(children[name], signal.SIGKILL)
    shutil.rmtree(children["folder"], ignore_errors=True)


# The cell timeout runs from the worker's start, so the model's start of its children (a pgserver and an advisor
# serve: under 10 s on a busy 2-core machine) falls inside it. A timeout that ran out before they had started proves
# nothing, so the sweep then runs again with a generous one.
CELL_TIMEOUTS_S = ("20", "120")


@pytest.mark.slow
def test_a_timed_out_cell_leaves_no_grandchild(tmp_path):
    for attempt, timeout in enumerate(CELL_TIMEOUTS_S):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        command, env, started = orphaning_sweep(folder, "--cell-timeout", timeout)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if started.exists():
            break
    assert started.exists(), f"the model never started its children: {done.stderr[-2000:]}"
    children = json.loads(started.read_text())
    try:
        assert done.returncode == 1 and "timed out" in done.stdout + done.stderr, done.stderr[-2000:]
        assert gone(children["worker"])
        deadline = time.monotonic() + 30  # SIGKILLed or stopped: a moment to be reaped by init
        while not (gone(children["serve"]) and gone(children["postgres"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [name for name in ("serve", "postgres") if not gone(children[name])]
        assert not survivors, f"outlived the timed-out worker: {survivors}"
        assert not Path(children["folder"]).exists(), "the private PostgreSQL's folder was left behind"
    finally:
        _stop_survivors(children)


@pytest.mark.slow
def test_what_a_sigkilled_drivers_worker_left_running_is_stopped_by_the_next_sweep(tmp_path):
    command, env, started = orphaning_sweep(tmp_path)
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not started.exists():
        assert driver.poll() is None and time.monotonic() < deadline, "the model never started its children"
        time.sleep(0.2)
    children = json.loads(started.read_text())
    try:
        os.kill(driver.pid, signal.SIGKILL)  # the worker dies with its driver; nobody kills its group
        driver.wait(60)
        deadline = time.monotonic() + 60
        while not gone(children["worker"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gone(children["worker"])
        assert not gone(children["serve"]) and not gone(children["postgres"])  # what the next sweep must stop
        script = Path(sys.executable).parent / "advisor"
        base = [str(script)] if script.exists() else [sys.executable, "-m", "advisor.cli"]
        later = subprocess.run(base + ["run", "--model", "wordllama-l2-supercat-256", "--dataset", str(RETRIEVAL),
                                       "--store", str(tmp_path / "later.sqlite"), "--no-cost"],
                               env=env, capture_output=True, text=True, timeout=600)
        assert later.returncode == 0, later.stderr[-2000:]
        deadline = time.monotonic() + 30
        while not (gone(children["serve"]) and gone(children["postgres"])) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [name for name in ("serve", "postgres") if not gone(children[name])]
        assert not survivors, f"still running after the next sweep: {survivors}"
        assert not Path(children["folder"]).exists()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        _stop_survivors(children)
