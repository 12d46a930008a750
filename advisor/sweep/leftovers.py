"""What a killed sweep worker leaves behind, and the cleaning after it.

A local worker runs in a session (process group) of its own, so the executor's kill of the group reaches every
process the worker started that stayed in it: the ``advisor serve`` of a served load test, its helpers. A process
that leaves the group on purpose does not get that signal: PostgreSQL's postmaster (``pg_ctl start`` puts it in a
session of its own) survives a SIGKILLed worker, with the temporary folder it writes. The code that starts such a
process registers it here (``register``: the pid with its start time, and a folder to remove) and forgets it when it
stops it; after a worker ends without cleaning up (timed out, killed, crashed), the executor reads the register
(``clean``) and stops what is still the registered process, then removes the folders.

The register is one file per worker, named by ``ADVISOR_LEFTOVERS`` in the worker's environment (set by the
executor); outside a worker nothing is registered. Its name carries the driver's pid and start time, so when the
driver itself is SIGKILLed (its workers die with it, what left their group does not) the next sweep on this machine
cleans the registers of drivers that are gone (``clean_stale``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

ENV = "ADVISOR_LEFTOVERS"
PREFIX = "advisor-leftovers-"  # then the driver's pid and start time (hundredths of a second), then a random part
STOP_GRACE_S = 10.0  # how long a registered process is given to stop on SIGINT before SIGKILL


def _started(pid: int) -> float | None:
    try:
        import psutil

        return round(psutil.Process(pid).create_time(), 2)
    except Exception:  # noqa: BLE001 - psutil missing, or the process is gone
        return None


def _write(record: dict[str, Any]) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:  # one short line per record: appended whole
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def register(*, pid: int | None = None, folder: str | Path | None = None) -> None:
    """Note a process (stopped by SIGINT, then SIGKILL) and/or a folder (removed) to clean if this worker dies."""
    _write({"pid": pid, "started": _started(pid) if pid else None, "folder": str(folder) if folder else None})


def register_group() -> None:
    """Note this worker's process group (it leads it: ``os.setsid``), to be killed whole if the worker dies without
    the executor doing it (the driver SIGKILLed: the worker dies with it, its ``advisor serve`` would not)."""
    _write({"group": os.getpid(), "started": _started(os.getpid())})


def forget(*, pid: int | None = None, folder: str | Path | None = None) -> None:
    """What was registered has been stopped or removed by its owner."""
    _write({"forget": True, "pid": pid, "folder": str(folder) if folder else None})


def _read(path: Path) -> tuple[dict[int, float | None], set[str], dict[int, float | None]]:
    pids: dict[int, float | None] = {}
    folders: set[str] = set()
    groups: dict[int, float | None] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return pids, folders, groups
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by the kill
            continue
        if record.get("group"):
            groups[int(record["group"])] = record.get("started")
            continue
        pid, folder = record.get("pid"), record.get("folder")
        if record.get("forget"):
            pids.pop(pid, None)
            folders.discard(folder)
            continue
        if pid:
            pids[int(pid)] = record.get("started")
        if folder:
            folders.add(folder)
    return pids, folders, groups


def _same(pid: int, started: float | None) -> bool:
    """Still the registered process: alive and, when its start time is known, started then (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _started(pid)
    if started is None or now is None:
        return False  # cannot tell it from a process that reused the pid: never signalled
    return abs(now - started) < 1.0


def clean(path: str | Path) -> list[str]:
    """Stop every process still registered in ``path`` (SIGINT, PostgreSQL's fast shutdown; SIGKILL after
    ``STOP_GRACE_S``), remove every folder still registered, then the register itself; what was done, in words."""
    path = Path(path)
    pids, folders, groups = _read(path)
    done = []
    for leader, started in groups.items():
        # the group's id stays taken while any member lives, so a group whose leader is gone is still the worker's;
        # a live process with the leader's pid is the worker only if it started when the worker did
        if not _alive(leader) or _same(leader, started):
            kill_group(leader)
            done.append(f"killed process group {leader}")
    stopping = [pid for pid, started in pids.items() if _same(pid, started)]
    for pid in stopping:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + STOP_GRACE_S
    for pid in stopping:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        done.append(f"stopped process {pid}")
    for folder in sorted(folders):
        if os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)
            done.append(f"removed {folder}")
    path.unlink(missing_ok=True)
    return done


def _alive(pid: int) -> bool:
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - gone
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a worker's whole process group (its session: the worker and whatever it started that stayed)."""
    if not hasattr(os, "killpg"):
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def new_register() -> str:
    """A fresh, empty register for one worker of this driver, in the system's temporary folder (made private and
    exclusive by ``mkstemp``)."""
    import tempfile

    started = _started(os.getpid())
    handle, name = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-{round((started or 0) * 100)}-",
                                    suffix=".jsonl")
    os.close(handle)
    return name


def clean_stale() -> list[str]:
    """Clean the registers this user's gone drivers left (a driver SIGKILLed mid-sweep): what they name is stopped
    and removed as ``clean`` does. A register of a live driver, or one whose start time cannot be checked, is left."""
    import tempfile

    done: list[str] = []
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*.jsonl"):
        try:
            pid, started = (int(part) for part in path.name[len(PREFIX):].split("-")[:2])
            if path.stat().st_uid != os.getuid():
                continue
        except (ValueError, OSError):
            continue
        if _alive(pid):
            now = _started(pid)
            if now is None or started == 0 or abs(now * 100 - started) < 100:
                continue  # the driver is running (or a process that cannot be told from it)
        done += clean(path)
    return done
