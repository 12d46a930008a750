"""Ranking: from stored cells to a recommendation with a reason for every candidate.

Order of judgement (each step only sees what the previous one let through):

1. metadata rules (licence, languages, domains, remote code, pickle weights) on the catalog entry;
2. failed or incomplete cells (a candidate not evaluated on every task cannot be compared);
3. limits on measured figures (p95 latency, throughput, peak memory, bytes per vector, quality floors);
4. the Pareto front over quality (mean of each task's main metric) and cost (p95 latency, throughput, peak
   memory, bytes per vector);
5. the policy's weighted score, which orders the front; the best is recommended.

Figures measured on different hardware are never compared: candidates are grouped by the hardware id their cells
carry and each group is ranked on its own. Quality differences smaller than the paired-bootstrap noise (per-query
scores stored in ``CellResult.details``) are reported as ties. This module reads results only; it never runs a
model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

from .catalog import ModelEntry
from .policy import Policy
from .results import CellResult
from .rules import Rejection, check_measured, check_metadata
from .variants import Variant, bytes_per_vector

# Cost objectives: (figure name in CellResult.metrics, +1 when larger is better, -1 when smaller is better).
COST_OBJECTIVES: dict[str, tuple[str, int]] = {
    "latency": ("latency_p95_ms", -1),
    "throughput": ("docs_per_s", +1),
    "memory": ("peak_memory_mb", -1),
    "bytes_per_vector": ("bytes_per_vector", -1),
}
COST_FIGURES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_samples", "docs_per_s", "tokens_per_s",
                "peak_memory_mb", "load_time_s")
# The evaluation's main metric per task type (advisor.evaluation.MAIN_METRIC), read backwards: a quality cell
# names its main metric, and the policy picks its ranking metric by task type.
_TYPE_OF_MAIN_METRIC = {"ndcg_at_10": "retrieval", "cosine_spearman": "sts", "accuracy": "classification",
                        "cosine_ap": "pair_classification", "rated_score_at_10": "unlabeled_retrieval"}
STATUSES = ("recommended", "pareto", "dominated", "rejected", "failed", "incomplete")


@dataclass(frozen=True)
class Difference:
    """Paired difference in quality between two candidates (a - b): the mean over tasks of each task's difference,
    and per task the paired-bootstrap interval (``advisor.bootstrap.compare``)."""

    delta: float
    per_task: dict[str, Any]  # task -> advisor.bootstrap.Comparison

    @property
    def within_noise(self) -> bool:
        """A tie: on no task does the interval of the difference exclude zero."""
        return not any(c.different for c in self.per_task.values())

    def text(self) -> str:
        if len(self.per_task) == 1:
            c = next(iter(self.per_task.values()))
            return f"difference {c.difference:+.4f}, 95% CI [{c.ci_low:+.4f}, {c.ci_high:+.4f}]"
        return f"mean difference {self.delta:+.4f}; within the 95% interval on each of {len(self.per_task)} tasks"


@dataclass
class Candidate:
    """One (model, variant) on one machine, with its figures and the verdict of the ranking."""

    model: str
    backend: str
    variant: Variant
    hardware: str
    embed_dim: int | None = None
    trained_dim: bool = True
    quality: dict[str, float] = field(default_factory=dict)           # task -> value of its ranking metric
    quality_metric: dict[str, str] = field(default_factory=dict)      # task -> metric name
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # task -> every quality metric
    per_item: dict[str, dict] = field(default_factory=dict)  # task -> details with per-item scores (bootstrap)
    cost: dict[str, float] = field(default_factory=dict)              # worst case over tasks
    latencies_ms: list[float] = field(default_factory=list)           # raw batch-1 samples, when stored
    cost_errors: list[str] = field(default_factory=list)              # why cost figures are missing
    versions: tuple[str, ...] = ()
    status: str = "pareto"
    rejections: list[Rejection] = field(default_factory=list)
    score: float | None = None
    position: int | None = None
    dominated_by: str | None = None
    tied_with: list[str] = field(default_factory=list)
    quality_retained: float | None = None
    why: str = ""

    @property
    def label(self) -> str:
        v = self.variant
        dim = f"{self.dim} dims" if self.dim else "full size"
        return f"{self.model} [{v.device} {v.weight_precision}, {dim}, {v.vector_precision} vectors]"

    @property
    def dim(self) -> int | None:
        return self.variant.dim if self.variant.dim is not None else self.embed_dim

    @property
    def bytes_per_vector(self) -> int | None:
        return bytes_per_vector(self.dim, self.variant.vector_precision) if self.dim else None

    @property
    def quality_mean(self) -> float | None:
        return sum(self.quality.values()) / len(self.quality) if self.quality else None

    def figure(self, name: str) -> float | None:
        """A cost objective's figure (``bytes_per_vector`` is derived, the rest are measured)."""
        if name == "bytes_per_vector":
            return self.bytes_per_vector
        return self.cost.get(name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variant"] = self.variant.to_dict()
        data["rejections"] = [{"rule": r.rule, "reason": r.reason} for r in self.rejections]
        data.pop("per_item")
        data.pop("latencies_ms")
        data.update(label=self.label, dim=self.dim, bytes_per_vector=self.bytes_per_vector,
                    quality_mean=self.quality_mean)
        return data


@dataclass
class ModelVerdict:
    """What the policy says about one catalog model before any figure is looked at."""

    name: str
    license: str
    languages: tuple[str, ...]
    rejections: list[Rejection]
    evaluated: bool
    in_catalog: bool = True

    @property
    def admitted(self) -> bool:
        return not self.rejections

    @property
    def why(self) -> str:
        if self.rejections:
            return "; ".join(f"rejected by rule {r.rule}: {r.reason}" for r in self.rejections)
        return "admitted" + ("" if self.evaluated else "; not in these results (not run yet, or left out with --model)")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "license": self.license, "languages": list(self.languages),
                "admitted": self.admitted, "evaluated": self.evaluated, "in_catalog": self.in_catalog,
                "rejections": [{"rule": r.rule, "reason": r.reason} for r in self.rejections], "why": self.why}


@dataclass
class HardwareGroup:
    """Candidates whose figures were measured on the same machine; ranked only against each other."""

    hardware: str
    device: str
    manifest: dict[str, Any]
    candidates: list[Candidate]
    objectives: list[str]

    @property
    def recommended(self) -> Candidate | None:
        return next((c for c in self.candidates if c.status == "recommended"), None)

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        return {"hardware": self.hardware, "device": self.device, "manifest": self.manifest,
                "objectives": self.objectives, "recommended": rec.label if rec else None,
                "candidates": [c.to_dict() for c in self.candidates]}


@dataclass
class TaskInfo:
    name: str
    type: str | None
    metric: str
    task_hash: str
    n_items: int | None


@dataclass
class Recommendation:
    policy: Policy
    groups: list[HardwareGroup]
    models: list[ModelVerdict]
    tasks: list[TaskInfo]
    notes: list[str] = field(default_factory=list)

    @property
    def recommended(self) -> Candidate | None:
        """The recommendation of the group with the most candidates (the machine the user measured most on)."""
        groups = sorted(self.groups, key=lambda g: -len(g.candidates))
        return next((g.recommended for g in groups if g.recommended), None)

    def candidates(self) -> list[Candidate]:
        return [c for g in self.groups for c in g.candidates]

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        return {"policy": {"name": self.policy.name, "file": self.policy.file,
                           "description": self.policy.description},
                "recommended": rec.to_dict() if rec else None,
                "tasks": [asdict(t) for t in self.tasks], "models": [m.to_dict() for m in self.models],
                "groups": [g.to_dict() for g in self.groups], "notes": list(self.notes)}


# -- gathering cells into candidates -------------------------------------------------------------------------------

def _latest(results: Iterable[CellResult]) -> list[CellResult]:
    """One result per cell, ignoring library versions: the most recent wins (a re-run after an upgrade)."""
    best: dict[tuple, CellResult] = {}
    for r in results:
        k = r.key
        ident = (k.kind, k.model, k.revision, k.backend, k.device, k.weight_precision, k.task, k.task_hash, k.dim,
                 k.vector_precision, k.hardware, k.options)
        old = best.get(ident)
        if old is None or (r.finished_at or 0) >= (old.finished_at or 0):
            best[ident] = r
    return list(best.values())


def _task_metric(result: CellResult, policy: Policy) -> tuple[str | None, str | None]:
    """The metric the ranking uses for this quality cell (the policy's choice for the task type, else the cell's
    main metric) and the task type."""
    main = result.details.get("main_metric")
    task_type = result.details.get("task_type") or _TYPE_OF_MAIN_METRIC.get(main or "")
    wanted = policy.ranking.quality_metrics.get(task_type) if task_type else None
    if wanted and wanted in result.metrics:
        return wanted, task_type
    if main and main in result.metrics:
        return main, task_type
    return (next(iter(result.metrics)) if result.metrics else None), task_type


def _manifest(result: CellResult) -> dict[str, Any]:
    for key in ("hardware", "environment"):
        value = result.details.get(key)
        if isinstance(value, dict):
            return value.get("hardware", value) if isinstance(value.get("hardware"), dict) else value
    return {}


def _gather(results: Sequence[CellResult], entries: dict[str, ModelEntry], policy: Policy
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
    for r in cells:
        if r.key.kind == "cost":
            cost_cells.setdefault((r.key.model, r.key.device, r.key.weight_precision, r.key.hardware), []).append(r)

    candidates: dict[tuple, Candidate] = {}
    tasks: dict[str, TaskInfo] = {}
    manifests: dict[str, dict] = {}
    for r in cells:
        k = r.key
        manifests.setdefault(k.hardware, {}).update(_manifest(r))
        if k.kind != "quality":
            continue
        variant = Variant(k.device, k.weight_precision, k.dim, k.vector_precision or "float32")
        ident = (k.model, variant, k.hardware)
        entry = entries.get(k.model)
        embed_dim = entry.embed_dim if entry else r.details.get("embed_dim")
        c = candidates.get(ident)
        if c is None:
            trained = k.dim is None or (entry is not None and k.dim in entry.trained_dims())
            c = candidates[ident] = Candidate(model=k.model, backend=k.backend, variant=variant, hardware=k.hardware,
                                              embed_dim=embed_dim, trained_dim=trained)
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
        if info is None:
            tasks[k.task] = TaskInfo(k.task, task_type, metric, k.task_hash, len(per_item) if per_item else None)

    for (model, variant, hardware), c in candidates.items():
        found = cost_cells.get((model, variant.device, variant.weight_precision, hardware), [])
        # A failed cost measurement leaves the figures missing: a limit on them then rejects the candidate
        # ("not measured"), and without limits it is ranked on quality and bytes per vector only.
        c.cost_errors = [f"cost measurement failed on {r.key.task}: {r.error}" for r in found if r.status != "ok"]
        ok = [r for r in found if r.status == "ok"]
        c.cost = _worst_case(ok)
        for r in ok:
            samples = r.details.get("latency_raw_ms") or r.details.get("latencies_ms")
            if isinstance(samples, list):
                c.latencies_ms.extend(float(x) for x in samples)
    return candidates, sorted(tasks.values(), key=lambda t: t.name), manifests, notes


def _worst_case(cells: list[CellResult]) -> dict[str, float]:
    """Cost over several tasks: the slowest latency, the lowest throughput, the highest memory."""
    out: dict[str, float] = {}
    for r in cells:
        for name in COST_FIGURES:
            value = r.metrics.get(name)
            if value is None:
                continue
            value = float(value)
            if name not in out:
                out[name] = value
            elif name in ("docs_per_s", "tokens_per_s"):
                out[name] = min(out[name], value)
            elif name == "latency_samples":
                out[name] = min(out[name], value)
            else:
                out[name] = max(out[name], value)
    return out


# -- noise ----------------------------------------------------------------------------------------------------------

def quality_difference(a: Candidate, b: Candidate, *, resamples: int = 1000, seed: int = 0) -> Difference | None:
    """Paired bootstrap (``advisor.bootstrap.compare``) of a's quality against b's on each task both were evaluated
    on, over the same resampled queries; None when the per-item scores it needs are missing."""
    from .bootstrap import compare

    tasks = sorted(set(a.quality) & set(b.quality))
    if not tasks or any(t not in a.per_item or t not in b.per_item for t in tasks):
        return None
    try:
        per_task = {t: compare(a.per_item[t], b.per_item[t], resamples=resamples, seed=seed) for t in tasks}
    except ValueError:  # not the same items (e.g. results from two versions of a task)
        return None
    return Difference(sum(c.difference for c in per_task.values()) / len(per_task), per_task)


# -- judging --------------------------------------------------------------------------------------------------------

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


def _fmt(value: float | None, unit: str = "") -> str:
    """A figure for a sentence: 3 significant digits, thousands separated, no exponent."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return text + unit


def _figures(c: Candidate) -> str:
    q = c.quality_mean
    parts = [f"quality {q:.4f}" if q is not None else "quality n/a"]
    if "latency_p95_ms" in c.cost:
        parts.append(f"p95 {_fmt(c.cost['latency_p95_ms'], ' ms')}")
    if "docs_per_s" in c.cost:
        parts.append(f"{_fmt(c.cost['docs_per_s'], ' docs/s')}")
    if "peak_memory_mb" in c.cost:
        parts.append(f"{_fmt(c.cost['peak_memory_mb'], ' MB')}")
    if c.bytes_per_vector:
        parts.append(f"{c.bytes_per_vector} B/vector")
    return ", ".join(parts)


def _tie_text(d: Difference, other: Candidate) -> str:
    return f"tied with {other.label} within noise ({d.text()})"


def _rank_group(cands: list[Candidate], policy: Policy, tasks: list[TaskInfo]) -> list[str]:
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
        broken = check_measured(policy, p95_latency_ms=c.cost.get("latency_p95_ms"),
                                throughput_docs_per_s=c.cost.get("docs_per_s"),
                                peak_memory_mb=c.cost.get("peak_memory_mb"), bytes_per_vector=c.bytes_per_vector,
                                quality=c.metrics)
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
    for c in front + rest:
        c.why = _why(c, best, by_label, diffs[c.label])
    for c in cands:
        if c.status in ("rejected", "failed", "incomplete"):
            c.why = _rejected_why(c)
        if c.cost_errors and c.status != "rejected" or any("not measured" in r.reason for r in c.rejections):
            c.why += "".join(f" ({e})" for e in c.cost_errors)
    _retained(cands)
    return objectives


def _why(c: Candidate, best: Candidate | None, by_label: dict[str, Candidate], diff: Difference | None) -> str:
    if c.status == "recommended":
        text = f"recommended: best weighted score ({c.score:.3f}) on the Pareto front; {_figures(c)}"
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
    text = f"Pareto-optimal (#{c.position}, score {c.score:.3f}): {_tradeoff(c, best)}"
    if diff is not None and diff.within_noise and best is not None:
        text += "; " + _tie_text(diff, best)
    return text


def _ratio_text(name: str, vc: float, vb: float) -> str:
    """'3.2x faster p95 latency', '4x more bytes per vector': the ratio always >= 1, the word says which way."""
    up = vc > vb
    r = vc / vb if up else vb / vc
    times = f"{r:.2g}x" if r < 10 else f"{r:.0f}x"
    word = {"latency": ("slower", "faster"), "throughput": ("more", "less"), "memory": ("more", "less"),
            "bytes_per_vector": ("more", "fewer")}[name][0 if up else 1]
    what = {"latency": "p95 latency", "throughput": "throughput", "memory": "memory",
            "bytes_per_vector": "bytes per vector"}[name]
    return f"{times} {word} {what}"


def _tradeoff(c: Candidate, best: Candidate | None) -> str:
    """What this front candidate gains and gives up against the recommendation."""
    if best is None:
        return _figures(c)
    parts = []
    qc, qb = c.quality_mean or 0.0, best.quality_mean or 0.0
    if qc != qb:
        parts.append(f"quality {qc - qb:+.4f}")
    for name, (figure, _sign) in COST_OBJECTIVES.items():
        vc, vb = c.figure(figure), best.figure(figure)
        if vc and vb and vc != vb:
            parts.append(_ratio_text(name, vc, vb))
    return "against the recommendation: " + (", ".join(parts) if parts else "the same figures")


def _rejected_why(c: Candidate) -> str:
    texts = []
    for r in c.rejections:
        if r.rule == "limits.min_quality" and r.reason.startswith("below the quality floor"):
            texts.append(r.reason)
        elif r.rule in ("failed", "incomplete"):
            texts.append(r.reason)
        else:
            texts.append(f"rejected by rule {r.rule}: {r.reason}")
    return "; ".join(texts)


def _retained(cands: list[Candidate]) -> None:
    """Quality kept relative to the same model at full size, float32 vectors and fp32 weights (or the weight
    precision's own full-size float32 cell when there is no fp32 one)."""
    base: dict[tuple, float] = {}
    for c in cands:
        q = c.quality_mean
        if q is None or c.variant.dim is not None or c.variant.vector_precision != "float32":
            continue
        base[(c.model, c.variant.device, c.variant.weight_precision)] = q
    for c in cands:
        ref = base.get((c.model, c.variant.device, "fp32")) or base.get((c.model, c.variant.device,
                                                                          c.variant.weight_precision))
        if ref and c.quality_mean is not None:
            c.quality_retained = c.quality_mean / ref


# -- the entry point ------------------------------------------------------------------------------------------------

def rank(results: Sequence[CellResult], entries: Sequence[ModelEntry], policy: Policy) -> Recommendation:
    """Rank stored results under a policy. ``entries`` are the catalog entries (metadata rules need them); a model
    in the results but not in ``entries`` is rejected because its licence and languages cannot be checked."""
    by_name = {e.name: e for e in entries}
    candidates, tasks, manifests, notes = _gather(results, by_name, policy)
    evaluated = {c.model for c in candidates.values()}

    models: list[ModelVerdict] = []
    metadata: dict[str, list[Rejection]] = {}
    for e in entries:
        rejections = check_metadata(e, policy)
        metadata[e.name] = rejections
        models.append(ModelVerdict(e.name, e.license, e.languages, rejections, e.name in evaluated))
    for name in sorted(evaluated - set(by_name)):
        rejections = [Rejection("catalog", "not in the given catalogs, so its licence and languages cannot be "
                                           "checked; pass its catalog with --catalog")]
        metadata[name] = rejections
        models.append(ModelVerdict(name, "unknown", (), rejections, True, in_catalog=False))

    for c in candidates.values():
        if metadata.get(c.model):
            c.status = "rejected"
            c.rejections = list(metadata[c.model]) + c.rejections

    cost_failures = sorted({(c.model, c.variant.weight_precision, e) for c in candidates.values()
                            for e in c.cost_errors})
    for model, wp, error in cost_failures:
        notes.append(f"{model} ({wp}): {error}; its latency, throughput and memory are missing")
    for floor in policy.limits.min_quality:
        if floor.task not in {t.name for t in tasks}:
            notes.append(f"quality floor on task '{floor.task}' not applied: that task is not in these results")

    groups: list[HardwareGroup] = []
    for hardware in sorted({c.hardware for c in candidates.values()}):
        members = [c for c in candidates.values() if c.hardware == hardware]
        objectives = _rank_group(members, policy, tasks)
        order = {s: i for i, s in enumerate(STATUSES)}
        members.sort(key=lambda c: (order[c.status], c.position or 0, c.model, c.label))
        devices = sorted({c.variant.device for c in members})
        groups.append(HardwareGroup(hardware, ", ".join(devices), manifests.get(hardware, {}), members, objectives))
    if len(groups) > 1:
        notes.append(f"figures come from {len(groups)} different machines or devices; each is ranked on its own "
                     f"and never compared with the others")
    for g in groups:
        versions = {v for c in g.candidates for v in c.versions}
        if len(versions) > 1:
            notes.append(f"machine {g.hardware}: results come from {len(versions)} different library version sets")
    return Recommendation(policy, groups, models, tasks, notes)
