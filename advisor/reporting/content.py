"""What every format says, computed once: the headline, the candidate table and the rejected models. Writers only
lay it out (and escape it for their format)."""

from __future__ import annotations

from typing import Any

from advisor.ranking import Candidate, HardwareGroup, Recommendation, TaskInfo

STATUS_TEXT = {"recommended": "recommended", "pareto": "Pareto front", "dominated": "dominated",
               "rejected": "rejected", "failed": "failed", "incomplete": "incomplete"}


def num(value: float | None, digits: int = 3) -> str:
    """A figure for a table cell: thousands separated, no exponent, '–' when missing."""
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}g}"


def dim_text(c: Candidate) -> str:
    if c.variant.dim is None:
        return f"{c.embed_dim} dims (full)" if c.embed_dim else "full size"
    return f"{c.variant.dim} dims" + ("" if c.trained_dim else " (untrained)")


def variant_text(c: Candidate) -> str:
    v = c.variant
    return f"{v.device} {v.weight_precision} · {dim_text(c)} · {v.vector_precision}"


def hardware_text(group: HardwareGroup) -> str:
    m = group.manifest
    parts = []
    if m.get("gpus"):
        parts.append(", ".join(str(g.get("name")) for g in m["gpus"]))
    if m.get("cpu"):
        cores = f", {m['cpu_count']} cores" if m.get("cpu_count") else ""
        parts.append(f"{m['cpu']}{cores}")
    if m.get("memory_gb"):
        parts.append(f"{m['memory_gb']} GB RAM")
    return f"{group.device} on " + ("; ".join(parts) if parts else f"machine {group.hardware}")


def headline(rec: Recommendation) -> str:
    best = rec.recommended
    if best is None:
        rules: dict[str, int] = {}
        for c in rec.candidates():
            for r in c.rejections[:1]:
                rules[r.rule] = rules.get(r.rule, 0) + 1
        why = ", ".join(f"{n} by {rule}" for rule, n in sorted(rules.items(), key=lambda kv: -kv[1]))
        return "No candidate passes the policy" + (f" ({why})" if why else "") + ": see the reasons below."
    tasks = ", ".join(f"{t.metric} {best.quality.get(t.name, float('nan')):.4f} on {t.name}" for t in rec.tasks)
    cost = []
    if "latency_p95_ms" in best.cost:
        cost.append(f"p95 query latency {num(best.cost['latency_p95_ms'])} ms")
    if "docs_per_s" in best.cost:
        cost.append(f"{num(best.cost['docs_per_s'])} docs/s")
    if "peak_memory_mb" in best.cost:
        cost.append(f"peak memory {num(best.cost['peak_memory_mb'])} MB")
    if best.bytes_per_vector:
        cost.append(f"{best.bytes_per_vector} bytes per vector")
    return f"Ship {best.model} ({variant_text(best)}): {tasks}; " + ", ".join(cost) + "."


def candidate_columns(tasks: list[TaskInfo]) -> list[str]:
    return (["#", "status", "model", "variant", "bytes/vector"]
            + [f"{t.name} ({t.metric})" for t in tasks]
            + ["quality retained", "p95 ms", "docs/s", "peak MB", "score", "why"])


def candidate_row(c: Candidate, tasks: list[TaskInfo]) -> list[str]:
    retained = f"{100 * c.quality_retained:.1f}%" if c.quality_retained is not None else "–"
    return ([str(c.position or ""), STATUS_TEXT[c.status], c.model, variant_text(c),
             f"{c.bytes_per_vector:,}" if c.bytes_per_vector else "–"]
            + [f"{c.quality[t.name]:.4f}" if t.name in c.quality else "–" for t in tasks]
            + [retained, num(c.cost.get("latency_p95_ms")), num(c.cost.get("docs_per_s")),
               num(c.cost.get("peak_memory_mb")), f"{c.score:.3f}" if c.score is not None else "–", c.why])


def csv_row(group: HardwareGroup, c: Candidate, tasks: list[TaskInfo]) -> dict[str, Any]:
    """Plain numbers for machines (CSV): one row per candidate."""
    row: dict[str, Any] = {"hardware": group.hardware, "position": c.position, "status": c.status,
                           "model": c.model, "backend": c.backend, "device": c.variant.device,
                           "weight_precision": c.variant.weight_precision, "dim": c.dim,
                           "trained_dim": c.trained_dim, "vector_precision": c.variant.vector_precision,
                           "bytes_per_vector": c.bytes_per_vector}
    for t in tasks:
        row[f"{t.name}.{t.metric}"] = c.quality.get(t.name)
    row.update(quality_mean=c.quality_mean, quality_retained=c.quality_retained,
               **{name: c.cost.get(name) for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                                      "latency_samples", "docs_per_s", "tokens_per_s",
                                                      "peak_memory_mb", "load_time_s")},
               score=c.score, dominated_by=c.dominated_by, tied_with="; ".join(c.tied_with),
               rules="; ".join(r.rule for r in c.rejections), why=c.why)
    return row


def counts(group: HardwareGroup) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in group.candidates:
        out[c.status] = out.get(c.status, 0) + 1
    return out


def model_summary(rec: Recommendation) -> list[list[str]]:
    """One row per catalog model: its best variant (by the ranking's order) or why it has none."""
    rows = []
    for m in rec.models:
        cands = [c for c in rec.candidates() if c.model == m.name]
        ranked = sorted((c for c in cands if c.position), key=lambda c: (c.status != "recommended", c.position))
        if ranked:
            c = ranked[0]
            q = f"{c.quality_mean:.4f}" if c.quality_mean is not None else "–"
            rows.append([m.name, STATUS_TEXT[c.status], variant_text(c), q, num(c.cost.get("latency_p95_ms")),
                         f"{c.bytes_per_vector:,}" if c.bytes_per_vector else "–", c.why])
        elif cands:
            c = cands[0]
            rows.append([m.name, STATUS_TEXT[c.status], "–", "–", "–", "–", c.why])
        elif not m.admitted:
            rows.append([m.name, "rejected", "–", "–", "–", "–", m.why])
    return rows


def not_evaluated(rec: Recommendation) -> list[str]:
    """Admitted catalog models that have no results here (not run, or left out with --model)."""
    return [m.name for m in rec.models if m.admitted and not m.evaluated]


MODEL_COLUMNS = ["model", "verdict", "its best variant", "quality", "p95 ms", "bytes/vector", "why"]
