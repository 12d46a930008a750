"""``measure_cost``: every cost figure of one loaded model on one task, with the manifest it was measured on.

Returns one flat dict. Numbers are figures under stable names (``docs_per_s``, ``tokens_per_s``,
``latency_p50_ms`` ... ``latency_samples``, ``peak_memory_mb``, ``load_time_s``, ``load_*`` for the concurrent
load, ``bytes_per_vector``, ``index_size_mb``, ``reembed_*``); everything that is not a number (the environment
manifest, the per-dim index table, raw latency samples, settings, notes) sits beside them, so a caller can split
numbers into ``CellResult.metrics`` and the rest into ``details`` (as ``advisor.sweep.worker`` does).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from advisor.errors import UserError
from advisor.figures import DOCS_PER_S, TOKENS_PER_S
from advisor.models.backends import Encoder
from advisor.environment import hardware_id, hardware_manifest, library_versions, versions_id
from advisor.datasets.tasks import Task
from advisor.cost.inprocess_load import run_load
from advisor.cost.served import IN_PROCESS
from advisor.cost.latency import LatencyMeasurement, measure_latency
from advisor.cost.stability import StabilityRule
from advisor.cost.throughput import Throughput, measure_throughput
from advisor.cost.memory import reload_spec, subprocess_peak_rss
from advisor.cost.money import billed_tokens_per_text, usage_of
from advisor.cost.storage import DEFAULT_PRICE_PER_GB_MONTH, default_dims, index_table, reembed_estimates
from advisor.models.batcher import input_limit
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
    load_requests: int | None = None
    load_clients: int = 256         # most requests in flight (the served test's HTTP connections), both modes
    load_overload: float = 1.5      # target rate = this x the unbatched capacity (1000 / p50 ms)
    max_batch_size: int = 32
    max_wait_ms: float = 2.0
    memory: bool = True
    memory_docs: int = 128
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


def _torch_cuda() -> Any:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch
    return None


def measure_cost(encoder: Encoder, task: Task, *, entry: "ModelEntry", load: "LoadOptions",
                 options: CostOptions | None = None, progress: StageProgress | None = None,
                 **overrides: Any) -> dict[str, Any]:
    """Measure bulk throughput, batch-1 latency, latency under concurrent load (with and without dynamic
    batching), peak memory and storage figures of ``encoder`` (loaded from ``entry`` with ``load``) on ``task``.
    ``overrides`` set CostOptions fields. The sweep's cost cell and ``advisor measure`` both call this with the
    same options, so their figures are the same measurement."""
    load_options = load  # ``load`` is reused below for the load-test figures
    device, weight_precision = load.device, load.precision_for(entry)
    load_time_s = encoder.info.get("load_time_s")
    opts = options or CostOptions()
    if overrides:
        opts = CostOptions(**{**asdict(opts), **overrides})
    on_gpu = device.startswith("cuda")
    tell = progress or (lambda stage, done, total: None)
    docs_all, queries, n_corpus = split_texts(task)
    docs = even_sample(docs_all, opts.bulk_docs if opts.bulk_docs is not None else (20000 if on_gpu else 256))
    notes: list[str] = []
    out: dict[str, Any] = {}
    torch_cuda = _torch_cuda() if on_gpu else None
    if torch_cuda is not None:
        torch_cuda.cuda.synchronize()
        torch_cuda.cuda.reset_peak_memory_stats()

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

    # Concurrent load through advisor serve's dynamic batcher, with (max batch) and without (max batch 1)
    # batching: in this process without HTTP, or through a real ``advisor serve`` subprocess
    # (``load_server: subprocess``).
    if opts.load_test:
        capacity = 1000.0 / max(lat.stats.p50_ms, 1e-3)
        rate = opts.load_overload * capacity
        span_s = 3.0 if on_gpu else 2.0
        requests = opts.load_requests or int(min(2000 if on_gpu else 300, max(40, rate * span_s)))
        load: dict[str, Any] = {"target_qps": round(rate, 3), "requests": requests, "clients": opts.load_clients,
                                "max_wait_ms": opts.max_wait_ms}
        served = None
        if opts.load_server == "subprocess":
            why_not = _not_served(entry)
            if why_not is None:
                served = _served_load(entry, load_options, queries, rate, requests, opts, tell, notes)
            else:
                notes.append(f"load_server subprocess: {why_not}; the load figures come from the in-process "
                             f"load test")
        if served is not None:
            out.update(served[0])
            load.update(served[1])
        else:
            out.update(_inprocess_load(encoder, entry, queries, rate, requests, opts, tell, load))
        out["load_target_qps"] = round(rate, 3)
        out["load_served"] = 1.0 if served is not None else 0.0  # 1: a real advisor serve answered the load test
        load["requested"] = opts.load_server  # the sweep measures again when a policy asks for the other one
        out["load_test"] = load

    # Peak memory.
    if torch_cuda is not None:
        out["peak_memory_mb"] = round(torch_cuda.cuda.max_memory_allocated() / 2**20, 2)
        out["memory_method"] = "torch.cuda.max_memory_allocated"
    elif opts.memory and not on_gpu:
        probe = None
        # an asymmetric pair serves queries only: its serving memory is its query model's (advisor.models.pair)
        serving = getattr(encoder, "serving_entry", None)
        spec = reload_spec(serving or entry, getattr(encoder, "serving_options", None) or load_options)
        probe_texts, probe_kind = ((even_sample(queries, opts.memory_docs), "query") if serving is not None
                                   else (even_sample(docs, opts.memory_docs), "document"))
        tell("memory (fresh subprocess)", 0, None)
        torch = sys.modules.get("torch")
        if torch is not None:
            spec["threads"] = torch.get_num_threads()
        try:
            probe = subprocess_peak_rss(spec, probe_texts, kind=probe_kind)
        except RuntimeError as exc:  # e.g. a backend registered only in this process: the rest still counts
            notes.append(f"CPU peak memory not measured: {exc}")
        if probe is not None:
            out["peak_memory_mb"] = probe["peak_rss_mb"]
            out["model_memory_mb"] = probe["model_rss_mb"]
            out["load_time_cold_s"] = probe["load_time_s"]
            out["memory_method"] = "peak RSS of a fresh subprocess (load + encode)"
            out["memory_probe"] = probe
            if load_time_s is None:
                load_time_s = probe["load_time_s"]
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


def load_config(opts: CostOptions, max_batch_requests: int) -> ServeConfig:
    """The ServeConfig both load tests run: ``advisor serve``'s defaults (token budget, queue bound) with the cost
    options' max wait and encode batch size, and ``max_batch_requests`` (the max batch, or 1 for "unbatched")."""
    return ServeConfig(host="127.0.0.1", max_batch_requests=max_batch_requests, max_wait_ms=opts.max_wait_ms,
                       batch_size=opts.batch_size)


def _inprocess_load(encoder: Encoder, entry: "ModelEntry", queries: list[str], rate: float, requests: int,
                    opts: CostOptions, tell: StageProgress, load: dict[str, Any]) -> dict[str, Any]:
    """The load figures of the in-process load test (advisor serve's batcher around ``encoder``, no HTTP); fills
    ``load`` with the per-run details."""
    out: dict[str, Any] = {}
    load["source"] = IN_PROCESS
    served_entry = getattr(encoder, "serving_entry", None) or entry  # a pair is served as its query model
    for label, max_batch in (("batched", opts.max_batch_size), ("unbatched", 1)):
        tell(f"load ({label})", 0, requests)
        config = load_config(opts, max_batch)
        res = run_load(encoder, queries, config=config, rate_qps=rate, requests=requests, clients=opts.load_clients,
                       max_tokens=input_limit(config, served_entry.max_tokens))
        out.update(res.figures(f"load_{label}"))
        load[label] = {"max_batch_size": max_batch, "achieved_qps": res.achieved_qps,
                       "mean_batch_size": res.mean_batch_size, **res.latency.figures("latency"),
                       "sent": res.requests, "ok": res.ok, "rejected": res.rejected,
                       "batcher": {**config.settings(), "class": res.batcher}}
        tell(f"load ({label})", requests, requests)
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


def _served_load(entry: "ModelEntry", load: "LoadOptions", queries: list[str], rate: float,
                 requests: int, opts: CostOptions, tell: StageProgress,
                 notes: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(figures, details) of the load test through real ``advisor serve`` subprocesses (one per batching setting:
    max batch requests = ``max_batch_size``, then 1), or None with a note when a server could not run (the caller
    falls back to the in-process load test). This process keeps its own copy of the model loaded; each server loads
    another."""
    from advisor.cost.served import SOURCE, served_load

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {"source": SOURCE}
    for label, max_batch in (("batched", opts.max_batch_size), ("unbatched", 1)):
        tell(f"load ({label}, advisor serve)", 0, requests)
        try:
            res = served_load(entry, load, load_config(opts, max_batch), queries, rate_qps=rate, requests=requests,
                              clients=opts.load_clients, threads=threads)
        except (RuntimeError, UserError, OSError, ImportError) as exc:
            notes.append(f"load_server subprocess: the served load test did not run ({exc}); the load figures come "
                         f"from the in-process load test")
            return None
        figures.update(res.figures(f"load_{label}"))
        r = res.rate
        details[label] = {"max_batch_size": max_batch, "achieved_qps": r.achieved_qps,
                          "mean_batch_size": res.mean_batch_size, **res.latency.figures("latency"),
                          "sent": r.sent, "ok": r.ok, "rejected": r.rejected, "errors": r.errors,
                          "timed_out": r.timed_out, "offered_qps": r.offered_qps,
                          "max_send_lag_ms": r.max_send_lag_ms, "server": res.server}
        tell(f"load ({label}, advisor serve)", requests, requests)
    return figures, details


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
