"""Recommendation screen: the ranking's answer and the reason for every candidate and every model, as
``advisor.ranking.rank`` wrote them; ctrl+e exports the same recommendation with the report writers."""

from __future__ import annotations

from typing import Any, Iterable

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from .base import AdvisorScreen
from .results import STATUS_STYLE

MAX_LINES = 12  # of each kind; the report holds all of them


class Pieces:
    """Text with hanging indents: each 'why' line wraps under itself, not under the label above it."""

    def __init__(self) -> None:
        self.lines: list[tuple[Text, int]] = [(Text(), 0)]

    def append(self, text: str, style: str = "") -> None:
        """Append like ``Text.append``; a newline starts a new line, whose indent is its leading spaces."""
        first, *rest = text.split("\n")
        line, indent = self.lines[-1]
        if not line.plain and first.startswith(" "):  # a line's leading spaces become its indent
            stripped = first.lstrip(" ")
            self.lines[-1] = (line, indent + len(first) - len(stripped))
            first = stripped
        line.append(first, style=style)
        for part in rest:
            stripped = part.lstrip(" ")
            line = Text()  # no base style: each run keeps its own
            line.append(stripped, style=style)
            self.lines.append((line, len(part) - len(stripped)))

    def renderable(self) -> Group:
        return Group(*(Padding(t, (0, 0, 0, indent)) if indent else t for t, indent in self.lines))

    @property
    def plain(self) -> str:
        return "\n".join(" " * indent + t.plain for t, indent in self.lines)


def notice_lines(session: Any, rec: Any | None) -> list[str]:
    """The lines the CLI prints before the recommendation: the UNLABELED / SYNTHETIC line of each dataset of the
    session (``advisor.inputs.unlabeled_notices``, as ``advisor recommend`` prints them), and for a ranked task the
    session has not loaded (the store's), the report's line from what its cells record."""
    from advisor.config.task_types import TASK_TYPES
    from advisor.datasets.tasks import synthetic_line, unlabeled_line

    lines = session.notices()
    loaded = {t.name for t in session.tasks()}
    for t in rec.tasks if rec is not None else ():
        if t.name in loaded:
            continue
        if t.synthetic:
            lines.append(synthetic_line(t.name, t.synthetic))
        elif t.type in TASK_TYPES and TASK_TYPES[t.type].rated:
            lines.append(unlabeled_line(t.name, None, t.rater))
    return lines


def recommendation_text(rec: Any, text: Pieces | None = None) -> Pieces:
    """The recommendation and its 'why' lines, in the ranking's own words (after ``text``'s lines, if given)."""
    text = text if text is not None else Pieces()
    best = rec.recommended
    text.append(f"Policy {rec.policy.name}", style="bold")
    tasks = ", ".join(f"{t.name} ({t.metric})" for t in rec.tasks) or "none"
    text.append(f" · tasks: {tasks}\n\n")
    if best is None:
        text.append("No recommendation yet", style="bold yellow")
        text.append(": no candidate in the store passes the policy on every task. Select candidates, add "
                    "datasets and run them (4, then ctrl+r).\n")
    else:
        text.append("Recommended: ", style="bold green")
        text.append(best.label + "\n", style="bold")
        text.append(f"  why: {best.why}\n")
    for group in rec.groups:
        if len(rec.groups) > 1:
            text.append(f"\nOn {group.device} machine {group.hardware}:\n", style="bold")
        shown = [c for c in group.candidates if c is not best and c.status in ("pareto", "dominated")]
        shown.sort(key=lambda c: (c.position is None, c.position or 0))
        if shown:
            text.append("\nOther candidates\n", style="bold")
        for c in shown[:MAX_LINES]:
            text.append(f"  #{c.position} " if c.position else "  ")
            text.append(c.label, style=STATUS_STYLE.get(c.status, ""))
            text.append(f"\n      {c.why}\n", style="grey70")
        if len(shown) > MAX_LINES:
            text.append(f"  … {len(shown) - MAX_LINES} more in the results table and the report\n", style="grey50")
        out = [c for c in group.candidates if c.status in ("rejected", "failed", "incomplete")]
        if out:
            text.append("\nKept out by the policy or the run\n", style="bold")
        # variants of one model kept out for the same reason are one line
        same: dict[tuple[str, str, str], list[Any]] = {}
        for c in out:
            same.setdefault((c.model, c.status, c.why), []).append(c)
        for (model, status, why), members in list(same.items())[:MAX_LINES]:
            label = members[0].label if len(members) == 1 else f"{model}: {len(members)} variants"
            text.append("  " + label, style=STATUS_STYLE.get(status, ""))
            text.append(f"\n      {why}\n", style="grey70")
        if len(same) > MAX_LINES:
            text.append(f"  … {len(same) - MAX_LINES} more in the results table and the report\n", style="grey50")
    rejected_models = [m for m in rec.models if not m.admitted]
    if rejected_models:
        text.append("\nModels rejected before any run\n", style="bold")
        for m in rejected_models:
            text.append(f"  {m.name}", style="grey50")
            text.append(f": {m.why}\n", style="grey70")
    for note in rec.notes:
        text.append(f"\nnote: {note}", style="yellow")
    return text


class RecommendScreen(AdvisorScreen):
    HINT = "the ranking's recommendation and why · ctrl+e: export the report (markdown, html, json)"
    BINDINGS = [Binding("ctrl+e", "app.export_report", "Export report")]

    def body(self) -> Iterable[Widget]:
        with VerticalScroll(id="recommend-scroll"):
            yield Static(id="recommendation")

    def refresh_view(self) -> None:
        rec, why = self.ranking()
        self.shown = Pieces()
        for line in notice_lines(self.session, rec):  # first, as the CLI prints them: never read past
            self.shown.append(line + "\n", style="bold yellow")
        if rec is None:  # nothing stored yet for these tasks, or still ranking: say so
            self.shown.append(f"No recommendation yet: {why}", style="yellow")
            self.query_one("#recommendation", Static).update(self.shown.renderable())
            return
        for line in self.waiting_lines():
            self.shown.append(line + "\n", style="yellow")
        recommendation_text(rec, self.shown)
        self.query_one("#recommendation", Static).update(self.shown.renderable())
