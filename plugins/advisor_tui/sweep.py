"""How the TUI runs a sweep and reads its outcome: the real planner and runner in a thread worker, the store,
the ranking and the report writers. Nothing here computes a figure; it calls the core and forwards progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

    from .session import Session


class SweepController:
    def __init__(self, app: "App", session: "Session") -> None:
        self.app, self.session = app, session

    def start(self) -> None:
        self.app.notify("the runner is not available yet", severity="warning")

    def cancel(self) -> None:
        pass

    def export(self, out_dir: Path) -> None:
        self.app.notify("the report writers are not available yet", severity="warning")
