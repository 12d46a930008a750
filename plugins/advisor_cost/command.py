"""``advisor measure``: cost figures of one model on one or more datasets. Presentation only; the work is
``advisor.cost.measure_cost``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from advisor.models.variants import WEIGHT_PRECISIONS


@click.command("measure")
@click.option("--model", required=True, help="Catalog name, local model folder/file, or hub:ORG/NAME (cached).")
@click.option("--dataset", "datasets", required=True, multiple=True, type=click.Path(path_type=Path),
              help="Dataset folder or file (repeatable); its own texts are what is timed.")
@click.option("--dataset-type", default=None, help="Name the task source instead of detecting it.")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(path_type=Path),
              help="Catalog YAML file (repeatable). Default: the shipped catalogs.")
@click.option("--device", default="cpu", type=click.Choice(["cpu", "cuda"]), show_default=True)
@click.option("--precision", "--weights", "weight_precision", default="fp32", type=click.Choice(WEIGHT_PRECISIONS),
              show_default=True, help="Weight precision the model runs at (--weights is the same option).")
@click.option("--engine", default="auto", type=click.Choice(["auto", "fast", "backend"]), show_default=True,
              help="fast: the advisor's fast encode path; backend: the entry's backend; auto: fast when it can.")
@click.option("--docs", "bulk_docs", default=None, type=click.IntRange(1),
              help="Documents timed in bulk (an even sample). Default: 256 on cpu, 20000 on cuda.")
@click.option("--queries", "latency_samples", default=100, type=click.IntRange(1), show_default=True,
              help="Batch-1 latency samples after warm-up.")
@click.option("--load-requests", default=None, type=click.IntRange(1),
              help="Requests in each concurrent-load run (default: about 2-3 s of traffic).")
@click.option("--no-load", is_flag=True, help="Skip the concurrent-load (dynamic batching) runs.")
@click.option("--no-memory", is_flag=True, help="Skip the fresh-subprocess peak-memory probe (CPU).")
@click.option("--max-batch", "max_batch_size", default=32, type=click.IntRange(1), show_default=True,
              help="Dynamic batcher: largest batch.")
@click.option("--max-wait-ms", default=2.0, type=click.FloatRange(0), show_default=True,
              help="Dynamic batcher: longest wait for a batch to fill.")
@click.option("--price-per-gb-month", default=0.10, type=click.FloatRange(0), show_default=True,
              help="Storage price (USD per GB-month) for the storage-cost estimates.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def measure_command(model: str, datasets: tuple[Path, ...], dataset_type: str | None, catalogs: tuple[Path, ...],
                    device: str, weight_precision: str, engine: str, bulk_docs: int | None, latency_samples: int,
                    load_requests: int | None, no_load: bool, no_memory: bool, max_batch_size: int,
                    max_wait_ms: float, price_per_gb_month: float, as_json: bool) -> None:
    """Throughput, batch-1 latency, latency under load, memory and storage cost of a model on your data."""
    from advisor.cost import CostOptions, measure_cost
    from advisor.cost.engines import load_for_cost
    from advisor.models.resolve import resolve_model
    from advisor.datasets.tasks import load_task

    entry = resolve_model(model, list(catalogs) or None)
    tasks = [load_task(p, dataset_type) for p in datasets]  # every dataset validated before the model loads
    opts = CostOptions(bulk_docs=bulk_docs, latency_samples=latency_samples, load_test=not no_load,
                       load_requests=load_requests, memory=not no_memory, max_batch_size=max_batch_size,
                       max_wait_ms=max_wait_ms, price_per_gb_month=price_per_gb_month)
    encoder, used, load_s, why_not = load_for_cost(entry, device=device, weight_precision=weight_precision,
                                                   engine=engine)
    records = []
    try:
        for task in tasks:
            with _Stages(not as_json, task.name) as tell:
                figures = measure_cost(encoder, task, device=device, weight_precision=weight_precision,
                                       options=opts, load_time_s=load_s, progress=tell)
            records.append({"task": {"name": task.name, "type": task.type, "content_hash": task.content_hash},
                            "figures": figures})
    finally:
        encoder.close()
    if as_json:
        click.echo(json.dumps({"model": {"name": entry.name, "revision": entry.revision, "backend": entry.backend,
                                         "embed_dim": entry.embed_dim},
                               "engine": used, "fast_path_not_used_because": why_not, "device": device,
                               "weight_precision": weight_precision, "results": records},
                              indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"{entry.name} on {device} at {weight_precision} (engine: {used}"
               f"{'; fast path not used: ' + why_not if why_not and used == 'backend' else ''})")
    for rec in records:
        click.echo(_summary(rec["task"]["name"], rec["figures"]))


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _summary(task: str, f: dict[str, Any]) -> str:
    lines = [f"  {task}:",
             f"    bulk        {_fmt(f.get('docs_per_s'), ' docs/s', 1)}, {_fmt(f.get('tokens_per_s'), ' tokens/s', 0)}"
             f" ({f.get('bulk_docs')} docs, mean {_fmt(f.get('mean_tokens_per_doc'), ' tokens', 1)})",
             f"    batch-1     p50 {_fmt(f.get('latency_p50_ms'), ' ms')}, p95 {_fmt(f.get('latency_p95_ms'), ' ms')}, "
             f"p99 {_fmt(f.get('latency_p99_ms'), ' ms')} ({f.get('latency_samples')} samples after warm-up)"]
    if "load_target_qps" in f:
        for label in ("batched", "unbatched"):
            lines.append(f"    load {label:<9} {_fmt(f.get(f'load_{label}_qps'), ' qps', 1)} of "
                         f"{_fmt(f['load_target_qps'], ' target', 1)}, p50 {_fmt(f.get(f'load_{label}_p50_ms'), ' ms')},"
                         f" p99 {_fmt(f.get(f'load_{label}_p99_ms'), ' ms')}, mean batch "
                         f"{_fmt(f.get(f'load_{label}_mean_batch'), '', 1)}")
    lines.append(f"    memory      peak {_fmt(f.get('peak_memory_mb'), ' MB', 1)} ({f.get('memory_method', 'not measured')})"
                 f"; load {_fmt(f.get('load_time_s'), ' s', 2)}")
    lines.append(f"    storage     {f.get('bytes_per_vector')} B/vector, {_fmt(f.get('index_size_mb'), ' MB', 3)} for "
                 f"{f.get('index_vectors')} vectors (float32, full dim); re-embed 1M docs "
                 f"{_fmt(f.get('reembed_hours_per_million_docs'), ' h', 2)}")
    for row in f.get("index", []):
        if row["vector_precision"] in ("float32", "int8", "binary"):
            lines.append(f"      dim {row['dim']:>5} {row['vector_precision']:<8} {row['bytes_per_vector']:>6} B  "
                         f"{row['mb_per_million']:>9,.1f} MB/1M vectors  "
                         f"${row['usd_per_month_per_million']:.4f}/month/1M")
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
