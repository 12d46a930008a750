"""Datasets screen: the evaluation tasks of the run, loaded through the registered task sources (in a worker)."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Static

from advisor.errors import UserError

from ..messages import DatasetLoaded
from ..session import EXAMPLES_MISSING, DatasetState, task_size
from .base import AdvisorScreen


class DatasetsScreen(AdvisorScreen):
    AUTO_FOCUS = "#datasets"
    HINT = "type a dataset path and press enter · e: add the examples in data/ · delete: remove the row"
    BINDINGS = [Binding("e", "app.add_examples", "Examples"), Binding("delete", "remove", "Remove")]

    def body(self) -> Iterable[Widget]:
        with Horizontal(id="dataset-add"):
            yield Input(id="dataset-path", placeholder="dataset path (folder or file) or mteb:TaskName")
            yield Button("Add", id="dataset-add-button", variant="primary")
        table: DataTable = DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
        table.add_columns("dataset", "task", "type", "size", "content hash", "status")
        yield table
        yield Static(id="datasets-detail", classes="detail")

    def refresh_view(self) -> None:
        table = self.query_one("#datasets", DataTable)
        table.clear()
        for state in self.session.datasets:
            if state.task is None and state.error is None and not state.loading:
                state.loading = True
                self._load(state)
            task = state.task
            status = (Text("loaded", style="green") if task else
                      Text(state.error, style="red") if state.error else Text("loading…", style="yellow"))
            table.add_row(state.spec, task.name if task else "", task.type if task else "",
                          task_size(task) if task else "", task.content_hash if task else "", status, key=state.spec)
        examples = self.session.example_datasets()
        detail = f"{len(self.session.tasks())} task(s) ready for the run"
        if examples:
            detail += f" · examples in data/: {', '.join(e.rsplit('/', 1)[-1] for e in examples)}"
        else:
            detail += f" · {EXAMPLES_MISSING}"
        failed = [d for d in self.session.datasets if d.error]
        text = Text(detail)
        for state in failed:
            text.append(f"\n{state.error}", style="red")
        self.query_one("#datasets-detail", Static).update(text)

    @work(thread=True, group="datasets")
    def _load(self, state: DatasetState) -> None:
        self.session.load_dataset(state)
        self.post_message(DatasetLoaded(state))

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        self.refresh_view()

    @on(Input.Submitted, "#dataset-path")
    @on(Button.Pressed, "#dataset-add-button")
    def _add(self) -> None:
        field = self.query_one("#dataset-path", Input)
        try:
            self.session.add_dataset(field.value)
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return
        field.value = ""
        self.refresh_view()
        self.query_one("#datasets", DataTable).focus()  # so the number keys switch screens again

    def action_remove(self) -> None:
        table = self.query_one("#datasets", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self.session.remove_dataset(key)
            self.refresh_view()
