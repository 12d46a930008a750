"""``measure_cost``: every cost figure of one loaded model on one task, with the manifest it was measured on.

Returns one flat dict. Numbers are figures under stable names (``docs_per_s``, ``tokens_per_s``,
``latency_p50_ms`` ... ``latency_samples``, ``serving_memory_mb`` and its parts, ``load_time_s``, ``load_*`` for
latency under load, ``bytes_per_vector``, ``index_size_mb``, ``reembed_*``); everything that is not a number (the
environment manifest, the per-dim index table, raw latency samples, settings, notes) sits beside them, so a caller
can split numbers into ``CellResult.metrics`` and the rest into ``details`` (as ``advisor.sweep.worker`` does).

The load figures come from the sustainable-rate sweep (``advisor.cost.sustainable``): the highest offered rate advisor
serve's batcher keeps up with, and p50/p95 of runs at fixed fractions of it (and at the rates a policy names), never
a latency taken past saturation.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.formatting import number
from advisor.figures import (DOCS_PER_S, LOAD_MEAN_BATCH, LOAD_P50, LOAD_P95, LOAD_QPS, LOAD_SAMPLES,
                             LOAD_SATURATED_AT_QPS, LOAD_SERVED, LOAD_SUSTAINABLE_QPS, LOAD_SWEEP_RUNS, TOKENS_PER_S,
                             load_figure, load_rate_figure, lookup)
from advisor.models.backends import Encoder
from advisor.environment import hardware_id, hardware_manifest, library_versions, versions_id
from advisor.datasets.tasks import Task
from advisor.cost.inprocess_load import inprocess_driver
from advisor.cost.served import IN_PROCESS, SOURCE, SWEEP_METHOD
from advisor.cost.latency import LatencyMeasurement, LatencyStats, measure_latency
from advisor.cost.sustainable import (PROBE, SATURATION_RULE, Drive, LoadRun, Sweep, SweepPlan, find_sustainable,
                                      measure_points)
from advisor.cost.stability import StabilityRule
from advisor.cost.throughput import Throughput, measure_throughput
from advisor.cost.memory import LOAD_TIME_COLD_S, serving_memory
from advisor.cost.money import billed_tokens_per_text, usage_of
from advisor.cost.storage import DEFAULT_PRICE_PER_GB_MONTH, default_dims, index_table, reembed_estimates
from advisor.models.batcher import DynamicBatcher, input_limit, qualified_name
from advisor.models.serve_config import ServeConfig

if TYPE_CHECKING:
    from advisor.models.backends import LoadOptions
    from advisor.models.catalog import ModelEntry

StageProgress = Callable[[str, int, "int | None"], None]
BILLED_QUERY_SAMPLE = 64  # queries sent once more to read a hosted model's billed tokens per query


@dataclass
class CostOptions:
    """How much to measure. ``bulk_docs`` None: 256 documents on CPU, 20,000 on GPU (an even sample of the
    task's documents, so the length distribution is the dataset's own)."""

    bulk_docs: int | None = None
    batch_size: int = 32
    stability: StabilityRule = StabilityRule()
    warmup: int = 10
    load_test: bool = True
    load_requests: int | None = None  # requests in every load run (None: about 1.5 s of arrivals a sweep run, 3 s a
    #                                   point, 20 to 300 requests on CPU, to 1000 on GPU)
    load_clients: int = 256         # most requests in flight (the served test's HTTP connections), both modes
    load_budget_s: float = 30.0     # no sweep run starts after this many seconds of the sweep
    load_rates: tuple[int, ...] = ()  # offered rates (queries/s) to measure p95 at too: a policy's load limit's
    max_batch_size: int = 32
    max_wait_ms: float = 2.0
    memory: bool = True
    memory_docs: int = 128  # unused since the serving footprint (it loads every document's vector); kept for callers
    dims: tuple[int, ...] | None = None
    price_per_gb_month: float = DEFAULT_PRICE_PER_GB_MONTH
    # "in-process": the load test drives advisor serve's own batcher around the loaded encoder, without HTTP
    # (advisor.cost.inprocess_load); "subprocess": it starts a real ``advisor serve`` of the same entry, LoadOptions
    # and ServeConfig on 127.0.0.1 and drives it over HTTP with ``advisor loadtest``'s open-loop client
    # (advisor.cost.served)
    load_server: str = "in-process"

    def __post_init__(self) -> None:
        from advisor.policy.spec import LOAD_SERVERS

        if self.load_server not in LOAD_SERVERS:
            raise UserError(f"load_server '{self.load_server}' is not one of {', '.join(LOAD_SERVERS)}")


def document_vectors_of(task: Task, embeddings: dict[str, np.ndarray]) -> np.ndarray | None:
    """The vectors of ``split_texts``'s documents, in its order, from embeddings of the task's text sets (as
    ``advisor.quality.evaluation.encode_task`` returns them); None when a set is missing."""
    docs = [name for name, ts in task.text_sets().items() if ts.kind != "query"] or \
        [name for name, ts in task.text_sets().items() if ts.kind == "query"]
    if not docs or any(name not in embeddings for name in docs):
        return None
    return np.concatenate([np.asarray(embeddings[name], dtype=np.float32) for name in docs])


def split_texts(task: Task) -> tuple[list[str], list[str], int]:
    """(documents, queries, corpus size): documents are the texts a bulk job embeds, queries the ones a serving
    path sees one at a time. Tasks without query sets use their texts for both."""
    docs: list[str] = []
    queries: list[str] = []
    for text_set in task.text_sets().values():
        (queries if text_set.kind == "query" else docs).extend(text_set.texts)
    if not docs:
        docs = list(queries)
    if not queries:
        queries = list(docs)
    return docs, queries, len(docs)


def even_sample(texts: Sequence[str], n: int | None) -> list[str]:
    if n is None or n >= len(texts):
        return list(texts)
    idx = np.linspace(0, len(texts) - 1, num=n).round().astype(int)
    return [texts[i] for i in idx]


def measure_cost(encoder: Encoder, task: Task, *, entry: "ModelEntry", load: "LoadOptions",
                 options: CostOptions | None = None, progress: StageProgress | None = None,
                 document_vectors: "np.ndarray | None" = None, **overrides: Any) -> dict[str, Any]:
    """Measure bulk throughput, batch-1 latency, latency under load at a sustainable rate (through advisor serve's
    dynamic batcher), serving memory and storage figures of ``encoder`` (loaded from ``entry`` with ``load``) on
    ``task``. ``overrides`` set CostOptions fields. The sweep's cost cell and ``advisor measure`` both call this with
    the same options, so their figures are the same measurement. ``document_vectors``: the task's document vectors in
    ``split_texts`` order (``document_vectors_of``), when the caller has them already; the serving footprint holds
    them as its index (without them, this encodes the documents first)."""
    load_options = load  # ``load`` is reused below for the load-test figures
    device, weight_precision = load.device, load.precision_for(entry)
    load_time_s = encoder.info.get("load_time_s")
    opts = options or CostOptions()
    if overrides:
        opts = replace(opts, **overrides)  # asdict would turn the StabilityRule into a dict
    on_gpu = device.startswith("cuda")
    tell = progress or (lambda stage, done, total: None)
    docs_all, queries, n_corpus = split_texts(task)
    docs = even_sample(docs_all, opts.bulk_docs if opts.bulk_docs is not None else (20000 if on_gpu else 256))
    notes: list[str] = []
    out: dict[str, Any] = {}

    # Bulk throughput, in rounds until two agree.
    tell("bulk", 0, len(docs))
    bulk = measure_throughput(encoder, docs, batch_size=opts.batch_size, rule=opts.stability,
                              progress=lambda done, total: tell("bulk", done, total))
    out.update(bulk.figures())
    mean_tokens = out.get("mean_tokens_per_doc")
    if bulk.tokens is None:
        notes.append("the encoder cannot count tokens; tokens_per_s not reported")

    # Batch-1 latency after warm-up, in rounds until the round medians agree.
    tell("latency", 0, None)
    lat = measure_latency(encoder, queries, rule=opts.stability, warmup=opts.warmup)
    out.update(lat.stats.figures("latency"))
    out["latency_raw_ms"] = [round(x, 4) for x in lat.stats.raw_ms]
    tell("latency", lat.stats.samples, lat.stats.samples)
    out.update(stability_figures(bulk, lat, opts.stability))

    # What a model billed per token charges: the server's reported usage on the bulk sample and on a query sample.
    if usage_of(encoder) is not None:
        tell("billed tokens", 0, None)
        billed_queries = even_sample(queries, BILLED_QUERY_SAMPLE)
        per_doc = billed_tokens_per_text(encoder, docs, kind="document", batch_size=opts.batch_size)
        per_query = billed_tokens_per_text(encoder, billed_queries, kind="query", batch_size=opts.batch_size)
        if per_doc is not None:
            out.update(billed_tokens_per_doc=per_doc, billed_docs=len(docs))
        if per_query is not None:
            out.update(billed_tokens_per_query=per_query, billed_queries=len(billed_queries))
        source = str(encoder.info.get("usage_tokens_source") or "the server's reported usage")
        if source.startswith("estimate"):
            out["billed_tokens_estimated"] = 1
        out["billing"] = {"token_source": source, "how": "encoder.usage_tokens over one pass of the bulk sample and "
                                                         "of an even sample of the queries"}

    # Latency under load at a sustainable rate: an open-loop sweep of offered rates through advisor serve's batcher
    # (max batch requests = the max batch) finds the highest rate it keeps up with; then runs at fractions of that
    # rate and at the policy's rates: in this process without HTTP, or through a real ``advisor serve`` subprocess
    # (``load_server: subprocess``).
    if opts.load_test:
        out.update(_load_test(encoder, entry, load_options, queries, lat.stats.p50_ms, opts, on_gpu, tell, notes))

    # Serving memory: a fresh process with the model loaded, the document vectors as its index and queries
    # answered, measured as BM25's is (advisor.cost.memory). An asymmetric pair serves its query model.
    if opts.memory:
        memory, memory_notes = serving_memory(encoder, entry, load_options, docs_all, queries,
                                              vectors=document_vectors, batch_size=opts.batch_size, progress=tell)
        out.update(memory)
        notes.extend(memory_notes)
        if load_time_s is None:
            load_time_s = memory.get(LOAD_TIME_COLD_S)
    if load_time_s is not None:
        out["load_time_s"] = round(float(load_time_s), 4)

    # Storage and re-embedding.
    dims = list(opts.dims) if opts.dims else default_dims(encoder.embed_dim, entry.matryoshka_dims)
    table = index_table(n_corpus, dims, price_per_gb_month=opts.price_per_gb_month)
    full = next(r for r in table if r["dim"] == encoder.embed_dim and r["vector_precision"] == "float32")
    out["bytes_per_vector"] = full["bytes_per_vector"]
    out["index_size_mb"] = full["index_mb"]
    out["index_vectors"] = n_corpus
    out["index"] = table
    out["storage_price_per_gb_month"] = opts.price_per_gb_month
    out.update(reembed_estimates(out[DOCS_PER_S], out.get(TOKENS_PER_S), n_corpus, mean_tokens))

    out["environment"] = {"hardware": hardware_manifest(device), "libraries": library_versions(),
                          "hardware_id": hardware_id(device), "versions_id": versions_id()}
    out["runtime"] = dict(encoder.info)
    if encoder.info.get("cost_sides"):  # a pair: which model each figure was measured on
        out["figure_sides"] = dict(encoder.info["cost_sides"])
    out["settings"] = {"device": device, "weight_precision": weight_precision, "encoder": type(encoder).__name__,
                       "task": task.name, "task_hash": task.content_hash, **asdict(opts),
                       "stability_rule": opts.stability.describe()}
    out["notes"] = notes
    return out


def load_config(opts: CostOptions) -> ServeConfig:
    """The ServeConfig both load tests run: ``advisor serve``'s defaults (token budget, queue bound) with the cost
    options' max batch, max wait and encode batch size."""
    return ServeConfig(host="127.0.0.1", max_batch_requests=opts.max_batch_size, max_wait_ms=opts.max_wait_ms,
                       batch_size=opts.batch_size)


def sweep_plan(opts: CostOptions, on_gpu: bool) -> SweepPlan:
    """The sweep's bounds: the CostOptions' request count and budget, more requests a run on a GPU."""
    return SweepPlan(requests=opts.load_requests, budget_s=opts.load_budget_s, max_requests=1000 if on_gpu else 300)


def _load_test(encoder: Encoder, entry: "ModelEntry", load: "LoadOptions", queries: list[str], p50_ms: float,
               opts: CostOptions, on_gpu: bool, tell: StageProgress, notes: list[str]) -> dict[str, Any]:
    """The load figures and ``load_test`` details: the sweep and its points, through a served advisor serve when
    asked and possible, else in process."""
    capacity = 1000.0 / max(p50_ms, 1e-3)
    plan = sweep_plan(opts, on_gpu)
    details: dict[str, Any] = {"method": SWEEP_METHOD, "rule": SATURATION_RULE, "plan": plan.describe(),
                               "capacity_qps": round(capacity, 3), "clients": opts.load_clients,
                               "rates_asked": sorted(set(opts.load_rates)), "requested": opts.load_server}
    sweep = None
    if opts.load_server == "subprocess":
        why_not = _not_served(entry)
        if why_not is None:
            sweep = _served_sweep(entry, load, queries, capacity, plan, opts, tell, notes, details)
        else:
            notes.append(f"load_server subprocess: {why_not}; the load figures come from the in-process load test")
    if sweep is not None:
        details["source"] = SOURCE
    else:
        details["source"] = IN_PROCESS
        details.pop("server", None)
        served_entry = getattr(encoder, "serving_entry", None) or entry  # a pair is served as its query model
        config = load_config(opts)
        details["batcher"] = {**config.settings(), "class": qualified_name(DynamicBatcher)}
        drive = inprocess_driver(encoder, queries, config=config, clients=opts.load_clients,
                                 max_tokens=input_limit(config, served_entry.max_tokens))
        sweep = _sweep(drive, capacity, plan, opts, tell, "")
    out = load_figures(sweep, plan, opts.stability)
    out[LOAD_SERVED] = 1.0 if details["source"] == SOURCE else 0.0  # 1: a real advisor serve answered the load test
    details.update(sweep_details(sweep, plan))
    notes.extend(sweep_notes(sweep, plan))
    out["load_test"] = details
    return out


def _sweep(drive: Drive, capacity: float, plan: SweepPlan, opts: CostOptions, tell: StageProgress,
           where: str) -> Sweep:
    def step(i: int, rate: float) -> None:
        tell(f"load sweep{where}: {number(rate)} queries/s", i, plan.max_runs)

    def point(what: str, rate: float) -> None:
        tell(f"load{where}: {what}, {number(rate)} queries/s", 0, None)

    sweep = find_sustainable(drive, capacity, plan, progress=step)
    return measure_points(drive, sweep, plan, rates=opts.load_rates, progress=point)


def load_figures(sweep: Sweep, plan: SweepPlan, rule: StabilityRule) -> dict[str, float]:
    """The load figures of a sweep: the sustainable rate (and where it saturated), and at each fraction of it and
    each policy rate that was kept up with, p50/p95 with their bootstrap intervals. A run not kept up with gives no
    figure (it is a saturation probe, in the details only)."""
    out: dict[str, float] = {LOAD_SWEEP_RUNS: len(sweep.runs)}
    if sweep.sustainable_qps is not None:
        out[LOAD_SUSTAINABLE_QPS] = round(sweep.sustainable_qps, 3)
    if sweep.saturated_at_qps is not None:
        out[LOAD_SATURATED_AT_QPS] = round(sweep.saturated_at_qps, 3)

    def latency(run: LoadRun, seed: int) -> LatencyStats:
        assert run.latency is not None  # a run kept up with answered
        return LatencyStats.from_samples(run.latency.raw_ms, level=rule.level, resamples=rule.resamples, seed=seed)

    for fraction in plan.fractions:
        run = sweep.point(fraction)
        if run is None:
            continue
        stats = latency(run, rule.seed)
        for what, q, value in ((LOAD_P50, 50, stats.p50_ms), (LOAD_P95, 95, stats.p95_ms)):
            out.update(_with_interval(load_figure(fraction, what), value, stats.intervals.get(q)))
        out[load_figure(fraction, LOAD_QPS)] = round(run.achieved_qps, 3)
        out[load_figure(fraction, LOAD_MEAN_BATCH)] = round(run.mean_batch_size or 0.0, 3)
        out[load_figure(fraction, LOAD_SAMPLES)] = stats.samples
    for rate_qps in sorted(sweep.rates):
        run = sweep.at_rate(rate_qps)
        if run is not None:
            stats = latency(run, rule.seed)
            out.update(_with_interval(load_rate_figure(rate_qps), stats.p95_ms, stats.intervals.get(95)))
    return out


def _with_interval(name: str, value: float, interval: tuple[float, float] | None) -> dict[str, float]:
    fig = lookup(name)
    out = {name: round(value, 4)}
    if interval is not None:
        out[fig.ci_low], out[fig.ci_high] = round(interval[0], 4), round(interval[1], 4)
    return out


def _run_record(run: LoadRun, **extra: Any) -> dict[str, Any]:
    """One run for the details. A run not kept up with keeps its latencies under ``saturation_probe``: they are
    the growth of a queue over the run, not a serving latency."""
    record: dict[str, Any] = {**extra, "target_qps": round(run.target_qps, 3), "offered_qps": run.offered_qps,
                              "achieved_qps": round(run.achieved_qps, 3), "sent": run.sent, "ok": run.ok,
                              "refused": run.refused, "failed": run.failed, "kept_up": bool(run.kept_up),
                              "mean_batch_size": None if run.mean_batch_size is None else round(run.mean_batch_size, 3),
                              **run.extra}
    if run.latency is not None:
        percentiles = {"p50_ms": round(run.latency.p50_ms, 4), "p95_ms": round(run.latency.p95_ms, 4),
                       "p99_ms": round(run.latency.p99_ms, 4), "samples": run.latency.samples}
        if run.kept_up:
            record.update(percentiles)
        else:
            record["saturation_probe"] = {**percentiles, "what": f"{PROBE}: not kept up with, so these are the "
                                                                f"growth of a queue over the run, not a latency"}
    return record


def sweep_details(sweep: Sweep, plan: SweepPlan) -> dict[str, Any]:
    """Every run of the sweep and of its points, for ``load_test``: the offered, achieved and answered counts,
    and whether each was kept up with."""
    return {"sustainable_qps": sweep.sustainable_qps, "saturated_at_qps": sweep.saturated_at_qps,
            "stopped": sweep.stopped, "base_p95_ms": sweep.base_p95_ms,
            "sweep": [_run_record(r) for r in sweep.runs],
            "points": {f"{round(f * 100)}%": _run_record(run, fraction=f) for f, run in sweep.points.items()},
            "rates": {str(rate): _run_record(run) for rate, run in sweep.rates.items()},
            "rates_not_run": {str(rate): why for rate, why in sweep.skipped_rates.items()}}


def sweep_notes(sweep: Sweep, plan: SweepPlan) -> list[str]:
    """What a reader must know about a sweep that did not end cleanly."""
    out = []
    if sweep.sustainable_qps is None:
        lowest = min((r.target_qps for r in sweep.runs), default=0.0)
        out.append(f"load: advisor serve's batcher did not keep up even at {number(lowest)} queries/s offered, the "
                   f"lowest rate of the sweep; no load latency is reported")
    elif sweep.saturated_at_qps is None:
        out.append(f"load: the sweep ended ({sweep.stopped}) before advisor serve saturated, so the sustainable rate "
                   f"{number(sweep.sustainable_qps)} queries/s is a lower bound")
    for fraction, run in sweep.points.items():
        if not run.kept_up:
            out.append(f"load: the run at {round(fraction * 100)}% of the sustainable rate did not keep up (a "
                       f"{PROBE}, kept in load_test.points, not a latency figure)")
    for rate, run in sweep.rates.items():
        if not run.kept_up:
            out.append(f"load: advisor serve did not keep up with {rate} queries/s offered (a {PROBE}, kept in "
                       f"load_test.rates, not a latency figure)")
    return out


def _not_served(entry: "ModelEntry") -> str | None:
    """Why this entry's load test cannot be a local ``advisor serve`` (None when it can)."""
    from advisor.models.destination import HOSTED_BACKENDS, off_machine

    if entry.backend == "pair":
        return ("an asymmetric pair is served as its query model inside this process (advisor serve serves one "
                "model), so its load test stays in-process")
    if entry.backend in HOSTED_BACKENDS or entry.hosted or off_machine(entry):
        return ("a hosted model's load test is of the remote API, sent from this process (an advisor serve in "
                "front of it would time the proxy too)")
    return None


def _served_sweep(entry: "ModelEntry", load: "LoadOptions", queries: list[str], capacity: float, plan: SweepPlan,
                  opts: CostOptions, tell: StageProgress, notes: list[str], details: dict[str, Any]) -> Sweep | None:
    """The sweep and its points through one real ``advisor serve`` subprocess (max batch requests = the max batch;
    its settings and pid go to ``details["server"]``), or None with a note when the server could not run (the
    caller falls back to the in-process load test). This process keeps its own copy of the model loaded; the server
    loads another."""
    from advisor.cost.served import served_driver

    try:
        import httpx
    except ImportError as exc:
        notes.append(f"load_server subprocess: the served load test needs the serve extra ({exc}); the load figures "
                     f"come from the in-process load test")
        return None
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    tell("load (starting advisor serve)", 0, None)
    try:
        with served_driver(entry, load, load_config(opts), queries, clients=opts.load_clients,
                           threads=threads) as (drive, server):
            details["server"] = server
            return _sweep(drive, capacity, plan, opts, tell, " (advisor serve)")
    except (RuntimeError, UserError, OSError, ImportError, httpx.HTTPError) as exc:
        notes.append(f"load_server subprocess: the served load test did not run ({exc}); the load figures come "
                     f"from the in-process load test")
        return None


def stability_figures(bulk: Throughput, latency: LatencyMeasurement, rule: StabilityRule) -> dict[str, Any]:
    """Contention as numbers (for tables and the store) and the unstable marks with their reasons, per figure:
    ``unstable`` maps "throughput" and "latency" to why each cannot be trusted (absent when it can)."""
    from advisor.cost.contention import combine

    both = combine([bulk.contention, latency.contention])
    unstable = {name: reasons for name, reasons in (("throughput", bulk.unstable), ("latency", latency.unstable))
                if reasons}
    out: dict[str, Any] = {"load_avg_1m": both.load_avg_1m, "cores": both.cores}
    if both.others_busy_cores is not None:
        out["contention_busy_cores"] = both.others_busy_cores
    if both.steal_share is not None:
        out["contention_steal_share"] = both.steal_share
    out["unstable_figures"] = len(unstable)
    out["stability"] = {"rule": rule.describe(), "bulk": bulk.settled.to_dict(), "latency": latency.settled.to_dict(),
                        "contention": {"bulk": bulk.contention.to_dict(), "latency": latency.contention.to_dict()},
                        "unstable": unstable}
    return out
