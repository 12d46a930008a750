"""The sentence every candidate gets: recommended, Pareto-optimal and its trade-off, dominated by whom, tied within
noise, rejected by which rule."""

from __future__ import annotations

from advisor.figures import (BYTES_PER_VECTOR, DOCS_PER_S, LATENCY_P95_MS, QUALITY_DECIMALS, QUALITY_MEAN, SCORE,
                             SERVING_MEMORY_MB, USD_PER_MILLION_DOCS, USD_PER_THOUSAND_QUERIES, lookup)
from advisor.formatting import number, signed
from advisor.ranking.model import COST_OBJECTIVES, Candidate, Difference

# What a why line says of a candidate's cost, in this order: p95 latency, throughput, serving memory (measured one
# way for every candidate, BM25 included: advisor.cost.memory), bytes per vector.
WHY_FIGURES = (LATENCY_P95_MS, DOCS_PER_S, SERVING_MEMORY_MB, BYTES_PER_VECTOR)
# How a why line names each figure's value (the rest are the value with its unit alone)
_PREFIX = {LATENCY_P95_MS: "p95 "}
_SUFFIX = {BYTES_PER_VECTOR: "/vector", USD_PER_MILLION_DOCS: " per million docs",
           USD_PER_THOUSAND_QUERIES: " per 1,000 queries"}


def quality_text(q: float | None) -> str:
    return lookup(QUALITY_MEAN).text(q)


def figures(c: Candidate) -> str:
    parts = [f"quality {quality_text(c.quality_mean)}"]
    for name in WHY_FIGURES:
        value = c.bytes_per_vector if name == BYTES_PER_VECTOR else c.cost.get(name)
        if value:
            parts.append(f"{_PREFIX.get(name, '')}{lookup(name).text(value)}{_SUFFIX.get(name, '')}")
    parts.extend(money_parts(c))
    return ", ".join(parts)


def money_parts(c: Candidate) -> list[str]:
    """'$0.16 per million docs (per token)', '$0.0042 per 1,000 queries (machine-hour)'."""
    how = c.money_basis.get("pricing")
    tail = f" ({how})" if how else ""
    return [f"{lookup(name).text(c.cost[name])}{_SUFFIX[name]}{tail}"
            for name in (USD_PER_MILLION_DOCS, USD_PER_THOUSAND_QUERIES) if name in c.cost]


def tie_text(d: Difference, other: Candidate) -> str:
    return f"tied with {other.label} within noise ({d.text()})"


def why(c: Candidate, best: Candidate | None, by_label: dict[str, Candidate], diff: Difference | None) -> str:
    if c.status == "recommended":
        text = f"recommended: best weighted score ({score_text(c.score)}) on the Pareto front; {figures(c)}"
        if c.tied_with:
            text += f"; tied within noise with {len(c.tied_with)} other candidate(s): " + "; ".join(c.tied_with[:3])
            text += "…" if len(c.tied_with) > 3 else ""
        return text
    if c.status == "dominated":
        other = by_label[c.dominated_by]
        qc, qo = c.quality_mean or 0.0, other.quality_mean or 0.0
        text = (f"dominated by {other.label}: quality {quality_text(qo)} vs {quality_text(qc)} and no worse on any "
                f"cost figure" if qo > qc else
                f"dominated by {other.label}: same quality ({quality_text(qc)}) at a lower cost")
        if diff is not None and diff.within_noise:
            text += f"; the quality difference is within noise ({diff.text()})"
        return text
    text = f"Pareto-optimal (#{c.position}, score {score_text(c.score)}): {tradeoff(c, best)}"
    if diff is not None and diff.within_noise and best is not None:
        text += "; " + tie_text(diff, best)
    return text


def score_text(score: float | None) -> str:
    return lookup(SCORE).text(score)


# The words of a ratio by the figure's unit: (larger, smaller).
_RATIO_WORDS = {"ms": ("slower", "faster"), "B": ("more", "fewer"), "USD": ("costlier", "cheaper")}


def ratio_text(name: str, vc: float, vb: float) -> str:
    """'3.2x faster p95 query latency', '4x more bytes per vector' (``name``: a figure): the ratio always >= 1, the
    word says which way."""
    fig = lookup(name)
    up = vc > vb
    r = vc / vb if up else vb / vc
    times = f"{number(r, digits=2)}x"
    word = _RATIO_WORDS.get(fig.unit, ("more", "less"))[0 if up else 1]
    return f"{times} {word} {fig.label.removeprefix('money ')}"  # "2x cheaper per million documents"


def tradeoff(c: Candidate, best: Candidate | None) -> str:
    """What this front candidate gains and gives up against the recommendation."""
    if best is None:
        return figures(c)
    parts = []
    qc, qb = c.quality_mean or 0.0, best.quality_mean or 0.0
    if qc != qb:
        parts.append(f"quality {signed(qc - qb, decimals=QUALITY_DECIMALS)}")
    for name, _sign in COST_OBJECTIVES.values():
        vc, vb = c.figure(name), best.figure(name)
        if vc and vb and vc != vb:
            parts.append(ratio_text(name, vc, vb))
    return "against the recommendation: " + (", ".join(parts) if parts else "the same figures")


def rejected_why(c: Candidate) -> str:
    texts = []
    for r in c.rejections:
        if r.rule == "limits.min_quality" and r.reason.startswith("below the quality floor"):
            texts.append(r.reason)
        elif r.rule in ("failed", "incomplete"):
            texts.append(r.reason)
        else:
            texts.append(f"rejected by rule {r.rule}: {r.reason}")
    return "; ".join(texts)
