"""What else the machine was doing while a figure was measured.

A latency or throughput figure taken while another process computes says more about that process than about the
model. So every timed window is watched: the CPU time the whole machine spent outside this process (and its
children), CPU steal (a hypervisor giving our cores to someone else), and the load average against the core
count. A window in which other processes kept more than ``BUSY_CORES_LIMIT`` cores busy on average, or in which
steal took more than ``STEAL_LIMIT`` of the machine, is *contended*: its figures are kept but marked unstable,
and a limit never rejects a candidate on them.

psutil reads the counters (``/proc/stat`` on Linux); without psutil the window records only the load average.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.formatting import number, percent

BUSY_CORES_LIMIT = 0.25   # other processes' average busy cores over the window
STEAL_LIMIT = 0.05        # share of all cores' time stolen by the hypervisor


def _own_cpu_s() -> float:
    """CPU seconds of this process (all threads) and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _machine_times() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, stolen seconds), summed over cores; None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    steal = getattr(t, "steal", 0.0)
    total = sum(t)
    # guest time is already counted in user time on Linux
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    return total - idle - steal, steal


@dataclass
class Contention:
    """The machine's state over one timed window."""

    wall_s: float
    cores: int
    others_busy_cores: float | None     # other processes' CPU seconds / wall seconds
    steal_share: float | None           # stolen seconds / (wall x cores)
    load_avg_1m: float
    load_avg_start_1m: float
    notes: list[str] = field(default_factory=list)

    @property
    def contended(self) -> bool:
        return bool(self.reasons())

    def reasons(self) -> list[str]:
        out = []
        if self.others_busy_cores is not None and self.others_busy_cores > BUSY_CORES_LIMIT:
            out.append(f"other processes kept {number(self.others_busy_cores, decimals=2)} of {self.cores} cores busy "
                       f"while it was measured (limit {number(BUSY_CORES_LIMIT)})")
        if self.steal_share is not None and self.steal_share > STEAL_LIMIT:
            out.append(f"the hypervisor stole {percent(self.steal_share, decimals=0)} of the CPU time (limit "
                       f"{percent(STEAL_LIMIT, decimals=0)})")
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["contended"] = self.contended
        out["reasons"] = self.reasons()
        out["rule"] = (f"contended when other processes keep more than {number(BUSY_CORES_LIMIT)} cores busy on "
                       f"average or steal exceeds {percent(STEAL_LIMIT, decimals=0)}")
        return out

    def text(self) -> str:
        """A short note for a report or a table cell."""
        busy = number(self.others_busy_cores, decimals=2)
        return f"load {number(self.load_avg_1m, decimals=2)} on {self.cores} cores, others busy {busy} cores"


class ContentionWatch:
    """``with ContentionWatch() as watch: ...`` then ``watch.result``; windows can be merged with ``combine``."""

    def __enter__(self) -> "ContentionWatch":
        self._load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        self._t0 = time.perf_counter()
        self._own0 = _own_cpu_s()
        self._machine0 = _machine_times()
        return self

    def __exit__(self, *exc: Any) -> None:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        own = _own_cpu_s() - self._own0
        machine1 = _machine_times()
        cores = os.cpu_count() or 1
        others = steal = None
        if self._machine0 is not None and machine1 is not None:
            busy = machine1[0] - self._machine0[0]
            others = max(0.0, (busy - own) / wall)
            steal = max(0.0, (machine1[1] - self._machine0[1]) / (wall * cores))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        notes = [] if others is not None else ["psutil is not installed: only the load average was recorded"]
        self.result = Contention(round(wall, 4), cores, None if others is None else round(others, 3),
                                 None if steal is None else round(steal, 4), round(load, 2), round(self._load0, 2),
                                 notes)


def combine(windows: list[Contention]) -> Contention:
    """One record for several windows: the wall-time-weighted load of other processes, the worst load average."""
    if not windows:
        raise ValueError("no windows to combine")
    wall = sum(w.wall_s for w in windows)
    known = [w for w in windows if w.others_busy_cores is not None]
    others = sum(w.others_busy_cores * w.wall_s for w in known) / sum(w.wall_s for w in known) if known else None
    stolen = [w for w in windows if w.steal_share is not None]
    steal = sum(w.steal_share * w.wall_s for w in stolen) / sum(w.wall_s for w in stolen) if stolen else None
    return Contention(round(wall, 4), windows[0].cores, None if others is None else round(others, 3),
                      None if steal is None else round(steal, 4), max(w.load_avg_1m for w in windows),
                      windows[0].load_avg_start_1m, sorted({n for w in windows for n in w.notes}))
