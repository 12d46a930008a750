"""The report's plots, drawn with matplotlib (Agg, no display) as PNG bytes: the HTML page inlines them, the
Markdown report links them as files. Each plot returns None when the run holds nothing for it to show."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from advisor.figures import (BYTES_PER_VECTOR, LATENCY_P50_MS, LATENCY_P95_MS, LATENCY_P99_MS, LATENCY_SAMPLES, QPS,
                             lookup, recall_at)
from advisor.formatting import interval, number
from advisor.ranking import Candidate, HardwareGroup

STATUS_STYLE = {  # marker, filled, size, alpha
    "recommended": ("*", True, 260, 1.0),
    "pareto": ("o", True, 55, 0.95),
    "dominated": ("o", False, 45, 0.8),
    "rejected": ("x", True, 40, 0.45),
    "failed": ("x", True, 40, 0.45),
    "incomplete": ("x", True, 40, 0.45),
}
VECTOR_ORDER = ("float32", "float16", "int8", "binary")
WEIGHT_ORDER = ("fp32", "fp16", "bf16", "int8", "int8-static", "int4")


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    png: bytes


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
                         "figure.dpi": 110, "savefig.bbox": "tight"})
    return plt


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _colors(models: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(sorted(set(models)))}


def _plain_log_axis(axis: Any) -> None:
    """Log-scale ticks written as plain numbers (1, 10, 100; 64, 128, 1,536), not powers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if axis.get_scale() == "log" and axis.get_transform().base == 10:
        lo, hi = sorted(axis.get_view_interval())
        decades = math.log10(max(hi, 1e-9) / max(lo, 1e-9))
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: number(value, digits=2)))
    axis.set_minor_formatter(NullFormatter())


def _short(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _scatter(ax: Any, cands: list[Candidate], x_of: Any, colors: dict[str, Any]) -> None:
    for c in cands:
        x, y = x_of(c), c.quality_mean
        if x is None or y is None:
            continue
        marker, filled, size, alpha = STATUS_STYLE[c.status]
        color = colors[c.model]
        if marker == "x":
            ax.scatter([x], [y], marker="x", s=size, color=color, alpha=alpha, linewidths=1.2)
        else:
            ax.scatter([x], [y], marker=marker, s=size, alpha=alpha, linewidths=1.3,
                       facecolors=color if filled else "none", edgecolors="black" if marker == "*" else color,
                       zorder=4 if marker == "*" else 3)


def _front_line(ax: Any, cands: list[Candidate], x_of: Any, smaller_is_better: bool = True) -> None:
    """The staircase of the best quality reachable at each cost, over the admitted candidates."""
    pts = sorted((x_of(c), c.quality_mean) for c in cands if c.status in ("recommended", "pareto", "dominated")
                 and x_of(c) is not None and c.quality_mean is not None)
    if not smaller_is_better:
        pts = [(x, q) for x, q in reversed(pts)]
    stair, best = [], float("-inf")
    for x, q in pts:
        if q > best:
            stair.append((x, q))
            best = q
    if len(stair) > 1:
        xs, ys = zip(*stair)
        ax.step(xs, ys, where="post", color="0.5", linewidth=1, linestyle="--", zorder=1)


def _legend(ax: Any, colors: dict[str, Any], loc: str = "lower right") -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=colors[m], label=_short(m)) for m in colors]
    handles += [Line2D([], [], marker="*", linestyle="", markerfacecolor="white", markeredgecolor="black",
                       markersize=12, label="recommended"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                       label="dominated"),
                Line2D([], [], marker="x", linestyle="", color="0.3", label="rejected by a rule")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)


def pareto(group: HardwareGroup, metric: str) -> Figure | None:
    cands = [c for c in group.candidates if c.quality_mean is not None]
    lat = [c for c in cands if c.cost.get(LATENCY_P95_MS)]
    if not cands:
        return None
    plt = _plt()
    colors = _colors([c.model for c in cands])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    ax1, ax2 = axes
    if lat:
        _scatter(ax1, lat, lambda c: c.cost[LATENCY_P95_MS], colors)
        _front_line(ax1, lat, lambda c: c.cost[LATENCY_P95_MS])
        ax1.set_xscale("log")
        _plain_log_axis(ax1.xaxis)
        ax1.set_xlabel(axis_label(LATENCY_P95_MS, "batch 1"))
    else:
        ax1.text(0.5, 0.5, "no latency measured", ha="center", va="center", transform=ax1.transAxes)
    ax1.set_ylabel(f"quality ({metric}) — higher is better")
    ax1.set_title("Quality vs query latency")
    _scatter(ax2, cands, lambda c: c.bytes_per_vector, colors)
    _front_line(ax2, cands, lambda c: c.bytes_per_vector)
    ax2.set_xscale("log", base=2)
    _plain_log_axis(ax2.xaxis)
    ax2.set_xlabel(axis_label(BYTES_PER_VECTOR))
    ax2.set_title("Quality vs index size")
    _legend(ax2, colors)
    best = group.recommended
    if best is not None and best.bytes_per_vector is not None:  # BM25 has no vectors to place on this axis
        ax2.annotate("recommended", (best.bytes_per_vector, best.quality_mean), textcoords="offset points",
                     xytext=(-10, 8), ha="right", fontsize=8, fontweight="bold")
    return Figure("pareto", "Pareto front: quality against cost",
                  "Each point is one model variant (weight precision, output size, vector precision); the dashed "
                  "staircase is the best quality reachable at each cost. Variants of one model share its "
                  "latency, so they stack vertically on the left.", _png(fig))


def dims(group: HardwareGroup, metric: str) -> Figure | None:
    series: dict[tuple[str, str], list[Candidate]] = {}
    for c in group.candidates:
        if c.variant.vector_precision == "float32" and c.quality_mean is not None and c.dim:
            series.setdefault((c.model, c.variant.weight_precision), []).append(c)
    if not any(len(v) > 1 for v in series.values()):
        return None
    plt = _plt()
    colors = _colors([m for m, _ in series])
    multi_wp = len({wp for _, wp in series}) > 1
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    all_dims = set()
    for (model, wp), cands in sorted(series.items()):
        cands.sort(key=lambda c: c.dim)
        xs = [c.dim for c in cands]
        all_dims.update(xs)
        ys = [c.quality_mean for c in cands]
        style = "-" if wp in ("fp32", cands[0].variant.weight_precision) else "--"
        label = _short(model) + (f" ({wp})" if multi_wp else "")
        ax.plot(xs, ys, style, color=colors[model], linewidth=1.4, label=label)
        for c in cands:
            ax.scatter([c.dim], [c.quality_mean], s=36, color=colors[model], zorder=3,
                       facecolors=colors[model] if c.trained_dim else "white", edgecolors=colors[model])
    ax.set_xscale("log", base=2)
    ticks = sorted(all_dims)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("output dimension (log scale)")
    ax.set_ylabel(f"quality ({metric})")
    ax.set_title("Quality by output dimension (float32 vectors)")
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", linestyle="", color="0.3", label="trained size"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                       label="untrained truncation")]
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return Figure("dims", "Quality by output dimension",
                  "Hollow markers are truncations to a size the model was not trained for (no Matryoshka "
                  "training): they usually lose more quality than a trained size.", _png(fig))


def retained(group: HardwareGroup) -> Figure | None:
    """Quality kept, relative to float32 vectors and fp32 weights at full size, per vector and weight precision."""
    full = [c for c in group.candidates if c.variant.dim is None and c.quality_retained is not None]
    by_vec: dict[str, dict[str, float]] = {}
    by_wp: dict[str, dict[str, float]] = {}
    for c in full:
        if c.variant.weight_precision in ("fp32",) or len({x.variant.weight_precision for x in full
                                                           if x.model == c.model}) == 1:
            by_vec.setdefault(c.model, {})[c.variant.vector_precision] = c.quality_retained
        if c.variant.vector_precision == "float32":
            by_wp.setdefault(c.model, {})[c.variant.weight_precision] = c.quality_retained
    vec_levels = [v for v in VECTOR_ORDER if any(v in d for d in by_vec.values())]
    wp_levels = [w for w in WEIGHT_ORDER if any(w in d for d in by_wp.values())]
    panels = [("vector precision (full size)", by_vec, vec_levels)] if len(vec_levels) > 1 else []
    if any(len(d) > 1 for d in by_wp.values()):  # some model was run at several weight precisions
        panels.append(("weight precision (full size, float32 vectors)", by_wp, wp_levels))
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.8 * len(panels), 4.0), squeeze=False)
    for ax, (title, data, levels) in zip(axes[0], panels):
        models = sorted(data)
        width = 0.8 / len(levels)
        cmap = plt.get_cmap("viridis")
        for i, level in enumerate(levels):
            xs = [j + i * width - 0.4 + width / 2 for j in range(len(models))]
            ys = [100 * data[m].get(level, float("nan")) for m in models]
            bars = ax.bar(xs, ys, width=width * 0.95, color=cmap(i / max(1, len(levels) - 1) * 0.85),
                          label=level)
            for bar, y in zip(bars, ys):
                if y == y and len(models) * len(levels) <= 12:  # label bars while there is room
                    ax.text(bar.get_x() + bar.get_width() / 2, y + 0.5, number(y, decimals=0), ha="center", fontsize=6.5)
        ax.set_xticks(range(len(models)), [_short(m, 30) for m in models], rotation=20, ha="right")
        low = min(100 * v for d in data.values() for v in d.values())
        high = max(100 * v for d in data.values() for v in d.values())
        ax.set_ylim(max(0, min(80, low - 5)), max(104, high + 4))
        ax.axhline(100, color="0.4", linewidth=0.8)
        ax.set_ylabel("quality retained (%)")
        ax.set_title(f"Quality retained by {title}")
        ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return Figure("retained", "Quality retained by precision",
                  "100% is the same model with fp32 weights and float32 vectors at its full size, on the same "
                  "data.", _png(fig))


def latency(group: HardwareGroup) -> Figure | None:
    loads: dict[tuple[str, str], Candidate] = {}
    for c in group.candidates:
        if c.cost.get(LATENCY_P95_MS) is not None:
            loads.setdefault((c.model, c.variant.weight_precision), c)
    if not loads:
        return None
    plt = _plt()
    items = sorted(loads.items(), key=lambda kv: kv[1].cost.get(LATENCY_P50_MS, kv[1].cost[LATENCY_P95_MS]))
    labels = [_short(f"{m} ({wp})", 40) for (m, wp), _ in items]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(items) + 1.4))
    with_samples = [c.latencies_ms for _, c in items]
    if all(with_samples):
        ax.boxplot(with_samples, vert=False, whis=(1, 99), showfliers=False, widths=0.5)
        ax.set_yticks(range(1, len(items) + 1), labels)
        for i, (_, c) in enumerate(items, start=1):
            ax.scatter([c.cost[LATENCY_P95_MS]], [i], marker="|", s=200, color="crimson", zorder=3)
        note = "Boxes: quartiles; whiskers: 1st-99th percentile; red tick: p95."
    else:
        for i, (_, c) in enumerate(items):
            p50, p95 = c.cost.get(LATENCY_P50_MS), c.cost[LATENCY_P95_MS]
            p99 = c.cost.get(LATENCY_P99_MS, p95)
            ax.plot([p50 or p95, p99], [i, i], color="0.5", linewidth=2)
            if p50:
                ax.scatter([p50], [i], color="tab:blue", zorder=3, label="p50" if i == 0 else None)
            ax.scatter([p95], [i], color="crimson", zorder=3, label="p95" if i == 0 else None)
            ax.scatter([p99], [i], color="black", marker="|", s=120, zorder=3, label="p99" if i == 0 else None)
        ax.set_yticks(range(len(items)), labels)
        ax.legend(fontsize=7.5, loc="lower right")
        note = "Dots: p50 and p95; bar end: p99."
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel("query latency, batch 1 (ms, log scale)")
    ax.set_title("Query latency distribution per model load")
    n = sorted({int(c.cost.get(LATENCY_SAMPLES, 0)) for _, c in items})
    count = number(n[0]) if len(n) == 1 else interval(n[0], n[-1], label="")
    return Figure("latency", "Query latency", f"{note} Measured after warm-up, one query at a time "
                                              f"({count} samples per model).", _png(fig))


def index_recall_qps(group: HardwareGroup) -> Figure | None:
    """Recall@10 against exact search vs queries per second, one colour per index, one point per (variant, index
    setting) measured: what each index trades for speed on these vectors."""
    points: dict[str, list[tuple[float, float]]] = {}
    for c in group.candidates:
        for o in c.index_options:
            if o.get(QPS):
                points.setdefault(str(o["name"]), []).append((float(o[QPS]), float(o[recall_at(10)])))
    if not points:
        return None
    plt = _plt()
    colors = _colors(list(points))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, pts in sorted(points.items()):
        xs, ys = zip(*sorted(pts))
        ax.scatter(xs, ys, color=colors[name], label=name, s=40, zorder=3)
    ax.axhline(0.95, color="0.5", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    _plain_log_axis(ax.xaxis)
    ax.set_xlabel(axis_label(QPS, "batch 1, several client threads"))
    ax.set_ylabel(f"{lookup(recall_at(10)).label} against exact search")
    ax.set_title("Recall vs speed per index")
    ax.legend(fontsize=7.5, loc="lower left")
    n = sum(len(p) for p in points.values())
    return Figure("index-recall-qps", "Recall@10 vs QPS per index",
                  f"{n} index cells: each point one index setting on one variant's vectors (the worst task's "
                  f"recall, its QPS). Dashed line: recall@10 0.95, the least an index needs to be chosen.", _png(fig))


def axis_label(name: str, how: str = "") -> str:
    """``p95 query latency, batch 1 (ms, log scale) — lower is better``: a figure's axis, from the registry."""
    fig = lookup(name)
    unit = f"{fig.unit}, log scale" if fig.unit else "log scale"
    better = {1: " — higher is better", -1: " — lower is better"}.get(fig.direction, "")
    return f"{fig.label}{', ' + how if how else ''} ({unit}){better}"


def all_figures(group: HardwareGroup, metric: str) -> list[Figure]:
    """Every plot that has something to show, in reading order."""
    out = [pareto(group, metric), dims(group, metric), retained(group), latency(group), index_recall_qps(group)]
    return [f for f in out if f is not None]
