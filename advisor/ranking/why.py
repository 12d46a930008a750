"""The sentence every candidate gets: recommended, Pareto-optimal and its trade-off, dominated by whom, tied within
noise, rejected by which rule."""

from __future__ import annotations

from advisor.formatting import figure, money, number
from advisor.ranking.model import COST_OBJECTIVES, Candidate, Difference


def figures(c: Candidate) -> str:
    q = c.quality_mean
    parts = [f"quality {q:.4f}" if q is not None else "quality n/a"]
    if "latency_p95_ms" in c.cost:
        parts.append(f"p95 {figure(c.cost['latency_p95_ms'], 'ms')}")
    if "docs_per_s" in c.cost:
        parts.append(figure(c.cost["docs_per_s"], "docs/s"))
    if "peak_memory_mb" in c.cost:
        parts.append(figure(c.cost["peak_memory_mb"], "MB"))
    if c.bytes_per_vector:
        parts.append(figure(c.bytes_per_vector, "B/vector"))
    parts.extend(money_parts(c))
    return ", ".join(parts)


def money_parts(c: Candidate) -> list[str]:
    """'$0.16 per million docs (per token)', '$0.0042 per 1,000 queries (machine-hour)'."""
    how = c.money_basis.get("pricing")
    tail = f" ({how})" if how else ""
    out = []
    if "usd_per_million_docs" in c.cost:
        out.append(f"{money(c.cost['usd_per_million_docs'])} per million docs{tail}")
    if "usd_per_thousand_queries" in c.cost:
        out.append(f"{money(c.cost['usd_per_thousand_queries'])} per 1,000 queries{tail}")
    return out


def tie_text(d: Difference, other: Candidate) -> str:
    return f"tied with {other.label} within noise ({d.text()})"


def why(c: Candidate, best: Candidate | None, by_label: dict[str, Candidate], diff: Difference | None) -> str:
    if c.status == "recommended":
        text = f"recommended: best weighted score ({c.score:.3f}) on the Pareto front; {figures(c)}"
        if c.tied_with:
            text += f"; tied within noise with {len(c.tied_with)} other candidate(s): " + "; ".join(c.tied_with[:3])
            text += "…" if len(c.tied_with) > 3 else ""
        return text
    if c.status == "dominated":
        other = by_label[c.dominated_by]
        qc, qo = c.quality_mean or 0.0, other.quality_mean or 0.0
        text = (f"dominated by {other.label}: quality {qo:.4f} vs {qc:.4f} and no worse on any cost figure"
                if qo > qc else f"dominated by {other.label}: same quality ({qc:.4f}) at a lower cost")
        if diff is not None and diff.within_noise:
            text += f"; the quality difference is within noise ({diff.text()})"
        return text
    text = f"Pareto-optimal (#{c.position}, score {c.score:.3f}): {tradeoff(c, best)}"
    if diff is not None and diff.within_noise and best is not None:
        text += "; " + tie_text(diff, best)
    return text


def ratio_text(name: str, vc: float, vb: float) -> str:
    """'3.2x faster p95 latency', '4x more bytes per vector': the ratio always >= 1, the word says which way."""
    up = vc > vb
    r = vc / vb if up else vb / vc
    times = f"{number(r, digits=2)}x"
    word = {"latency": ("slower", "faster"), "throughput": ("more", "less"), "memory": ("more", "less"),
            "bytes_per_vector": ("more", "fewer"), "money": ("costlier", "cheaper")}[name][0 if up else 1]
    what = {"latency": "p95 latency", "throughput": "throughput", "memory": "memory",
            "bytes_per_vector": "bytes per vector", "money": "per million documents"}[name]
    return f"{times} {word} {what}"


def tradeoff(c: Candidate, best: Candidate | None) -> str:
    """What this front candidate gains and gives up against the recommendation."""
    if best is None:
        return figures(c)
    parts = []
    qc, qb = c.quality_mean or 0.0, best.quality_mean or 0.0
    if qc != qb:
        parts.append(f"quality {qc - qb:+.4f}")
    for name, (figure, _sign) in COST_OBJECTIVES.items():
        vc, vb = c.figure(figure), best.figure(figure)
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
