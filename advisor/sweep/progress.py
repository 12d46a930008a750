"""Progress of a sweep in the terminal: one bar for the cells (with ETA) and one for the texts being encoded.

Fed by ``runner.Event``s through ``run_plan(on_event=...)``; any other front end (the TUI) can consume the same
events instead.
"""

from __future__ import annotations

from typing import Any

from advisor.sweep.events import Event


class SweepProgress:
    """A rich progress display; use as a context manager and pass ``self.on_event`` to ``run_plan``."""

    def __init__(self, console: Any = None, *, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = console or Console(stderr=True)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                                 TimeRemainingColumn(), console=self.console, disable=not enabled,
                                 transient=False)
        self.enabled = enabled
        self.cells_task: Any = None
        self.encode_task: Any = None
        self.counts: dict[str, list[int]] = {}

    def __enter__(self) -> "SweepProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def log(self, message: str) -> None:
        if self.enabled:
            self.progress.console.print(message, highlight=False)

    @staticmethod
    def _e(text: object) -> str:
        from rich.markup import escape

        return escape(str(text))

    def on_event(self, event: Event) -> None:
        p = self.progress
        if event.kind == "plan":
            self.cells_task = p.add_task("cells", total=max(event.total, 0))
            if event.n:
                self.log(f"{event.n} cell(s) already in the store are kept; {event.total} to compute "
                         f"({event.message})")
        elif event.kind == "start":
            self.counts[event.group] = [0, 0]
            if event.total:
                self.log(f"[bold]{self._e(event.group)}[/]: {event.total} cell(s) to compute")
        elif event.kind == "encode":
            if self.encode_task is None:
                self.encode_task = p.add_task("encoding", total=event.total)
            p.update(self.encode_task, description=f"encoding {self._e(event.message)}", completed=event.n,
                     total=event.total)
        elif event.kind == "cell" and event.result is not None:
            ok = event.result.status == "ok"
            counts = self.counts.setdefault(event.group, [0, 0])
            counts[0 if ok else 1] += 1
            if self.cells_task is not None:
                p.advance(self.cells_task)
            if not ok:
                self.log(f"  [red]failed[/] {self._e(event.result.key.model)} {self._e(event.result.key.task)}: "
                         f"{self._e(event.result.error)}")
        elif event.kind == "end":
            ok, failed = self.counts.get(event.group, [0, 0])
            if ok or failed:
                self.log(f"  {self._e(event.group)}: {ok} ok, {failed} failed")
        elif event.kind == "error":
            self.log(f"  [red]worker error[/] {self._e(event.group)}: {self._e(event.message.splitlines()[0])}")
