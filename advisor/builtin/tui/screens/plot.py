"""Plot screen: quality (mean of each task's main metric) against p95 query latency, one series per model, from the
ranking's candidates. The Pareto front is what the ranking chose among; the recommendation is starred."""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

from advisor.figures import LATENCY_P95_MS, QUALITY_MEAN, lookup

from .base import AdvisorScreen

MARKERS = ("dot", "x", "+", "o", "*", "#", "$", "%")


def plot_points(candidates: Iterable[Any], *, include_rejected: bool) -> dict[str, list[tuple[float, float, str]]]:
    """(p95 latency ms, quality, label) per model; candidates without both figures cannot be placed."""
    series: dict[str, list[tuple[float, float, str]]] = {}
    for c in candidates:
        latency, quality = c.cost.get(LATENCY_P95_MS), c.quality_mean
        if latency is None or quality is None or c.status in ("failed", "incomplete"):
            continue
        if c.status == "rejected" and not include_rejected:
            continue
        series.setdefault(c.model, []).append((float(latency), float(quality), c.label))
    return series


class PlotScreen(AdvisorScreen):
    HINT = "quality (mean main metric over the tasks) against p95 batch-1 query latency (log scale) · " \
           "h: show/hide rejected variants"
    BINDINGS = [Binding("h", "toggle_rejected", "Rejected on/off")]

    def __init__(self) -> None:
        super().__init__()
        self.include_rejected = False
        self.series: dict[str, list[tuple[float, float, str]]] = {}
        self.recommended: tuple[float, float, str] | None = None

    def body(self) -> Iterable[Widget]:
        from textual_plotext import PlotextPlot

        yield PlotextPlot(id="plot")
        yield Static(id="plot-detail", classes="detail")

    def refresh_view(self) -> None:
        from textual_plotext import PlotextPlot

        rec, message = self.ranking()  # None: nothing stored yet for these tasks, or still ranking
        self.series = {} if rec is None else plot_points(rec.candidates(), include_rejected=self.include_rejected)
        best = None if rec is None else rec.recommended
        self.recommended = None
        if best is not None and LATENCY_P95_MS in best.cost and best.quality_mean is not None:
            self.recommended = (float(best.cost[LATENCY_P95_MS]), float(best.quality_mean), best.label)
        widget = self.query_one("#plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("quality vs p95 query latency")
        plt.xlabel("p95 latency (ms, log)")
        plt.ylabel("quality")
        for i, (model, points) in enumerate(sorted(self.series.items())):
            plt.scatter([p[0] for p in points], [p[1] for p in points], marker=MARKERS[i % len(MARKERS)],
                        label=model)
        if self.recommended is not None:
            plt.scatter([self.recommended[0]], [self.recommended[1]], marker="★", color="green",
                        label="recommended")
        limit = self.session.policy.limits.max_p95_latency_ms
        if self.series:
            plt.xscale("log")
            if limit is not None:
                plt.vline(limit, "red")  # the policy's latency limit: variants right of it are rejected
        widget.refresh()
        detail = Text()
        if rec is None:
            detail.append(message, style="yellow")
        elif not self.series:
            detail.append("nothing to plot: no candidate in the store has both a quality and a latency figure yet")
        else:
            n = sum(len(p) for p in self.series.values())
            detail.append(f"{n} variant(s) of {len(self.series)} model(s)")
            detail.append(" (rejected shown)" if self.include_rejected else " (rejected hidden)", style="grey50")
            if limit is not None:
                detail.append(f" · red line: the policy's p95 limit, {lookup(LATENCY_P95_MS).text(limit, exact=True)}",
                              style="red")
        if self.recommended is not None:
            detail.append("\n★ ", style="green")
            detail.append(f"{self.recommended[2]}: quality {lookup(QUALITY_MEAN).text(self.recommended[1])}, p95 "
                          f"{lookup(LATENCY_P95_MS).text(self.recommended[0])}")
        self.query_one("#plot-detail", Static).update(detail)

    def action_toggle_rejected(self) -> None:
        self.include_rejected = not self.include_rejected
        self.refresh_view()
