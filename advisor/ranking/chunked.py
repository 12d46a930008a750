"""Cost of a chunked variant. Queries are not chunked, so query latency and memory are the model's measured ones;
documents are: a document costs the tokens of all its chunks instead of its truncated text, so its throughput is
the measured documents/s scaled by (tokens a truncated document costs / tokens its chunks cost), and it stores one
vector per chunk. Derived from the unchunked cost cell of the same load and the chunk counts of the quality cell."""

from __future__ import annotations

from advisor.figures import DOCS_PER_S
from advisor.ranking.model import Candidate


def chunk_stats(c: Candidate) -> dict[str, dict]:
    """Task -> the chunking summary its quality cell stored (advisor.datasets.chunking.ChunkedCorpus.summary)."""
    return {task: d["chunking"] for task, d in c.per_item.items() if isinstance(d.get("chunking"), dict)}


def throughput_ratio(c: Candidate) -> float | None:
    """The worst (smallest) ratio over tasks of truncated to chunked tokens per document."""
    ratios = [s["truncated_tokens_per_document"] / s["encoded_tokens_per_document"]
              for s in chunk_stats(c).values() if s.get("encoded_tokens_per_document")]
    return min(ratios) if ratios else None


def vectors_per_document(c: Candidate) -> float:
    """The most vectors a document needs over the tasks (1 when not chunked)."""
    return max((s.get("vectors_per_document", 1.0) for s in chunk_stats(c).values()), default=1.0)


def chunked_cost(c: Candidate) -> None:
    """Scale the candidate's documents/s (and its interval) to its chunks and set its vectors per document."""
    ratio = throughput_ratio(c)
    if ratio is None or DOCS_PER_S not in c.cost:
        return
    c.cost[DOCS_PER_S] *= ratio
    if DOCS_PER_S in c.cost_ci:
        lo, hi = c.cost_ci[DOCS_PER_S]
        c.cost_ci[DOCS_PER_S] = (lo * ratio, hi * ratio)
    c.vectors_per_document = vectors_per_document(c)
