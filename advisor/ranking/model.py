"""The ranking's data: candidates, verdicts, machine groups and the recommendation (plain dataclasses, JSON-ready
through ``to_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.policy.spec import Policy
from advisor.policy.rules import Rejection
from advisor.models.variants import Variant, bytes_per_vector

# Cost objectives: (figure name in CellResult.metrics, +1 when larger is better, -1 when smaller is better).
COST_OBJECTIVES: dict[str, tuple[str, int]] = {
    "latency": ("latency_p95_ms", -1),
    "throughput": ("docs_per_s", +1),
    "memory": ("peak_memory_mb", -1),
    "bytes_per_vector": ("bytes_per_vector", -1),
}
COST_FIGURES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_samples", "docs_per_s", "tokens_per_s",
                "peak_memory_mb", "load_time_s")
# The evaluation's main metric per task type (advisor.quality.evaluation.MAIN_METRIC), read backwards: a quality cell
# names its main metric, and the policy picks its ranking metric by task type.
_TYPE_OF_MAIN_METRIC = {"ndcg_at_10": "retrieval", "cosine_spearman": "sts", "accuracy": "classification",
                        "cosine_ap": "pair_classification", "rated_score_at_10": "unlabeled_retrieval"}
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
