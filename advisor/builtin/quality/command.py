"""``advisor evaluate``: one model, one or more datasets, any number of (dim, vector precision) variants, each
derived from a single encoding pass. Presentation only; the work is ``advisor.quality.evaluation``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from advisor.errors import UserError
from advisor.figures import BYTES_PER_VECTOR, LOAD_TIME_S, N_QUERIES
from advisor.options import (ONE, REPEATABLE, allow_network_option, batch_size_option, catalog_option, corpus_option,
                              dataset_type_option, deprecated_alias, device_option, dim_option, json_option, option,
                              vector_precision_option, weights_option)
from advisor.options import dataset_read_options  # --pseudo-queries, --columns onto each dataset


@click.command("evaluate")
@option("--model", ONE, required=True)
@option("--dataset", REPEATABLE, required=True)
@dataset_type_option
@corpus_option
@dataset_read_options
@catalog_option
@dim_option
@vector_precision_option
@deprecated_alias("--precision", "--vector-precision", REPEATABLE)
@weights_option
@click.option("--rescore", "rescore_multiplier", default=0, type=click.IntRange(0), show_default=True,
              help="int8/binary retrieval: rescore k x N candidates with the float query (0: off).")
@click.option("--rater", default=None, help="Rater for datasets without qrels (default: first available).")
@device_option()
@batch_size_option
@click.option("--resamples", default=1000, type=click.IntRange(0), show_default=True,
              help="Bootstrap resamples for the confidence intervals.")
@allow_network_option
@json_option
def evaluate_command(model: str, datasets: tuple[str, ...], dataset_type: str | None, corpus: Path | None,
                     catalogs: tuple[Path, ...],
                     dims: tuple[int, ...], precisions: tuple[str, ...], weight_precision: str | None,
                     rescore_multiplier: int, rater: str | None, device: str, batch_size: int, resamples: int,
                     allow_network: bool, as_json: bool) -> None:
    """Quality of a model on your datasets, under mteb's metric names, with bootstrap intervals."""
    from advisor.models.backends import get_backend, load_encoder
    from advisor.environment import hardware_id, versions_id
    from advisor.quality.evaluation import evaluate_model
    from advisor.sweep.results import CellKey
    from advisor.models.resolve import resolve_model
    from advisor.quality.raters import get_rater
    from advisor.config.task_types import task_type
    from advisor.datasets.tasks import load_task, unlabeled_notice
    from advisor.models.variants import Variant
    from advisor.config.network import grant_network

    grant_network(allow_network)  # hub models, MTEB tasks, hosted models and raters off this machine
    entry = resolve_model(model, list(catalogs) or None)
    weight_precision = weight_precision or entry.weight_precision or "fp32"
    tasks = [load_task(p, dataset_type, corpus=corpus) for p in datasets]  # all validated before any model runs
    variants = [Variant(device=device, weight_precision=weight_precision, dim=d, vector_precision=p)
                for d in (dims or (None,)) for p in (precisions or ("float32",))]
    reference = _reference(variants, entry, device, weight_precision)
    if reference is not None and reference not in variants:  # what the others lose is told against it
        variants.append(reference)
    backend = get_backend(entry.backend)
    for v in variants:
        reason = backend.unsupported_reason(entry, v)
        if reason:
            raise UserError(f"{entry.name} cannot run {v.label()}: {reason}")
    judge = get_rater(rater) if any(task_type(t.type).rated for t in tasks) else None
    for notice in filter(None, (unlabeled_notice(t, judge and judge.name) for t in tasks)):  # first, never missed
        click.echo(notice, err=as_json)
    encoder = load_encoder(entry, device=device, weight_precision=weight_precision, allow_network=allow_network)
    load_s = encoder.info[LOAD_TIME_S]
    hardware, versions = hardware_id(device), versions_id()
    records: list[dict[str, Any]] = []
    summaries = []
    try:
        for task in tasks:
            with _progress(True) as tick:
                results = evaluate_model(encoder, task, variants, batch_size=batch_size,
                                         rescore_multiplier=rescore_multiplier, progress=tick, resamples=resamples,
                                         rater=judge)
            summary = _compare(task, results, reference, resamples)
            summaries.append(summary)
            for v, r in results.items():
                key = CellKey.quality(entry, task.name, task.content_hash, v, hardware=hardware, versions=versions,
                                      rescore_multiplier=r.details.get("rescore_multiplier", 0))
                records.append(_record(entry, task, v, r, key, summary))
    finally:
        encoder.close()
    if as_json:
        click.echo(json.dumps({"model": {"name": entry.name, "revision": entry.revision, "backend": entry.backend,
                                         "embed_dim": entry.embed_dim, LOAD_TIME_S: round(load_s, 3)},
                               "hardware": hardware, "versions": versions, "results": records,
                               "bm25": [{"task": x.task.name, "main_metric": x.bm25.main_metric,
                                         "metrics": x.bm25.metrics, "ci": x.bm25.details.get("ci", {})}
                                        for x in summaries if x.bm25 is not None]},
                              indent=2, ensure_ascii=False, default=str))
        return
    from advisor.builtin.quality.summary import model_header, task_lines

    click.echo(model_header(entry, dict(encoder.info), device, weight_precision, load_s))
    for summary in summaries:
        click.echo("")
        for line in task_lines(summary, entry):
            click.echo(line)


def _reference(variants: list[Any], entry: Any, device: str, weight_precision: str) -> Any:
    """The full-size float32 variant, when several variants are evaluated (None for one): what a smaller size or a
    coarser vector precision loses is the paired difference against it."""
    from advisor.models.variants import Variant

    if len(variants) < 2:
        return None
    full = next((v for v in variants if v.dim in (None, entry.embed_dim) and v.vector_precision == "float32"), None)
    return full or Variant(device=device, weight_precision=weight_precision, dim=None, vector_precision="float32")


def _compare(task: Any, results: dict[Any, Any], reference: Any, resamples: int) -> Any:
    """The paired differences ``evaluate`` reports for one task: each variant against the full-size float32 one,
    and, on a task BM25 is planned for (retrieval), each variant against BM25 on the same queries."""
    from advisor.builtin.quality.summary import TaskSummary
    from advisor.config.task_types import task_type
    from advisor.quality.bootstrap import compare

    summary = TaskSummary(task=task, results=results, reference=reference)
    if reference is not None:
        for v, r in results.items():
            if v != reference:
                summary.against_reference[v] = compare(r, results[reference], resamples=resamples)
    if task_type(task.type).index_variants:
        from advisor.index.bm25 import bm25_quality, compare_with_bm25

        try:
            summary.bm25 = bm25_quality(task, resamples=resamples)
        except ImportError as exc:
            summary.notes.append(f"BM25 not run ({exc}); pip install bm25s")
        else:
            for v, r in results.items():
                summary.against_bm25[v] = compare_with_bm25(r, summary.bm25, resamples=resamples)
    return summary


def _record(entry: Any, task: Any, variant: Any, result: Any, key: Any, summary: Any) -> dict[str, Any]:
    d = result.details
    against = {}
    if variant in summary.against_reference:
        against["full_size_float32"] = summary.against_reference[variant].to_dict()
    if variant in summary.against_bm25:
        against["bm25"] = summary.against_bm25[variant].to_dict()
    return {"task": {"name": task.name, "type": task.type, "source": task.source, "content_hash": task.content_hash,
                     "path": task.meta.get("path"), "synthetic": task.meta.get("synthetic"),
                     "pseudo_queries": task.meta.get("pseudo_queries")},
            "variant": {**variant.to_dict(), "label": variant.label()},
            "main_metric": result.main_metric, "metrics": result.metrics, "ci": d.get("ci", {}),
            "bootstrap": {k: v for k, v in d.get("bootstrap", {}).items() if k != "reference"},
            BYTES_PER_VECTOR: d.get(BYTES_PER_VECTOR), "rescore_multiplier": d.get("rescore_multiplier", 0),
            "fingerprint": key.fingerprint(), "key": key.__dict__,
            "timing": d.get("timing", {}), "truncation": d.get("truncation", {}),
            "reference": variant == summary.reference, "against": against,
            "details": {k: d[k] for k in (N_QUERIES, "n_queries_without_qrels", "n_pairs", "n_test", "classifier",
                                           "rater", "int8_calibration", "search") if k in d}}


class _progress:
    """A rich progress bar per text set while encoding (stderr, so --json output stays clean)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("encoding {task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True,
                                 disable=not self.enabled)
        self.progress.__enter__()
        return self.tick

    def tick(self, name: str, done: int, total: int) -> None:
        if name not in self.bars:
            self.bars[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.bars[name], completed=done)

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)
