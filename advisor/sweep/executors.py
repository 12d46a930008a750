"""Executors: where the groups of a plan run. Registered by plugins (``register_executors``); built in: ``local``
(one fresh subprocess per model load) and ``ray`` (Ray tasks on a local or remote Ray cluster).

Why a subprocess per model: a crash, a segfault or an out-of-memory kill stays inside that model's process and
becomes failed cells, the next model starts with clean memory (so peak memory is measured cleanly), and the
parent never imports torch. The subprocess writes each finished cell to the store itself, in its own
transaction, and dies with its parent (a SIGKILLed ``advisor run`` leaves no orphan still writing). It runs in a
session of its own, so a timeout or a stop kills its whole process group (an ``advisor serve`` it started
included), and what left the group on purpose (a private PostgreSQL) is cleaned from its register
(``advisor.sweep.leftovers``).
"""

from __future__ import annotations

import os
import queue as queue_module
import select
import signal
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Sequence

from advisor.errors import UserError
from advisor.formatting import number
from advisor.sweep import leftovers
from advisor.sweep.planner import GroupSpec
from advisor.sweep.results import CellResult
from advisor.sweep.events import Event
from advisor.sweep.worker import run_group

OnEvent = Callable[[Event], None]
SPAWN_ALLOWANCE_S = 60.0  # beyond --cell-timeout, for a local worker to spawn and report its start


class Executor(ABC):
    """Runs groups and reports every finished cell through ``on_event`` (``Event.stored`` False means the
    driver must store it). Returns when all groups are done; raises KeyboardInterrupt after a clean stop."""

    name: str
    description: str = ""

    @abstractmethod
    def execute(self, groups: Sequence[GroupSpec], *, store_path: Path, run_id: str, force: bool,
                on_event: OnEvent, options: dict[str, Any], stop: threading.Event | None = None) -> None:
        ...


def get_executor(name: str) -> Executor:
    from advisor.plugins import registered

    executors = registered("executors")
    if name not in executors:
        raise UserError(f"unknown executor '{name}'; available: {', '.join(sorted(executors)) or 'none'} "
                        f"(see 'advisor plugins')")
    return executors[name]


def crashed_cells(group: GroupSpec, store: Any, error: str) -> list[Event]:
    """Failed-cell events for the cells of a group whose worker died before finishing them (the error redacted:
    it quotes the worker's last words)."""
    from advisor.errors import redact

    error = redact(error, [str(group.entry.options.get("api_key_env") or "")]) or error
    now = time.time()
    return [Event("cell", group.label, result=CellResult(key=c.key, status="failed", error=error, started_at=now,
                                                         finished_at=now, details={"flags": list(c.flags)}))
            for c in group.cells if not store.has(c.fingerprint)]


# -- local ------------------------------------------------------------------------------------------------------

def _die_with_parent(conn: Any = None) -> None:
    """Ask Linux to SIGKILL this worker when its parent dies; and (everywhere) a watchdog thread that exits once
    the parent is gone: its pid changes, or the read end of the worker's one-way pipe is closed (the parent is
    the only holder of that end, so its death breaks the pipe)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        poller = None
        if conn is not None and hasattr(select, "poll"):
            poller = select.poll()
            poller.register(conn.fileno(), 0)  # POLLERR/POLLHUP only: the read end was closed
        while os.getppid() == parent:
            if poller is not None and poller.poll(500):
                break
            elif poller is None:
                time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="advisor-watchdog").start()


def _local_worker(group: GroupSpec, store_path: str, run_id: str, force: bool, conn: Any,
                  redo: frozenset[str] = frozenset(), leftovers_file: str | None = None) -> None:
    from advisor.logs import configure

    if hasattr(os, "setsid"):
        os.setsid()  # a session (process group) of its own: the executor's kill of the group reaches its children
    if leftovers_file:
        os.environ[leftovers.ENV] = leftovers_file
        leftovers.register_group()
    configure()  # a spawned interpreter: the driver's log level (ADVISOR_VERBOSE), before any library is imported
    _die_with_parent(conn)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what a Ctrl-C stops
    from advisor.sweep.store import HEARTBEAT_S, ResultStore, StoreError

    def send(event: Event) -> None:
        try:
            conn.send(event)
        except (BrokenPipeError, EOFError, OSError):  # the driver is gone: stop at once, write nothing more
            os._exit(1)

    try:
        store = ResultStore(store_path)
    except StoreError as exc:
        send(Event("store-error", group.label, message=str(exc)))
        raise SystemExit(1) from None
    last = 0.0

    def progress(event: Event) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last > 0.1 or event.n >= event.total:
            last = now
            send(event)

    beating = threading.Event()
    try:
        wanted = [c.fingerprint for c in group.cells
                  if force or c.fingerprint in redo or not store.has(c.fingerprint)]
        while True:  # claim the group's unfinished cells; wait while another live run computes them
            claimed, held = store.claim(wanted, run_id, recompute=set(wanted) if force else set(redo))
            if not held:
                break
            send(Event("waiting", group.label, message=f"{len(held)} cell(s) being computed by another run"))
            time.sleep(0.5)
        mine = set(claimed)

        def beat() -> None:
            while not beating.wait(HEARTBEAT_S):
                try:
                    store.heartbeat()
                except Exception:  # noqa: BLE001 - a busy store: try again next beat
                    pass
        threading.Thread(target=beat, daemon=True, name="advisor-heartbeat").start()

        planned = {c.fingerprint for c in group.cells}

        def is_done(fingerprint: str) -> bool:
            if fingerprint not in planned:  # a key the loaded model turned out to have (e.g. its revision)
                return not force and fingerprint not in redo and store.has(fingerprint)
            if fingerprint not in mine:
                return True  # finished before the claim
            return fingerprint not in redo and not force and store.has(fingerprint)

        for event in run_group(group, is_done=is_done, force=False, progress=progress):
            if event.kind == "cell" and event.result is not None:
                store.put(event.result, run_id=run_id)
                event.stored = True
            send(event)
    except StoreError as exc:  # the store cannot be written: the driver stops the sweep with this one line
        send(Event("store-error", group.label, message=str(exc)))
        beating.set()
        conn.close()
        raise SystemExit(1)
    except BaseException as exc:  # noqa: BLE001 - report, then exit non-zero
        send(Event("error", group.label, message=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        beating.set()
        _release(store)
        conn.close()
        raise SystemExit(1)
    beating.set()
    _release(store)
    conn.close()


def _release(store: Any) -> None:
    try:
        store.release()
    except Exception:  # noqa: BLE001 - a dead lease is taken over anyway
        pass


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


def _reap(proc: Any, grace: float = 10.0) -> None:
    """Stop a worker and every process of its group: SIGTERM (a cell being written commits or rolls back as a
    whole; an ``advisor serve`` drains), then SIGKILL."""
    if proc.is_alive():
        leftovers.kill_group(proc.pid, signal.SIGTERM)
        proc.join(grace)
    _kill(proc)


def _kill(proc: Any) -> None:
    """SIGKILL a worker's whole process group, then reap the worker (not before: until it is reaped its pid, the
    group's id, cannot be given to another process)."""
    if proc.pid is not None:
        leftovers.kill_group(proc.pid)
    proc.join()


class LocalExecutor(Executor):
    name = "local"
    description = "each model load in its own fresh subprocess on this machine, one after another"

    def execute(self, groups: Sequence[GroupSpec], *, store_path: Path, run_id: str, force: bool,
                on_event: OnEvent, options: dict[str, Any], stop: threading.Event | None = None) -> None:
        import multiprocessing

        from advisor.sweep.store import ResultStore, StoreError

        ctx = multiprocessing.get_context("spawn")
        store = ResultStore(store_path)
        leftovers.clean_stale()  # what the workers of a SIGKILLed driver started and left running
        limit = float(options.get("cell_timeout") or 0) or None
        for group in groups:
            if stop is not None and stop.is_set():
                return
            reader, writer = ctx.Pipe(duplex=False)  # one way: the worker holds only the write end
            redo = frozenset(options.get("redo") or ())
            register = leftovers.new_register()
            proc = ctx.Process(target=_local_worker, args=(group, str(store_path), run_id, force, writer, redo,
                                                           register),
                               name=f"advisor-{group.entry.name}", daemon=True)
            error, unwritable = "", ""
            try:
                proc.start()
                writer.close()  # so the worker's death (or exit) reads as EOF here
                last_cell, begun = time.monotonic(), False
                while True:
                    if not reader.poll(0.2):
                        if stop is not None and stop.is_set():
                            raise KeyboardInterrupt
                        # the clock runs from the worker's start (a fresh interpreter is slow to spawn on a busy
                        # machine, and that is no model's fault); a worker that never starts gets a minute more
                        allowed = limit if begun or limit is None else limit + SPAWN_ALLOWANCE_S
                        if limit is not None and time.monotonic() - last_cell > allowed:
                            _kill(proc)
                            error = f"timed out: no cell finished within --cell-timeout {number(limit, digits=6)} s"
                            break
                        continue
                    try:
                        event = reader.recv()
                    except (EOFError, OSError):  # the worker exited or died
                        break
                    if event.kind == "store-error":
                        unwritable = event.message
                        continue
                    if event.kind == "error":
                        error = event.message.splitlines()[0]
                    elif event.kind in ("cell", "waiting", "start"):
                        last_cell, begun = time.monotonic(), True
                    on_event(event)
            except KeyboardInterrupt:
                _reap(proc)
                if stop is not None and stop.is_set():
                    return
                raise
            finally:  # every way out of here leaves no worker behind, nor what it started
                if proc.pid is not None and proc.is_alive():
                    proc.join(5 if not error.startswith("timed out") else 0)
                    _reap(proc, grace=2.0)
                if proc.pid is not None and proc.exitcode != 0:  # it died without cleaning up: what it started
                    leftovers.kill_group(proc.pid)  # keeps the group's id taken, so this reaches only them
                leftovers.clean(register)
                reader.close()
            if unwritable:  # failing the group's cells would need the store too: stop the sweep, keep what is done
                raise StoreError(unwritable)
            if proc.exitcode != 0:
                why = (f"worker process for {group.label} {error}" if error.startswith("timed out") else
                       f"worker process for {group.label} died ({_exit_reason(proc.exitcode)})")
                if error and not error.startswith("timed out"):
                    why = f"{why}: {error}"
                for event in crashed_cells(group, store, why):
                    on_event(event)


# -- ray --------------------------------------------------------------------------------------------------------

def _ray_group(group: GroupSpec, done: frozenset[str], force: bool, tasks: dict[str, Any]):
    """A Ray task: stream the group's finished cells back to the driver, which stores them."""
    from advisor.logs import configure

    configure()  # the driver's log level, when Ray hands the worker its environment
    for event in run_group(group, is_done=done.__contains__, force=force, preloaded=tasks):
        yield event


class RayExecutor(Executor):
    name = "ray"
    description = "Ray tasks on a Ray cluster (--address), or on a local Ray instance started for the run"

    def execute(self, groups: Sequence[GroupSpec], *, store_path: Path, run_id: str, force: bool,
                on_event: OnEvent, options: dict[str, Any], stop: threading.Event | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs Ray: pip install 'embedding-advisor[ray]'") from None
        from advisor.sweep.store import ResultStore

        if not groups:
            return
        started = False
        if not ray.is_initialized():
            address = options.get("address")
            try:
                if address:
                    ray.init(address=address, include_dashboard=False, log_to_driver=bool(options.get("log")))
                else:
                    start_local_ray(int(options.get("num_cpus") or os.cpu_count() or 1), bool(options.get("log")))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}") from None
            started = True
        store = ResultStore(store_path)
        try:
            redo = frozenset(options.get("redo") or ())
            done = frozenset(r.fingerprint for r in store.results(status="ok",
                                                                  model=sorted({g.entry.name for g in groups}))
                             ) - redo
            tasks: dict[str, Any] = {}
            for group in groups:  # load each dataset once here and ship it: workers need no shared disk
                for tc in group.tasks:
                    if tc.task.name not in tasks:
                        tasks[tc.task.name] = tc.task.load()  # a racing sweep's slice is cut here too
            tasks_ref = ray.put(tasks)
            remote = ray.remote(_ray_group)

            def submit(group: GroupSpec, claimed: frozenset[str]) -> Any:
                cuda = group.device.startswith("cuda")
                planned = frozenset(c.fingerprint for c in group.cells)
                skip = (planned | done) - claimed  # finished, or computed by another run
                return (remote.options(num_returns="streaming", num_cpus=1, num_gpus=1 if cuda else 0,
                                       max_retries=0, name=f"advisor:{group.label}")
                        .remote(group, skip, force, tasks_ref))

            _RayDrain(ray, store, run_id, force, redo, on_event, stop,
                      float(options.get("cell_timeout") or 0) or None).run(groups, submit)
        finally:
            if started:
                ray.shutdown()


# Ray's own switch for a single-machine instance: its node address (and so every server it starts) is loopback
RAY_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def start_local_ray(num_cpus: int, log: bool = False) -> None:
    """Start a Ray instance on this machine that listens on loopback addresses only, without a dashboard.

    Ray (2.x) binds a local instance's servers (GCS, raylet, object manager, workers, agents) to its node address,
    which on Linux is the machine's routable address: reachable from the network, without authentication, by
    anyone who can run tasks (code) on it. ``ray.init(_node_ip_address="127.0.0.1")`` alone does not help: Ray
    resolves a loopback address to the routable one. Ray uses the loopback address when it treats the machine as
    a host that runs no cluster (its ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read at import and by the processes
    it starts), and then its servers listen on 127.0.0.1 only. Both are set for the start and restored after."""
    import ray
    from ray._private import ray_constants

    before_env, before_flag = os.environ.get(RAY_LOOPBACK_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[RAY_LOOPBACK_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=log, _node_ip_address="127.0.0.1")
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before_flag
        if before_env is None:
            os.environ.pop(RAY_LOOPBACK_ENV, None)
        else:
            os.environ[RAY_LOOPBACK_ENV] = before_env


class _RayDrain:
    """The driver side of a Ray sweep. It claims each group's unfinished cells in the store's leases table before
    submitting its task (the driver holds the lease: it stores the cells and outlives its tasks, which Ray ends
    with it), waits while another live run holds them, refreshes the leases every ``HEARTBEAT_S``, cancels a task
    when no cell of it finishes within ``limit`` seconds of its start (its cells fail by timeout, the sweep goes
    on), and reads every group's stream in its own thread while events and store writes stay on this thread."""

    def __init__(self, ray: Any, store: Any, run_id: str, force: bool, redo: frozenset[str], on_event: OnEvent,
                 stop: threading.Event | None, limit: float | None) -> None:
        self.ray, self.store, self.run_id, self.force, self.redo = ray, store, run_id, force, redo
        self.on_event, self.stop, self.limit = on_event, stop, limit
        self.inbox: queue_module.Queue = queue_module.Queue()
        self.running: dict[str, tuple[GroupSpec, Any, frozenset[str]]] = {}  # label -> (group, stream, claimed)
        self.started: dict[str, float] = {}  # label -> when its task began, or its last cell finished

    def claim(self, group: GroupSpec) -> tuple[frozenset[str] | None, int]:
        """(claimed cells, or None while another live run holds some; how many are held)."""
        wanted = [c.fingerprint for c in group.cells
                  if self.force or c.fingerprint in self.redo or not self.store.has(c.fingerprint)]
        claimed, held = self.store.claim(wanted, self.run_id,
                                         recompute=set(wanted) if self.force else set(self.redo))
        return (None, len(held)) if held else (frozenset(claimed), 0)

    def pump(self, label: str, gen: Any) -> None:
        try:
            for ref in gen:
                self.inbox.put((label, self.ray.get(ref)))
        except Exception as exc:  # noqa: BLE001 - a dead or cancelled task fails its unfinished cells
            first = (str(exc).splitlines() or [""])[0]
            self.inbox.put((label, ("crashed", f"{type(exc).__name__}: {first}".rstrip(": "))))
        finally:  # always, so the driver never waits on a stream that is gone
            self.inbox.put((label, ("finished", "")))

    def fail(self, label: str, error: str) -> None:
        group, _, claimed = self.running.pop(label)
        self.started.pop(label, None)
        for event in crashed_cells(group, self.store, error):
            self.on_event(event)
        self.store.release(sorted(claimed))

    def run(self, groups: Sequence[GroupSpec], submit: Callable[[GroupSpec, frozenset[str]], Any]) -> None:
        from advisor.sweep.store import HEARTBEAT_S

        waiting = list(groups)
        told: set[str] = set()
        beating = threading.Event()

        def beat() -> None:
            while not beating.wait(HEARTBEAT_S):
                try:
                    self.store.heartbeat()
                except Exception:  # noqa: BLE001 - a busy store: try again next beat
                    pass
        threading.Thread(target=beat, daemon=True, name="advisor-heartbeat").start()
        next_claim = 0.0
        try:
            while waiting or self.running:
                if waiting and time.monotonic() >= next_claim:
                    for group in list(waiting):
                        claimed, held = self.claim(group)
                        if claimed is None:
                            if group.label not in told:
                                told.add(group.label)
                                self.on_event(Event("waiting", group.label,
                                                    message=f"{held} cell(s) being computed by another run"))
                            continue
                        waiting.remove(group)
                        if not claimed:
                            continue  # another run finished them all
                        gen = submit(group, claimed)
                        self.running[group.label] = (group, gen, claimed)
                        threading.Thread(target=self.pump, args=(group.label, gen), daemon=True).start()
                    next_claim = time.monotonic() + 0.5
                try:
                    label, item = self.inbox.get(timeout=0.2)
                except queue_module.Empty:
                    if self.stop is not None and self.stop.is_set():
                        raise KeyboardInterrupt
                    self.time_out()
                    continue
                if label not in self.running:
                    continue  # a group already timed out: whatever its stream still says is ignored
                if isinstance(item, tuple):
                    kind, message = item
                    if kind == "crashed":
                        group = self.running[label][0]
                        self.fail(label, f"Ray task for {group.label} failed: {message}")
                    else:
                        self.store.release(sorted(self.running.pop(label)[2]))
                        self.started.pop(label, None)
                    continue
                if item.kind in ("start", "cell"):
                    self.started[label] = time.monotonic()
                self.on_event(item)
                self.time_out()
        except BaseException:
            for _, gen, _ in list(self.running.values()):
                self._cancel(gen)
            if isinstance(sys.exc_info()[1], KeyboardInterrupt) and self.stop is not None and self.stop.is_set():
                return
            raise
        finally:
            beating.set()
            try:
                self.store.release()
            except Exception:  # noqa: BLE001 - a dead lease is taken over anyway
                pass

    def time_out(self) -> None:
        if self.limit is None:
            return
        now = time.monotonic()
        for label, since in list(self.started.items()):
            if label in self.running and now - since > self.limit:
                self._cancel(self.running[label][1])
                self.fail(label, f"Ray task for {label} timed out: no cell finished within --cell-timeout "
                                 f"{number(self.limit, digits=6)} s")

    def _cancel(self, gen: Any) -> None:
        try:
            self.ray.cancel(gen, force=True)
        except Exception:  # noqa: BLE001 - already finished
            pass
