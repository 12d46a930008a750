"""The ranking's data: candidates, verdicts, machine groups and the recommendation (plain dataclasses, JSON-ready
through ``to_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.figures import (BYTES_PER_VECTOR, INDEX_SIZE_MB, INDEX_VECTORS, QUALITY_MEAN, REEMBED_CORPUS_S,
                             REEMBED_H_PER_B_TOKENS, REEMBED_H_PER_M, SCORE, SPEEDUP, STORAGE_PRICE,
                             difference_interval, intervals, limit_figure, lookup, names, objectives)
from advisor.formatting import percent, signed
from advisor.policy.spec import Policy
from advisor.policy.rules import Flag, Measured, Rejection
from advisor.models.variants import Variant, bytes_per_vector

# The ranking's cost objectives: ranking weight -> (figure, +1 when larger is better, -1 when smaller is better),
# from the figure registry (``Figure.objective`` and ``Figure.direction``). Money is derived at ranking time
# (advisor.cost.money) and weighs 0 by default.
COST_OBJECTIVES: dict[str, tuple[str, int]] = {weight: (name, lookup(name).direction)
                                               for weight, name in objectives().items()}
# Figures a candidate carries from its cost cells (worst case over tasks): the registry's cost and context figures,
# less those that belong to the variant rather than the loaded model (the candidate derives its own bytes per
# vector; the cost cell's index and re-embedding figures are for the full-size float32 vectors) and the score the
# ranking gives.
_NOT_CARRIED = (BYTES_PER_VECTOR, INDEX_SIZE_MB, INDEX_VECTORS, STORAGE_PRICE, REEMBED_CORPUS_S, REEMBED_H_PER_M,
                REEMBED_H_PER_B_TOKENS, SCORE, SPEEDUP)
COST_FIGURES = tuple(n for n in names("cost") + names("info") if n not in _NOT_CARRIED)
# Money figures the ranking derives from the cost figures and the prices (advisor.cost.money), in ``Candidate.cost``.
MONEY_FIGURES = names("money")
# Figures with a measured interval: the metric names ``<figure>_ci_low`` / ``<figure>_ci_high`` hold its ends, and
# ``unstable`` names the measurement ("latency" or "throughput") whose marks apply to it.
INTERVAL_FIGURES = intervals()
STATUSES = ("recommended", "pareto", "dominated", "rejected", "failed", "incomplete")


@dataclass(frozen=True)
class Difference:
    """Paired difference in quality between two candidates (a - b): the mean over tasks of each task's difference,
    and per task the paired-bootstrap interval (``advisor.quality.bootstrap.compare``)."""

    delta: float
    per_task: dict[str, Any]  # task -> advisor.quality.bootstrap.Comparison

    @property
    def within_noise(self) -> bool:
        """A tie: on no task does the interval of the difference exclude zero."""
        return not any(c.different for c in self.per_task.values())

    def text(self) -> str:
        if len(self.per_task) == 1:
            c = next(iter(self.per_task.values()))
            return f"difference {signed(c.difference)}, {difference_interval(c.ci_low, c.ci_high)}"
        return f"mean difference {signed(self.delta)}; within the 95% interval on each of {len(self.per_task)} tasks"


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
    cost_ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # figure -> (low, high), same cell
    unstable: dict[str, list[str]] = field(default_factory=dict)      # "latency"/"throughput" -> reasons
    flags: list[Flag] = field(default_factory=list)                   # borderline / unstable limit verdicts
    money_basis: dict[str, str] = field(default_factory=dict)  # money figure -> how it was computed
    index: dict[str, Any] | None = None  # the index it would ship behind (name, settings, recall, search p95)
    latencies_ms: list[float] = field(default_factory=list)           # raw batch-1 samples, when stored
    cost_errors: list[str] = field(default_factory=list)              # why cost figures are missing
    hybrid: int | None = None  # fused with BM25 by reciprocal rank fusion at this k (advisor.index.hybrid)
    index_options: list[dict[str, Any]] = field(default_factory=list)  # every index setting measured on it
    versions: tuple[str, ...] = ()
    status: str = "pareto"
    rejections: list[Rejection] = field(default_factory=list)
    score: float | None = None
    position: int | None = None
    dominated_by: str | None = None
    tied_with: list[str] = field(default_factory=list)
    quality_retained: float | None = None
    speedup: float | None = None  # docs/s relative to the plain model (figure SPEEDUP; advisor.ranking.judge)
    why: str = ""
    trained_on: dict[str, list[str]] = field(default_factory=dict)  # task -> its datasets the model trained on
    vectors_per_document: float = 1.0  # chunked variants store one vector per chunk (advisor.ranking.chunked)

    @property
    def label(self) -> str:
        v = self.variant
        dim = f"{self.dim} dims" if self.dim else "full size"
        runtime = f" on {v.runtime}" if v.runtime else ""
        if self.backend == "bm25":
            return f"{self.model} [{v.device}, lexical]"
        hybrid = f" + bm25 (RRF k={self.hybrid})" if self.hybrid is not None else ""
        chunks = f", chunks {v.chunking}" if v.chunking else ""
        return (f"{self.model} [{v.device}{runtime} {v.weight_precision}, {dim}, {v.vector_precision} vectors"
                f"{chunks}]{hybrid}")

    def measured(self, name: str) -> Measured | None:
        """A cost figure with its interval and unstable marks, as the limits judge it."""
        value = self.cost.get(name)
        if value is None:
            return None
        low, high = self.cost_ci.get(name, (None, None))
        return Measured(value, low, high, tuple(self.unstable.get(lookup(name).measurement or "", ())))

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
        if name == BYTES_PER_VECTOR:  # what the index stores per document: one vector, or one per chunk
            b = self.bytes_per_vector
            return b * self.vectors_per_document if b and self.vectors_per_document != 1.0 else b
        return self.cost.get(name)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variant"] = self.variant.to_dict()
        data["rejections"] = [{"rule": r.rule, "reason": r.reason} for r in self.rejections]
        data["flags"] = [{"rule": f.rule, "kind": f.kind, "reason": f.reason} for f in self.flags]
        data["cost_ci"] = {k: list(v) for k, v in self.cost_ci.items()}
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
    near_misses: list["NearMiss"] = field(default_factory=list)

    @property
    def recommended(self) -> Candidate | None:
        return next((c for c in self.candidates if c.status == "recommended"), None)

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        return {"hardware": self.hardware, "device": self.device, "manifest": self.manifest,
                "objectives": self.objectives, "recommended": rec.label if rec else None,
                "candidates": [c.to_dict() for c in self.candidates],
                "near_misses": [m.to_dict() for m in self.near_misses]}


@dataclass
class NearMiss:
    """A candidate a measured limit kept out: by how much it missed, and what it would have brought against the
    recommendation (the paired difference in quality, when both have per-item scores)."""

    label: str
    rule: str
    figure: float
    limit: float
    miss: float                      # relative: 0.015 = 1.5% beyond the limit
    quality: float | None
    difference: Difference | None    # near miss - recommendation

    @property
    def better(self) -> bool:
        """Its quality is higher than the recommendation's beyond the noise."""
        return self.difference is not None and not self.difference.within_noise and self.difference.delta > 0

    def text(self, recommended: "Candidate | None") -> str:
        fig = limit_figure(self.rule.removeprefix("limits."))
        out = (f"{self.label}: {fig.label} {fig.text(self.figure)} missed the limit of {fig.text(self.limit)} by "
               f"{percent(self.miss)}")
        if self.quality is not None and recommended is not None and recommended.quality_mean is not None:
            quality = lookup(QUALITY_MEAN)
            out += (f"; quality {quality.text(self.quality)} against the recommendation's "
                    f"{quality.text(recommended.quality_mean)}")
            if self.difference is not None:
                out += f" ({self.difference.text()}{', a real gain' if self.better else ''})"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "rule": self.rule, "figure": self.figure, "limit": self.limit,
                "miss": self.miss, "quality": self.quality, "better": self.better,
                "difference": None if self.difference is None else self.difference.text()}


@dataclass
class TaskInfo:
    name: str
    type: str | None
    metric: str
    task_hash: str
    n_items: int | None
    origin: tuple[str, ...] = ()  # datasets the task comes from or overlaps (empty: the user's own data)
    units: str | None = None  # what its intervals and ties resample, e.g. '50 texts' (None: no cell records it)
    rater: str | None = None  # the rater that scored it (a task without relevance judgements), as its cells record
    synthetic: str | None = None  # how its judgements were built from its corpus (pseudo-queries), as its cells record


@dataclass
class Recommendation:
    policy: Policy
    groups: list[HardwareGroup]
    models: list[ModelVerdict]
    tasks: list[TaskInfo]
    notes: list[str] = field(default_factory=list)
    pairs: list[Any] = field(default_factory=list)  # advisor.ranking.pairs.PairComparison, one per pair candidate

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
                "groups": [g.to_dict() for g in self.groups], "notes": list(self.notes),
                "pairs": [p.to_dict() for p in self.pairs]}
