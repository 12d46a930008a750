"""``advisor datasets``: see which task sources exist and what a dataset path loads as, before any model runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from advisor.datasets.tasks import Task
from advisor.options import allow_network_option, corpus_option, dataset_type_option, json_option
from advisor.options import dataset_read_options  # --pseudo-queries, --columns onto each dataset


def task_summary(task: Task) -> dict[str, Any]:
    """Type, sizes and fingerprint of a loaded task (what ``advisor datasets show`` prints)."""
    sizes = {name: len(ts.texts) for name, ts in task.text_sets().items()}
    summary: dict[str, Any] = {"name": task.name, "type": task.type, "source": task.source,
                               "content_hash": task.content_hash, "sizes": sizes, "description": task.description}
    if task.type == "retrieval":
        summary["judgements"] = sum(len(v) for v in task.data.qrels.values())
    summary.update({k: v for k, v in task.meta.items() if k in ("split", "labels", "positives", "min_score",
                                                                "max_score", "path", "qrels", "pairs", "corpus",
                                                                "corpus_added", "unlabeled", "synthetic",
                                                                "pseudo_queries", "columns", "empty_left_out",
                                                                "hf_dataset", "hf_config")})
    return summary


@click.group("datasets")
def datasets_group() -> None:
    """Inspect evaluation datasets: the task sources, and what a path loads as."""


@datasets_group.command("sources")
@json_option
def sources_command(as_json: bool) -> None:
    """List the registered task sources (the values of --dataset-type)."""
    from advisor.cli import emit_json
    from advisor.plugins import registered

    sources = registered("task_sources")
    if as_json:
        emit_json([{"name": n, "description": s.description} for n, s in sorted(sources.items())])
        return
    for name, source in sorted(sources.items()):
        click.echo(f"{name:20} {source.description}")


@datasets_group.command("show")
@click.argument("datasets", nargs=-1, required=True)
@dataset_type_option
@corpus_option
@dataset_read_options
@allow_network_option
@json_option
def show_command(datasets: tuple[str, ...], dataset_type: str | None, corpus: Path | None, allow_network: bool,
                 as_json: bool) -> None:
    """Load each DATASET (a path, or mteb:TaskName), check every row, and print its type, sizes and hash."""
    from advisor.cli import emit_json
    from advisor.config.network import grant_network
    from advisor.datasets.tasks import load_task, unlabeled_notice

    grant_network(allow_network)  # an MTEB task downloads from the hub only with it

    # a corpus without queries is shown as it is (evaluating it needs pseudo-queries)
    tasks = [load_task(spec, source=dataset_type, corpus=corpus, without_queries=True) for spec in datasets]
    for notice in filter(None, map(unlabeled_notice, tasks)):
        click.echo(notice, err=as_json)
    summaries = [task_summary(task) for task in tasks]
    if as_json:
        emit_json(summaries if len(summaries) > 1 else summaries[0])
        return
    for s in summaries:
        sizes = ", ".join(f"{k} {v}" for k, v in s["sizes"].items())
        extra = f", split {s['split']}" if "split" in s else ""
        click.echo(f"{s['name']}: {s['type']} (source {s['source']}{extra}); {sizes}; hash {s['content_hash']}")
