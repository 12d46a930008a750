"""The long-document section: how many documents each model cuts at its max tokens (the truncation share of every
task's text sets), and "truncate or chunk?" answered per model and task by the paired bootstrap of each chunking
variant against the same model, precision and size truncating, over the same queries."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from advisor.figures import DOCS_PER_S, QUALITY_MEAN, figure_of, lookup
from advisor.formatting import CELL_MISSING, cell, percent
from advisor.ranking import Candidate, Recommendation

TITLE = "Long documents: truncate or chunk?"
TRUNCATION_COLUMNS = ["model", "task", "max tokens", "text set", "texts cut at max tokens", "share"]
CHUNK_COLUMNS = ["model", "task", "chunking", "vectors/doc", "truncated", "chunked", "difference (95% CI)",
                 "docs/s truncated → chunked", "answer"]


@dataclass
class ChunkingSection:
    title: str
    intro: str
    truncation: list[list[str]] = field(default_factory=list)
    chunks: list[list[str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def _plain(candidates: list[Candidate]) -> dict[tuple, Candidate]:
    return {(c.model, c.hardware, c.variant): c for c in candidates if not c.variant.chunking}


def truncation_rows(rec: Recommendation) -> list[list[str]]:
    """One row per (model, task, text set) with a truncation count, from each model's first unchunked variant."""
    rows, seen = [], set()
    for c in rec.candidates():
        if c.variant.chunking:
            continue
        for task, details in sorted(c.per_item.items()):
            trunc = details.get("truncation") or {}
            if (c.model, task) in seen or not trunc.get("sets"):
                continue
            seen.add((c.model, task))
            for name, s in sorted(trunc["sets"].items()):
                rows.append([c.model, task, cell(trunc.get("max_tokens")), name, f"{s['truncated']} of {s['texts']}",
                             percent(s.get("share"))])
    return rows


def chunk_rows(rec: Recommendation) -> tuple[list[list[str]], list[str]]:
    """One row per chunked candidate and task: its quality beside the same variant truncating, the paired
    difference and the answer; and the sentences that say it."""
    from advisor.ranking import quality_difference

    plain = _plain(rec.candidates())
    rows, lines = [], []
    for c in rec.candidates():
        if not c.variant.chunking:
            continue
        base = plain.get((c.model, c.hardware, replace(c.variant, chunking="")))
        if base is None:
            continue
        diff = quality_difference(c, base)
        for task in sorted(c.quality):
            if task not in base.quality:
                continue
            comp = diff.per_task.get(task) if diff else None
            metric = c.quality_metric.get(task, QUALITY_MEAN)
            fig = figure_of(metric)
            if comp is None:
                interval, answer = CELL_MISSING, "no per-query scores to compare"
            else:
                interval = fig.difference_text(comp.difference, comp.ci_low, comp.ci_high)
                answer = ("chunk" if comp.difference > 0 else "truncate") if comp.different else "tie within noise"
            docs = lookup(DOCS_PER_S)
            speed = (f"{docs.text(base.cost[DOCS_PER_S])} → {docs.text(c.cost[DOCS_PER_S])}"
                     if DOCS_PER_S in base.cost and DOCS_PER_S in c.cost else CELL_MISSING)
            rows.append([c.model, task, c.variant.chunking, cell(c.vectors_per_document), fig.cell(base.quality[task]),
                         fig.cell(c.quality[task]), interval, speed, answer])
            lines.append(f"{c.model} on {task}: {metric} {fig.text(c.quality[task])} with chunks {c.variant.chunking} "
                         f"against {fig.text(base.quality[task])} truncated"
                         + (f" (difference {interval}): {answer}" if comp is not None else f": {answer}"))
    return rows, lines


def chunking_section(rec: Recommendation) -> ChunkingSection | None:
    """None when no task reports truncation and no chunking variant was measured."""
    truncation = truncation_rows(rec)
    chunks, lines = chunk_rows(rec)
    if not chunks and not any(r[-1] not in ("0.0%", "–") for r in truncation):
        return None
    intro = ("Texts that reach a model's max tokens are cut there (truncated); a chunking variant cuts each document "
             "into token windows of the model's own tokenizer, encodes each and scores a document by the max or mean "
             "of its chunks. Differences are paired bootstraps over the same queries (95% CI); 'tie within noise' "
             "when the interval holds zero. Chunked docs/s is the measured docs/s scaled by the tokens a document's "
             "chunks cost against its truncated text; a chunked index stores one vector per chunk.")
    return ChunkingSection(TITLE, intro, truncation, chunks, lines)
