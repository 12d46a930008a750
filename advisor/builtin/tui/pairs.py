"""How the TUI shows a query/document pair: like any candidate, marked with ``⇄`` and with both sides named; the
results screen adds the report's comparison of the pair with each side alone (``advisor.ranking.pairs``)."""

from __future__ import annotations

from typing import Any, Iterable

from advisor.models.catalog import PAIR_BACKEND, ModelEntry

PAIR_MARK = "⇄ "


def is_pair(backend: str | None) -> bool:
    return backend == PAIR_BACKEND


def pair_name(name: str, backend: str | None) -> str:
    """The name as the tables show it: a pair is marked."""
    return PAIR_MARK + name if is_pair(backend) else name


def sides_text(entry: ModelEntry) -> str:
    """``pair: queries by Q (onnx), documents by D (torch)`` and which side each cost figure comes from."""
    from advisor.models.pair import pair_sides

    query, document = pair_sides(entry)
    return (f"pair: queries by {query.name} ({query.backend}), documents by {document.name} ({document.backend}); "
            f"query latency and serving memory are {query.name}'s, bulk throughput and index size {document.name}'s")


def comparison_lines(pairs: Iterable[Any], candidate: Any) -> list[str]:
    """The paired differences of this pair candidate against each side alone, as the report words them."""
    for p in pairs:
        if (p.pair, p.variant, p.hardware) == (candidate.model, candidate.variant, candidate.hardware):
            return p.difference_lines()
    return []
