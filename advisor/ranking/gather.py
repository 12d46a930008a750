"""Stored cells -> candidates: one per (model, variant, machine), with its quality per task, per-item scores for
the bootstrap and its cost figures (worst case over tasks)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Sequence

from advisor.models.catalog import ModelEntry
from advisor.policy.spec import Policy
from advisor.sweep.results import CellResult
from advisor.policy.rules import Rejection
from advisor.models.variants import Variant
from advisor.config.task_types import type_of_cell
from advisor.figures import (BUILD_S, DOCS_PER_S, END_TO_END_P95_MS, HYBRID_SEARCH_P95_MS, LATENCY_P95_MS, MEMORY_BYTES,
                             N_DOCS, PEAK_MEMORY_MB, QPS, QUERY_ENCODE_P95_MS, SEARCH_P95_MS, SERVING_MEMORY_MB,
                             USD_PER_MILLION_DOCS, lookup, ndcg_at, recall_at)
from advisor.figures import LOAD_P95_AT_RATE
from advisor.ranking.model import COST_FIGURES, INTERVAL_FIGURES, Candidate, TaskInfo
from advisor.ranking.chunked import chunked_cost

def _latest(results: Iterable[CellResult]) -> list[CellResult]:
    """One result per cell, ignoring library versions: the most recent wins (a re-run after an upgrade)."""
    best: dict[tuple, CellResult] = {}
    for r in results:
        k = r.key
        ident = (k.kind, k.model, k.revision, k.backend, k.device, k.runtime, k.weight_precision, k.task,
                 k.task_hash, k.dim, k.vector_precision, k.hardware, k.options)
        old = best.get(ident)
        if old is None or (r.finished_at or 0) >= (old.finished_at or 0):
            best[ident] = r
    return list(best.values())


def _task_metric(result: CellResult, policy: Policy) -> tuple[str | None, str | None]:
    """The metric the ranking uses for this quality cell (the policy's choice for the task type, else the cell's
    main metric) and the task type: the one the cell records, else (a cell stored before cells recorded it) the
    one the task-type table tells from its main metric and figures."""
    main = result.details.get("main_metric")
    task_type = result.details.get("task_type") or type_of_cell(main, result.metrics)
    wanted = policy.ranking.quality_metrics.get(task_type) if task_type else None
    if wanted and wanted in result.metrics:
        return wanted, task_type
    if main and main in result.metrics:
        return main, task_type
    return (next(iter(result.metrics)) if result.metrics else None), task_type


def _bootstrap_units(details: dict[str, Any], per_item: Sequence[float] | None) -> str | None:
    """What a cell's intervals resample, as people read it ('50 texts', '240 queries'); None when it does not say."""
    from advisor.quality.bootstrap import recorded_units

    if not per_item:
        return None
    try:
        units = recorded_units(details, len(per_item))
    except (ValueError, KeyError, TypeError):  # a cell whose record is damaged names no units
        return None
    return units.text() if units is not None else None


def _manifest(result: CellResult) -> dict[str, Any]:
    for key in ("hardware", "environment"):
        value = result.details.get(key)
        if isinstance(value, dict):
            return value.get("hardware", value) if isinstance(value.get("hardware"), dict) else value
    return {}


def gather(results: Sequence[CellResult], entries: dict[str, ModelEntry], policy: Policy
            ) -> tuple[dict[tuple, Candidate], list[TaskInfo], dict[str, dict], list[str]]:
    notes: list[str] = []
    cells = _latest(results)
    # Data behind a task name may have changed between runs: only the newest content is compared.
    newest_hash: dict[str, tuple[float, str]] = {}
    for r in cells:
        if r.key.kind == "quality":
            t = r.finished_at or 0
            if r.key.task not in newest_hash or t > newest_hash[r.key.task][0]:
                newest_hash[r.key.task] = (t, r.key.task_hash)
    stale = {r.key.task for r in cells if r.key.kind == "quality" and r.key.task_hash != newest_hash[r.key.task][1]}
    for task in sorted(stale):
        notes.append(f"task {task}: the store holds results on older data (another content hash); only the "
                     f"newest data is ranked")
    cells = [r for r in cells if r.key.task not in newest_hash or r.key.task_hash == newest_hash[r.key.task][1]]

    cost_cells: dict[tuple, list[CellResult]] = {}
    index_cells: dict[tuple, list[CellResult]] = {}
    for r in cells:
        if r.key.kind == "index" and r.status == "ok":
            k = r.key
            variant = Variant(k.device, k.weight_precision, k.dim, k.vector_precision or "float32", k.runtime or None)
            index_cells.setdefault((k.model, variant, k.hardware), []).append(r)
        if r.key.kind == "cost":
            cost_cells.setdefault((r.key.model, r.key.device, r.key.runtime or None, r.key.weight_precision,
                                   r.key.hardware), []).append(r)

    candidates: dict[tuple, Candidate] = {}
    tasks: dict[str, TaskInfo] = {}
    manifests: dict[str, dict] = {}
    from advisor.index.hybrid import rrf_k_of

    for r in cells:
        k = r.key
        manifests.setdefault(k.hardware, {}).update(_manifest(r))
        if k.kind not in ("quality", "hybrid"):
            continue
        variant = Variant(k.device, k.weight_precision, k.dim, k.vector_precision or "float32", k.runtime or None,
                          k.chunking)
        # a hybrid cell (BM25 + this variant by RRF, advisor.index.hybrid) is a candidate of its own
        rrf_k = rrf_k_of(k.options) if k.kind == "hybrid" else None
        ident = (k.model, variant, k.hardware) + ((k.options,) if rrf_k is not None else ())
        entry = entries.get(k.model)
        embed_dim = entry.embed_dim if entry else r.details.get("embed_dim")
        c = candidates.get(ident)
        if c is None:
            trained = k.dim is None or (entry is not None and k.dim in entry.trained_dims())
            c = candidates[ident] = Candidate(model=k.model, backend=k.backend, variant=variant, hardware=k.hardware,
                                              embed_dim=embed_dim, trained_dim=trained, hybrid=rrf_k)
        c.versions = tuple(sorted({*c.versions, k.versions}))
        if r.status != "ok":
            c.status = "failed"
            c.rejections.append(Rejection("failed", f"failed on {k.task}: {r.error or 'no error recorded'}"))
            continue
        metric, task_type = _task_metric(r, policy)
        if metric is None:
            continue
        c.quality[k.task] = float(r.metrics[metric])
        c.quality_metric[k.task] = metric
        c.metrics[k.task] = {m: float(v) for m, v in r.metrics.items() if isinstance(v, (int, float))}
        per_item = r.details.get("per_item")
        if per_item and metric == r.details.get("main_metric", metric):
            c.per_item[k.task] = r.details
        info = tasks.get(k.task)
        origin = r.details.get("task_origin") or {}
        names = ([] if origin.get("origin", "user") == "user" else [origin["origin"]]) + \
            list(origin.get("overlaps") or [])
        if info is None:
            info = tasks[k.task] = TaskInfo(k.task, task_type, metric, k.task_hash,
                                            len(per_item) if per_item else None, tuple(dict.fromkeys(names)))
        elif names and not info.origin:  # a cell that records no origin (BM25's before it did) must not hide it
            info = tasks[k.task] = replace(info, origin=tuple(dict.fromkeys(names)))
        units = _bootstrap_units(r.details, per_item)
        if units and not info.units:  # BM25's cells and older ones do not record their bootstrap units
            tasks[k.task] = replace(info, units=units)
        rating = r.details.get("rater")
        if isinstance(rating, dict) and rating.get("rater") and not tasks[k.task].rater:  # no judgements: say whose
            tasks[k.task] = replace(tasks[k.task], rater=str(rating["rater"]))
        if r.details.get("synthetic") and not tasks[k.task].synthetic:  # judgements built from the corpus
            tasks[k.task] = replace(tasks[k.task], synthetic=str(r.details["synthetic"]))

    for ident, c in candidates.items():
        model, variant, hardware = ident[:3]
        found = cost_cells.get((model, variant.device, variant.runtime, variant.weight_precision, hardware), [])
        # A failed cost measurement leaves the figures missing: a limit on them then rejects the candidate
        # ("not measured"), and without limits it is ranked on quality and bytes per vector only.
        c.cost_errors = [f"cost measurement failed on {r.key.task}: {r.error}" for r in found if r.status != "ok"]
        ok = [r for r in found if r.status == "ok"]
        c.cost, c.cost_ci, c.unstable = _worst_case(ok)
        if variant.chunking:
            chunked_cost(c)
        _add_money(c, entries.get(model), policy)
        if c.hybrid is not None:
            _hybrid_latency(c)
        else:
            _choose_index(c, index_cells.get((model, variant, hardware), []))
        for r in ok:
            samples = r.details.get("latency_raw_ms") or r.details.get("latencies_ms")
            if isinstance(samples, list):
                c.latencies_ms.extend(float(x) for x in samples)
    notes.extend(_retired_memory(candidates.values()))
    notes.extend(_thread_budgets(cost_cells))
    return candidates, sorted(tasks.values(), key=lambda t: t.name), manifests, notes


def _thread_budgets(cost_cells: dict[tuple, list[CellResult]]) -> list[str]:
    """Runtimes are compared at equal threads: every runtime records the intra-op threads it ran at (the process's
    thread budget, ``advisor.environment.thread_budget``), a different budget is another machine id, and a machine
    whose cost cells still ran at different thread counts (a runtime that ignores the budget) is named here."""
    seen: dict[str, dict[int, set[str]]] = {}
    for (model, _device, runtime, precision, hardware), cells in cost_cells.items():
        for r in cells:
            threads = (r.details.get("runtime") or {}).get("threads") if r.status == "ok" else None
            if isinstance(threads, int):
                seen.setdefault(hardware, {}).setdefault(threads, set()).add(f"{model} {runtime or 'own'} {precision}")
    notes = []
    for hardware, budgets in sorted(seen.items()):
        if len(budgets) > 1:
            which = "; ".join(f"{n} threads: {', '.join(sorted(v)[:3])}" for n, v in sorted(budgets.items()))
            notes.append(f"machine {hardware}: cost figures were measured at different thread counts ({which}); "
                         f"their docs/s and latencies are not compared on equal threads")
    return notes


def _retired_memory(candidates: Iterable[Candidate]) -> list[str]:
    """A note naming the models whose stored memory was measured before the serving footprint: their retired figure
    is never ranked (the ranking reads the serving footprint only), so their memory counts as missing."""
    old = sorted({c.model for c in candidates if PEAK_MEMORY_MB in c.cost and SERVING_MEMORY_MB not in c.cost})
    if not old:
        return []
    return [f"memory of {', '.join(old)} was measured before the serving footprint (stored as "
            f"{lookup(PEAK_MEMORY_MB).label}: not comparable across candidates), so it is missing from the ranking "
            f"and its limit; 'advisor run' measures those cost cells again"]


def _add_money(c: Candidate, entry: ModelEntry | None, policy: Policy) -> None:
    """USD per million documents and per thousand queries (advisor.cost.money), from the worst-case cost figures
    and today's prices: per token for an entry with a price, by the machine-hour for one that runs here."""
    from advisor.cost.money import money_of
    from advisor.models.destination import HOSTED_BACKENDS, off_machine

    if not c.cost:
        return
    price = entry.price_per_million_tokens if entry is not None else None
    if price is None and entry is not None and (entry.backend in HOSTED_BACKENDS or off_machine(entry)):
        c.money_basis = {USD_PER_MILLION_DOCS: "runs on someone else's server and its catalog entry has no "
                                                 "price_per_million_tokens, so its money cannot be figured"}
        return
    money = money_of(c.cost, price_per_million_tokens=price, machine_usd_per_hour=policy.costs.machine_usd_per_hour,
                     machine_price_stated=policy.costs.machine_price_stated,
                     docs_per_s_interval=c.cost_ci.get(DOCS_PER_S))
    c.cost.update(money.figures())
    if money.docs_interval is not None:
        c.cost_ci[USD_PER_MILLION_DOCS] = money.docs_interval
    c.money_basis = dict(money.basis)


MIN_INDEX_RECALL = 0.95
# The figures of an index setting a candidate carries (``Candidate.index`` / ``index_options``), at their worst
# over the tasks; ``end_to_end_p95_ms`` is added beside them.
INDEX_OPTION_FIGURES = (recall_at(10), ndcg_at(10), SEARCH_P95_MS, QPS, BUILD_S, N_DOCS, MEMORY_BYTES)


def _hybrid_latency(c: Candidate) -> None:
    """A hybrid query costs the query encode (the dense cost cell's batch-1 latency) plus its measured search:
    dense exact search + BM25 + fusion (the slowest over the tasks)."""
    search = [m[HYBRID_SEARCH_P95_MS] for m in c.metrics.values() if HYBRID_SEARCH_P95_MS in m]
    if not search:
        return
    _add_search(c, max(search))


def _add_search(c: Candidate, search_ms: float) -> None:
    """The candidate's p95 latency (and its interval) becomes end to end: its query encode plus ``search_ms``."""
    if LATENCY_P95_MS not in c.cost:
        return
    c.cost[QUERY_ENCODE_P95_MS] = c.cost[LATENCY_P95_MS]
    c.cost[LATENCY_P95_MS] += search_ms
    if LATENCY_P95_MS in c.cost_ci:
        lo, hi = c.cost_ci[LATENCY_P95_MS]
        c.cost_ci[LATENCY_P95_MS] = (lo + search_ms, hi + search_ms)


def _choose_index(c: Candidate, cells: list[CellResult]) -> None:
    """The index this variant would ship behind: the fastest end to end (query encode + search p95) among the
    settings keeping recall@10 >= 0.95 against exact search on every task (exact search when none does). With an
    index, the candidate's p95 latency (and its interval) is end to end, as a user pays it."""
    import json

    by_setting: dict[str, list[CellResult]] = {}
    for r in cells:
        by_setting.setdefault(r.key.options, []).append(r)
    options = []
    for key, rs in by_setting.items():
        if {r.key.task for r in rs} != set(c.quality):
            continue  # not measured on every task of this candidate
        spec = json.loads(key) if key else {}
        option: dict[str, Any] = {"name": spec.get("index"), "settings": spec.get("settings", {})}
        # each figure at its worst over the tasks (the registry's direction says which end that is)
        for name in INDEX_OPTION_FIGURES:
            option[name] = lookup(name).worst(r.metrics.get(name, 0.0) for r in rs)
        option[END_TO_END_P95_MS] = max(r.metrics.get(END_TO_END_P95_MS, r.metrics.get(SEARCH_P95_MS, 0.0))
                                        for r in rs)
        options.append(option)
    c.index_options = sorted(options, key=lambda o: (str(o["name"]), json.dumps(o["settings"], sort_keys=True)))
    good = [o for o in options if o[recall_at(10)] >= MIN_INDEX_RECALL]
    if not good:
        return
    best = min(good, key=lambda o: o[END_TO_END_P95_MS])
    c.index = best
    _add_search(c, best[SEARCH_P95_MS])


def _worst_case(cells: list[CellResult]) -> tuple[dict[str, float], dict[str, tuple[float, float]],
                                                  dict[str, list[str]]]:
    """Cost over several tasks: the slowest latency, the lowest throughput, the highest memory, each with the
    interval and the unstable marks of the cell it came from."""
    out: dict[str, float] = {}
    source: dict[str, CellResult] = {}
    for r in cells:
        # the registry's fixed cost figures, and p95 at the rates a policy's load limit named (a family)
        for name in (*COST_FIGURES, *(n for n in r.metrics if LOAD_P95_AT_RATE.match(n))):
            value = r.metrics.get(name)
            if value is None:
                continue
            value = float(value)
            if name not in out or lookup(name).worst((value, out[name])) != out[name]:
                out[name], source[name] = value, r
    intervals: dict[str, tuple[float, float]] = {}
    unstable: dict[str, list[str]] = {}
    carried = {n: lookup(n).measurement for n in source if LOAD_P95_AT_RATE.match(n)}
    for name, measurement in {**INTERVAL_FIGURES, **carried}.items():
        r = source.get(name)
        if r is None:
            continue
        low, high = r.metrics.get(f"{name}_ci_low"), r.metrics.get(f"{name}_ci_high")
        if low is not None and high is not None:
            intervals[name] = (float(low), float(high))
        reasons = ((r.details.get("stability") or {}).get("unstable") or {}).get(measurement)
        if reasons:
            unstable.setdefault(measurement, [])
            unstable[measurement].extend(x for x in reasons if x not in unstable[measurement])
    return out, intervals, unstable
