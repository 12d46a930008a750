"""The planner: admitted catalog entries x the policy's variant grid x tasks -> picklable run specs.

The plan is pure data (names, options, fingerprints; never a loaded model), so any worker (a subprocess, a Ray
task on another machine) rebuilds everything from one ``GroupSpec``. Cells are grouped by what must be loaded:
one group per (model, device, weight precision), holding every task and every (output dim, vector precision) cell
derived from that one load. A variant that cannot run is not planned; it is listed in ``Plan.skipped`` with the
reason, so the user sees why it is missing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from advisor.config.task_types import task_type
from advisor.models.catalog import ModelEntry
from advisor.errors import UserError
from advisor.policy.spec import Policy, VariantGrid, load_rates
from advisor.sweep.results import CellKey
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.backends import LoadOptions
    from advisor.policy.screening import ScreenedEntry
    from advisor.datasets.tasks import Task

UNTRAINED = "untrained truncation"
# A racing sweep's quick cost probe (advisor.sweep.racing): a cost cell on a slice whose ``options`` are ``probe`` and
# the measurements the policy's limits need beyond batch-1 latency and bulk throughput (``probe:memory+load``). Its
# own fingerprint, so it never stands in for a full cost cell, and the ranking never reads it.
PROBE = "probe"


def probe_options(policy: Policy) -> str | None:
    """The probe a policy's hard limits on cost need (None: it has none, so no probe is planned)."""
    lim = policy.limits
    extra = [name for name, wanted in (("memory", lim.max_peak_memory_mb is not None),
                                       ("load", lim.max_p95_latency_ms_at_load is not None)) if wanted]
    if not extra and lim.max_p95_latency_ms is None and lim.min_throughput_docs_per_s is None:
        return None
    return PROBE + (":" + "+".join(extra) if extra else "")


def probe_parts(key: CellKey) -> frozenset[str] | None:
    """What a probe cost cell measures beyond latency and throughput (``{"memory", "load"}``); None for any other
    cell."""
    if key.kind != "cost" or not (key.options == PROBE or key.options.startswith(PROBE + ":")):
        return None
    return frozenset(p for p in key.options.partition(":")[2].split("+") if p)


@dataclass(frozen=True)
class TaskRef:
    """How a worker finds a task again: the dataset spec (path or name), source and any ``--corpus`` file, checked
    by content hash. A racing sweep's slice (``advisor.sweep.racing``) adds ``head`` (its first units, by
    ``advisor.datasets.slicing.head``) and ``corpus_limit``: the worker reads the task and cuts the same slice."""

    spec: str
    source: str | None
    name: str
    type: str
    content_hash: str
    corpus: str | None = None
    head: int = 0                    # 0: the whole task
    corpus_limit: int | None = None  # a slice's documents (judged ones first), None: every document

    def load(self) -> "Task":
        """The task (or its slice) read again where a worker runs; its content hash is checked by the caller."""
        from advisor.datasets.tasks import load_task

        task = load_task(self.spec, self.source, corpus=self.corpus)
        if self.head:
            from advisor.datasets.slicing import head

            task = head(task, self.head, corpus_limit=self.corpus_limit)
        return task

    @classmethod
    def of(cls, task: "Task", spec: str | None = None, source: str | None = None) -> "TaskRef":
        """``spec`` defaults to the path the task was read from (made absolute: workers may run elsewhere) and
        ``source`` to the task source that read it, so a worker reads it the same way."""
        from advisor.plugins import registered

        from advisor.datasets.spec import absolute_spec

        spec = absolute_spec(str(spec or task.meta.get("path") or task.name))  # its #options kept
        if source is None and task.source in registered("task_sources"):
            source = task.source
        return cls(spec, source, task.name, task.type, task.content_hash, task.meta.get("corpus"))


@dataclass(frozen=True)
class CellSpec:
    """One planned cell: its key (fingerprint) and the notes the user should see beside its figures."""

    key: CellKey
    label: str
    flags: tuple[str, ...] = ()
    # an index cell's connection string as the policy wrote it, password included, for the worker to connect with;
    # the key (what is stored) holds it without the password (``CellKey.index``)
    dsn: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint()

    @property
    def variant(self) -> Variant:
        return Variant(self.key.device, self.key.weight_precision, self.key.dim, self.key.vector_precision or
                       "float32", chunking=self.key.chunking)


@dataclass(frozen=True)
class TaskCells:
    """The cells of one task inside a group: derived quality cells and the one cost cell."""

    task: TaskRef
    quality: tuple[CellSpec, ...]
    cost: CellSpec | None = None
    indexes: tuple[CellSpec, ...] = ()  # index cells (retrieval tasks, policy variants.indexes)
    hybrid: tuple[CellSpec, ...] = ()   # BM25 + dense RRF cells (retrieval tasks, policy variants.hybrid)

    @property
    def cells(self) -> tuple[CellSpec, ...]:
        return self.quality + ((self.cost,) if self.cost else ()) + self.indexes + self.hybrid


@dataclass(frozen=True)
class GroupSpec:
    """Everything one model load serves: one (model, device, runtime, weight precision)."""

    entry: ModelEntry
    device: str
    weight_precision: str
    tasks: tuple[TaskCells, ...]
    rescore_multiplier: int = 0
    batch_size: int = 32
    allow_remote_code: bool = False  # the policy's permissions, passed to backends that take them
    allow_pickle: bool = False
    runtime: str | None = None       # None: the backend's own runtime
    allow_network: bool = False      # the policy lets a hosted model receive texts (policy ``network: true``)
    load_server: str = "in-process"  # where the cost cells' load test runs (policy ``costs: {load_server: ...}``)
    load_rates: tuple[int, ...] = ()  # offered rates the cost cells measure p95 at too (the policy's load limit)
    # static int8's calibration texts (advisor.models.calibration), taken by the worker from the group's first task
    calibration: Any = None

    @property
    def label(self) -> str:
        runtime = f"{self.runtime}:" if self.runtime else ""
        return f"{self.entry.name} [{self.device}/{runtime}{self.weight_precision}]"

    def load_options(self) -> "LoadOptions":
        """How the worker loads this group's model."""
        from advisor.models.backends import LoadOptions

        return LoadOptions(device=self.device, weight_precision=self.weight_precision, runtime=self.runtime,
                           allow_remote_code=self.allow_remote_code, allow_pickle=self.allow_pickle,
                           allow_network=self.allow_network, calibration=self.calibration)

    @property
    def cells(self) -> tuple[CellSpec, ...]:
        return tuple(c for t in self.tasks for c in t.cells)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.entry.name, "device": self.device, "runtime": self.runtime,
                "weight_precision": self.weight_precision,
                "rescore_multiplier": self.rescore_multiplier, "batch_size": self.batch_size,
                "entry": self.entry.to_dict(),
                "tasks": [{"task": t.task.__dict__, "cells": [{"fingerprint": c.fingerprint, "label": c.label,
                                                               "flags": list(c.flags)} for c in t.cells]}
                          for t in self.tasks]}


@dataclass(frozen=True)
class Skip:
    """A variant left out of the plan and why."""

    model: str
    variant: str
    reason: str


@dataclass
class Plan:
    groups: list[GroupSpec]
    skipped: list[Skip] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # screened-out entries with their rejections
    policy: str | None = None
    tasks: list[TaskRef] = field(default_factory=list)
    # recorded with the run (the store's run record), so a report can set them beside what happened: the time the
    # plan was expected to take (advisor.sweep.estimate) and, for a racing sweep's round, the race (sweep.racing)
    estimate: dict | None = None
    race: dict | None = None

    @property
    def cells(self) -> list[CellSpec]:
        return [c for g in self.groups for c in g.cells]

    def to_dict(self) -> dict[str, Any]:
        out = {"policy": self.policy, "tasks": [t.__dict__ for t in self.tasks],
               "groups": [g.to_dict() for g in self.groups],
               "skipped": [s.__dict__ for s in self.skipped], "rejected": self.rejected,
               "n_cells": len(self.cells)}
        for name in ("estimate", "race"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def model_loads(groups: Sequence["GroupSpec"]) -> int:
    """How many of these groups load a model (BM25's group loads none), for the messages that count them."""
    return sum(1 for g in groups if g.entry.backend != "bm25")


def _hardware(device: str) -> str:
    from advisor.environment import hardware_id

    if device.startswith("cuda") and "torch" not in sys.modules:
        try:  # the GPU's name is part of the hardware id, and only torch can tell it
            import torch  # noqa: F401
        except ImportError:
            pass
    return hardware_id(device)


def dims_for(entry: ModelEntry, grid: VariantGrid, can_truncate: bool) -> tuple[list[tuple[int | None, tuple]],
                                                                                 list[tuple[str, str]]]:
    """The output sizes to derive for ``entry``: (dim, flags) pairs and (dim label, reason) for the ones dropped.
    A size equal to the model's own is the full size; a size the model was not trained for is allowed but
    flagged, because truncating a non-Matryoshka model usually costs more quality."""
    keep: dict[int | None, tuple] = {}
    dropped: list[tuple[str, str]] = []
    for dim in grid.dims:
        if dim is None or dim == entry.embed_dim:
            keep.setdefault(None, ())
            continue
        if dim > entry.embed_dim:
            dropped.append((str(dim), f"dim {dim} is larger than the model's output size {entry.embed_dim}"))
        elif not can_truncate:
            dropped.append((str(dim), f"backend '{entry.backend}' cannot truncate its output to dim {dim}"))
        elif dim not in entry.matryoshka_dims:
            if grid.trained_dims_only:
                dropped.append((str(dim), f"dim {dim} is not one the model was trained for "
                                          f"({', '.join(map(str, entry.trained_dims()))}) and the policy sets "
                                          f"trained_dims_only"))
            else:
                keep.setdefault(dim, (UNTRAINED,))
        else:
            keep.setdefault(dim, ())
    return list(keep.items()), dropped


def runtimes_for(backend: Any, grid: VariantGrid) -> list[str | None]:
    """The runtimes to try for a backend's models: the grid's ``runtimes`` that the backend offers (its own first
    runtime is None, the default), or just its own when the grid names none or the backend has no others."""
    offered = backend.capabilities.runtimes
    if not offered:
        return [None]
    wanted = [r for r in (grid.runtimes or offered[:1]) if r in offered]
    return [None if r == offered[0] else r for r in dict.fromkeys(wanted)] or [None]


def _group(entry: ModelEntry, policy: Policy, refs: Sequence[TaskRef], dims: list, variant: Variant,
           measure_cost: bool, batch_size: int, hardware: str, versions: str) -> "GroupSpec":
    """One model load's cells: every (dim, vector precision) of each task, and one cost cell per task."""
    grid = policy.variants
    device, wp, runtime = variant.device, variant.weight_precision, variant.runtime
    task_cells = []
    for ref in refs:
        quality, indexes, hybrid = [], [], []
        indexed = task_type(ref.type).index_variants  # a judged corpus searched per query (retrieval)
        for dim, flags in dims:
            for vp in grid.vector_precisions:
                v = Variant(device, wp, dim, vp, runtime)
                key = CellKey.quality(entry, ref.name, ref.content_hash, v, hardware=hardware, versions=versions,
                                      rescore_multiplier=grid.rescore_multiplier)
                quality.append(CellSpec(key, f"{entry.name} {ref.name} {v.label()}", flags))
                if indexed:
                    for name, settings in grid.indexes:
                        if vp not in _index_precisions(name):  # e.g. pgvector 0.6 has no bit type
                            continue
                        ikey = CellKey.index(entry, ref.name, ref.content_hash, v, name, dict(settings),
                                             hardware=hardware, versions=versions)
                        indexes.append(CellSpec(ikey, f"{entry.name} {ref.name} {v.label()} index {name}", flags,
                                                dsn=dict(settings).get("dsn")))
                    for rrf_k in grid.hybrid:  # the same variant fused with BM25 (advisor.index.hybrid)
                        options = ",".join(o for o in (key.options, f"hybrid=bm25+rrf;k={rrf_k}") if o)
                        hkey = replace(key, kind="hybrid", options=options)
                        hybrid.append(CellSpec(hkey, f"{entry.name} {ref.name} {v.label()} + bm25 rrf k={rrf_k}",
                                               flags))
        if indexed:  # chunked corpora (policy variants.chunking), beside the truncated ones
            quality.extend(_chunked_cells(entry, ref, dims, grid, variant, hardware, versions))
        cost = None
        if measure_cost:
            key = CellKey.cost(entry, ref.name, ref.content_hash, device, wp, hardware=hardware, versions=versions,
                               runtime=runtime)
            where = f"{device}/{runtime + ':' if runtime else ''}{wp}"
            cost = CellSpec(key, f"{entry.name} {ref.name} {where} cost")
        task_cells.append(TaskCells(ref, tuple(quality), cost, tuple(indexes), tuple(hybrid)))
    return GroupSpec(entry, device, wp, tuple(task_cells), grid.rescore_multiplier, batch_size,
                     policy.allow_remote_code, policy.allow_pickle_weights, runtime,
                     policy.allow_network and not policy.stay_on_machine, policy.costs.load_server,
                     load_rates(policy))


def _baseline_groups(policy: Policy, refs: Sequence[TaskRef], measure_cost: bool, batch_size: int,
                     versions: str) -> list["GroupSpec"]:
    """BM25 as a candidate (the default; policy ``baselines: []`` turns it off): one group, a quality and a cost
    cell per retrieval task and none for other task types, keyed like a model's so they are stored, resumed and
    ranked like any candidate's."""
    if "bm25" not in policy.baselines:
        return []
    from advisor.index.bm25 import VECTORS, WEIGHTS, bm25_entry

    entry, hardware = bm25_entry(), _hardware("cpu")
    variant = Variant("cpu", WEIGHTS, None, VECTORS)
    task_cells = []
    for ref in refs:
        if not task_type(ref.type).index_variants:
            continue
        key = CellKey.quality(entry, ref.name, ref.content_hash, variant, hardware=hardware, versions=versions)
        cost = None
        if measure_cost:
            ckey = CellKey.cost(entry, ref.name, ref.content_hash, "cpu", WEIGHTS, hardware=hardware,
                                versions=versions)
            cost = CellSpec(ckey, f"bm25 {ref.name} cost")
        task_cells.append(TaskCells(ref, (CellSpec(key, f"bm25 {ref.name}"),), cost))
    if not task_cells:
        return []
    return [GroupSpec(entry, "cpu", WEIGHTS, tuple(task_cells), batch_size=batch_size)]


def _chunked_cells(entry: ModelEntry, ref: TaskRef, dims: list, grid: VariantGrid, variant: Variant, hardware: str,
                   versions: str) -> list[CellSpec]:
    """A quality cell per (chunking, dim, vector precision): the same loaded model encodes the corpus cut into
    chunks. The unchunked cells (truncation) are always planned, so each chunking has its baseline."""
    cells = []
    for chunking in (c for c in grid.chunking if c):
        for dim, flags in dims:
            for vp in grid.vector_precisions:
                v = Variant(variant.device, variant.weight_precision, dim, vp, variant.runtime, chunking)
                key = CellKey.quality(entry, ref.name, ref.content_hash, v, hardware=hardware, versions=versions)
                cells.append(CellSpec(key, f"{entry.name} {ref.name} {v.label()}", flags))
    return cells


def _index_precisions(name: str) -> tuple[str, ...]:
    """The vector precisions a policy's index can hold; an unknown index name is the user's mistake."""
    from advisor.index import get_index_type

    return tuple(get_index_type(name).precisions)


def build_plan(entries: Sequence[ModelEntry], policy: Policy, tasks: Sequence["Task"], *,
               task_refs: Sequence[TaskRef] | None = None, measure_cost: bool = True,
               rejected: Iterable["ScreenedEntry"] = (), batch_size: int = 32) -> Plan:
    """Expand admitted ``entries`` x the policy's variant grid x ``tasks`` into groups of cells."""
    from advisor.models.backends import get_backend
    from advisor.environment import versions_id

    grid = policy.variants
    refs = list(task_refs) if task_refs is not None else [TaskRef.of(t) for t in tasks]
    versions = versions_id()
    plan = Plan(groups=[], policy=policy.name, tasks=refs,
                rejected=[{"name": s.entry.name, "rejections": [r.__dict__ for r in s.rejections]}
                          for s in rejected])
    for entry in entries:
        backend = get_backend(entry.backend)
        dims, dropped = dims_for(entry, grid, backend.capabilities.can_truncate)
        for dim_label, reason in dropped:
            plan.skipped.append(Skip(entry.name, f"dim={dim_label}", reason))
        # a model that ships fixed weights (a pre-quantized file or engine) runs at that precision only, whatever
        # precisions the grid tries for convertible models
        fixed = getattr(entry, "weight_precision", None)
        precisions = (fixed,) if fixed else grid.weight_precisions
        runtimes = runtimes_for(backend, grid)
        for runtime in grid.runtimes:
            if runtime not in backend.capabilities.runtimes and not (runtime == backend.name or
                                                                     not backend.capabilities.runtimes):
                plan.skipped.append(Skip(entry.name, f"runtime={runtime}",
                                         f"backend '{backend.name}' has no {runtime} runtime"))
        for device in grid.devices:
            for runtime in runtimes:
                for wp in precisions:
                    variant = Variant(device, wp, None, "float32", runtime)
                    reason = backend.unsupported_reason(entry, variant)
                    if reason:
                        plan.skipped.append(Skip(entry.name, variant.label().rsplit("/dim=", 1)[0], reason))
                        continue
                    plan.groups.append(_group(entry, policy, refs, dims, variant, measure_cost, batch_size,
                                              _hardware(device), versions))
    plan.groups += _baseline_groups(policy, refs, measure_cost, batch_size, versions)
    return plan


def plan_sweep(entries: Sequence[ModelEntry], policy: Policy, tasks: Sequence["Task"], *,
               task_refs: Sequence[TaskRef] | None = None, measure_cost: bool = True, batch_size: int = 32) -> Plan:
    """Screen ``entries`` by the policy's metadata rules and plan the admitted ones (what ``advisor run`` does once
    the edge has read its files). The rejected entries are kept in ``Plan.rejected`` with their reasons."""
    from advisor.policy.screening import screen

    if not tasks:
        raise UserError("no dataset to plan for: give at least one (see data/ for examples)")
    names = [t.name for t in tasks]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UserError(f"two datasets are both named '{duplicate}'; give each dataset a different folder")
    from advisor.models.pair import sides_to_add

    # a pair is compared with each of its sides alone on the same tasks: a side not selected is planned too
    screened = screen([*entries, *sides_to_add(entries)], policy, tasks=_zero_shot_names(tasks))
    admitted = [s.entry for s in screened if s.admitted]
    if not admitted:
        why = "; ".join(f"{s.entry.name}: {s.rejections[0].reason}" for s in screened[:3])
        raise UserError(f"no model in the catalogs passes the policy {policy.name} ({why or 'no models given'})")
    return build_plan(admitted, policy, tasks, task_refs=task_refs, measure_cost=measure_cost,
                      rejected=[s for s in screened if not s.admitted], batch_size=batch_size)


def _zero_shot_names(tasks: Sequence["Task"]) -> list[str]:
    """Every dataset the tasks come from or overlap with (a user's own data adds none): a model trained on one of
    them has no zero-shot figure there, which ``require_zero_shot`` rejects."""
    from advisor.datasets.origin import origin_names

    return list(dict.fromkeys(n for t in tasks for n in origin_names(t)))


def with_hardware(key: CellKey, hardware: str, versions: str) -> CellKey:
    """The key of a planned cell as measured where it actually ran (a Ray node may differ from the planner)."""
    return replace(key, hardware=hardware, versions=versions)
