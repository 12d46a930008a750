"""Measurements as data: the key that fingerprints a cell and the result stored for it.

A *quality* cell is (model, device, weight precision, dim, vector precision, task); a *cost* cell is (model,
device, weight precision, task): throughput, latency and memory do not depend on how the vectors are stored
afterwards, so they are measured once per loaded model and task. The store, the ranking, the report and the TUI
all speak these two classes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CellKind = Literal["quality", "cost", "index", "hybrid"]
CellStatus = Literal["ok", "failed"]


@dataclass(frozen=True)
class CellKey:
    kind: str                 # "quality" | "cost"
    model: str
    revision: str | None
    backend: str
    device: str
    weight_precision: str
    task: str
    task_hash: str
    dim: int | None = None               # quality cells only; None = full size
    vector_precision: str | None = None  # quality cells only
    hardware: str = ""                   # advisor.environment.hardware_id()
    versions: str = ""                   # advisor.environment.versions_id()
    options: str = ""                    # anything else that changes the figure (e.g. rescore multiplier)
    runtime: str = ""                    # "" = the backend's own runtime; e.g. "onnx" for a torch model on ONNX

    def fingerprint(self) -> str:
        fields = asdict(self)
        if not fields["runtime"]:  # cells of the backend's own runtime keep the fingerprints they always had
            del fields["runtime"]
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:24]

    @classmethod
    def quality(cls, entry: Any, task_name: str, task_hash: str, variant: Any, *, hardware: str = "",
                versions: str = "", rescore_multiplier: int = 0) -> "CellKey":
        """The key of a quality cell: one (dim, vector precision) of one loaded model on one task."""
        return cls("quality", entry.name, entry.revision, entry.backend, variant.device, variant.weight_precision,
                   task_name, task_hash, variant.dim, variant.vector_precision, hardware, versions,
                   options=quality_options(rescore_multiplier, getattr(variant, "chunking", "")),
                   runtime=variant.runtime or "")

    @property
    def chunking(self) -> str:
        """The chunking of a quality cell (``128:32:max``; "" = documents truncated, not chunked). It lives in
        ``options`` (so in the identity), and only when set: the fingerprints of unchunked cells never change."""
        for part in self.options.split(",") if self.kind == "quality" else ():
            if part.startswith("chunking="):
                return part.removeprefix("chunking=")
        return ""

    @classmethod
    def cost(cls, entry: Any, task_name: str, task_hash: str, device: str, weight_precision: str, *,
             hardware: str = "", versions: str = "", options: str = "", runtime: str | None = None) -> "CellKey":
        """The key of a cost cell: one loaded model (device, runtime, weight precision) on one task."""
        return cls("cost", entry.name, entry.revision, entry.backend, device, weight_precision, task_name, task_hash,
                   None, None, hardware, versions, options, runtime or "")

    @classmethod
    def index(cls, entry: Any, task_name: str, task_hash: str, variant: Any, index: str, settings: dict[str, Any],
              *, hardware: str = "", versions: str = "") -> "CellKey":
        """The key of an index cell: one index setting over one (dim, vector precision) of a model on a task; the
        index name and its settings are the ``options``, a ``dsn`` setting without its password (the options are
        stored with every cell; the worker connects with the policy's own, ``CellSpec.dsn``)."""
        from advisor.errors import redact_dsn

        if settings.get("dsn"):
            settings = {**settings, "dsn": redact_dsn(str(settings["dsn"]))}
        options = json.dumps({"index": index, "settings": settings}, sort_keys=True)
        return cls("index", entry.name, entry.revision, entry.backend, variant.device, variant.weight_precision,
                   task_name, task_hash, variant.dim, variant.vector_precision, hardware, versions, options=options,
                   runtime=variant.runtime or "")

    def identity(self) -> tuple:
        """What the cell is, without where and with what it was measured (machine, library versions): a cell
        planned here may have been measured on a Ray node or before an upgrade. The one definition of "the same
        cell" that the pipeline, the TUI and resume share."""
        return (self.kind, self.model, self.device, self.runtime, self.weight_precision, self.task, self.task_hash,
                self.dim, self.vector_precision, self.options)

    def cost_key(self) -> "CellKey":
        """The cost cell that belongs to this quality cell."""
        return CellKey("cost", self.model, self.revision, self.backend, self.device, self.weight_precision,
                       self.task, self.task_hash, None, None, self.hardware, self.versions, runtime=self.runtime)


def quality_options(rescore_multiplier: int = 0, chunking: str = "") -> str:
    """A quality cell's ``options``: ``rescore=4``, ``chunking=128:32:max``, both joined by a comma, or ""."""
    parts = ([f"rescore={rescore_multiplier}"] if rescore_multiplier else []) + \
        ([f"chunking={chunking}"] if chunking else [])
    return ",".join(parts)


@dataclass
class CellResult:
    """One finished cell. ``metrics`` holds numbers under stable names (mteb names for quality: ndcg_at_10,
    cosine_spearman, ...; for cost: docs_per_s, tokens_per_s, latency_p50_ms, latency_p95_ms, latency_p99_ms,
    serving_memory_mb, load_time_s, ...). ``details`` holds the rest: per-query scores of the main metric (for the
    paired bootstrap), confidence intervals, sample counts, notes such as a halved batch, the environment."""

    key: CellKey
    status: str = "ok"
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CellResult":
        data = dict(data)
        data["key"] = CellKey(**data["key"])
        return cls(**data)
