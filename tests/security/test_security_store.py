"""The results store's leases and look-ups under concurrent and unusual processes: a lease another process claims
while a dead one is being cleared is kept; a lease whose holder's start time is unknown does not hold its cells
forever; a run id prefix matches its characters literally. A real SQLite store and real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import advisor.sweep.store as store_module
from advisor.sweep.store import ResultStore

psutil = pytest.importorskip("psutil", reason="process start times are read with psutil")

CLAIM_AND_HOLD = textwrap.dedent("""\
    import sys
    from advisor.sweep.store import ResultStore
    store = ResultStore(sys.argv[1])
    print(store.claim([sys.argv[2]], "holder"), flush=True)
    if sys.argv[3] == "hold":
        sys.stdin.readline()  # hold the lease (alive) until the test says so, or its stdin closes
""")


def claimer(path: Path, fingerprint: str, hold: bool) -> subprocess.Popen:
    """A real process that claims ``fingerprint`` in the store at ``path``; it exits at once, leaving its lease
    behind (dead), or holds it while alive."""
    return subprocess.Popen([sys.executable, "-P", "-c", CLAIM_AND_HOLD, str(path), fingerprint,
                             "hold" if hold else "exit"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_mark_dead_runs_never_drops_a_lease_claimed_meanwhile(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    dead = claimer(path, "fp", hold=False)
    assert dead.communicate(timeout=60)[0].strip() == "(['fp'], [])"
    real, taker = store_module._same_process, []

    def judged(pid, started, *rest):
        # the moment the dead lease has been looked at: another process takes it over now, as a resumed worker
        # would, and the judgement goes on
        if pid == dead.pid and not taker:
            taker.append(claimer(path, "fp", hold=True))
            line = taker[0].stdout.readline().strip()  # bounded: the claim waits at most for the store's lock
            assert line in ("(['fp'], [])", ""), line
        return real(pid, started, *rest)

    monkeypatch.setattr(store_module, "_same_process", judged)
    try:
        store.mark_dead_runs()
        monkeypatch.setattr(store_module, "_same_process", real)
        if taker:  # the taker's claim may have waited for the clearing transaction: it is done now
            deadline = time.monotonic() + 60
            while not [r for r in store.leases() if r["pid"] == taker[0].pid] and time.monotonic() < deadline:
                time.sleep(0.1)
        leases = {r["fingerprint"]: r["pid"] for r in store.leases()}
        assert taker and leases == {"fp": taker[0].pid}, f"the claim made meanwhile was dropped: {leases}"
    finally:
        for proc in taker:
            proc.communicate("go\n", timeout=60)
        store.close()


def _lease(store: ResultStore, fingerprint: str, pid: int, started: float | None, heartbeat: float) -> None:
    with store._write() as conn:
        conn.execute("INSERT INTO leases VALUES (?, 'r', ?, ?, ?, ?, ?)",
                     (fingerprint, pid, socket.gethostname(), started, heartbeat, heartbeat))


def test_a_lease_with_an_unknown_start_time_and_a_stale_heartbeat_is_taken_over(tmp_path):
    other = subprocess.Popen(["sleep", "60"])  # alive, but not the process that claimed: its pid was reused
    try:
        with ResultStore(tmp_path / "s.sqlite") as store:
            _lease(store, "stale", other.pid, None, time.time() - 3600)
            assert store.claim(["stale"]) == (["stale"], [])
            assert {r["fingerprint"]: r["pid"] for r in store.leases()} == {"stale": os.getpid()}
    finally:
        other.kill()
        other.wait()


def test_a_lease_with_an_unknown_start_time_and_a_fresh_heartbeat_still_holds(tmp_path):
    other = subprocess.Popen(["sleep", "60"])  # a live holder whose start time was not recorded
    try:
        with ResultStore(tmp_path / "s.sqlite") as store:
            _lease(store, "held", other.pid, None, time.time())
            assert store.claim(["held"]) == ([], ["held"])
            store.mark_dead_runs()
            assert [r["fingerprint"] for r in store.leases()] == ["held"]
    finally:
        other.kill()
        other.wait()


def test_an_underscore_in_a_run_id_prefix_matches_only_an_underscore(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.start_run({}, run_id="night_1")
        store.start_run({}, run_id="nightX2")
        assert store.run("night_")["run_id"] == "night_1"  # '_' is not LIKE's any-one-character
        assert store.run("nightX")["run_id"] == "nightX2"
        with pytest.raises(Exception, match="no run 'night%'"):
            store.run("night%")  # nor is '%' any characters
