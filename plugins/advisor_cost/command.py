"""``advisor measure``: cost figures of one model on one or more datasets. Presentation only; the work is
``advisor.cost.measure_cost``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from advisor.formatting import duration, figure, megabytes, money
from advisor.options import (ONE, REPEATABLE, batch_size_option, catalog_option, dataset_type_option,
                              deprecated_alias, device_option, ignored_option, json_option, option, weights_option)


@click.command("measure")
@option("--model", ONE, required=True)
@option("--dataset", REPEATABLE, required=True)
@dataset_type_option
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
@click.option("--no-memory", is_flag=True, help="Skip the fresh-subprocess peak-memory probe (CPU).")
@option("--max-batch-requests", default=32)
@deprecated_alias("--max-batch", "--max-batch-requests")
@option("--max-wait-ms")
@click.option("--price-per-gb-month", default=0.10, type=click.FloatRange(0), show_default=True,
              help="Storage price (USD per GB-month) for the storage-cost estimates.")
@json_option
def measure_command(model: str, datasets: tuple[str, ...], dataset_type: str | None, catalogs: tuple[Path, ...],
                    device: str, weight_precision: str | None, batch_size: int,
                    bulk_docs: int | None, latency_samples: int,
                    load_requests: int | None, no_load: bool, load_server: str, no_memory: bool,
                    max_batch_requests: int,
                    max_wait_ms: float, price_per_gb_month: float, as_json: bool) -> None:
    """Throughput, batch-1 latency, latency under load, memory and storage cost of a model on your data."""
    from advisor.cost import CostOptions, measure_cost
    from advisor.cost.stability import StabilityRule
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.resolve import resolve_model

    entry = resolve_model(model, list(catalogs) or None)
    tasks = [load_task(p, dataset_type) for p in datasets]  # every dataset validated before the model loads
    rule = StabilityRule() if latency_samples is None else StabilityRule(round_samples=latency_samples)
    opts = CostOptions(batch_size=batch_size, bulk_docs=bulk_docs, stability=rule,
                       load_test=not no_load, load_requests=load_requests, load_server=load_server,
                       memory=not no_memory,
                       max_batch_size=max_batch_requests, max_wait_ms=max_wait_ms,
                       price_per_gb_month=price_per_gb_month)
    load = LoadOptions(device=device, weight_precision=weight_precision or entry.weight_precision or "fp32")
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
    hours = f.get("reembed_hours_per_million_docs")
    lines = [f"  {task}:",
             f"    bulk        {figure(f.get('docs_per_s'), 'docs/s')}, {figure(f.get('tokens_per_s'), 'tokens/s')}"
             f" ({f.get('bulk_docs')} docs, mean {figure(f.get('mean_tokens_per_doc'), 'tokens')})",
             f"    batch-1     p50 {figure(f.get('latency_p50_ms'), 'ms')}, "
             f"p95 {figure(f.get('latency_p95_ms'), 'ms')}, p99 {figure(f.get('latency_p99_ms'), 'ms')} "
             f"({f.get('latency_samples')} samples after warm-up)"]
    if "load_target_qps" in f:
        for label in ("batched", "unbatched"):
            lines.append(f"    load {label:<9} {figure(f.get(f'load_{label}_qps'), 'qps')} of "
                         f"{figure(f['load_target_qps'], 'target')}, p50 {figure(f.get(f'load_{label}_p50_ms'), 'ms')},"
                         f" p99 {figure(f.get(f'load_{label}_p99_ms'), 'ms')}, mean batch "
                         f"{figure(f.get(f'load_{label}_mean_batch'))}")
    lines.append(f"    memory      peak {megabytes(f.get('peak_memory_mb'))} "
                 f"({f.get('memory_method', 'not measured')}); load {duration(f.get('load_time_s'))}")
    lines.append(f"    storage     {figure(f.get('bytes_per_vector'), 'B/vector')}, "
                 f"{megabytes(f.get('index_size_mb'))} for {figure(f.get('index_vectors'), 'vectors')} "
                 f"(float32, full dim); re-embed 1M docs "
                 f"{duration(None if hours is None else hours * 3600)}")
    for row in f.get("index", []):
        if row["vector_precision"] in ("float32", "int8", "binary"):
            lines.append(f"      dim {row['dim']:>5} {row['vector_precision']:<8} {row['bytes_per_vector']:>6} B  "
                         f"{megabytes(row['mb_per_million']):>9}/1M vectors  "
                         f"{money(row['usd_per_month_per_million'])}/month/1M")
    for note in f.get("notes", []):
        lines.append(f"    note: {note}")
    return "\n".join(lines)


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
