"""How long a plan will take, before anything runs: per model load, per candidate and in total.

Why: a team choosing among a hundred candidates must know whether a sweep takes an hour or a week before starting
it, and a racing sweep (``advisor.sweep.racing``) spends a budget by these figures. The estimate is a sum of parts
for each group of the plan (one model load):

- a cell already finished in the store costs nothing;
- starting the worker and loading the model: the load time the store recorded for this model (``load_time_s`` in its
  cells' details or metrics), else a fixed start plus the weights read from disk;
- encoding each task's texts: its tokens (words x 1.3 per distinct text, cut at the model's max tokens) divided by
  the model's tokens per second. That rate comes from the store when a cell of this model, device, weight precision
  and runtime recorded its encode seconds on a task at hand (or a slice of one: a racing sweep's rounds feed the
  next round's estimate), else from this machine's probed matrix-multiply rate and the model's parameter count (two
  operations per parameter and token, at a fixed share of the probed rate), or a fixed rate for backends whose cost
  is not a matrix product (static embeddings, BM25, hosted APIs);
- a cost cell: the duration the store recorded for this model's cost cell of the same kind (full or probe), else its
  parts (the bulk sample in three rounds, batch-1 queries, the load test, the serving footprint) from the same rate.

It is an estimate, recorded with the run (``Plan.estimate``) so the report sets it beside the wall time the run
took; it never decides what is measured, only (for a racing sweep) whether the next round fits the budget.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from advisor.figures import LOAD_TIME_S
from advisor.formatting import duration
from advisor.sweep.planner import GroupSpec, Plan, probe_parts

if TYPE_CHECKING:
    from advisor.datasets.tasks import Task
    from advisor.models.catalog import ModelEntry

TOKENS_PER_WORD = 1.3
SPECIAL_TOKENS = 2
DEFAULT_MAX_TOKENS = 512
DEFAULT_PARAMETERS = 110_000_000  # a BERT-base-sized model when the catalog does not say
# the share of the probed matrix-multiply rate a transformer's encode reaches, counting two operations per parameter
# and token: the embedding table's parameters cost no multiply, which makes up for the encode's lower efficiency
# (all-MiniLM-L6-v2 on a loaded 2-core machine: 580 tokens/s encoded against a 22 GFLOP/s probe)
SHARE_OF_PROBED_RATE = 1.0
WORKER_START_S = 4.0              # a fresh worker process: interpreter, the advisor and the backend's libraries
BASELINE_START_S = 1.0
DISK_MB_PER_S = 400.0
BYTES_PER_PARAMETER = 4
# tokens per second of backends whose cost is no matrix product over the parameters
FIXED_RATES = {"bm25": 200_000.0, "static": 50_000.0}
HOSTED_TOKENS_PER_S = 5_000.0
BULK_DOCS, BULK_ROUNDS, LATENCY_QUERIES, QUERY_OVERHEAD_S = 256, 2, 200, 0.004
LOAD_TEST_S, SERVED_START_S, FOOTPRINT_S = 35.0, 10.0, 6.0
SEARCH_CELL_S = 0.5               # an index or hybrid cell: the searches over embeddings already made


@dataclass
class GroupEstimate:
    """One model load's expected seconds and their parts; ``basis``: where the rate came from (``store``,
    ``probe`` of this machine, ``fixed`` for its backend) or ``done`` when every cell is already in the store."""

    label: str
    model: str
    seconds: float
    start_s: float = 0.0
    encode_s: float = 0.0
    cost_s: float = 0.0
    cells: int = 0
    basis: str = "probe"


@dataclass
class Estimate:
    groups: list[GroupEstimate] = field(default_factory=list)
    probed_gflops: float | None = None
    done_cells: int = 0

    @property
    def seconds(self) -> float:
        return sum(g.seconds for g in self.groups)

    def per_model(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for g in self.groups:
            out[g.model] = out.get(g.model, 0.0) + g.seconds
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "per_model": {k: round(v, 3) for k, v in self.per_model().items()},
                "groups": [asdict(g) for g in self.groups], "probed_gflops": self.probed_gflops,
                "done_cells": self.done_cells, "how": "sum of the groups, one model load after another"}

    def lines(self) -> list[str]:
        """What ``--dry-run`` prints: one line per candidate, then the total."""
        out = []
        for model, seconds in self.per_model().items():
            groups = [g for g in self.groups if g.model == model]
            if all(g.basis == "done" for g in groups):
                out.append(f"  {model}: nothing to compute (every cell is in the store)")
                continue
            parts = [f"{name} {duration(sum(getattr(g, attr) for g in groups))}"
                     for name, attr in (("start and load", "start_s"), ("encode", "encode_s"), ("cost", "cost_s"))
                     if sum(getattr(g, attr) for g in groups) > 0]
            basis = sorted({g.basis for g in groups if g.basis != "done"})
            out.append(f"  {model}: ~{duration(seconds)} ({', '.join(parts)}; rate from {' and '.join(basis)})")
        rate = f"; this machine's probe: {self.probed_gflops:.1f} GFLOP/s" if self.probed_gflops else ""
        done = f", {self.done_cells} cell(s) already in the store cost nothing" if self.done_cells else ""
        out.append(f"expected wall time: ~{duration(self.seconds)} in all, one model load after another{done}{rate}")
        return out


_PROBED: list[float] = []


def machine_gflops(seconds: float = 0.5) -> float:
    """This machine's float32 matrix-multiply rate in GFLOP/s (numpy, one probe per process, a fraction of a
    second), which a transformer's encode rate is a share of."""
    if _PROBED:
        return _PROBED[0]
    import numpy as np

    n = 1024  # large enough for the BLAS to reach the rate a model's matrices get
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    a @ b  # warm-up
    runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        runs += 1
    rate = 2.0 * n ** 3 * runs / (time.perf_counter() - t0) / 1e9
    _PROBED.append(rate)
    return rate


class _Words:
    """Word counts of each task's distinct texts per text set, counted once per task."""

    def __init__(self) -> None:
        self.cache: dict[str, dict[str, Any]] = {}

    def of(self, task: "Task") -> dict[str, Any]:
        if task.content_hash not in self.cache:
            import numpy as np

            self.cache[task.content_hash] = {
                name: np.array([len(t.split()) for t in dict.fromkeys(ts.texts)], dtype=np.float64)
                for name, ts in task.text_sets().items()}
        return self.cache[task.content_hash]

    def tokens(self, task: "Task", max_tokens: int | None, sets: Sequence[str] | None = None) -> float:
        """Tokens the model encodes for ``task`` (its text sets, or only ``sets``), each text cut at max tokens."""
        import numpy as np

        cap = float(max_tokens or DEFAULT_MAX_TOKENS)
        return float(sum(np.minimum(words * TOKENS_PER_WORD + SPECIAL_TOKENS, cap).sum()
                         for name, words in self.of(task).items() if sets is None or name in sets))

    def mean_tokens(self, task: "Task", kind: str, max_tokens: int | None) -> float:
        import numpy as np

        sets = [n for n, ts in task.text_sets().items() if (ts.kind == kind)]
        arrays = [self.of(task)[n] for n in sets if len(self.of(task)[n])]
        if not arrays:
            return 32.0
        words = np.concatenate(arrays)
        return float(np.minimum(words * TOKENS_PER_WORD + SPECIAL_TOKENS, float(max_tokens or DEFAULT_MAX_TOKENS))
                     .mean())


def _load_key(group: GroupSpec) -> tuple:
    return (group.entry.name, group.device, group.weight_precision, group.runtime or "")


@dataclass
class _Measured:
    """What the store says about one (model, device, weight precision, runtime): encode rate, load, cost cells."""

    tokens: float = 0.0
    encode_s: float = 0.0
    load_s: list[float] = field(default_factory=list)
    cost_s: dict[bool, list[float]] = field(default_factory=dict)  # probe or not -> durations

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.encode_s if self.encode_s > 0 and self.tokens > 0 else None


def _from_store(groups: Sequence[GroupSpec], store: Any, tasks: Mapping[str, "Task"], words: _Words,
                entries: Mapping[str, "ModelEntry"]) -> dict[tuple, _Measured]:
    out: dict[tuple, _Measured] = {}
    if store is None:
        return out
    wanted = {_load_key(g) for g in groups}
    for r in store.results(model=sorted({g.entry.name for g in groups}), status="ok"):
        k = r.key
        key = (k.model, k.device, k.weight_precision, k.runtime or "")
        if key not in wanted:
            continue
        m = out.setdefault(key, _Measured())
        load = r.details.get(LOAD_TIME_S, r.metrics.get(LOAD_TIME_S))
        if isinstance(load, (int, float)):
            m.load_s.append(float(load))
        if k.kind == "cost" and r.started_at and r.finished_at:
            m.cost_s.setdefault(probe_parts(k) is not None, []).append(float(r.finished_at - r.started_at))
        encode = r.details.get("encode_s")
        task = tasks.get(k.task_hash)
        if k.kind == "quality" and not k.chunking and isinstance(encode, dict) and task is not None:
            sets = [name for name in encode if name in task.text_sets()]
            seconds = sum(float(encode[name]) for name in sets)
            if seconds > 0:
                m.tokens += words.tokens(task, entries[k.model].max_tokens if k.model in entries else None, sets)
                m.encode_s += seconds
    return out


def _rate(entry: "ModelEntry", measured: _Measured | None, gflops: Callable[[], float]) -> tuple[float, str]:
    """Tokens per second and where that figure came from."""
    if measured is not None and measured.tokens_per_s:
        return measured.tokens_per_s, "store"
    from advisor.models.destination import off_machine

    if off_machine(entry) is not None:
        return HOSTED_TOKENS_PER_S, "fixed"
    if entry.backend in FIXED_RATES:
        return FIXED_RATES[entry.backend], "fixed"
    params = entry.n_parameters or DEFAULT_PARAMETERS
    return gflops() * 1e9 * SHARE_OF_PROBED_RATE / (2.0 * params), "probe"


def _start(group: GroupSpec, measured: _Measured | None) -> float:
    if group.entry.backend == "bm25":
        return BASELINE_START_S
    if measured is not None and measured.load_s:
        return WORKER_START_S + min(measured.load_s)
    params = group.entry.n_parameters or DEFAULT_PARAMETERS
    return WORKER_START_S + params * BYTES_PER_PARAMETER / 1e6 / DISK_MB_PER_S


def _cost(group: GroupSpec, cell: Any, task: "Task", rate: float, measured: _Measured | None, start: float,
          words: _Words) -> float:
    probe = probe_parts(cell.key)
    if measured is not None and measured.cost_s.get(probe is not None):
        return min(measured.cost_s[probe is not None])
    max_tokens = group.entry.max_tokens
    if group.entry.backend == "bm25":  # index the corpus, answer queries, measure the index's footprint
        docs = [n for n, ts in task.text_sets().items() if ts.kind == "document"]
        return FOOTPRINT_S + words.tokens(task, None, docs) / rate + LATENCY_QUERIES * QUERY_OVERHEAD_S
    n_docs = sum(len(set(ts.texts)) for ts in task.text_sets().values() if ts.kind == "document") or BULK_DOCS
    bulk = min(BULK_DOCS, n_docs) * words.mean_tokens(task, "document", max_tokens) / rate * BULK_ROUNDS
    latency = LATENCY_QUERIES * (words.mean_tokens(task, "query", max_tokens) / rate + QUERY_OVERHEAD_S)
    load = LOAD_TEST_S + (SERVED_START_S + start if group.load_server == "subprocess" else 0.0)
    if probe is not None:
        load = load if "load" in probe else 0.0
    footprint = FOOTPRINT_S + start if probe is None or "memory" in probe else 0.0
    return bulk + latency + load + footprint


def estimate_plan(plan: Plan, tasks: Sequence["Task"] | Mapping[str, "Task"], store: Any = None, *,
                  force: bool = False, gflops: float | None = None) -> Estimate:
    """The expected seconds of each group of ``plan`` (and so of each candidate and in all). ``tasks``: the loaded
    tasks (and slices) the plan's task refs name, by content hash or as a list; ``store``: the results store (its
    finished cells cost nothing and its timings give the rates), or None; ``gflops``: this machine's rate when
    known (else probed once, only when a rate must come from it)."""
    by_hash = dict(tasks) if isinstance(tasks, Mapping) else {t.content_hash: t for t in tasks}
    words = _Words()
    entries = {g.entry.name: g.entry for g in plan.groups}
    stored = _from_store(plan.groups, store, by_hash, words, entries)
    probed: list[float] = [gflops] if gflops else []

    def rate_probe() -> float:
        if not probed:
            probed.append(machine_gflops())
        return probed[0]

    out = Estimate()
    for group in plan.groups:
        pending = [c for c in group.cells if force or store is None or not store.has(c.fingerprint)]
        out.done_cells += len(group.cells) - len(pending)
        if not pending:
            out.groups.append(GroupEstimate(group.label, group.entry.name, 0.0, basis="done"))
            continue
        measured = stored.get(_load_key(group))
        rate, basis = _rate(group.entry, measured, rate_probe)
        start = _start(group, measured)
        encode = cost = 0.0
        todo = {c.fingerprint for c in pending}
        for tc in group.tasks:
            cells = [c for c in tc.cells if c.fingerprint in todo]
            task = by_hash.get(tc.task.content_hash)
            if not cells or task is None:
                continue
            encoded = [c for c in cells if c.key.kind in ("quality", "index", "hybrid")]
            if any(not c.key.chunking for c in encoded):
                encode += words.tokens(task, group.entry.max_tokens) / rate
            for spec in sorted({c.key.chunking for c in encoded if c.key.chunking}):
                docs = [n for n, ts in task.text_sets().items() if ts.kind == "document"]
                encode += words.tokens(task, None, docs) / rate  # every token of the documents, in chunks
            encode += SEARCH_CELL_S * sum(c.key.kind in ("index", "hybrid") for c in cells)
            if tc.cost is not None and tc.cost.fingerprint in todo:
                cost += _cost(group, tc.cost, task, rate, measured, start, words)
        out.groups.append(GroupEstimate(group.label, group.entry.name, start + encode + cost, round(start, 3),
                                        round(encode, 3), round(cost, 3), len(pending), basis))
    out.probed_gflops = round(probed[0], 2) if probed else None
    return out
