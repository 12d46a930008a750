"""How the TUI runs a sweep and reads its outcome, through the same code as ``advisor run`` / ``rank`` / ``report``:
``advisor.sweep.planner.plan_from_files`` builds the plan, ``advisor.sweep.driver.run_plan`` runs it (here in a Textual thread
worker, cancelled through its ``stop`` event), ``advisor.sweep.store.ResultStore`` keeps every finished cell, and
``advisor.ranking.rank`` and ``advisor.reporting`` turn the store into the recommendation and the report.

Nothing here computes a figure: it forwards the runner's events to the screens and keeps a per-cell view of them.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.errors import UserError

if TYPE_CHECKING:
    from textual.app import App
    from textual.worker import Worker

    from advisor.sweep.planner import Plan
    from advisor.ranking import Recommendation
    from advisor.sweep.results import CellKey

    from .session import Session

@dataclass
class CellRow:
    fingerprint: str
    label: str
    kind: str
    model: str
    task: str
    state: str = "pending"
    seconds: float | None = None
    figure: str = ""
    error: str | None = None
    group: str = ""  # the runner's label of the model load this cell belongs to


@dataclass
class RunState:
    """The run screen's model of the sweep, updated on the UI thread from the runner's events."""

    status: str = "idle"           # idle | planning | running | cancelling | finished | interrupted | failed
    run_id: str | None = None
    cells: dict[tuple, CellRow] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    encode_done: int = 0
    encode_total: int = 0
    encode_label: str = ""
    message: str = ""
    started: float | None = None
    follow: str | None = None  # the cell the run table shows: the one that started or finished last

    def count(self, *states: str) -> int:
        return sum(row.state in states for row in self.cells.values())

    @property
    def finished_cells(self) -> int:
        return self.count("stored", "ok", "failed")


def _figure(result: Any) -> str:
    """The one number worth showing in the run table for a finished cell."""
    if result.status != "ok":
        return (result.error or "failed").splitlines()[0][:80]
    metrics = result.metrics
    if result.key.kind == "cost":
        parts = []
        if "latency_p95_ms" in metrics:
            parts.append(f"p95 {metrics['latency_p95_ms']:.1f} ms")
        if "docs_per_s" in metrics:
            parts.append(f"{metrics['docs_per_s']:.0f} docs/s")
        return ", ".join(parts)
    main = result.details.get("main_metric")
    if main in metrics:
        return f"{main} {metrics[main]:.4f}"
    return ""


def ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr. The local executor spawns worker processes,
    and the tracker hands ``sys.stderr.fileno()`` to its own child; under Textual ``sys.stderr`` is a capture
    object whose fileno is -1, which makes every spawn fail with 'bad value(s) in fds_to_keep'."""
    from multiprocessing import resource_tracker

    with redirect_stderr(sys.__stderr__):
        resource_tracker.ensure_running()


class SweepController:
    """Owns the sweep worker; lives on the app so a run goes on while the user looks at other screens."""

    def __init__(self, app: "App", session: "Session") -> None:
        self.app, self.session = app, session
        self.state = RunState()
        self.worker: "Worker | None" = None
        self._stop = threading.Event()
        self._recommendation: "Recommendation | None" = None
        self._recommendation_at: tuple = ()

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.is_finished

    # ---- start / cancel ------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Plan the selected candidates x the policy's variants x the datasets and run it (finished cells are
        reused, so a second start after a cancel resumes)."""
        if self.running:
            self.app.notify("a run is already going; cancel it first", severity="warning")
            return False
        if not self.session.selected:
            self.app.notify("select candidates on the catalog screen first (space, or 'a' for all admitted)",
                            severity="warning")
            return False
        if not self.session.datasets:
            self.app.notify("add a dataset on the datasets screen first", severity="warning")
            return False
        ensure_resource_tracker()
        self._stop = threading.Event()
        self.state = RunState(status="planning", message="planning…", started=time.time())
        self._notify_screens()
        self.worker = self.app.run_worker(self._run, thread=True, group="sweep", exclusive=True, name="sweep",
                                          exit_on_error=False)
        return True

    def cancel(self) -> None:
        if not self.running:
            self.app.notify("no run is going", severity="warning")
            return
        self._stop.set()
        self.state.status = "cancelling"
        self.state.message = "cancelling: the worker stops; every finished cell stays in the store"
        self._notify_screens()

    def stop_quietly(self) -> None:
        """On quit: the executor stops its worker process; finished cells are already in the store."""
        self._stop.set()

    # ---- the worker (a thread) -----------------------------------------------------------------------------
    def _run(self) -> None:
        from advisor.sweep.planner import plan_from_files
        from advisor.sweep.driver import run_plan
        from advisor.sweep.store import ResultStore

        session = self.session
        try:
            plan, _tasks = plan_from_files(session.catalog_paths, Path(session.policy.file) if session.policy.file
                                           else None, [d.spec for d in session.datasets],
                                           models=list(session.selected), measure_cost=session.measure_cost)
            store = ResultStore(session.store_path)
        except UserError as exc:
            self._to_ui(self._failed, str(exc))
            return
        done = {c.fingerprint: store.get(c.fingerprint) for c in plan.cells if store.has(c.fingerprint)}
        self._to_ui(self._planned, plan, done)
        try:
            summary = run_plan(plan, store, on_event=lambda e: self._to_ui(self._on_event, e), stop=self._stop,
                               command="advisor tui")
        except Exception as exc:  # noqa: BLE001 - the UI reports it; the run record says 'failed'
            self._to_ui(self._failed, f"{type(exc).__name__}: {exc}")
            return
        finally:
            store.close()
        self._to_ui(self._finished, summary)

    def _to_ui(self, handler: Any, *args: Any) -> None:
        """Run ``handler`` on the UI thread; once the app has closed, stop the run instead (what is stored
        stays, and the run is recorded as interrupted)."""
        try:
            self.app.call_from_thread(handler, *args)
        except RuntimeError:  # the app is no longer running
            self._stop.set()

    # ---- UI-thread handlers --------------------------------------------------------------------------------
    def _planned(self, plan: "Plan", done: dict[str, Any]) -> None:
        cells = {}
        for group in plan.groups:
            for cell in group.cells:
                row = CellRow(cell.fingerprint, cell.label, cell.key.kind, cell.key.model, cell.key.task,
                              "pending", group=group.label)
                stored = done.get(cell.fingerprint)
                if stored is not None:
                    row.state, row.figure = "stored", _figure(stored)
                cells[cell.key.identity()] = row
        self.state.cells = cells
        self.state.skipped = [f"{s.model} {s.variant}: {s.reason}" for s in plan.skipped]
        self.state.status = "running" if not self._stop.is_set() else "cancelling"
        self.state.message = (f"{len(cells)} cells in {len(plan.groups)} model load(s); {len(done)} already in "
                              f"the store")
        self._notify_screens()

    def _on_event(self, event: Any) -> None:
        state = self.state
        if event.kind == "plan":
            state.run_id = event.group
        elif event.kind == "start":
            started = [row for row in state.cells.values()
                       if row.state == "pending" and row.group == event.group]
            for row in started:
                row.state = "running"
            if started:
                state.follow = started[0].fingerprint
            state.message = f"{event.group}: {event.total} cell(s) to compute"
        elif event.kind == "encode":
            state.encode_done, state.encode_total, state.encode_label = event.n, event.total, event.message
        elif event.kind == "cell" and event.result is not None:
            result = event.result
            row = state.cells.get(result.key.identity())
            if row is not None:
                row.state = "ok" if result.status == "ok" else "failed"
                state.follow = row.fingerprint
                row.error = result.error
                row.figure = _figure(result)
                if result.started_at and result.finished_at:
                    row.seconds = result.finished_at - result.started_at
        elif event.kind == "error":
            state.message = event.message
        self._notify_screens(event.kind == "cell")

    def _finished(self, summary: Any) -> None:
        state = self.state
        state.status = summary.status
        state.run_id = summary.run_id
        for row in state.cells.values():
            if row.state == "running":
                row.state = "pending"
        state.message = (f"run {summary.run_id} {summary.status}: {summary.computed} computed, "
                         f"{summary.already_done} reused from the store, {summary.failed} failed")
        if summary.status == "interrupted":
            state.message += f"; {state.count('pending')} cell(s) left: press ctrl+r to resume"
        self.app.notify(state.message, severity="warning" if summary.failed or summary.status != "finished"
                        else "information")
        self._notify_screens(True)

    def _failed(self, message: str) -> None:
        self.state.status = "failed"
        self.state.message = message
        self.app.notify(message, severity="error", timeout=10)
        self._notify_screens()

    def _notify_screens(self, results_changed: bool = False) -> None:
        if results_changed:
            self._recommendation = None
        self.app._refresh_screen()  # type: ignore[attr-defined]

    # ---- reading the outcome -------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Read the store again on the next look (another process, e.g. 'advisor run', may have written it)."""
        self._recommendation = None

    def _rank_args(self) -> tuple[Path | None, list[str], list[str]]:
        session = self.session
        policy = Path(session.policy.file) if session.policy.file else None
        return policy, [str(p) for p in session.catalog_paths], [t.name for t in session.tasks()]

    def recommendation(self) -> "Recommendation":
        """What ``advisor rank --store S --policy P --catalog C --task T...`` computes
        (``advisor.pipeline.rank_store``): the store's cells in the policy's grid, for the session's
        tasks, ranked by ``advisor.ranking.rank``. Cached until a cell lands, the policy or the tasks change.
        Raises UserError when the store holds nothing to rank yet."""
        from advisor.pipeline import rank_store

        policy, catalogs, tasks = self._rank_args()
        key = (policy, self.session.policy.name, tuple(tasks))
        if self._recommendation is None or self._recommendation_at != key:
            if not self.session.store_path.exists():
                raise UserError(f"no results yet in {self.session.store_path}: select candidates, add datasets "
                                f"and run them (4, then ctrl+r)")
            self._recommendation = rank_store(self.session.store_path, policy, catalogs,
                                              tasks=tasks).recommendation
            self._recommendation_at = key
        return self._recommendation

    def export(self, out_dir: Path) -> dict[str, Path]:
        """Write the report with every registered writer: what ``advisor report`` writes
        (``advisor.pipeline.report_store``)."""
        from advisor.pipeline import report_store

        policy, catalogs, tasks = self._rank_args()
        try:
            paths = report_store(self.session.store_path, policy, out_dir, catalogs, tasks=tasks,
                                 command="advisor tui")
        except UserError as exc:
            self.app.notify(f"cannot export: {exc}", severity="error", timeout=10)
            return {}
        self.app.notify(f"report written to {out_dir}: {', '.join(p.name for p in paths.values())}")
        return paths
