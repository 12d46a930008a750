"""Results screen: every (model, variant) the ranking saw, one row per model with its variants expandable, sortable
by any column. The rows are ``advisor.ranking`` candidates, ranked from the store under the session's policy."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Static

from advisor.figures import (BYTES_PER_VECTOR, CONTENTION_BUSY_CORES, DOCS_PER_S, LATENCY_P95_MS, LOAD_AVG_1M,
                             QUALITY_MEAN, QUALITY_RETAINED, SCORE, SERVING_MEMORY_MB, figure_of, lookup)
from advisor.formatting import CELL_MISSING, cell

from ..pairs import comparison_lines, is_pair, pair_name, sides_text
from .base import AdvisorScreen

STATUS_STYLE = {"recommended": "bold green", "pareto": "green", "dominated": "", "rejected": "grey50",
                "failed": "red", "incomplete": "yellow"}

def _cost(name: str) -> Callable[[Any], Any]:
    return lambda c: c.bytes_per_vector if name == BYTES_PER_VECTOR else c.cost.get(name)


# (column title, value of a candidate used to sort, larger is better?); a figure's column is written and sorted as
# the figure registry says (COLUMN_FIGURES)
COLUMN_FIGURES = {"score": SCORE, "quality": QUALITY_MEAN, "kept": QUALITY_RETAINED, "p95 ms": LATENCY_P95_MS,
                  "docs/s": DOCS_PER_S, "serving MB": SERVING_MEMORY_MB, "B/vec": BYTES_PER_VECTOR,
                  "busy": CONTENTION_BUSY_CORES}
FIXED_COLUMNS: tuple[tuple[str, Callable[[Any], Any], bool], ...] = (
    ("#", lambda c: c.position, False),
    ("model", lambda c: c.model, False),
    ("variant", lambda c: variant_label(c), False),
    ("status", lambda c: c.status, False),
    ("score", lambda c: c.score, True),
    ("quality", lambda c: c.quality_mean, True),
    ("kept", lambda c: c.quality_retained, True),
    *((title, _cost(name), lookup(name).direction > 0) for title, name in COLUMN_FIGURES.items()
      if title not in ("score", "quality", "kept")),
)


def measuring_text(c: Any) -> str:
    """The cost figures' intervals and the machine's state while they were taken ("busy": other processes'
    average busy cores), and why a figure is unstable."""
    parts = []
    for name in (LATENCY_P95_MS, DOCS_PER_S):
        if name in c.cost_ci:
            fig = lookup(name)
            parts.append(f"{fig.label} {fig.interval_text(c.cost[name], *c.cost_ci[name])}")
    if LOAD_AVG_1M in c.cost:
        parts.append(f"{lookup(LOAD_AVG_1M).label} {lookup(LOAD_AVG_1M).text(c.cost[LOAD_AVG_1M])}, other processes "
                     f"busy {lookup(CONTENTION_BUSY_CORES).text(c.cost.get(CONTENTION_BUSY_CORES))} while measuring")
    text = "measured: " + "; ".join(parts) if parts else "measured before intervals and contention were recorded"
    for kind, reasons in c.unstable.items():
        text += f"\nunstable {kind}: " + "; ".join(reasons)
    return text


def variant_label(c: Any) -> str:
    v = c.variant
    runtime = f"{v.runtime}:" if v.runtime else ""
    if getattr(c, "backend", "") == "bm25":  # the BM25 baseline: no weights, no vectors
        return f"{v.device} lexical"
    hybrid = f" +bm25 rrf k={c.hybrid}" if getattr(c, "hybrid", None) is not None else ""
    return f"{v.device}/{runtime}{v.weight_precision} {'full' if v.dim is None else v.dim} {v.vector_precision}{hybrid}"


class ResultsScreen(AdvisorScreen):
    AUTO_FOCUS = "#results"
    HINT = ("enter: expand/collapse a model's variants · x: expand all · s: sort by the next column · r: reverse "
            "· click a header to sort by it")
    BINDINGS = [Binding("enter", "expand", "Variants", priority=True),
                Binding("x", "expand_all", "Expand all"), Binding("s", "sort_next", "Sort"),
                Binding("r", "reverse", "Reverse")]

    def __init__(self) -> None:
        super().__init__()
        self.expanded: set[str] = set()
        self.sort_column = 0
        self.descending = False
        self.candidates: list[Any] = []
        self.task_names: list[str] = []
        self.pairs: list[Any] = []  # advisor.ranking.pairs.PairComparison of each pair candidate

    def body(self) -> Iterable[Widget]:
        yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield Static(id="results-waiting")
        yield Static(id="results-detail", classes="detail")

    # ---- columns and ordering ------------------------------------------------------------------------------
    def columns(self) -> list[tuple[str, Callable[[Any], Any], bool]]:
        per_task = [(name, (lambda c, n=name: c.quality.get(n)), True) for name in self.task_names]
        fixed = list(FIXED_COLUMNS)
        return fixed[:6] + per_task + fixed[6:]

    def _sorted(self, items: list[Any]) -> list[Any]:
        _, key, _ = self.columns()[self.sort_column]
        present = [c for c in items if key(c) is not None]
        missing = [c for c in items if key(c) is None]
        return sorted(present, key=key, reverse=self.descending) + missing  # no value always goes last

    def refresh_view(self) -> None:
        rec, why = self.ranking()
        waiting = self.query_one("#results-waiting", Static)
        lines = self.waiting_lines() if rec is not None else []
        waiting.update(Text("\n".join(lines), style="yellow"))
        waiting.display = bool(lines)
        if rec is None:  # nothing stored yet for these tasks, or still ranking: say so
            self.candidates, self.task_names = [], []
            self._fill()
            self.query_one("#results-detail", Static).update(Text(why or "", style="yellow"))
            return
        self.candidates = rec.candidates()
        self.pairs = list(getattr(rec, "pairs", []))
        self.task_names = [t.name for t in rec.tasks]
        self.sort_column = min(self.sort_column, len(self.columns()) - 1)
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#results", DataTable)
        cursor = self._cursor_key()
        titles = [title for title, _, _ in self.columns()]
        labels = [title + ((" ▼" if self.descending else " ▲") if i == self.sort_column else "")
                  for i, title in enumerate(titles)]
        if len(table.columns) != len(titles) or any(
                not str(c.label).startswith(t) for c, t in zip(table.columns.values(), titles)):
            table.clear(columns=True)
            for i, label in enumerate(labels):
                table.add_column(label, key=str(i))
        else:
            table.clear()
            for column, label in zip(table.columns.values(), labels):
                column.label = Text(label)
        by_model: dict[str, list[Any]] = {}
        for c in self.candidates:
            by_model.setdefault(c.model, []).append(c)
        # each model is shown by its best-placed variant (the ranking's order), and sorted by that row
        heads = {m: min(cs, key=lambda c: (c.position is None, c.position or 0, -(c.score or 0)))
                 for m, cs in by_model.items()}
        for head in self._sorted(list(heads.values())):
            variants = by_model[head.model]
            is_open = head.model in self.expanded
            self._add(table, head, key=f"model:{head.model}", marker=("▾ " if is_open else "▸ ") if
                      len(variants) > 1 else "  ", count=len(variants))
            if is_open:
                for c in self._sorted([c for c in variants if c is not head]):
                    self._add(table, c, key=f"variant:{c.label}", marker="    ", count=0)
        if cursor is not None and cursor in table.rows:
            table.move_cursor(row=table.get_row_index(cursor))
        self._show_detail()

    def _add(self, table: DataTable, c: Any, *, key: str, marker: str, count: int) -> None:
        style = STATUS_STYLE.get(c.status, "")
        cells: list[Any] = []
        for title, getter, _ in self.columns():
            value = getter(c)
            if title == "model":
                text = marker + pair_name(c.model, c.backend) + (f" ({count})" if count > 1 else "")
            elif title in COLUMN_FIGURES:
                fig = lookup(COLUMN_FIGURES[title])
                text = fig.text(value, missing=CELL_MISSING) if fig.unit == "fraction" else fig.cell(value)
                if fig.measurement and c.unstable.get(fig.measurement):
                    text += " !"  # unstable: did not settle or measured under contention (detail below)
            elif title in self.task_names:  # a task's quality, as its ranking metric is written
                text = figure_of(c.quality_metric.get(title, QUALITY_MEAN)).cell(value)
            else:
                text = cell(value, 4)
            cells.append(Text(text, style=style if title in ("model", "status") or c.status == "rejected" else ""))
        table.add_row(*cells, key=key)

    def _cursor_key(self) -> str | None:
        table = self.query_one("#results", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _cursor_candidate(self) -> Any | None:
        key = self._cursor_key()
        if key is None:
            return None
        kind, _, name = key.partition(":")
        if kind == "variant":
            return next((c for c in self.candidates if c.label == name), None)
        rows = [c for c in self.candidates if c.model == name]
        return min(rows, key=lambda c: (c.position is None, c.position or 0)) if rows else None

    def _show_detail(self) -> None:
        c = self._cursor_candidate()
        detail = self.query_one("#results-detail", Static)
        if c is None:
            detail.update("no results in the store for these datasets yet: run a sweep (4, then ctrl+r)")
            return
        text = Text(c.label, style="bold")
        text.append(f"  [{c.status}]", style=STATUS_STYLE.get(c.status, ""))
        text.append("\n" + (c.why or ""))
        if is_pair(c.backend):
            entry = next((e for e in self.session.entries if e.name == c.model), None)
            if entry is not None:
                text.append("\n" + sides_text(entry))
            for line in comparison_lines(self.pairs, c):
                text.append("\n" + line)
        if c.cost:
            text.append("\n" + measuring_text(c), style="grey70")
        detail.update(text)

    # ---- actions -------------------------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#results")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.HeaderSelected, "#results")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        index = int(event.column_key.value)
        if index == self.sort_column:
            self.descending = not self.descending
        else:
            self.sort_column, self.descending = index, self.columns()[index][2]
        self._fill()

    def action_expand(self) -> None:
        c = self._cursor_candidate()
        if c is None:
            return
        self.expanded.symmetric_difference_update({c.model})
        self._fill()

    def action_expand_all(self) -> None:
        models = {c.model for c in self.candidates}
        self.expanded = set() if self.expanded >= models else models
        self._fill()

    def action_sort_next(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(self.columns())
        self.descending = self.columns()[self.sort_column][2]
        self._fill()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._fill()
