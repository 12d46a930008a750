"""Contention is measured, not guessed: a window watched while other processes compute says so, and this process's
own work is never counted as someone else's."""

from __future__ import annotations

import subprocess
import sys
import time

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


def test_own_work_is_not_counted_as_contention():
    with ContentionWatch() as watch:
        end = time.perf_counter() + 1.0
        x = 0
        while time.perf_counter() < end:
            x += 1
    own_cores = 1.0  # the loop above kept one core busy for the whole window
    assert watch.result.others_busy_cores < own_cores * 0.5


def test_windows_combine_weighted_by_their_length():
    with ContentionWatch() as a:
        time.sleep(0.2)
    with ContentionWatch() as b:
        time.sleep(0.4)
    both = combine([a.result, b.result])
    assert abs(both.wall_s - (a.result.wall_s + b.result.wall_s)) < 1e-3
    assert min(a.result.others_busy_cores, b.result.others_busy_cores) - 1e-9 <= both.others_busy_cores \
        <= max(a.result.others_busy_cores, b.result.others_busy_cores) + 1e-9
