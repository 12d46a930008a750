"""Contention is measured, not guessed: a window watched while other processes compute says so, and this process's
own work is never counted as someone else's."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from advisor.cost.contention import BUSY_CORES_LIMIT, ContentionWatch, combine

BUSY = "import time\nend = time.time() + 20\nwhile time.time() < end: pass\n"


def test_other_processes_computing_mark_the_window_contended():
    loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        time.sleep(0.5)
        with ContentionWatch() as watch:
            time.sleep(1.5)
    finally:
        for p in loops:
            p.kill()
            p.wait()
    result = watch.result
    assert result.others_busy_cores > BUSY_CORES_LIMIT
    assert result.contended and "cores busy" in result.reasons()[0]
    assert result.to_dict()["contended"] is True


def test_own_work_is_not_counted_as_contention(monkeypatch):
    """Other processes' busy cores are the machine's busy CPU seconds less this process's own, over the window. The
    two OS counters are scripted (the machine busy 3.0 s, this process 3.0 s, then 2.9 s of it), so the subtraction
    is checked exactly whatever else the machine runs: on a real machine the other processes' share is a
    measurement of that machine, and a bound on it fails whenever someone else computes."""
    from advisor.cost import contention

    for own_s, expected_others_s in ((3.0, 0.0), (2.9, 0.1)):
        own = iter([10.0, 10.0 + own_s])
        machine = iter([(100.0, 0.0), (103.0, 0.0)])
        monkeypatch.setattr(contention, "_own_cpu_s", lambda: next(own))
        monkeypatch.setattr(contention, "_machine_times", lambda: next(machine))
        with ContentionWatch() as watch:
            time.sleep(0.2)
        result = watch.result
        assert result.others_busy_cores == pytest.approx(expected_others_s / result.wall_s, abs=2e-3)
        assert result.contended == (expected_others_s / result.wall_s > BUSY_CORES_LIMIT)


def test_windows_combine_weighted_by_their_length():
    with ContentionWatch() as a:
        time.sleep(0.2)
    with ContentionWatch() as b:
        time.sleep(0.4)
    both = combine([a.result, b.result])
    assert abs(both.wall_s - (a.result.wall_s + b.result.wall_s)) < 1e-3
    assert min(a.result.others_busy_cores, b.result.others_busy_cores) - 1e-9 <= both.others_busy_cores \
        <= max(a.result.others_busy_cores, b.result.others_busy_cores) + 1e-9
