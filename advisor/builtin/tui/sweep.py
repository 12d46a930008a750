"""How the TUI runs a sweep and reads its outcome, through the same core functions as ``advisor run`` / ``rank`` /
``report``, on the session's objects (its selected entries, its ``Policy`` as edited, its loaded tasks):
``advisor.sweep.planner.plan_sweep`` builds the plan, ``advisor.sweep.driver.run_plan`` runs it in a Textual thread
worker (stopped through its ``stop`` event), ``advisor.sweep.store.ResultStore`` keeps every finished cell, and
``advisor.pipeline.rank_results`` / ``write_report`` turn the store into the recommendation and the report, in
workers too.

The workers only post messages (``messages.py``); the app's handlers apply them to ``RunState`` on the UI thread.
Nothing here computes a figure.
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
from advisor.figures import DOCS_PER_S, LATENCY_P95_MS, figure_of, lookup

from .messages import CellFinished, RankingReady, ReportWritten, RunFinished, RunPlanned, RunProgress, SweepFailed

if TYPE_CHECKING:
    from textual.app import App
    from textual.message import Message
    from textual.worker import Worker

    from advisor.pipeline import Ranked
    from advisor.ranking import Recommendation
    from advisor.sweep.events import Event
    from advisor.sweep.planner import Plan

    from .session import Session

ACTIVE = ("planning", "running", "cancelling")


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
    """The run screen's model of the sweep, changed only on the UI thread by the app's message handlers."""

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

    # ---- what the worker's messages do ----------------------------------------------------------------------
    def planned(self, plan: "Plan", done: dict[str, Any], *, stopping: bool = False) -> None:
        cells = {}
        for group in plan.groups:
            for cell in group.cells:
                row = CellRow(cell.fingerprint, cell.label, cell.key.kind, cell.key.model, cell.key.task,
                              "pending", group=group.label)
                stored = done.get(cell.fingerprint)
                if stored is not None:
                    row.state, row.figure = "stored", _figure(stored)
                cells[cell.key.identity()] = row
        self.cells = cells
        self.skipped = [f"{s.model} {s.variant}: {s.reason}" for s in plan.skipped]
        self.status = "cancelling" if stopping else "running"
        from advisor.sweep.planner import model_loads

        self.message = (f"{len(cells)} cells in {model_loads(plan.groups)} model load(s); {len(done)} already in "
                        f"the store")

    def progress(self, event: "Event") -> None:
        if event.kind == "plan":
            self.run_id = event.group
        elif event.kind == "start":
            started = [row for row in self.cells.values() if row.state == "pending" and row.group == event.group]
            for row in started:
                row.state = "running"
            if started:
                self.follow = started[0].fingerprint
            self.message = f"{event.group}: {event.total} cell(s) to compute"
        elif event.kind == "encode":
            self.encode_done, self.encode_total, self.encode_label = event.n, event.total, event.message
        elif event.kind == "error":
            self.message = event.message

    def cell_finished(self, result: Any) -> None:
        row = self.cells.get(result.key.identity())
        if row is None:
            return
        row.state = "ok" if result.status == "ok" else "failed"
        self.follow = row.fingerprint
        row.error = result.error
        row.figure = _figure(result)
        if result.started_at and result.finished_at:
            row.seconds = result.finished_at - result.started_at

    def finished(self, summary: Any) -> None:
        self.status = summary.status
        self.run_id = summary.run_id
        for row in self.cells.values():
            if row.state == "running":
                row.state = "pending"
        self.message = (f"run {summary.run_id} {summary.status}: {summary.computed} computed, "
                        f"{summary.already_done} reused from the store, {summary.failed} failed")
        if summary.status == "interrupted":
            self.message += f"; {self.count('pending')} cell(s) left: press ctrl+r to resume"

    def failed(self, message: str) -> None:
        self.status = "failed"
        self.message = message


def _figure(result: Any) -> str:
    """The one number worth showing in the run table for a finished cell."""
    if result.status != "ok":
        return (result.error or "failed").splitlines()[0][:80]
    metrics = result.metrics
    if result.key.kind == "cost":
        parts = []
        if LATENCY_P95_MS in metrics:
            parts.append(f"p95 {lookup(LATENCY_P95_MS).text(metrics[LATENCY_P95_MS])}")
        if DOCS_PER_S in metrics:
            parts.append(lookup(DOCS_PER_S).text(metrics[DOCS_PER_S]))
        return ", ".join(parts)
    main = result.details.get("main_metric")
    if main in metrics:
        return f"{main} {figure_of(main).text(metrics[main])}"
    return ""


def ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr. The local executor spawns worker processes,
    and the tracker hands ``sys.stderr.fileno()`` to its own child; under Textual ``sys.stderr`` is a capture
    object whose fileno is -1, which makes every spawn fail with 'bad value(s) in fds_to_keep'."""
    from multiprocessing import resource_tracker

    with redirect_stderr(sys.__stderr__):
        resource_tracker.ensure_running()


class SweepController:
    """Owns the sweep, ranking and report workers; lives on the app so a run goes on while the user looks at other
    screens. It starts workers and keeps their outcome; the app's message handlers feed it (``state``,
    ``ranking_ready``) and refresh the screens."""

    def __init__(self, app: "App", session: "Session") -> None:
        self.app, self.session = app, session
        self.state = RunState()
        self.worker: "Worker | None" = None
        self._stop = threading.Event()
        self._generation = 0                   # bumped whenever the store may hold new cells
        self._ranked: "Ranked | None" = None   # the latest ranking that arrived ...
        self._ranked_key: tuple | None = None  # ... for this (generation, policy, tasks)
        self._ranking_error: str | None = None
        self._ranking_for: tuple | None = None  # the key a ranking worker is computing
        self._waiting: tuple[str, ...] = ()    # the ranked key's tasks that have no results yet

    @property
    def running(self) -> bool:
        """A run is planned, going or stopping (until its RunFinished or SweepFailed message is handled)."""
        return self.state.status in ACTIVE

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

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
        self.worker = self.app.run_worker(self._run, thread=True, group="sweep", exclusive=True, name="sweep",
                                          exit_on_error=False)
        return True

    def cancel(self) -> bool:
        """Ask the run to stop: the executor stops its worker process; every finished cell stays in the store."""
        if not self.running:
            self.app.notify("no run is going", severity="warning")
            return False
        self._stop.set()
        self.state.status = "cancelling"
        self.state.message = "cancelling: the worker stops; every finished cell stays in the store"
        return True

    def stop_quietly(self) -> None:
        """On quit: the executor stops its worker process; finished cells are already in the store."""
        self._stop.set()

    # ---- the sweep worker (a thread) -----------------------------------------------------------------------
    def _run(self) -> None:
        from textual.worker import get_current_worker

        from advisor.sweep.driver import run_plan
        from advisor.sweep.planner import plan_sweep
        from advisor.sweep.store import ResultStore

        worker = get_current_worker()
        session = self.session
        try:
            errors = session.load_pending()
            if errors:
                raise UserError(errors[0])
            plan = plan_sweep(session.selected_entries(), session.policy, session.tasks(),
                              task_refs=session.task_refs(), measure_cost=session.measure_cost)
            store = ResultStore(session.store_path)
        except UserError as exc:
            self._post(SweepFailed(str(exc)))
            return
        try:
            done = {c.fingerprint: store.get(c.fingerprint) for c in plan.cells if store.has(c.fingerprint)}
            self._post(RunPlanned(plan, done))

            reported: set[str] = set(done)

            def on_event(event: "Event") -> None:
                if worker.is_cancelled:  # the app is closing: stop the run (it is recorded as interrupted)
                    self._stop.set()
                if event.kind == "cell" and event.result is not None:
                    reported.add(event.result.fingerprint)
                self._post(CellFinished(event.result) if event.kind == "cell" and event.result is not None
                           else RunProgress(event))

            summary = run_plan(plan, store, on_event=on_event, stop=self._stop, command="advisor tui")
            for cell in plan.cells:  # a worker stopped by a cancel may have stored cells it never reported:
                if cell.fingerprint not in reported and store.has(cell.fingerprint):  # the table shows the store
                    self._post(CellFinished(store.get(cell.fingerprint)))
        except Exception as exc:  # noqa: BLE001 - the UI reports it; the run record says 'failed'
            self._post(SweepFailed(f"{type(exc).__name__}: {exc}"))
            return
        finally:
            store.close()
        self._post(RunFinished(summary))

    def _post(self, message: "Message") -> None:
        """Hand a message to the UI thread; once the app has closed, stop the run instead (what is stored stays,
        and the run is recorded as interrupted)."""
        try:
            posted = self.app.post_message(message)
        except RuntimeError:  # the app's event loop is gone
            posted = False
        if not posted:
            self._stop.set()

    def worker_failed(self, error: BaseException | None) -> None:
        """The sweep worker ended with an exception its own handler did not catch."""
        if self.running:
            self.state.failed(f"{type(error).__name__}: {error}" if error else "the sweep worker stopped")

    # ---- reading the outcome -------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Rank the store again on the next look (a cell landed, or another process such as 'advisor run' may
        have written it)."""
        self._generation += 1

    def _ranking_key(self) -> tuple:
        return (self._generation, self.session.policy, tuple(t.name for t in self.session.tasks()))

    @property
    def ranking_pending(self) -> bool:
        """A ranking worker is computing a ranking that is not shown yet."""
        return self._ranking_for is not None and self._ranking_for != self._ranked_key

    def recommendation(self) -> "Recommendation | None":
        """What ``advisor rank --store S --policy P --catalog C --task T...`` computes
        (``advisor.pipeline.rank_results``): the store's cells in the session policy's grid, for the session's
        tasks. Ranked in a worker: until its RankingReady message arrives this returns the previous ranking of
        the same policy and tasks (new cells only add to it), else None. Raises UserError when there is nothing
        to rank yet."""
        key = self._ranking_key()
        if self._ranked_key == key:
            if self._ranking_error is not None:
                raise UserError(self._ranking_error)
            return self._ranked.recommendation if self._ranked else None
        if not self.session.store_path.exists():
            raise UserError(f"no results yet in {self.session.store_path}: select candidates, add datasets "
                            f"and run them (4, then ctrl+r)")
        if self._ranking_for != key:
            self._ranking_for = key
            self.app.run_worker(lambda: self._rank(key), thread=True, group="ranking", exclusive=True,
                                name="ranking", exit_on_error=False)
        same = self._ranked_key is not None and self._ranked_key[1:] == key[1:]
        if same and self._ranking_error is None and self._ranked is not None:
            return self._ranked.recommendation
        return None

    def ranking_ready(self, message: RankingReady) -> bool:
        """Keep a ranking that arrived if it is the one asked for last; True when it is (the screens show it)."""
        if message.key != self._ranking_for:
            return False
        self._ranked_key, self._ranking_error = message.key, message.error
        self._ranked = message.ranked if message.error is None else None
        self._waiting = message.waiting
        return True

    @property
    def tasks_waiting(self) -> tuple[str, ...]:
        """The session's tasks the shown ranking leaves out because the store has no results for them yet."""
        if self._ranked_key is None or self._ranked_key[1:] != self._ranking_key()[1:]:
            return ()
        return self._waiting

    def _ranked_now(self, policy: Any, tasks: list[str]) -> tuple["Ranked", tuple[str, ...]]:
        """``rank_results`` for the tasks that have results in the policy's grid (the others are returned, so the
        results of one dataset are shown while another is not run yet); none has any: its error."""
        from advisor.pipeline import in_grid, rank_results
        from advisor.sweep.store import ResultStore

        with ResultStore(self.session.store_path) as store:
            present = {r.key.task for r in store.results(task=tasks) if in_grid(r, policy)} if tasks else set()
            waiting = tuple(t for t in tasks if t not in present)
            ranked = [t for t in tasks if t in present] or tasks
            return rank_results(store, self.session.entries, policy, tasks=ranked), waiting

    def _rank(self, key: tuple) -> None:
        _, policy, tasks = key
        try:
            ranked, waiting = self._ranked_now(policy, list(tasks))
            message = RankingReady(key, ranked, waiting=waiting)
        except UserError as exc:
            message = RankingReady(key, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - shown on the screens instead of a silent 'ranking…'
            message = RankingReady(key, error=f"ranking failed: {type(exc).__name__}: {exc}")
        self._post_quietly(message)

    def export(self, out_dir: Path) -> None:
        """Write the report with every registered writer, in a worker: what ``advisor report`` writes
        (``advisor.pipeline.write_report``); a ReportWritten message says where."""
        key = self._ranking_key()
        ready = self._ranked if self._ranked_key == key and self._ranking_error is None else None
        if not self.session.store_path.exists():
            self.app.notify(f"cannot export: no results yet in {self.session.store_path}", severity="error")
            return
        self.app.run_worker(lambda: self._export(out_dir, key, ready), thread=True, group="report",
                            name="report", exit_on_error=False)

    def _export(self, out_dir: Path, key: tuple, ranked: "Ranked | None") -> None:
        from advisor.pipeline import write_report

        _, policy, tasks = key
        try:
            ranked = ranked or self._ranked_now(policy, list(tasks))[0]
            paths = write_report(ranked, out_dir, command="advisor tui", catalogs=self.session.catalog_paths,
                                 datasets=[d.spec for d in self.session.datasets if d.task is not None])
            message = ReportWritten(out_dir, paths)
        except UserError as exc:
            message = ReportWritten(out_dir, {}, str(exc))
        except Exception as exc:  # noqa: BLE001 - a writer's bug is shown, not lost in the worker
            message = ReportWritten(out_dir, {}, f"{type(exc).__name__}: {exc}")
        self._post_quietly(message)

    def _post_quietly(self, message: "Message") -> None:
        try:
            self.app.post_message(message)
        except RuntimeError:  # the app closed while the worker ran: nobody to tell
            pass
