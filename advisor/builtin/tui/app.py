"""The Textual app: one screen (mode) per step of the choice, app-wide key bindings, a palette entry per action.

The app holds no logic of its own: the catalog and policy come from ``advisor.inputs``, the screening from
``advisor.policy.screening``, the run from ``advisor.sweep.planner.plan_sweep`` + ``advisor.sweep.driver.run_plan`` (in a
thread worker), the ranking and the report from ``advisor.pipeline`` (in workers too). The workers post the messages
of ``messages.py``; the ``on_...`` handlers here apply them to the run's state and refresh the screen shown.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from .commands import AdvisorCommands
from .messages import CellFinished, RankingReady, ReportWritten, RunFinished, RunPlanned, RunProgress, SweepFailed
from .screens.catalog import CatalogScreen
from .screens.datasets import DatasetsScreen
from .screens.plot import PlotScreen
from .screens.policy import PolicyScreen
from .screens.recommend import RecommendScreen
from .screens.results import ResultsScreen
from .screens.run import RunScreen
from .session import EXAMPLES_MISSING, Session
from .sweep import SweepController


class AdvisorApp(App):
    """``advisor tui``."""

    CSS_PATH = "advisor.tcss"
    TITLE = "embedding-advisor"
    MODES = {"catalog": CatalogScreen, "policy": PolicyScreen, "datasets": DatasetsScreen, "run": RunScreen,
             "results": ResultsScreen, "plot": PlotScreen, "recommend": RecommendScreen}
    DEFAULT_MODE = "catalog"
    COMMANDS = App.COMMANDS | {AdvisorCommands}
    BINDINGS = [
        Binding("1", "show('catalog')", "Catalog"),
        Binding("2", "show('policy')", "Policy"),
        Binding("3", "show('datasets')", "Data"),
        Binding("4", "show('run')", "Run"),
        Binding("5", "show('results')", "Results"),
        Binding("6", "show('plot')", "Plot"),
        Binding("7", "show('recommend')", "Why"),
        Binding("ctrl+e", "export_report", "Export"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, session: Session, *, out_dir: str | Path = "advisor-report") -> None:
        super().__init__()
        self.session = session
        self.out_dir = Path(out_dir)
        self.sweep = SweepController(self, session)
        self.report_paths: dict[str, Path] = {}  # the last report exported

    def on_mount(self) -> None:
        self.sub_title = self.session.policy.name

    def on_unmount(self) -> None:
        self.sweep.stop_quietly()

    # ---- navigation ----------------------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        self.switch_mode(mode)

    # ---- actions reachable from any screen (and the palette) -----------------------------------------------
    def action_select_admitted(self) -> None:
        self.session.selected = [s.entry.name for s in self.session.screened if s.admitted]
        self._refresh_screen()
        self.notify(f"{len(self.session.selected)} admitted candidate(s) selected")

    def action_clear_selection(self) -> None:
        self.session.selected = []
        self._refresh_screen()

    async def action_save_policy(self) -> None:
        await self.switch_mode("policy")
        self.screen.query_one("#save-name").focus()

    def action_add_examples(self) -> None:
        examples = self.session.example_datasets()
        if not examples:
            self.notify(EXAMPLES_MISSING, severity="warning")
            return
        for spec in examples:
            self.session.add_dataset(spec)
        self.switch_mode("datasets")
        self.call_after_refresh(self._refresh_screen)

    async def action_start_run(self) -> None:
        await self.switch_mode("run")
        if self.sweep.start():
            self._refresh_screen()

    def action_cancel_run(self) -> None:
        if self.sweep.cancel():
            self._refresh_screen()

    def action_reload_results(self) -> None:
        self.sweep.invalidate()
        self._refresh_screen()

    def action_export_report(self) -> None:
        self.sweep.export(self.out_dir)

    async def action_apply_policy(self) -> None:
        await self.switch_mode("policy")
        self.screen.action_apply()  # type: ignore[attr-defined]

    def policy_changed(self) -> None:
        """After a new policy is picked, adjusted or saved: the title and every screen that shows screening
        follow (the ranking follows by itself: the policy is part of what it is cached for)."""
        self.sub_title = self.session.policy.name

    # ---- what the workers post -----------------------------------------------------------------------------
    def on_run_planned(self, message: RunPlanned) -> None:
        self.sweep.state.planned(message.plan, message.done, stopping=self.sweep.stopping)
        self._refresh_screen()

    def on_run_progress(self, message: RunProgress) -> None:
        self.sweep.state.progress(message.event)
        self._refresh_screen()

    def on_cell_finished(self, message: CellFinished) -> None:
        self.sweep.state.cell_finished(message.result)
        self.sweep.invalidate()
        self._refresh_screen()

    def on_run_finished(self, message: RunFinished) -> None:
        summary = message.summary
        self.sweep.state.finished(summary)
        self.sweep.invalidate()
        self.notify(self.sweep.state.message,
                    severity="warning" if summary.failed or summary.status != "finished" else "information")
        self._refresh_screen()

    def on_sweep_failed(self, message: SweepFailed) -> None:
        self.sweep.state.failed(message.message)
        self.notify(message.message, severity="error", timeout=10)
        self._refresh_screen()

    def on_ranking_ready(self, message: RankingReady) -> None:
        if self.sweep.ranking_ready(message):
            self._refresh_screen()

    def on_report_written(self, message: ReportWritten) -> None:
        if message.error:
            self.notify(f"cannot export: {message.error}", severity="error", timeout=10)
            return
        self.report_paths = message.paths
        self.notify(f"report written to {message.out_dir}: {', '.join(p.name for p in message.paths.values())}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self.sweep.worker and event.state == WorkerState.ERROR:
            self.sweep.worker_failed(event.worker.error)
            self._refresh_screen()

    def _refresh_screen(self) -> None:
        """Show the session's new state on the current screen (a screen still mounting refreshes itself)."""
        refresh = getattr(self.screen, "refresh_view", None)
        if refresh is not None and self.screen.is_mounted:
            refresh()
