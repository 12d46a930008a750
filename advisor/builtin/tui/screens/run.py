"""Run screen: the planned cells and their live state, driven by the runner's events (see ``sweep.py``)."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual import on
from textual.widgets import Button, Checkbox, DataTable, ProgressBar, Static

from advisor.formatting import number

from .base import AdvisorScreen

STATE_STYLE = {"pending": "grey50", "stored": "cyan", "running": "yellow", "ok": "green", "failed": "bold red"}
STATUS_STYLE = {"running": "yellow", "planning": "yellow", "cancelling": "yellow", "finished": "green",
                "interrupted": "magenta", "failed": "red", "idle": ""}


class RunScreen(AdvisorScreen):
    AUTO_FOCUS = "#cells"
    HINT = ("ctrl+r: start, or resume after a cancel (cells already in the store are reused) · "
            "c: cancel (finished cells stay in the store)")
    BINDINGS = [Binding("ctrl+r", "app.start_run", "Run/resume"), Binding("c", "app.cancel_run", "Cancel")]

    def __init__(self) -> None:
        super().__init__()
        self._shown: dict[str, tuple[str, ...]] = {}
        self._followed: str | None = None

    def body(self) -> Iterable[Widget]:
        with Horizontal(id="run-bar"):
            yield Button("Run / resume", id="run-start", variant="success")
            yield Button("Cancel", id="run-cancel", variant="error")
            yield Checkbox("measure cost", value=self.session.measure_cost, id="run-cost",
                           tooltip="throughput, batch-1 latency and peak memory (off: quality only, like "
                                   "'advisor run --no-cost')")
            yield Static(id="run-status")
        with Horizontal(id="run-progress"):
            yield Static("cells", classes="progress-label")
            yield ProgressBar(id="cells-progress", show_eta=False)
            yield Static("encoding", classes="progress-label")
            yield ProgressBar(id="encode-progress", show_eta=False)
            yield Static(id="encode-label")
        table: DataTable = DataTable(id="cells", cursor_type="row", zebra_stripes=True)
        table.add_columns("state", "model", "task", "cell", "seconds", "figure")
        yield table
        yield Static(id="run-detail", classes="detail")

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run-start":
            await self.app.run_action("start_run")
        elif event.button.id == "run-cancel":
            self.advisor.action_cancel_run()

    @on(Checkbox.Changed, "#run-cost")
    def _cost_toggled(self, event: Checkbox.Changed) -> None:
        self.session.measure_cost = event.value

    def refresh_view(self) -> None:
        state = self.advisor.sweep.state
        status = Text(state.status, style=STATUS_STYLE.get(state.status, ""))
        status.append(f"  run {state.run_id}" if state.run_id else "")
        status.append(f"  {state.finished_cells}/{len(state.cells)} cells done", style="bold")
        self.query_one("#run-status", Static).update(status)
        cells = self.query_one("#cells-progress", ProgressBar)
        cells.update(total=max(len(state.cells), 1) if state.cells else None, progress=state.finished_cells)
        encode = self.query_one("#encode-progress", ProgressBar)
        encode.update(total=state.encode_total or None, progress=state.encode_done)
        self.query_one("#encode-label", Static).update(state.encode_label)
        self._fill_table()
        detail = Text(state.message)
        for line in state.skipped[:4]:
            detail.append(f"\nskipped {line}", style="grey50")
        if len(state.skipped) > 4:
            detail.append(f"\n… {len(state.skipped) - 4} more variant(s) skipped", style="grey50")
        self.query_one("#run-detail", Static).update(detail)

    def _fill_table(self) -> None:
        table = self.query_one("#cells", DataTable)
        rows = self.advisor.sweep.state.cells
        if set(table.rows) != {row.fingerprint for row in rows.values()}:
            table.clear()
            self._shown = {}
            for row in rows.values():
                cells = self._cells(row)
                self._shown[row.fingerprint] = tuple(str(c) for c in cells)
                table.add_row(*cells, key=row.fingerprint)
            return
        for row in rows.values():  # update in place, only the rows that changed
            cells = self._cells(row)
            shown = tuple(str(c) for c in cells)
            if self._shown.get(row.fingerprint) == shown:
                continue
            self._shown[row.fingerprint] = shown
            for column, value in zip(table.columns, cells):
                table.update_cell(row.fingerprint, column, value, update_width=True)
        last = self.advisor.sweep.state.follow
        if last is not None and last != self._followed and last in table.rows:
            self._followed = last  # follow the run
            table.move_cursor(row=table.get_row_index(last))

    @staticmethod
    def _cells(row) -> list:
        cell = row.label.split(f"{row.model} {row.task} ", 1)[-1]
        return [Text(row.state, style=STATE_STYLE.get(row.state, "")), row.model, row.task, cell,
                "" if row.seconds is None else number(row.seconds, decimals=2),
                Text(row.figure, style="red" if row.state == "failed" else "")]
