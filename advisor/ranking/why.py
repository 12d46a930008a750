"""The sentence every candidate gets: recommended, Pareto-optimal and its trade-off, dominated by whom, tied within
noise, rejected by which rule."""

from __future__ import annotations

from advisor.figures import (BYTES_PER_VECTOR, DOCS_PER_S, LATENCY_P95_MS, QUALITY_DECIMALS, QUALITY_MEAN,
                             QUALITY_RETAINED, SCORE, SERVING_MEMORY_MB, SPEEDUP, USD_PER_MILLION_DOCS,
                             USD_PER_THOUSAND_QUERIES, lookup)
from advisor.formatting import number, signed
from advisor.models.variants import RUNTIME_NAMES
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


def runtime_text(c: Candidate) -> str:
    """Where a variant of a transformer model runs, as people name it: ``on OpenVINO int8-static``, ``on PyTorch
    fp32``; "" for backends that are their own runtime (static tables, packaged engines, BM25)."""
    runtime = c.variant.runtime or c.backend
    if runtime not in RUNTIME_NAMES:
        return ""
    return f"on {RUNTIME_NAMES[runtime]} {c.variant.weight_precision}"


def is_plain(c: Candidate) -> bool:
    """The plain model: fp32 weights on its backend's own runtime (what speed-up and quality kept compare with)."""
    return c.variant.runtime is None and c.variant.weight_precision == "fp32"


def plain_comparison(c: Candidate) -> str:
    """What a runtime or weight precision gains over the plain model on this machine: ``4.12x the docs/s of the
    plain model, 99.6% of its quality`` (figures SPEEDUP and QUALITY_RETAINED); "" for the plain model itself or
    without both docs/s figures."""
    if is_plain(c) or not runtime_text(c) or c.speedup is None:
        return ""
    kept = (f", {lookup(QUALITY_RETAINED).text(c.quality_retained)} of its quality"
            if c.quality_retained is not None else "")
    return f"{lookup(SPEEDUP).text(c.speedup)} the docs/s of the plain model{kept}"


def tie_text(d: Difference, other: Candidate) -> str:
    return f"tied with {other.label} within noise ({d.text()})"


def why(c: Candidate, best: Candidate | None, by_label: dict[str, Candidate], diff: Difference | None) -> str:
    gain = plain_comparison(c)
    gain = f"; {runtime_text(c)}: {gain}" if gain else ""
    if c.status == "recommended":
        text = f"recommended: best weighted score ({score_text(c.score)}) on the Pareto front; {figures(c)}{gain}"
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
    text = f"Pareto-optimal (#{c.position}, score {score_text(c.score)}): {tradeoff(c, best)}{gain}"
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
