"""``advisor measure``: cost figures of one model on one or more datasets. Presentation only; the work is
``advisor.cost.measure_cost``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from advisor.figures import (BULK_DOCS, BULK_ROUNDS, BYTES_PER_VECTOR, CONTENTION_BUSY_CORES, CORES, DOCS_PER_S,
                             INDEX_SIZE_MB, INDEX_VECTORS, LATENCY_P50_MS, LATENCY_P95_MS, LATENCY_P99_MS,
                             LATENCY_SAMPLES, LOAD_AVG_1M, LOAD_TIME_S, MB_PER_MILLION, MEAN_TOKENS_PER_DOC,
                             REEMBED_H_PER_M, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M, SERVING_MEMORY_MB,
                             SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB, TOKENS_PER_S, USD_PER_MONTH_PER_MILLION, lookup)
from advisor.options import (ONE, REPEATABLE, allow_network_option, batch_size_option, catalog_option, corpus_option,
                              dataset_type_option, deprecated_alias, device_option, ignored_option, json_option, option,
                              weights_option)
from advisor.options import dataset_read_options  # --pseudo-queries, --columns onto each dataset


@click.command("measure")
@option("--model", ONE, required=True)
@option("--dataset", REPEATABLE, required=True)
@dataset_type_option
@corpus_option
@dataset_read_options
@catalog_option
@device_option()
@weights_option
@deprecated_alias("--precision", "--weights")
@ignored_option("--engine", "the backend picks its fastest faithful runtime and records it (see 'runtime' in the "
                            "output)")
@batch_size_option
@click.option("--docs", "bulk_docs", default=None, type=click.IntRange(1),
              help="Documents timed in bulk (an even sample). Default: 256 on cpu, 20000 on cuda.")
@click.option("--queries", "latency_samples", default=None, type=click.IntRange(1),
              help="Batch-1 calls per latency round (rounds repeat until their medians agree). Default: the "
                   "sweep's (40), so the figures equal a sweep's cost cell.")
@click.option("--load-requests", default=None, type=click.IntRange(1),
              help="Requests in each concurrent-load run (default: about 2-3 s of traffic).")
@click.option("--no-load", is_flag=True, help="Skip the concurrent-load (dynamic batching) runs.")
@click.option("--load-server", default="in-process", show_default=True,
              type=click.Choice(["in-process", "subprocess"]),
              help="Where the load test runs: advisor serve's batcher in this process (no HTTP), or a real "
                   "'advisor serve' of the same model on 127.0.0.1 driven over HTTP (policy: costs.load_server).")
@click.option("--no-memory", is_flag=True, help="Skip the serving footprint (a fresh process that loads the model "
                                                "and the corpus vectors and answers queries).")
@option("--max-batch-requests", default=32)
@deprecated_alias("--max-batch", "--max-batch-requests")
@option("--max-wait-ms")
@click.option("--price-per-gb-month", default=0.10, type=click.FloatRange(0), show_default=True,
              help="Storage price (USD per GB-month) for the storage-cost estimates.")
@allow_network_option
@json_option
def measure_command(model: str, datasets: tuple[str, ...], dataset_type: str | None, corpus: Path | None,
                    catalogs: tuple[Path, ...],
                    device: str, weight_precision: str | None, batch_size: int,
                    bulk_docs: int | None, latency_samples: int,
                    load_requests: int | None, no_load: bool, load_server: str, no_memory: bool,
                    max_batch_requests: int,
                    max_wait_ms: float, price_per_gb_month: float, allow_network: bool, as_json: bool) -> None:
    """Throughput, batch-1 latency, latency under load, memory and storage cost of a model on your data."""
    from advisor.cost import CostOptions, measure_cost
    from advisor.cost.stability import StabilityRule
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model
    from advisor.config.network import grant_network

    grant_network(allow_network)  # hub models, MTEB tasks and hosted models off this machine
    entry = resolve_model(model, list(catalogs) or None)
    tasks = [load_task(p, dataset_type, corpus=corpus) for p in datasets]  # all validated before the model loads
    rule = StabilityRule() if latency_samples is None else StabilityRule(round_samples=latency_samples)
    opts = CostOptions(batch_size=batch_size, bulk_docs=bulk_docs, stability=rule,
                       load_test=not no_load, load_requests=load_requests, load_server=load_server,
                       memory=not no_memory,
                       max_batch_size=max_batch_requests, max_wait_ms=max_wait_ms,
                       price_per_gb_month=price_per_gb_month)
    load = LoadOptions(device=device, weight_precision=weight_precision or entry.weight_precision or "fp32",
                       allow_network=allow_network)
    weight_precision = load.weight_precision
    encoder = load_encoder(entry, load)
    runtime = dict(encoder.info)
    records = []
    try:
        for task in tasks:
            with _Stages(not as_json, task.name) as tell:
                figures = measure_cost(encoder, task, entry=entry, load=load, options=opts, progress=tell)
            records.append({"task": {"name": task.name, "type": task.type, "content_hash": task.content_hash},
                            "figures": figures})
    finally:
        encoder.close()
    if as_json:
        click.echo(json.dumps({"model": {"name": entry.name, "revision": entry.revision, "backend": entry.backend,
                                         "embed_dim": entry.embed_dim},
                               "runtime": runtime, "device": device,
                               "weight_precision": weight_precision, "results": records},
                              indent=2, ensure_ascii=False, default=str))
        return
    why_not = runtime.get("fast_path_not_used")
    click.echo(f"{entry.name} on {device} at {weight_precision} (runtime: {runtime.get('runtime', entry.backend)}, "
               f"{runtime.get('path', '-')}{'; fast path not used: ' + why_not if why_not else ''})")
    for rec in records:
        click.echo(_summary(rec["task"]["name"], rec["figures"]))


def _summary(task: str, f: dict[str, Any]) -> str:
    """The figures of one task for people, each written as the figure registry says: a measured figure with its
    95% interval and its sample count, the machine it was measured on, and an unstable mark with its reasons (as
    the report marks it) when it did not settle or was taken under contention."""
    unstable: dict[str, list[str]] = (f.get("stability") or {}).get("unstable") or {}

    def t(name: str) -> str:
        return lookup(name).text(f.get(name))

    def ci(name: str) -> str:
        fig = lookup(name)
        text = fig.interval_text(f.get(name), f.get(fig.ci_low), f.get(fig.ci_high))
        return text + (" unstable" if fig.measurement and unstable.get(fig.measurement) else "")

    lines = [f"  {task}:",
             f"    bulk        {ci(DOCS_PER_S)}, {t(TOKENS_PER_S)} ({t(BULK_DOCS)} x {t(BULK_ROUNDS)}, mean "
             f"{t(MEAN_TOKENS_PER_DOC)})",
             f"    batch-1     p50 {ci(LATENCY_P50_MS)}, p95 {ci(LATENCY_P95_MS)}, p99 {ci(LATENCY_P99_MS)} "
             f"({t(LATENCY_SAMPLES)} after warm-up{_rounds((f.get('stability') or {}).get('latency') or {})})"]
    lines += _load_lines(f, ci)
    lines.append(f"    memory      serving {t(SERVING_MEMORY_MB)} (a fresh process: runtime {t(SERVING_RUNTIME_MB)}, "
                 f"weights {t(SERVING_WEIGHTS_MB)}, index {t(SERVING_INDEX_MB)}, {t(SERVING_INDEX_MB_PER_M)} per "
                 f"million docs); load {t(LOAD_TIME_S)}")
    lines.append(f"    storage     {t(BYTES_PER_VECTOR)} per vector, {t(INDEX_SIZE_MB)} for {t(INDEX_VECTORS)} "
                 f"(float32, full dim); re-embed 1M docs {t(REEMBED_H_PER_M)}")
    for row in f.get("index", []):
        if row["vector_precision"] in ("float32", "int8", "binary"):
            lines.append(f"      dim {row['dim']:>5} {row['vector_precision']:<8} "
                         f"{lookup(BYTES_PER_VECTOR).text(row[BYTES_PER_VECTOR]):>8}  "
                         f"{lookup(MB_PER_MILLION).text(row[MB_PER_MILLION]):>9}/1M vectors  "
                         f"{lookup(USD_PER_MONTH_PER_MILLION).text(row[USD_PER_MONTH_PER_MILLION])}/1M")
    lines += _machine_lines(f, unstable)
    for note in f.get("notes", []):
        lines.append(f"    note: {note}")
    return "\n".join(lines)


def _rounds(settled: dict[str, Any]) -> str:
    """Which rounds the percentiles come from: ``, 3 rounds`` or ``, the last 3 of 5 rounds``."""
    total = len(settled.get("rounds") or [])
    used = settled.get("used_rounds") or total
    if not total:
        return ""
    return f", {total} rounds" if used == total else f", the last {used} of {total} rounds"


def _load_lines(f: dict[str, Any], ci: Any) -> list[str]:
    """The load test's lines: the sustainable rate the open-loop sweep found, then the latency of the runs at fixed
    fractions of it (and at any rate a policy names), each with its interval, its unstable mark and its samples."""
    from advisor.figures import (LOAD_FRACTIONS, LOAD_MEAN_BATCH, LOAD_P50, LOAD_P95, LOAD_P95_AT_RATE, LOAD_QPS,
                                 LOAD_SAMPLES, LOAD_SATURATED_AT_QPS, LOAD_SUSTAINABLE_QPS, LOAD_SWEEP_RUNS,
                                 load_figure)

    def t(name: str) -> str:
        return lookup(name).text(f.get(name))

    if LOAD_SUSTAINABLE_QPS not in f:
        return []
    source = (f.get("load_test") or {}).get("source")
    saturated = (f"saturated at {t(LOAD_SATURATED_AT_QPS)}" if LOAD_SATURATED_AT_QPS in f
                 else "not saturated within the sweep's bounds: a lower bound")
    lines = [f"    load        sustains {t(LOAD_SUSTAINABLE_QPS)} ({saturated}; found in {t(LOAD_SWEEP_RUNS)})"
             + (f" [{source}]" if source else "")]
    for fraction in LOAD_FRACTIONS:
        if load_figure(fraction, LOAD_P95) not in f:
            continue
        lines.append(f"      at {round(fraction * 100)}%    p50 {ci(load_figure(fraction, LOAD_P50))}, p95 "
                     f"{ci(load_figure(fraction, LOAD_P95))}; {t(load_figure(fraction, LOAD_QPS))} answered, mean "
                     f"batch {t(load_figure(fraction, LOAD_MEAN_BATCH))}, {t(load_figure(fraction, LOAD_SAMPLES))}")
    for name in sorted((n for n in f if LOAD_P95_AT_RATE.regex.match(n)), key=lambda n: int(
            LOAD_P95_AT_RATE.regex.match(n).group(1))):
        lines.append(f"      {lookup(name).label}: {ci(name)}")
    return lines


# the words for each measurement an unstable mark names (``stability.unstable``'s keys)
_MEASUREMENT_TEXT = {"latency": "batch-1 latency", "throughput": "bulk throughput"}


def _machine_lines(f: dict[str, Any], unstable: dict[str, list[str]]) -> list[str]:
    """How busy the machine was while measuring, and each unstable measurement with its reasons."""
    lines = []
    if LOAD_AVG_1M in f:
        busy = f.get(CONTENTION_BUSY_CORES)
        cores = f" on {lookup(CORES).text(f[CORES])}" if f.get(CORES) else ""
        lines.append(f"    machine     {lookup(LOAD_AVG_1M).label} {lookup(LOAD_AVG_1M).text(f[LOAD_AVG_1M])}{cores}"
                     + (f"; other processes kept {lookup(CONTENTION_BUSY_CORES).text(busy)} busy" if busy is not None
                        else ""))
    for measurement, reasons in unstable.items():
        lines.append(f"    UNSTABLE    {_MEASUREMENT_TEXT.get(measurement, measurement)}: {'; '.join(reasons)}")
    if unstable:
        lines.append("                figures marked unstable are shown, but a policy limit never rejects on them; "
                     "measure again on a quieter machine")
    return lines


class _Stages:
    """One rich progress bar per measuring stage (stderr, transient, so --json output stays clean)."""

    def __init__(self, enabled: bool, task: str) -> None:
        self.enabled, self.task = enabled, task
        self.bars: dict[str, Any] = {}

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self.progress = Progress(SpinnerColumn(), TextColumn(f"{self.task}: {{task.description}}"), BarColumn(),
                                 MofNCompleteColumn(), console=Console(stderr=True), transient=True,
                                 disable=not self.enabled)
        self.progress.__enter__()
        return self.tell

    def tell(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.bars:
            self.bars[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.bars[stage], completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)
