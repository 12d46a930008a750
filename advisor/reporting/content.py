"""What every format says, computed once: the headline, the candidate table and the rejected models. Writers only
lay it out (and escape it for their format)."""

from __future__ import annotations

from typing import Any

from advisor.figures import (BYTES_PER_VECTOR, CONTENTION_BUSY_CORES, CORES, DOCS_PER_S, LATENCY_P50_MS, LATENCY_P95_MS,
                             LATENCY_P99_MS, LATENCY_SAMPLES, LOAD_AVG_1M, LOAD_FRACTIONS, LOAD_P95, LOAD_P95_AT_RATE,
                             LOAD_SATURATED_AT_QPS, LOAD_SERVED, LOAD_SUSTAINABLE_QPS, LOAD_TIME_S,
                             RETIRED_LOAD_FIGURES, load_figure, QUALITY_MEAN, QUALITY_RETAINED,
                             QUERY_ENCODE_P95_MS, SCORE, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M, SERVING_MEMORY_MB,
                             SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB, TOKENS_PER_S, USD_PER_MILLION_DOCS,
                             USD_PER_THOUSAND_QUERIES,
                             difference_interval, figure_of, lookup, recall_at)
from advisor.formatting import CELL_MISSING, cell, interval, number, percent, signed
from advisor.ranking import Candidate, HardwareGroup, Recommendation, TaskInfo
from advisor.ranking.zero_shot import quality_mark
from advisor.ranking.why import plain_comparison, runtime_text
from advisor.config.task_types import TASK_TYPES

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
    """A cost figure for a table, with its interval and a mark when it cannot be trusted: ``9.02 (8.7 to 9.4)``,
    ``191 unstable``."""
    fig = lookup(name)
    value = c.cost.get(name)
    if value is None:
        return fig.cell(None)
    text = fig.interval_cell(value, *c.cost_ci.get(name, (None, None)))
    if fig.measurement and c.unstable.get(fig.measurement):
        text += " unstable"
    return text


def conditions_text(group: HardwareGroup) -> str:
    """How quiet the machine was while the cost figures were taken, and how many of them did not settle."""
    loads = [c.cost[LOAD_AVG_1M] for c in group.candidates if LOAD_AVG_1M in c.cost]
    busy = [c.cost[CONTENTION_BUSY_CORES] for c in group.candidates if CONTENTION_BUSY_CORES in c.cost]
    unstable = sorted({c.model for c in group.candidates if c.unstable})
    if not loads and not busy:
        return "Measuring conditions were not recorded for these cost figures (measured before the advisor kept them)."
    cores = next((c.cost.get(CORES) for c in group.candidates if c.cost.get(CORES)), None)
    parts = []
    if loads:
        parts.append(f"{lookup(LOAD_AVG_1M).label} {interval(min(loads), max(loads), label='')}"
                     + (f" on {lookup(CORES).text(cores)}" if cores else ""))
    if busy:
        parts.append(f"other processes kept up to {lookup(CONTENTION_BUSY_CORES).text(max(busy))} busy while they "
                     f"were measured")
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
    """The report's first line: the verdict, after a sentence per task that has no relevance judgements given by
    people (its figures are a rater's scores, or its judgements were built from its corpus, and the reader must know
    that before any number)."""
    from advisor.datasets.tasks import synthetic_line, unlabeled_line

    unlabeled = [f"{unlabeled_line(t.name, None, t.rater)}." for t in rec.tasks
                 if t.type in TASK_TYPES and TASK_TYPES[t.type].rated]
    synthetic = [f"{synthetic_line(t.name, t.synthetic)}." for t in rec.tasks if t.synthetic]
    return " ".join([*unlabeled, *synthetic, _verdict(rec)])


def _verdict(rec: Recommendation) -> str:
    best = rec.recommended
    if best is None:
        rules: dict[str, int] = {}
        for c in rec.candidates():
            for r in c.rejections[:1]:
                rules[r.rule] = rules.get(r.rule, 0) + 1
        why = ", ".join(f"{n} by {rule}" for rule, n in sorted(rules.items(), key=lambda kv: -kv[1]))
        return "No candidate passes the policy" + (f" ({why})" if why else "") + ": see the reasons below."
    tasks = ", ".join(f"{t.metric} {figure_of(t.metric).text(best.quality.get(t.name))} on {t.name}"
                      for t in rec.tasks)
    latency = lookup(LATENCY_P95_MS).label
    cost = []
    if LATENCY_P95_MS in best.cost:
        cost.append(f"{latency} {lookup(LATENCY_P95_MS).text(best.cost[LATENCY_P95_MS])}")
    if DOCS_PER_S in best.cost:
        cost.append(lookup(DOCS_PER_S).text(best.cost[DOCS_PER_S]))
    if SERVING_MEMORY_MB in best.cost:
        memory = lookup(SERVING_MEMORY_MB)
        cost.append(f"{memory.label} {memory.text(best.cost[SERVING_MEMORY_MB])}")
    if best.bytes_per_vector:
        cost.append(f"{lookup(BYTES_PER_VECTOR).text(best.bytes_per_vector)} per vector")
    if load_text(best):
        cost.append(load_text(best))
    if USD_PER_MILLION_DOCS in best.cost:
        cost.append(f"{lookup(USD_PER_MILLION_DOCS).text(best.cost[USD_PER_MILLION_DOCS])} per million documents")
    if USD_PER_THOUSAND_QUERIES in best.cost:
        cost.append(f"{lookup(USD_PER_THOUSAND_QUERIES).text(best.cost[USD_PER_THOUSAND_QUERIES])} per thousand "
                    f"queries")
    behind = ""
    if best.index:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(best.index["settings"].items()))
        recall = lookup(recall_at(10))
        behind = (f" behind a {best.index['name']} index{f' ({settings})' if settings else ''}, {recall.label} "
                  f"{recall.text(best.index[recall.name])} against exact search")
        cost = [c.replace(latency, f"{latency} (encode + search)") for c in cost]
    elif best.hybrid is not None:
        behind = " behind exact dense search and a BM25 index (bm25s), their rankings fused"
        if QUERY_ENCODE_P95_MS in best.cost:
            cost = [c.replace(latency, f"{latency} (encode + dense and BM25 search + fusion)") for c in cost]
    elif best.backend == "bm25":
        behind = " behind a BM25 index (bm25s)"
    where, gain = runtime_text(best), plain_comparison(best)  # "on OpenVINO int8-static", "4.1x the docs/s ..."
    ship = f"{best.model} {where}" if where else best.model
    text = f"Ship {ship} ({variant_text(best)}){behind}: {gain + '; ' if gain else ''}{tasks}; " + ", ".join(cost) + "."
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
    """The load sentence: the offered rate advisor serve kept up with, p95 at fractions of it and at the rates a
    policy's load limit named, and whether a real server answered or its batcher ran in the measuring process (no
    HTTP); "" without load figures. A saturation probe is never written as a latency: a candidate that has only the
    retired probe's figures (one run at 1.5x the batch-1 capacity) is said to have no sustainable rate."""
    how = "a real advisor serve" if c.cost.get(LOAD_SERVED) else "advisor serve's batcher in process, no HTTP"
    if LOAD_SUSTAINABLE_QPS not in c.cost:
        if any(name in c.cost for name in RETIRED_LOAD_FIGURES):
            return ("no sustainable rate under load (its load figures are a retired saturation probe at 1.5x the "
                    "batch-1 capacity, past saturation, not a latency; 'advisor run' measures the sustainable rate)")
        return ""
    rate = lookup(LOAD_SUSTAINABLE_QPS)
    if LOAD_SATURATED_AT_QPS not in c.cost:
        how += "; at least: the sweep ended before it saturated"
    text = f"sustains {rate.text(c.cost[LOAD_SUSTAINABLE_QPS])} under load ({how})"
    points = [f"{lookup(name).text(c.cost[name])} at {percent(fraction, decimals=0)}"
              for fraction in LOAD_FRACTIONS if (name := load_figure(fraction, LOAD_P95)) in c.cost]
    if points:
        text += f", p95 {' and '.join(points)} of that rate"
    rates = sorted((int(m.group(1)), name) for name in c.cost if (m := LOAD_P95_AT_RATE.regex.match(name)))
    for qps, name in rates:
        text += f", p95 {lookup(name).text(c.cost[name])} at {rate.text(qps)} offered"
    return text


def best_embedding_model(rec: Recommendation) -> str:
    """When BM25 wins, the question was still "which embedding model?": the best-ranked one and how it stands
    against BM25 (the first line of ``bm25_lines``, which lists the ranked candidates best first)."""
    from advisor.ranking.baseline import bm25_lines

    line = next(iter(bm25_lines(rec)), None)
    if line is None:
        return ""
    fig = figure_of(line.metric)
    text = (f" The best embedding model, {line.candidate}, scores {line.metric} {fig.text(line.value)} on "
            f"{line.task}: {line.verdict} (difference {signed(line.difference)}, "
            f"{difference_interval(line.ci_low, line.ci_high)})")
    model = next((c for c in rec.candidates() if c.label == line.candidate), None)
    if model is not None and load_text(model):
        text += f"; batch-1 p95 {lookup(LATENCY_P95_MS).text(model.cost[LATENCY_P95_MS])}, {load_text(model)}"
    return text + "."


def candidate_columns(tasks: list[TaskInfo]) -> list[str]:
    return (["#", "status", "model", "variant", "bytes/vector"]
            + [f"{t.name} ({t.metric})" for t in tasks]
            + ["quality retained", "p95 ms", "docs/s", "serving MB", "USD / M docs", "USD / 1k queries", "score",
               "why"])


def candidate_row(c: Candidate, tasks: list[TaskInfo]) -> list[str]:
    return ([str(c.position or ""), STATUS_TEXT[c.status], c.model, variant_text(c),
             lookup(BYTES_PER_VECTOR).cell(c.bytes_per_vector or None)]
            + [figure_of(t.metric).cell(c.quality.get(t.name)) + quality_mark(c, t.name) for t in tasks]
            + [lookup(QUALITY_RETAINED).text(c.quality_retained, missing=CELL_MISSING),
               interval_cell(c, LATENCY_P95_MS), interval_cell(c, DOCS_PER_S),
               lookup(SERVING_MEMORY_MB).cell(c.cost.get(SERVING_MEMORY_MB)),
               money_cell(c, USD_PER_MILLION_DOCS), money_cell(c, USD_PER_THOUSAND_QUERIES),
               lookup(SCORE).cell(c.score), c.why])


# The serving footprint and its parts (advisor.cost.memory), one row per model load: every variant of a load shares
# its cost cells, so its dims and vector precisions would repeat the row.
MEMORY_PARTS = (SERVING_MEMORY_MB, SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M)
MEMORY_COLUMNS = ["model", "runs as", "serving MB", "runtime MB", "weights MB", "index MB (this corpus)",
                  "index MB per million docs"]
MEMORY_INTRO = ("Serving memory is measured one way for every candidate, BM25 included: the peak RSS of a fresh "
                "process that imports the serving libraries (runtime), loads the model (weights), holds the index of "
                "the task's corpus (a model: its full-size float32 vectors; BM25: its postings, built from the "
                "documents) and answers 32 queries; the largest over the tasks. The index part scales with the corpus: "
                "per million documents = index bytes / documents x 1,000,000; the rest (activations, allocator "
                "slack) is serving memory less runtime, weights and index. A smaller size or vector precision stores "
                "less (bytes per vector).")


def memory_rows(group: HardwareGroup) -> list[list[str]]:
    """One row per model load of ``group`` that has a serving footprint: the footprint and its parts."""
    rows, seen = [], set()
    for c in group.candidates:
        v = c.variant
        key = (c.model, v.device, v.runtime, v.weight_precision)
        if key in seen or SERVING_MEMORY_MB not in c.cost:
            continue
        seen.add(key)
        runs = f"{v.device} · lexical (BM25)" if c.backend == "bm25" else \
            f"{v.device}{f' {v.runtime}' if v.runtime else ''} {v.weight_precision}"
        rows.append([c.model, runs] + [lookup(name).cell(c.cost.get(name)) for name in MEMORY_PARTS])
    return rows


def money_cell(c: Candidate, name: str) -> str:
    """A money figure for a table with how it was priced: ``0.02 per token``, ``0.0123 machine-hour``."""
    value = c.cost.get(name)
    if value is None:
        return cell(None)
    how = c.money_basis.get("pricing")
    return lookup(name).cell(value) + (f" {how}" if how else "")


def money_text(rec: Recommendation) -> str:
    """How the money columns were computed: the prices used and the rate each was divided by."""
    costs = rec.policy.costs
    price = (f"{number(costs.machine_usd_per_hour)} USD per machine-hour"
             + (" (stated by the policy)" if costs.machine_price_stated else
                " (the default: state yours with costs.machine_usd_per_hour)"))
    text = (f"Money: a model that runs here costs {price} divided by its measured rate (bulk docs/s for documents; "
            f"one query at a time, 1000 / p50 ms, for queries); a model billed per token costs its tokens per text "
            f"(the server's reported usage where it gives one) x its catalog price_per_million_tokens.")
    missing = sorted({c.model for c in rec.candidates() if c.cost and USD_PER_MILLION_DOCS not in c.cost
                      and c.money_basis.get(USD_PER_MILLION_DOCS)})
    for model in missing:
        c = next(x for x in rec.candidates() if x.model == model)
        text += f" {model}: {c.money_basis[USD_PER_MILLION_DOCS]}."
    return text


# The cost figures of a CSV row, in its column order
CSV_FIGURES = (LATENCY_P50_MS, LATENCY_P95_MS, LATENCY_P99_MS, LATENCY_SAMPLES, DOCS_PER_S, TOKENS_PER_S,
               SERVING_MEMORY_MB, SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M,
               LOAD_TIME_S, LOAD_AVG_1M, CONTENTION_BUSY_CORES, USD_PER_MILLION_DOCS,
               USD_PER_THOUSAND_QUERIES)


def csv_row(group: HardwareGroup, c: Candidate, tasks: list[TaskInfo]) -> dict[str, Any]:
    """Plain numbers for machines (CSV): one row per candidate."""
    row: dict[str, Any] = {"hardware": group.hardware, "position": c.position, "status": c.status,
                           "model": c.model, "backend": c.backend, "device": c.variant.device,
                           "runtime": c.variant.runtime or "", "weight_precision": c.variant.weight_precision,
                           "dim": c.dim,
                           "trained_dim": c.trained_dim, "vector_precision": c.variant.vector_precision,
                           BYTES_PER_VECTOR: c.bytes_per_vector, "chunking": c.variant.chunking,
                           "vectors_per_document": c.vectors_per_document,
                           "trained_on": "; ".join(f"{t}: {', '.join(n)}" for t, n in sorted(c.trained_on.items()))}
    for t in tasks:
        row[f"{t.name}.{t.metric}"] = c.quality.get(t.name)
    row.update({QUALITY_MEAN: c.quality_mean, QUALITY_RETAINED: c.quality_retained},
               **{name: c.cost.get(name) for name in CSV_FIGURES},
               money_pricing=c.money_basis.get("pricing"),
               **{lookup(LATENCY_P95_MS).ci_low: c.cost_ci.get(LATENCY_P95_MS, (None, None))[0],
                  lookup(LATENCY_P95_MS).ci_high: c.cost_ci.get(LATENCY_P95_MS, (None, None))[1]},
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
            rows.append([m.name, STATUS_TEXT[c.status], variant_text(c), lookup(QUALITY_MEAN).cell(c.quality_mean),
                         lookup(LATENCY_P95_MS).cell(c.cost.get(LATENCY_P95_MS)),
                         lookup(BYTES_PER_VECTOR).cell(c.bytes_per_vector or None), c.why])
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
