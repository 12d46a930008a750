"""What every format says, computed once: the headline, the candidate table and the rejected models. Writers only
lay it out (and escape it for their format)."""

from __future__ import annotations

from typing import Any

from advisor.formatting import CELL_MISSING, cell, figure, money, number, percent
from advisor.ranking import Candidate, HardwareGroup, Recommendation, TaskInfo
from advisor.ranking.zero_shot import quality_mark

STATUS_TEXT = {"recommended": "recommended", "pareto": "Pareto front", "dominated": "dominated",
               "rejected": "rejected", "failed": "failed", "incomplete": "incomplete"}


def dim_text(c: Candidate) -> str:
    if c.variant.dim is None:
        return f"{c.embed_dim} dims (full)" if c.embed_dim else "full size"
    return f"{c.variant.dim} dims" + ("" if c.trained_dim else " (untrained)")


def variant_text(c: Candidate) -> str:
    v = c.variant
    runtime = f" {v.runtime}" if v.runtime else ""
    if c.backend == "bm25":
        return f"{v.device} · lexical (BM25, no vectors)"
    hybrid = f" · + BM25 by RRF (k={c.hybrid})" if c.hybrid is not None else ""
    return f"{v.device}{runtime} {v.weight_precision} · {dim_text(c)} · {v.vector_precision}" + chunk_text(c) + hybrid


def chunk_text(c: Candidate) -> str:
    """`` · chunks 128:32:max, 4.2 vectors/doc`` for a chunked variant; "" for a truncated one."""
    if not c.variant.chunking:
        return ""
    return f" · chunks {c.variant.chunking}, {number(c.vectors_per_document)} vectors/doc"


def interval_cell(c: Candidate, name: str) -> str:
    """A cost figure for a table, with its interval and a mark when it cannot be trusted: ``9.02 (8.7–9.4)``,
    ``191 (unstable)``."""
    value = c.cost.get(name)
    if value is None:
        return cell(None)
    text = cell(value)
    if name in c.cost_ci:
        lo, hi = c.cost_ci[name]
        text += f" ({cell(lo)}–{cell(hi)})"
    kind = "latency" if name.startswith("latency") else "throughput"
    if c.unstable.get(kind):
        text += " unstable"
    return text


def conditions_text(group: HardwareGroup) -> str:
    """How quiet the machine was while the cost figures were taken, and how many of them did not settle."""
    loads = [c.cost["load_avg_1m"] for c in group.candidates if "load_avg_1m" in c.cost]
    busy = [c.cost["contention_busy_cores"] for c in group.candidates if "contention_busy_cores" in c.cost]
    unstable = sorted({c.model for c in group.candidates if c.unstable})
    if not loads and not busy:
        return "Measuring conditions were not recorded for these cost figures (measured before the advisor kept them)."
    cores = next((c.cost.get("cores") for c in group.candidates if c.cost.get("cores")), None)
    parts = []
    if loads:
        parts.append(f"load average {number(min(loads))}–{number(max(loads))}"
                     + (f" on {number(cores)} cores" if cores else ""))
    if busy:
        parts.append(f"other processes kept up to {number(max(busy))} cores busy while they were measured")
    text = "Cost figures measured at " + "; ".join(parts) + "."
    if unstable:
        text += (f" Unstable figures (not settled, or taken under contention) for {', '.join(unstable)}: they are "
                 f"shown but never reject a candidate; 'advisor run --remeasure unstable' measures them again.")
    return text


def near_miss_lines(group: HardwareGroup) -> list[str]:
    """One sentence per candidate that only a measured limit kept out."""
    return [m.text(group.recommended) for m in group.near_misses]


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
        cost.append(f"p95 query latency {figure(best.cost['latency_p95_ms'], 'ms')}")
    if "docs_per_s" in best.cost:
        cost.append(figure(best.cost["docs_per_s"], "docs/s"))
    if "peak_memory_mb" in best.cost:
        cost.append(f"peak memory {figure(best.cost['peak_memory_mb'], 'MB')}")
    if best.bytes_per_vector:
        cost.append(figure(best.bytes_per_vector, "bytes per vector"))
    if "load_batched_p95_ms" in best.cost:
        cost.append(load_text(best))
    if "usd_per_million_docs" in best.cost:
        cost.append(f"{money(best.cost['usd_per_million_docs'])} per million documents")
    if "usd_per_thousand_queries" in best.cost:
        cost.append(f"{money(best.cost['usd_per_thousand_queries'])} per thousand queries")
    behind = ""
    if best.index:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(best.index["settings"].items()))
        behind = (f" behind a {best.index['name']} index{f' ({settings})' if settings else ''}, recall@10 "
                  f"{best.index['recall_at_10']:.3f} against exact search")
        cost = [c.replace("p95 query latency", "p95 query latency (encode + search)") for c in cost]
    elif best.hybrid is not None:
        behind = " behind exact dense search and a BM25 index (bm25s), their rankings fused"
        if "query_encode_p95_ms" in best.cost:
            cost = [c.replace("p95 query latency", "p95 query latency (encode + dense and BM25 search + fusion)")
                    for c in cost]
    elif best.backend == "bm25":
        behind = " behind a BM25 index (bm25s)"
    text = f"Ship {best.model} ({variant_text(best)}){behind}: {tasks}; " + ", ".join(cost) + "."
    for flag in best.flags:
        text += f" Caution: {flag.reason}."
    group = next((g for g in rec.groups if g.recommended is best), None)
    better = [m for m in (group.near_misses if group else []) if m.better]
    if better:
        text += (f" A limit costs quality here: {better[0].text(best)}; see the near misses.")
    if best.backend == "bm25":
        text += best_embedding_model(rec)
    return text


def load_text(c: Candidate) -> str:
    """The load test's line: p95 at the rate it sustained, and whether a real server answered or advisor serve's
    batcher ran in the measuring process (no HTTP)."""
    how = "a real advisor serve" if c.cost.get("load_served") else "advisor serve's batcher in process, no HTTP"
    return (f"p95 {figure(c.cost['load_batched_p95_ms'], 'ms')} under load at "
            f"{figure(c.cost.get('load_batched_qps'))} of {figure(c.cost.get('load_target_qps'))} queries/s offered "
            f"({how})")


def best_embedding_model(rec: Recommendation) -> str:
    """When BM25 wins, the question was still "which embedding model?": the best-ranked one and how it stands
    against BM25 (the first line of ``bm25_lines``, which lists the ranked candidates best first)."""
    from advisor.ranking.baseline import bm25_lines

    line = next(iter(bm25_lines(rec)), None)
    if line is None:
        return ""
    text = (f" The best embedding model, {line.candidate}, scores {line.metric} {line.value:.4f} on {line.task}: "
            f"{line.verdict} (difference {line.difference:+.4f}, 95% CI [{line.ci_low:+.4f}, {line.ci_high:+.4f}])")
    model = next((c for c in rec.candidates() if c.label == line.candidate), None)
    if model is not None and "load_batched_p95_ms" in model.cost:
        text += f"; batch-1 p95 {figure(model.cost['latency_p95_ms'], 'ms')}, {load_text(model)}"
    return text + "."


def candidate_columns(tasks: list[TaskInfo]) -> list[str]:
    return (["#", "status", "model", "variant", "bytes/vector"]
            + [f"{t.name} ({t.metric})" for t in tasks]
            + ["quality retained", "p95 ms", "docs/s", "peak MB", "USD / M docs", "USD / 1k queries", "score", "why"])


def candidate_row(c: Candidate, tasks: list[TaskInfo]) -> list[str]:
    return ([str(c.position or ""), STATUS_TEXT[c.status], c.model, variant_text(c), cell(c.bytes_per_vector or None)]
            + [cell(c.quality.get(t.name), decimals=4) + quality_mark(c, t.name) for t in tasks]
            + [percent(c.quality_retained, missing=CELL_MISSING), interval_cell(c, "latency_p95_ms"),
               interval_cell(c, "docs_per_s"), cell(c.cost.get("peak_memory_mb")),
               money_cell(c, "usd_per_million_docs"), money_cell(c, "usd_per_thousand_queries"),
               cell(c.score, decimals=3), c.why])


def money_cell(c: Candidate, name: str) -> str:
    """A money figure for a table with how it was priced: ``0.02 per token``, ``0.0123 machine-hour``."""
    value = c.cost.get(name)
    if value is None:
        return cell(None)
    how = c.money_basis.get("pricing")
    return cell(value) + (f" {how}" if how else "")


def money_text(rec: Recommendation) -> str:
    """How the money columns were computed: the prices used and the rate each was divided by."""
    costs = rec.policy.costs
    price = (f"{number(costs.machine_usd_per_hour)} USD per machine-hour"
             + (" (stated by the policy)" if costs.machine_price_stated else
                " (the default: state yours with costs.machine_usd_per_hour)"))
    text = (f"Money: a model that runs here costs {price} divided by its measured rate (bulk docs/s for documents; "
            f"one query at a time, 1000 / p50 ms, for queries); a model billed per token costs its tokens per text "
            f"(the server's reported usage where it gives one) x its catalog price_per_million_tokens.")
    missing = sorted({c.model for c in rec.candidates() if c.cost and "usd_per_million_docs" not in c.cost
                      and c.money_basis.get("usd_per_million_docs")})
    for model in missing:
        c = next(x for x in rec.candidates() if x.model == model)
        text += f" {model}: {c.money_basis['usd_per_million_docs']}."
    return text


def csv_row(group: HardwareGroup, c: Candidate, tasks: list[TaskInfo]) -> dict[str, Any]:
    """Plain numbers for machines (CSV): one row per candidate."""
    row: dict[str, Any] = {"hardware": group.hardware, "position": c.position, "status": c.status,
                           "model": c.model, "backend": c.backend, "device": c.variant.device,
                           "runtime": c.variant.runtime or "", "weight_precision": c.variant.weight_precision,
                           "dim": c.dim,
                           "trained_dim": c.trained_dim, "vector_precision": c.variant.vector_precision,
                           "bytes_per_vector": c.bytes_per_vector, "chunking": c.variant.chunking,
                           "vectors_per_document": c.vectors_per_document,
                           "trained_on": "; ".join(f"{t}: {', '.join(n)}" for t, n in sorted(c.trained_on.items()))}
    for t in tasks:
        row[f"{t.name}.{t.metric}"] = c.quality.get(t.name)
    row.update(quality_mean=c.quality_mean, quality_retained=c.quality_retained,
               **{name: c.cost.get(name) for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                                      "latency_samples", "docs_per_s", "tokens_per_s",
                                                      "peak_memory_mb", "load_time_s", "load_avg_1m",
                                                      "contention_busy_cores", "usd_per_million_docs",
                                                      "usd_per_thousand_queries")},
               money_pricing=c.money_basis.get("pricing"),
               latency_p95_ms_ci_low=c.cost_ci.get("latency_p95_ms", (None, None))[0],
               latency_p95_ms_ci_high=c.cost_ci.get("latency_p95_ms", (None, None))[1],
               unstable="; ".join(r for rs in c.unstable.values() for r in rs),
               flags="; ".join(f"{f.kind}: {f.rule}" for f in c.flags),
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
            rows.append([m.name, STATUS_TEXT[c.status], variant_text(c), cell(c.quality_mean, decimals=4),
                         cell(c.cost.get("latency_p95_ms")), cell(c.bytes_per_vector or None), c.why])
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
