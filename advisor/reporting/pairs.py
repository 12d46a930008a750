"""What every format says about the query/document pairs (``advisor.ranking.pairs``): per pair candidate a title,
a table of the pair and each side alone (quality with its interval, query p50/p95, bulk docs/s) and one line per
paired difference. Computed once; the Markdown and HTML writers only lay it out, JSON carries the comparison."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.figures import DOCS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS, Figure, figure_of, lookup
from advisor.formatting import CELL_MISSING
from advisor.ranking import Recommendation
from advisor.ranking.pairs import PairComparison, PairRow

TITLE = "Query/document pairs: each pair against its sides alone"
INTRO = ("A pair embeds documents with its document model (offline, in bulk) and queries with its query model "
         "(online, one at a time). Each pair is compared with its document model alone and its query model alone on "
         "the same tasks, variant and machine; the differences are the paired bootstrap over the same queries (95% "
         "intervals). The pair's query latency is measured on its query model, its bulk throughput on its document "
         "model.")


@dataclass
class PairSection:
    title: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[str]


def _ci(fig: Figure, value: float | None, ci: tuple[float, float] | None) -> str:
    """``0.4123 (0.3801 to 0.4450)``; ``–`` when not measured."""
    return fig.interval_cell(value, *(ci or (None, None)))


def _cells(row: PairRow, p: PairComparison) -> list[str]:
    if row.missing:
        return [row.role, row.model, "missing"] + [CELL_MISSING] * (len(p.metrics) + 3)
    return ([row.role, row.model, row.status or ""]
            + [_ci(figure_of(m), row.quality.get(t), row.intervals.get(t)) for t, m in p.metrics.items()]
            + [_ci(lookup(LATENCY_P50_MS), row.latency_p50_ms, row.cost_ci.get(LATENCY_P50_MS)),
               _ci(lookup(LATENCY_P95_MS), row.latency_p95_ms, row.cost_ci.get(LATENCY_P95_MS)),
               _ci(lookup(DOCS_PER_S), row.docs_per_s, row.cost_ci.get(DOCS_PER_S))])


def pair_sections(rec: Recommendation) -> list[PairSection]:
    """One section per pair candidate, in the ranking's order."""
    out = []
    for p in rec.pairs:
        v = p.variant
        where = f"{v.device} {v.runtime + ' ' if v.runtime else ''}{v.weight_precision}, " \
                f"{'full size' if v.dim is None else f'{v.dim} dims'}, {v.vector_precision} vectors"
        columns = (["system", "model", "status"] + [f"{t} ({m}, 95% CI)" for t, m in p.metrics.items()]
                   + ["query p50 ms", "query p95 ms", "bulk docs/s"])
        rows = [_cells(r, p) for r in p.rows]
        rows[0][0] = f"pair (queries by {p.query_model}, documents by {p.document_model})"
        out.append(PairSection(f"{p.pair} ({where}; machine {p.hardware})", columns, rows, p.difference_lines()))
    return out
