"""Catalog screen: every candidate with its metadata; filters; rejected candidates greyed with the policy's reason."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable, Input, Select, Static

from advisor.formatting import count

from ..pairs import is_pair, pair_name, sides_text
from ..session import SIZE_BUCKETS, Filters
from .base import AdvisorScreen

COLUMNS = ("✓", "model", "backend", "licence", "languages", "params", "dim", "verdict")
REJECTED_STYLE = "grey50"


def languages_label(languages: tuple[str, ...]) -> str:
    short = ", ".join(lang.split("-")[0] for lang in languages[:3])
    return short + (f" +{len(languages) - 3}" if len(languages) > 3 else "")


class CatalogScreen(AdvisorScreen):
    AUTO_FOCUS = "#catalog"
    HINT = "space: select/unselect a candidate · a: select all admitted · n: clear · grey rows are rejected"
    BINDINGS = [
        Binding("space", "toggle", "Select"),
        Binding("a", "app.select_admitted", "All admitted"),
        Binding("n", "app.clear_selection", "Clear"),
        Binding("ctrl+r", "app.start_run", "Run selected"),
    ]

    def body(self) -> Iterable[Widget]:
        session = self.session
        with Horizontal(id="filters"):
            yield Select([(lic, lic) for lic in session.licenses()], prompt="licence: any", id="filter-license")
            yield Input(placeholder="language, e.g. eng or deu-Latn", id="filter-language")
            yield Select([(label, n) for label, n in SIZE_BUCKETS], prompt="size: any", id="filter-size")
            yield Select([(b, b) for b in session.backends()], prompt="backend: any", id="filter-backend")
        table: DataTable = DataTable(id="catalog", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="catalog-detail", classes="detail")

    def filters(self) -> Filters:
        def value(widget_id: str):
            v = self.query_one(widget_id, Select).value
            return None if v is Select.NULL else v

        return Filters(license=value("#filter-license"), language=self.query_one("#filter-language", Input).value,
                       max_params=value("#filter-size"), backend=value("#filter-backend"))

    def refresh_view(self) -> None:
        table = self.query_one("#catalog", DataTable)
        cursor_key = self._cursor_name()
        table.clear()
        for row in self.session.visible(self.filters()):
            e = row.entry
            chosen = e.name in self.session.selected
            cells = ["●" if chosen else "", pair_name(e.name, e.backend), e.backend, e.license, languages_label(e.languages),
                     count(e.n_parameters), str(e.embed_dim),
                     "admitted" if row.admitted else "; ".join(r.reason for r in row.rejections)]
            if row.admitted:
                styled = [Text(c, style="bold green" if chosen and i == 0 else "") for i, c in enumerate(cells)]
                styled[-1] = Text(cells[-1], style="green")
            else:
                styled = [Text(c, style=REJECTED_STYLE) for c in cells]
            table.add_row(*styled, key=e.name)
        if cursor_key is not None and cursor_key in table.rows:
            table.move_cursor(row=table.get_row_index(cursor_key))
        self._show_detail()

    def _cursor_name(self) -> str | None:
        table = self.query_one("#catalog", DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # cursor outside the rows after a filter
            return None

    def _show_detail(self) -> None:
        detail = self.query_one("#catalog-detail", Static)
        session = self.session
        text = Text()
        text.append(f"{len(session.selected)} selected", style="bold")
        text.append(f" of {sum(s.admitted for s in session.screened)} admitted, {len(session.screened)} in "
                    f"catalogs {session.catalogs_in_force} · policy {session.policy.name}")
        name = self._cursor_name()
        row = next((s for s in session.screened if s.entry.name == name), None)
        if row is not None:
            text.append(f"\n{row.entry.name}: ", style="bold")
            text.append(row.entry.notes or row.entry.source)
            if is_pair(row.entry.backend):
                text.append("\n  " + sides_text(row.entry))
            for rejection in row.rejections:
                text.append(f"\n  rejected by {rejection.rule}: ", style="red")
                text.append(rejection.reason)
        detail.update(text)

    @on(Select.Changed)
    @on(Input.Changed, "#filter-language")
    def _filters_changed(self) -> None:
        self.refresh_view()

    @on(DataTable.RowHighlighted, "#catalog")
    def _row_highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#catalog")
    def _row_selected(self) -> None:
        self.action_toggle()

    def action_toggle(self) -> None:
        name = self._cursor_name()
        if name is None:
            return
        if not self.session.toggle(name):
            row = next(s for s in self.session.screened if s.entry.name == name)
            self.notify(f"{name} is rejected: {row.rejections[0].reason}", severity="warning")
            return
        self.refresh_view()
