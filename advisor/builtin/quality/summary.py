"""``advisor evaluate``'s plain text: what its ``--json`` holds, for people. A header with the model and the task,
how many texts the model truncates, every figure of the task's type with its 95% interval per variant, and the
paired differences that answer the two questions a quality figure raises: what a smaller variant loses against the
full-size float32 one, and whether the model beats BM25 on this data (retrieval). Figures that do not apply to a
task type are left out (bytes per vector where no corpus is stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.config.task_types import task_type
from advisor.figures import BYTES_PER_VECTOR, LOAD_TIME_S, figure_of, lookup
from advisor.formatting import number, percent

INDENT = "  "


@dataclass
class TaskSummary:
    """One task's evaluation, ready to print: the results per variant (in the order asked), the full-size float32
    variant the others are compared with (None when only one variant ran) and the comparisons
    (``advisor.quality.bootstrap.Comparison``) against it and against BM25."""

    task: Any                              # advisor.datasets.tasks.Task
    results: dict[Any, Any]                # Variant -> QualityResult
    reference: Any | None = None           # the full-size float32 Variant
    against_reference: dict[Any, Any] = field(default_factory=dict)  # Variant -> Comparison (variant - reference)
    bm25: Any | None = None                # BM25's QualityResult on the task (retrieval)
    against_bm25: dict[Any, Any] = field(default_factory=dict)       # Variant -> Comparison (variant - BM25)
    notes: list[str] = field(default_factory=list)


def model_header(entry: Any, runtime: dict[str, Any], device: str, weight_precision: str, load_s: float) -> str:
    """``Model all-MiniLM-L6-v2 (revision 8b3219a, torch runtime on cpu, fp32 weights; loaded in 1.2 s)``."""
    revision = entry.revision or ""
    if len(revision) > 12 and all(c in "0123456789abcdef" for c in revision):  # a commit hash: its short form
        revision = revision[:12]
    parts = [f"revision {revision}" if revision else None,
             f"{runtime.get('runtime') or entry.backend} runtime on {device}", f"{weight_precision} weights"]
    return (f"Model {entry.name} ({', '.join(p for p in parts if p)}; loaded in "
            f"{lookup(LOAD_TIME_S).text(load_s)})")


def stores_vectors(type_name: str) -> bool:
    """Whether the task type keeps a corpus of vectors (a text set of documents), so bytes per vector apply."""
    return any(s.kind == "document" for s in task_type(type_name).text_sets)


def variant_title(variant: Any, entry: Any) -> str:
    """``full size (384 dims), float32 vectors`` or ``128 dims (untrained), binary vectors``, as the report says."""
    if variant.dim is None or variant.dim == entry.embed_dim:
        size = f"full size ({entry.embed_dim} dims)"
    else:
        size = f"{variant.dim} dims" + ("" if variant.dim in entry.trained_dims() else " (untrained)")
    return f"{size}, {variant.vector_precision} vectors"


def task_lines(summary: TaskSummary, entry: Any) -> list[str]:
    """Everything ``evaluate`` says about one task."""
    task = summary.task
    sets = ", ".join(f"{name} {number(len(ts.texts))}" for name, ts in task.text_sets().items())
    lines = [f"Task {task.name} ({task.type}: {sets})"]
    first = next(iter(summary.results.values()))
    lines.append(INDENT + truncation_text(first.details.get("truncation") or {}))
    lines.append(INDENT + intervals_text(first, paired=bool(summary.against_reference or summary.against_bm25)))
    if summary.bm25 is not None:
        lines += bm25_lines(summary)
    lines += [INDENT + f"note: {note}" for note in summary.notes]
    for variant, result in summary.results.items():
        lines += variant_lines(variant, result, summary, entry)
    return lines


def truncation_text(truncation: dict[str, Any]) -> str:
    """``truncation: 15 of 156 corpus texts reach the model's 256 tokens and are cut there (9.6%); queries 0 of
    50``."""
    if truncation.get("error"):
        return f"truncation: not counted ({truncation['error']})"
    sets = truncation.get("sets") or {}
    if not sets:
        return "truncation: not counted (this model cannot count tokens)"
    parts = [f"{name} {number(s['truncated'])} of {number(s['texts'])}"
             + (f" ({percent(s['share'])})" if s["truncated"] else "") for name, s in sets.items()]
    return (f"truncation: texts that reach the model's {number(truncation['max_tokens'])} tokens are cut there: "
            + ", ".join(parts))


def intervals_text(result: Any, *, paired: bool = False) -> str:
    """What the intervals (and, ``paired``, the differences) resample: ``intervals: 95% bootstrap over 240 queries
    (1,000 resamples); differences paired, on the same draws``."""
    from advisor.quality.bootstrap import recorded_units

    boot = result.details.get("bootstrap") or {}
    try:
        units = recorded_units(result.details, len(result.per_item))
    except (ValueError, KeyError, TypeError):
        units = None
    over = units.text() if units is not None else f"{number(len(result.per_item))} items"
    level = percent(boot.get("level", 0.95), decimals=0)
    resamples = boot.get("resamples")
    return (f"intervals: {level} bootstrap over {over}"
            + (f" ({number(resamples)} resamples)" if resamples is not None else "")
            + ("; differences paired, on the same draws" if paired else ""))


def _metrics(result: Any, type_name: str) -> list[str]:
    """The task type's figures the result holds, the main one first, then the table's order."""
    listed = [m for m in task_type(type_name).metrics if m in result.metrics]
    extra = [m for m in result.metrics if m not in listed and figure_of(m).kind == "quality"]
    ordered = [result.main_metric] + [m for m in listed + extra if m != result.main_metric]
    return [m for m in ordered if m in result.metrics]


def variant_lines(variant: Any, result: Any, summary: TaskSummary, entry: Any) -> list[str]:
    title = variant_title(variant, entry)
    if stores_vectors(summary.task.type) and result.details.get(BYTES_PER_VECTOR) is not None:
        title += f", {lookup(BYTES_PER_VECTOR).text(result.details[BYTES_PER_VECTOR])} per vector"
    if variant == summary.reference:
        title += " (the reference)"
    lines = [INDENT + title + ":"]
    cis = result.details.get("ci") or {}
    names = _metrics(result, summary.task.type)
    width = max(len(figure_of(m).label) for m in names) + 1
    for m in names:
        fig = figure_of(m)
        low, high = (cis.get(m) or (None, None))[:2]
        main = "  (main)" if m == result.main_metric else ""
        lines.append(INDENT * 2 + f"{fig.label:<{width}} {fig.interval_text(result.metrics[m], low, high)}{main}")
    comparison = summary.against_reference.get(variant)
    if comparison is not None:
        lines.append(INDENT * 2 + f"against full size float32: {_difference(comparison)}: "
                                  f"{loss_verdict(comparison)}")
    comparison = summary.against_bm25.get(variant)
    if comparison is not None:
        from advisor.ranking.baseline import verdict

        lines.append(INDENT * 2 + f"against BM25: {_difference(comparison)}: {verdict(comparison)}")
    return lines


def _difference(c: Any) -> str:
    """``nDCG@10 -0.0583 (95% CI -0.0911 to -0.0339)``: a paired difference of the main figure."""
    fig = figure_of(c.metric)
    return f"{fig.label} {fig.difference_text(c.difference, c.ci_low, c.ci_high)}"


def loss_verdict(comparison: Any) -> str:
    """What a smaller variant's paired difference against the full-size float32 one says."""
    if not comparison.different:
        return "no loss beyond the noise"
    return "a loss" if comparison.difference < 0 else "a gain"


def bm25_lines(summary: TaskSummary) -> list[str]:
    """BM25 on the same task (bm25s, the sweep's baseline), with its main figure's interval."""
    result = summary.bm25
    fig = figure_of(result.main_metric)
    low, high = (result.details.get("ci", {}).get(result.main_metric) or (None, None))[:2]
    settings = (result.details.get("bm25") or {}).get("settings") or {}
    how = ", ".join(f"{k} {v}" for k, v in settings.items() if k in ("k1", "b"))
    return [INDENT + f"BM25 (bm25s{', ' + how if how else ''}) on the same queries: "
                     f"{fig.label} {fig.interval_text(result.metrics[result.main_metric], low, high)}"]
