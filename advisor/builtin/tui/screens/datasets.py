"""Datasets screen: the evaluation tasks of the run, loaded through the registered task sources (in a worker).

What ``advisor run --dataset PATH --dataset-type TYPE --corpus FILE`` takes, typed in the screen: a path (or
``mteb:`` / ``hf:`` name), the type to read it with and a corpus file, for the paths added next; a BEIR folder's
split is picked for the row under the cursor. The lines the CLI prints first (UNLABELED, SYNTHETIC) are shown
first, above the table; a path that does not exist is the loader's one line, and nothing is added."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from advisor.errors import UserError

from ..messages import DatasetLoaded
from ..session import EXAMPLES_MISSING, DatasetState, split_choices, task_size
from .base import AdvisorScreen


def type_options() -> list[tuple[str, str]]:
    """The registered task sources, as ``--dataset-type`` names them (``advisor datasets sources``)."""
    from advisor.plugins import registered

    return [(name, name) for name in sorted(registered("task_sources"))]


class DatasetsScreen(AdvisorScreen):
    AUTO_FOCUS = "#dataset-path"  # typing a path is what this screen is for: keys go to the field, not to bindings
    MAIN_WIDGET = "#datasets"
    HINT = ("type a path, enter: add it, read with the type and corpus beside it · escape: to the table · e: add the "
            "examples in data/ · delete: remove the row")
    BINDINGS = [Binding("e", "app.add_examples", "Examples"), Binding("delete", "remove", "Remove")]

    def body(self) -> Iterable[Widget]:
        notices = Static(id="dataset-notices")  # the UNLABELED / SYNTHETIC lines, when a dataset has one
        notices.display = False
        yield notices
        with Horizontal(id="dataset-add"):
            yield Input(id="dataset-path",
                        placeholder="path, mteb:TASK or hf:ORG/NAME[:CONFIG][@SPLIT]")
            yield Select(type_options(), prompt="type: detect", id="dataset-type")
            yield Input(id="dataset-corpus", placeholder="corpus file (optional)")
            yield Button("Add", id="dataset-add-button", variant="primary")
        message = Static(id="dataset-message")  # the last path's mistake, when there is one
        message.display = False
        yield message
        table: DataTable = DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
        table.add_columns("dataset", "task", "type", "source", "split", "size", "content hash", "status")
        yield table
        with Horizontal(id="dataset-split-row"):
            yield Label("split of the row under the cursor", id="dataset-split-label")
            yield Select([], prompt="(one split)", id="dataset-split", disabled=True)
        yield Static(id="datasets-detail", classes="detail")

    def refresh_view(self) -> None:
        table = self.query_one("#datasets", DataTable)
        cursor = self._cursor_spec()
        table.clear()
        for state in self.session.datasets:
            if state.task is None and state.error is None and not state.loading:
                state.loading = True
                self._load(state)
            task = state.task
            status = (Text("loaded", style="green") if task else
                      Text(state.error, style="red") if state.error else Text("loading…", style="yellow"))
            table.add_row(state.spec, task.name if task else "", task.type if task else "",
                          task.source if task else state.source or "", str(task.meta.get("split", "")) if task else "",
                          task_size(task) if task else "", task.content_hash if task else "", status, key=state.spec)
        if cursor is not None and cursor in table.rows:
            table.move_cursor(row=table.get_row_index(cursor))
        notices = self.session.notices()
        shown = self.query_one("#dataset-notices", Static)
        shown.update(Text("\n".join(notices), style="bold yellow"))
        shown.display = bool(notices)
        examples = self.session.example_datasets()
        detail = f"{len(self.session.tasks())} task(s) ready for the run"
        if examples:
            detail += f" · examples in data/: {', '.join(e.rsplit('/', 1)[-1] for e in examples)}"
        else:
            detail += f" · {EXAMPLES_MISSING}"
        chosen = self.query_one("#dataset-type", Select).value
        if chosen is not Select.NULL:
            from advisor.plugins import registered

            detail += f"\ntype {chosen}: {registered('task_sources')[str(chosen)].description}"
        failed = [d for d in self.session.datasets if d.error]
        text = Text(detail)
        for state in failed:
            text.append(f"\n{state.error}", style="red")
        self.query_one("#datasets-detail", Static).update(text)
        self._show_splits()

    @work(thread=True, group="datasets")
    def _load(self, state: DatasetState) -> None:
        self.session.load_dataset(state)
        self.post_message(DatasetLoaded(state))

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        self.refresh_view()

    def _say(self, line: str) -> None:
        """The one line about the last path typed (its mistake), under the field; empty hides it."""
        message = self.query_one("#dataset-message", Static)
        message.update(Text(line, style="bold red"))
        message.display = bool(line)

    @on(Input.Submitted, "#dataset-path")
    @on(Input.Submitted, "#dataset-corpus")
    @on(Button.Pressed, "#dataset-add-button")
    def _add(self) -> None:
        field = self.query_one("#dataset-path", Input)
        chosen = self.query_one("#dataset-type", Select).value
        corpus = self.query_one("#dataset-corpus", Input).value
        try:
            self.session.add_dataset(field.value, None if chosen is Select.NULL else str(chosen), corpus)
        except UserError as exc:  # the path stays in the field, to be corrected; nothing else changes
            self._say(str(exc))
            field.focus()
            return
        self._say("")
        field.value = ""
        self.refresh_view()
        field.focus()  # the next path is typed here, never into the table's key bindings

    @on(Select.Changed, "#dataset-type")
    def _type_changed(self) -> None:
        self.refresh_view()

    # ---- the row under the cursor: its splits ----------------------------------------------------------------
    def _cursor_spec(self) -> str | None:
        table = self.query_one("#datasets", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _cursor_state(self) -> DatasetState | None:
        spec = self._cursor_spec()
        return next((d for d in self.session.datasets if d.spec == spec), None)

    def _show_splits(self) -> None:
        """The split select lists the splits of the row under the cursor (a BEIR folder with several judgement
        files), the one read selected."""
        state = self._cursor_state()
        choices = split_choices(state.task) if state is not None and state.task is not None else {}
        select = self.query_one("#dataset-split", Select)
        options = [(name, name) for name in choices]
        if options != getattr(self, "_split_options", None):
            select.set_options(options)
            self._split_options = options
        select.disabled = not choices
        current = state.task.meta.get("split") if choices and state and state.task else None
        if current in choices and select.value != current:
            select.value = current

    @on(DataTable.RowHighlighted, "#datasets")
    def _highlighted(self) -> None:
        self._show_splits()

    @on(Select.Changed, "#dataset-split")
    def _split_changed(self, event: Select.Changed) -> None:
        state = self._cursor_state()
        if event.value is Select.NULL or state is None or state.task is None:
            return
        if state.task.meta.get("split") == event.value:  # the select showing the row's own split
            return
        try:
            new = self.session.use_split(state.spec, str(event.value))
        except UserError as exc:
            self._say(str(exc))
            return
        self._say("")
        self.refresh_view()
        table = self.query_one("#datasets", DataTable)
        if new.spec in table.rows:
            table.move_cursor(row=table.get_row_index(new.spec))

    def action_remove(self) -> None:
        spec = self._cursor_spec()
        if spec is not None:
            self.session.remove_dataset(spec)
            self.refresh_view()
