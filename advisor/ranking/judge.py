"""Judging one machine's candidates: limits on measured figures, the Pareto front, the weighted score, ties within
the paired-bootstrap noise, and the quality each variant retains."""

from __future__ import annotations

import math

from advisor.figures import (BYTES_PER_VECTOR, DOCS_PER_S, is_load_limit_figure, limit_figure, limits as limit_figures,
                             lookup)
from advisor.policy.spec import Policy
from advisor.policy.rules import Measured, Rejection, check_measured
from advisor.ranking.model import COST_OBJECTIVES, Candidate, Difference, NearMiss, TaskInfo
from advisor.ranking.why import rejected_why, why

def quality_difference(a: Candidate, b: Candidate, *, resamples: int = 1000, seed: int = 0) -> Difference | None:
    """Paired bootstrap (``advisor.quality.bootstrap.compare``) of a's quality against b's on each task both were evaluated
    on, over the same resampled queries; None when the per-item scores it needs are missing."""
    from advisor.quality.bootstrap import compare

    tasks = sorted(set(a.quality) & set(b.quality))
    if not tasks or any(t not in a.per_item or t not in b.per_item for t in tasks):
        return None
    try:
        per_task = {t: compare(a.per_item[t], b.per_item[t], resamples=resamples, seed=seed) for t in tasks}
    except ValueError:  # not the same items (e.g. results from two versions of a task)
        return None
    return Difference(sum(c.difference for c in per_task.values()) / len(per_task), per_task)


def _dominates(a: Candidate, b: Candidate, objectives: list[str]) -> bool:
    """a is at least as good as b on quality and every cost figure both have, and better on one."""
    qa, qb = a.quality_mean, b.quality_mean
    if qa is None or qb is None or qa < qb:
        return False
    strictly = qa > qb
    for name in objectives:
        figure, sign = COST_OBJECTIVES[name]
        va, vb = a.figure(figure), b.figure(figure)
        if va is None or vb is None:
            continue
        if sign * (va - vb) < 0:
            return False
        strictly = strictly or sign * (va - vb) > 0
    return strictly


def _scores(cands: list[Candidate], policy: Policy, objectives: list[str]) -> None:
    """Weighted score in [0, 1]: each criterion scaled to [0, 1] over these candidates (costs on a log scale, since
    they span orders of magnitude), weighted by the policy and averaged. A missing figure scores 0 on it."""
    weights = policy.ranking.weights
    crit: list[tuple[str, float, list[float | None]]] = [
        ("quality", weights.get("quality", 0.0), [c.quality_mean for c in cands])]
    for name in objectives:
        figure, sign = COST_OBJECTIVES[name]
        values = [c.figure(figure) for c in cands]
        crit.append((name, weights.get(name, 0.0), [sign * math.log(v) if v and v > 0 else None for v in values]))
    total = sum(w for _, w, _ in crit) or 1.0
    for c in cands:
        c.score = 0.0
    for _, weight, values in crit:
        present = [v for v in values if v is not None]
        if not present or weight == 0:
            continue
        lo, hi = min(present), max(present)
        for c, v in zip(cands, values):
            if v is not None:
                c.score += weight * (1.0 if hi == lo else (v - lo) / (hi - lo)) / total


def money_measured(c: Candidate, name: str) -> Measured | None:
    """A money figure as the limits judge it: by the machine-hour it carries the interval and the unstable marks
    of the rate it was divided by (its registered measurement: throughput for documents, latency for queries); per
    token it is exact."""
    value = c.cost.get(name)
    if value is None:
        return None
    low, high = c.cost_ci.get(name, (None, None))
    marks: tuple[str, ...] = ()
    if c.money_basis.get("pricing") == "machine-hour":
        marks = tuple(c.unstable.get(lookup(name).measurement or "", ()))
    return Measured(value, low, high, marks)


def limit_figures_of(c: Candidate) -> dict[str, Measured | float | None]:
    """What the policy's limits judge a candidate on: each bounded figure with its interval and unstable marks."""
    out: dict[str, Measured | float | None] = {}
    for fig in limit_figures():
        if fig.kind == "money":
            out[fig.name] = money_measured(c, fig.name)
        elif fig.name == BYTES_PER_VECTOR:
            out[fig.name] = c.bytes_per_vector  # per vector, as the limit's name says (a chunked document has several)
        else:
            out[fig.name] = c.measured(fig.name)
    for name in c.cost:  # what limits.max_p95_latency_ms_at_load reads: p95 at load, and the sustainable rate
        if is_load_limit_figure(name):
            out[name] = c.measured(name)
    return out


MEASURED_RULES = tuple(f"limits.{f.limit}" for f in limit_figures())  # the rules a measured figure breaks


def near_misses(cands: list[Candidate], policy: Policy, best: Candidate | None) -> list[NearMiss]:
    """The candidates a measured limit kept out (nothing else rejected them), most valuable first: a user sees
    what each limit costs."""
    out = []
    for c in cands:
        if c.status != "rejected" or not c.rejections:
            continue
        if any(r.rule not in MEASURED_RULES or "not measured" in r.reason for r in c.rejections):
            continue
        r = c.rejections[0]
        fig = limit_figure(r.rule.removeprefix("limits."))
        value, limit = c.figure(fig.name), getattr(policy.limits, fig.limit or "")
        if value is None or not limit:
            continue
        miss = (value - limit) / limit if fig.bound == "max" else (limit - value) / limit
        diff = quality_difference(c, best) if best is not None else None
        out.append(NearMiss(c.label, r.rule, float(value), float(limit), miss, c.quality_mean, diff))
    return sorted(out, key=lambda m: (not m.better, -(m.quality or 0.0), m.miss))


def rank_group(cands: list[Candidate], policy: Policy, tasks: list[TaskInfo]) -> list[str]:
    """Judge one machine's candidates in place; returns the cost objectives that were used."""
    task_names = [t.name for t in tasks]
    live: list[Candidate] = []
    for c in cands:
        if c.status in ("rejected", "failed"):
            continue
        missing = [t for t in task_names if t not in c.quality]
        if missing:
            c.status = "incomplete"
            c.rejections.append(Rejection("incomplete", f"not evaluated on {', '.join(missing)}, so it cannot be "
                                                        f"compared with the others; run it"))
            continue
        broken, c.flags = check_measured(policy, limit_figures_of(c), quality=c.metrics)
        if broken:
            c.status = "rejected"
            c.rejections.extend(broken)
            continue
        live.append(c)

    objectives = [n for n, (fig, _) in COST_OBJECTIVES.items() if any(c.figure(fig) is not None for c in live)]
    for c in live:
        better = [o for o in live if o is not c and _dominates(o, c, objectives)]
        if better:
            c.status = "dominated"
            c.dominated_by = max(better, key=lambda o: (o.quality_mean or 0)).label
        else:
            c.status = "pareto"
    _scores(live, policy, objectives)
    front = sorted((c for c in live if c.status == "pareto"), key=lambda c: -(c.score or 0))
    rest = sorted((c for c in live if c.status == "dominated"), key=lambda c: -(c.score or 0))
    for i, c in enumerate(front + rest, start=1):
        c.position = i
    best = front[0] if front else None
    if best is not None:
        best.status = "recommended"
    by_label = {c.label: c for c in live}
    diffs: dict[str, Difference | None] = {}
    for c in front + rest:
        ref = best if c is not best else None
        if c.status == "dominated":
            ref = by_label[c.dominated_by]
        diff = quality_difference(c, ref) if ref is not None else None
        if diff is not None and diff.within_noise:
            c.tied_with.append(ref.label)
            ref.tied_with.append(c.label)
        diffs[c.label] = diff
    _retained(cands)  # before the why lines, which say what a runtime or precision gains over the plain model
    for c in front + rest:
        c.why = why(c, best, by_label, diffs[c.label])
        if c.flags:
            c.why += "; " + "; ".join(f.reason for f in c.flags)
    for c in cands:
        if c.status in ("rejected", "failed", "incomplete"):
            c.why = rejected_why(c)
        if c.cost_errors and c.status != "rejected" or any("not measured" in r.reason for r in c.rejections):
            c.why += "".join(f" ({e})" for e in c.cost_errors)
    return objectives


def _retained(cands: list[Candidate]) -> None:
    """Quality kept relative to the plain model: the same model at full size, float32 vectors, fp32 weights on its
    own runtime (or, without that cell, this runtime and weight precision's own full-size float32 cell); and the
    speed-up (``SPEEDUP``): its docs/s over the plain model's, both measured on this machine."""
    base: dict[tuple, float] = {}
    speed: dict[tuple, float] = {}
    for c in cands:
        load = (c.model, c.variant.device, c.variant.runtime, c.variant.weight_precision)
        if c.cost.get(DOCS_PER_S) and c.hybrid is None and not c.index:
            speed.setdefault(load, c.cost[DOCS_PER_S])
        q = c.quality_mean
        if q is None or c.variant.dim is not None or c.variant.vector_precision != "float32":
            continue
        base[load] = q
    for c in cands:
        v = c.variant
        ref = base.get((c.model, v.device, None, "fp32")) or base.get((c.model, v.device, v.runtime,
                                                                       v.weight_precision))
        if ref and c.quality_mean is not None:
            c.quality_retained = c.quality_mean / ref
        plain = speed.get((c.model, v.device, None, "fp32"))
        if plain and c.cost.get(DOCS_PER_S):
            c.speedup = c.cost[DOCS_PER_S] / plain
