"""The three-way comparison of an asymmetric pair: the pair against its document model alone and its query model
alone, on the same tasks, variant and machine, with the paired bootstrap of the pair against each side.

Why here: whether a small query model beside the big document model is worth it is a question about the results
the ranking already holds (quality per query, cost figures), so it is read from the candidates and never runs a
model. The pair's query latency is the query model's and its bulk throughput the document model's (the cost cell
measures each figure on the side the user pays it on, ``advisor.models.pair``); each side alone is its own
candidate. The planner plans a pair's sides with it (``advisor.models.pair.sides_to_add``); a side that is missing
all the same (rejected by the policy, or a store filled before) is named with the reason and how to add it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from advisor.figures import (DOCS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS, QUERY_ENCODE_P95_MS, SEARCH_P95_MS,
                             difference_interval, figure_of)
from advisor.formatting import number, signed
from advisor.models.catalog import PAIR_BACKEND, ModelEntry
from advisor.models.variants import Variant
from advisor.ranking.model import Candidate, HardwareGroup, ModelVerdict

ROLES = ("pair", "document model alone", "query model alone")
SIDES = {"document": "document model alone", "query": "query model alone"}


@dataclass
class PairRow:
    """One of the three systems: its quality per task with the interval, and the cost figures the comparison
    needs (query p50/p95 at batch 1, bulk docs/s); ``missing`` says why it is absent and how to add it."""

    role: str
    model: str
    status: str | None = None
    quality: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    docs_per_s: float | None = None
    cost_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "model": self.model, "status": self.status, "quality": dict(self.quality),
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                LATENCY_P50_MS: self.latency_p50_ms, LATENCY_P95_MS: self.latency_p95_ms, DOCS_PER_S: self.docs_per_s,
                "cost_ci": {k: list(v) for k, v in self.cost_ci.items()},
                "missing": self.missing}


@dataclass
class PairComparison:
    """A pair candidate against each side alone; ``differences[side][task]`` is the paired bootstrap of pair - side
    (``advisor.quality.bootstrap.compare``, its default resamples and seed) over the task's queries."""

    pair: str
    query_model: str
    document_model: str
    hardware: str
    variant: Variant
    metrics: dict[str, str]                 # task -> the metric compared
    rows: list[PairRow]                     # pair, document model alone, query model alone
    differences: dict[str, dict[str, Any]]  # "document" / "query" -> task -> Comparison

    def row(self, role: str) -> PairRow:
        return next(r for r in self.rows if r.role == role)

    def difference_lines(self) -> list[str]:
        """One sentence per (side, task): the difference, its interval and what it means."""
        out = []
        for side, role in SIDES.items():
            name = self.document_model if side == "document" else self.query_model
            row = self.row(role)
            if row.missing:
                out.append(f"pair vs {name} alone: no comparison ({row.missing})")
                continue
            for task, metric in self.metrics.items():
                c = self.differences.get(side, {}).get(task)
                if c is None:
                    out.append(f"pair vs {name} alone on {task}: no per-query scores on both, no paired comparison")
                    continue
                verdict = ("within the noise (the interval holds zero)" if not c.different else
                           "the pair is better" if c.difference > 0 else "the pair trails it")
                fig = figure_of(metric)
                out.append(f"pair vs {name} alone on {task}: {metric} {fig.text(c.a)} vs {fig.text(c.b)}, difference "
                           f"{signed(c.difference)} ({difference_interval(c.ci_low, c.ci_high)}, "
                           f"p = {number(c.p_value, decimals=3)}): {verdict}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"pair": self.pair, "query_model": self.query_model, "document_model": self.document_model,
                "hardware": self.hardware, "variant": self.variant.to_dict(), "metrics": dict(self.metrics),
                "rows": [r.to_dict() for r in self.rows],
                "differences": {side: {t: c.to_dict() for t, c in per.items()}
                                for side, per in self.differences.items()},
                "summary": self.difference_lines()}


def _row(role: str, model: str, c: Candidate, metrics: dict[str, str]) -> PairRow:
    row = PairRow(role, model, status=c.status)
    for task, metric in metrics.items():
        if task in c.quality:
            row.quality[task] = c.quality[task]
        ci = (c.per_item.get(task) or {}).get("ci", {}).get(metric)
        if ci:
            row.intervals[task] = (float(ci[0]), float(ci[1]))
    # batch-1 query encoding, without the index search a chosen index adds to the candidate's end-to-end p95
    search = (c.index or {}).get(SEARCH_P95_MS, 0.0) if QUERY_ENCODE_P95_MS in c.cost else 0.0
    row.latency_p50_ms = c.cost.get(LATENCY_P50_MS)
    row.latency_p95_ms = c.cost.get(QUERY_ENCODE_P95_MS, c.cost.get(LATENCY_P95_MS))
    row.docs_per_s = c.cost.get(DOCS_PER_S)
    for name in (LATENCY_P50_MS, LATENCY_P95_MS, DOCS_PER_S):
        if name in c.cost_ci:
            lo, hi = c.cost_ci[name]
            shift = search if name == LATENCY_P95_MS else 0.0
            row.cost_ci[name] = (lo - shift, hi - shift)
    return row


def _missing(side: str, variant: Variant, group: HardwareGroup, verdicts: dict[str, ModelVerdict]) -> str:
    verdict = verdicts.get(side)
    if verdict is not None and not verdict.admitted:
        return f"{side} alone was not run: {verdict.why}"
    if any(c.model == side for c in group.candidates):
        return (f"{side} alone has no result at {variant.label()} on this machine; add that variant to the "
                f"policy's grid and run again")
    return (f"{side} alone is not in these results; 'advisor run' and 'advisor recommend' plan a pair's sides with "
            f"it: run the same command again on this store (finished cells are reused) or add --model {side}")


def compare_pairs(groups: Sequence[HardwareGroup], entries: dict[str, ModelEntry],
                  verdicts: Iterable[ModelVerdict]) -> list[PairComparison]:
    """One comparison per pair candidate (pair entry x variant x machine) whose entry is known."""
    from advisor.models.pair import pair_sides, side_variant
    from advisor.quality.bootstrap import compare

    by_verdict = {v.name: v for v in verdicts}
    out: list[PairComparison] = []
    for group in groups:
        for c in group.candidates:
            entry = entries.get(c.model)
            if entry is None or entry.backend != PAIR_BACKEND or not c.quality:
                continue
            query, document = pair_sides(entry)
            metrics = {t: c.quality_metric[t] for t in sorted(c.quality)}
            rows = [_row("pair", c.model, c, metrics)]
            differences: dict[str, dict[str, Any]] = {}
            for side_key, side in (("document", document), ("query", query)):
                role = SIDES[side_key]
                wanted = side_variant(c.variant, side)
                match = next((s for s in group.candidates if s.model == side.name and s.variant == wanted), None)
                if match is None:
                    rows.append(PairRow(role, side.name, missing=_missing(side.name, wanted, group, by_verdict)))
                    continue
                rows.append(_row(role, side.name, match, metrics))
                per_task = {}
                for task in metrics:
                    if task in c.per_item and task in match.per_item:
                        try:
                            per_task[task] = compare(c.per_item[task], match.per_item[task])
                        except ValueError:  # not the same queries (results from two versions of a task)
                            continue
                differences[side_key] = per_task
            out.append(PairComparison(c.model, query.name, document.name, group.hardware, c.variant, metrics, rows,
                                      differences))
    return out
