"""Built-in plugin: ranking and reports. Registers the markdown, html, json and csv report writers and the
``advisor rank``, ``advisor report`` and ``advisor recommend`` commands. The work is in ``advisor.ranking`` and
``advisor.reporting``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor.hookspecs import hookimpl

STORE_DEFAULT = ".advisor/results.sqlite"
STORE_HELP = "Results database (SQLite). Default: .advisor/results.sqlite"
FORMATS = ("markdown", "html", "json", "csv")


@hookimpl
def register_report_writers(register):
    from advisor.reporting.html import HtmlWriter
    from advisor.reporting.markdown import MarkdownWriter
    from advisor.reporting.tables import CsvWriter, JsonWriter

    for writer in (MarkdownWriter(), HtmlWriter(), JsonWriter(), CsvWriter()):
        register(writer)


def _command() -> str:
    return " ".join(["advisor", *sys.argv[1:]])


def _options(f):
    f = click.option("--task", "tasks", multiple=True, help="Only these tasks (by name; repeatable).")(f)
    f = click.option("--run", "run_id", default=None,
                     help="Only the cells of this run (an id, a prefix or 'latest').")(f)
    f = click.option("--catalog", "catalogs", multiple=True, type=click.Path(path_type=Path),
                     help="Catalog YAML file (repeatable); the policy's metadata rules need it. "
                          "Default: the shipped offline catalog.")(f)
    f = click.option("--policy", type=click.Path(path_type=Path), help="Policy YAML file.")(f)
    f = click.option("--store", default=STORE_DEFAULT, type=click.Path(path_type=Path), help=STORE_HELP)(f)
    return f


@click.command("rank")
@_options
@click.option("--all", "show_all", is_flag=True, help="Also list dominated and rejected candidates.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rank_command(store, policy, catalogs, run_id, tasks, show_all, as_json):
    """Rank the results in the store under a policy: hard rules, Pareto front, weighted score, ties within noise.
    Reads the store only."""
    from advisor.reporting.content import STATUS_TEXT, hardware_text, headline
    from advisor.pipeline import rank_store

    rec = rank_store(store, policy, catalogs, run_id=run_id, tasks=tasks).recommendation
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False, default=str))
        return
    click.echo(headline(rec))
    for note in rec.notes:
        click.echo(f"note: {note}")
    for group in rec.groups:
        click.echo(f"\n{hardware_text(group)} [{group.hardware}]")
        for c in group.candidates:
            if not show_all and c.status not in ("recommended", "pareto"):
                continue
            pos = f"{c.position:>3}" if c.position else "  -"
            click.echo(f"{pos} {STATUS_TEXT[c.status]:<12} {c.label}")
            click.echo(f"      {c.why}")
        hidden = sum(c.status not in ("recommended", "pareto") for c in group.candidates)
        if hidden and not show_all:
            click.echo(f"    ({hidden} dominated or rejected candidates not shown; --all lists them)")
    rejected = [m for m in rec.models if not m.admitted]
    if rejected:
        click.echo("\nModels the policy rejects:")
        for m in rejected:
            click.echo(f"  {m.name}: {m.why}")


@click.command("report")
@_options
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the report.")
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="Report format (repeatable). Default: all of them.")
def report_command(store, policy, catalogs, run_id, tasks, out_dir, formats):
    """Write the report (Markdown, HTML with plots, JSON, CSV) from the results store. Reads the store only."""
    from advisor.pipeline import main_path, report_store

    paths = report_store(store, policy, out_dir, catalogs, run_id=run_id, tasks=tasks, formats=formats or None,
                         command=_command())
    for name, path in paths.items():
        click.echo(f"{name:<9} {path}", err=True)
    click.echo(str(main_path(paths)))


@click.command("recommend")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(path_type=Path),
              help="Catalog YAML file (repeatable). Default: the shipped offline catalog.")
@click.option("--policy", type=click.Path(path_type=Path), help="Policy YAML file (rules, variant grid, weights).")
@click.option("--dataset", "datasets", multiple=True, required=True, help="Dataset folder or name (repeatable).")
@click.option("--dataset-type", default=None, help="Dataset type when it cannot be detected.")
@click.option("--model", "models", multiple=True, help="Only these models (catalog name or local folder).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder for the report.")
@click.option("--store", default=STORE_DEFAULT, type=click.Path(path_type=Path), help=STORE_HELP)
@click.option("--device", "devices", multiple=True, type=click.Choice(["cpu", "cuda"]),
              help="Run on this device instead of the policy's devices (repeatable).")
@click.option("--executor", default="local", show_default=True, help="Where to run: local, ray, or a plugin's.")
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="Report format (repeatable). Default: all of them.")
def recommend_command(catalogs, policy, datasets, dataset_type, models, out_dir, store, devices, executor, formats):
    """Plan and run the sweep (the store is a cache: finished cells are never computed twice), rank the
    candidates under the policy and write the report; prints the report's path."""
    from advisor.pipeline import main_path, recommend
    from advisor.sweep.progress import SweepProgress

    try:
        with SweepProgress() as progress:
            paths, summary = recommend(catalogs, policy, datasets, out_dir, store_path=store,
                                       dataset_type=dataset_type, executor=executor, models=models, devices=devices,
                                       command=_command(), on_event=progress.on_event, formats=formats or None)
    except KeyboardInterrupt:
        click.echo("interrupted: finished cells are kept in the store; run the same command again to resume",
                   err=True)
        sys.exit(130)
    click.echo(f"run {summary.run_id}: {summary.planned} cells planned, {summary.already_done} already in the "
               f"store, {summary.computed} computed, {summary.failed} failed", err=True)
    for name, path in paths.items():
        click.echo(f"{name:<9} {path}", err=True)
    click.echo(str(main_path(paths)))


@hookimpl
def register_commands(cli):
    for command in (rank_command, report_command, recommend_command):
        cli.add_command(command)
