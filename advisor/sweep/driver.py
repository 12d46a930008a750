"""The driver: runs a plan through an executor, records the run in the store, and hands every event on.

It is the parent side of a sweep (``advisor run``, ``advisor recommend``, the TUI); the worker side, which loads a
model and computes its cells, is ``advisor.sweep.worker``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.sweep.events import Emit, Event
from advisor.sweep.planner import GroupSpec, model_loads, probe_parts


@dataclass
class RunSummary:
    run_id: str
    status: str = "running"
    planned: int = 0
    already_done: int = 0
    computed: int = 0
    failed: int = 0
    skipped: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float | None = None  # the run's wall time, beside the estimate its plan recorded (advisor.sweep.estimate)
    group_s: dict[str, float] = field(default_factory=dict)  # each model load's time, from its start to its end

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def unstable_cells(plan: Any, store: Any) -> set[str]:
    """Fingerprints of the plan's finished cost cells whose figures were marked unstable (did not settle, or were
    taken under contention): what ``--remeasure unstable`` measures again."""
    wanted = [c.fingerprint for c in plan.cells if c.key.kind == "cost" and probe_parts(c.key) is None]
    return {r.fingerprint for r in store.results(fingerprint=wanted, status="ok")
            if ((r.details.get("stability") or {}).get("unstable"))}


def load_mode_changed(plan: Any, store: Any) -> set[str]:
    """Fingerprints of the plan's finished cost cells whose load figures cannot stand beside those the plan would
    measure now, so they are measured again rather than reused: a load test run under another ``load_server`` than
    the plan's policy asks for (``costs: {load_server: ...}``; an in-process figure is not a served one); one from a
    retired load test (``advisor.cost.served.retired_load_test``: the thread-based simulation, or the single run at
    1.5x the batch-1 capacity, a saturation probe), under either mode; and one that did not measure p95 at a rate the
    policy's load limit names (``limits.max_p95_latency_ms_at_load: {rate_qps: ...}``). Cells measured without a
    load test are left alone."""
    from advisor.cost.served import retired_load_test

    wanted = {c.fingerprint: g for g in plan.groups for c in g.cells if c.key.kind == "cost"
              and probe_parts(c.key) is None}  # a racing sweep's probe measures only what the limits need
    changed = set()
    for r in store.results(fingerprint=list(wanted), status="ok"):
        load = r.details.get("load_test")
        if not isinstance(load, dict):
            continue
        group = wanted[r.fingerprint]
        asked = set(load.get("rates_asked") or ())
        if (retired_load_test(load) or load.get("requested", "in-process") != group.load_server
                or not set(getattr(group, "load_rates", ())) <= asked):
            changed.add(r.fingerprint)
    return changed


def memory_changed(plan: Any, store: Any) -> set[str]:
    """Fingerprints of the plan's finished cost cells (a model's or BM25's) whose memory was not measured as the
    serving footprint is now (``details["memory"]["method"]`` is not ``advisor.cost.memory.FOOTPRINT_METHOD``: a
    model's peak RSS without its vectors, BM25's index alone, a GPU allocator's peak): measured again, so a memory
    figure is never ranked beside one measured another way."""
    from advisor.cost.memory import FOOTPRINT_METHOD

    wanted = [c.fingerprint for c in plan.cells if c.key.kind == "cost" and probe_parts(c.key) is None]
    return {r.fingerprint for r in store.results(fingerprint=wanted, status="ok")
            if (r.details.get("memory") or {}).get("method") != FOOTPRINT_METHOD}


def pending_groups(groups: list[GroupSpec], store: Any, force: bool,
                   redo: set[str] | frozenset[str] = frozenset()) -> tuple[list[GroupSpec], int]:
    """Groups with at least one unfinished cell (or a cell in ``redo``), and how many planned cells are already
    finished."""
    out, done = [], 0
    for group in groups:
        finished = 0 if force else sum(store.has(c.fingerprint) and c.fingerprint not in redo for c in group.cells)
        done += finished
        if finished < len(group.cells):
            out.append(group)
    return out, done


def run_plan(plan: Any, store: Any, *, executor: str = "local", executor_options: dict | None = None,
             force: bool = False, command: str | None = None, on_event: Emit | None = None,
             stop: Any = None, remeasure: str | None = None) -> RunSummary:
    """Run a plan through a registered executor, recording the run in the store. Finished cells are skipped
    (``force`` recomputes them; ``remeasure="unstable"`` measures again the cost cells marked unstable, and no
    other finished cell). Ctrl-C (KeyboardInterrupt) or ``stop.set()`` ends the run as 'interrupted' with every
    finished cell kept; running the same plan again resumes it."""
    import time

    from advisor.sweep.executors import get_executor

    runner = get_executor(executor)
    began = time.monotonic()
    cells = plan.cells
    run_id = store.start_run(plan.to_dict(), cells=[(c.fingerprint, c.label) for c in cells], executor=executor,
                             command=command)
    summary = RunSummary(run_id, planned=len(cells), skipped=[s.__dict__ for s in plan.skipped])
    if remeasure not in (None, "unstable"):
        from advisor.errors import UserError

        raise UserError(f"--remeasure {remeasure}: only 'unstable' can be measured again")
    redo = ((unstable_cells(plan, store) if remeasure == "unstable" else set()) | load_mode_changed(plan, store)
            | memory_changed(plan, store))
    groups, summary.already_done = pending_groups(plan.groups, store, force, redo)
    options = {**(executor_options or {}), "redo": sorted(redo)}
    started: dict[str, float] = {}

    def handle(event: Event) -> None:
        if event.kind == "start":
            started[event.group] = time.monotonic()
        elif event.kind == "end" and event.group in started:
            summary.group_s[event.group] = round(time.monotonic() - started.pop(event.group), 3)
        if event.kind == "cell" and event.result is not None:
            if not event.stored:
                store.put(event.result, run_id=run_id)
            summary.computed += 1
            if event.result.status != "ok":
                summary.failed += 1
                summary.errors.append(f"{event.result.key.model}: {event.result.error}")
        if on_event is not None:
            on_event(event)

    if on_event is not None:
        on_event(Event("plan", run_id, total=len(cells) - summary.already_done, n=summary.already_done,
                       message=f"{model_loads(groups)} model load(s)"))
    try:
        runner.execute(groups, store_path=store.path, run_id=run_id, force=force, on_event=handle,
                       options=options, stop=stop)
        summary.status = "interrupted" if stop is not None and stop.is_set() else "finished"
    except KeyboardInterrupt:
        summary.status = "interrupted"
    except BaseException as exc:
        _end_failed(store, summary, exc)
        raise
    try:
        store.checkpoint()  # the run's cells into the store file; a disk that filled is reported here
    except Exception as exc:
        _end_failed(store, summary, exc)
        raise
    summary.wall_s = round(time.monotonic() - began, 3)
    store.finish_run(run_id, summary.status, summary.to_dict())
    return summary


def _end_failed(store: Any, summary: RunSummary, exc: BaseException) -> None:
    """Record the run as failed. When the store itself cannot be written (disk full, read-only) that record may
    fail too: the run is then marked interrupted by the next command that opens the store (its pid is gone)."""
    from advisor.sweep.store import StoreError

    summary.status = "failed"
    summary.errors.append(f"{type(exc).__name__}: {exc}")
    try:
        store.finish_run(summary.run_id, summary.status, summary.to_dict())
    except StoreError:
        if not isinstance(exc, StoreError):
            raise
