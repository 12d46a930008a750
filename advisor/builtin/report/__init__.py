"""Built-in plugin: ranking and reports. Registers the markdown, html, json and csv report writers and the
``advisor rank``, ``advisor report`` and ``advisor recommend`` commands. The work is in ``advisor.ranking`` and
``advisor.reporting``."""

from __future__ import annotations

import json
import sys

import click

from advisor.hookspecs import hookimpl
from advisor.options import (REPEATABLE, allow_network_option, batch_size_option, budget_option, catalog_option,
                              corpus_option, dataset_type_option, devices_option, dry_run_option, executor_option,
                              json_option, option, policy_option, report_format_option, store_option)
from advisor.options import dataset_read_options  # --pseudo-queries, --columns onto each dataset


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
    for option in (catalog_option, policy_option, store_option, allow_network_option):
        f = option(f)
    return f


def _ranked(store, policy, catalogs, run_id, tasks, allow_network=False):
    """The ranking ``rank`` and ``report`` share, and the catalog files it read: (Ranked, catalog paths)."""
    from advisor.inputs import open_store, read_inputs
    from advisor.pipeline import rank_results

    with open_store(store) as results:
        inputs = read_inputs(catalogs=catalogs, policy=policy, allow_network=allow_network)
        return rank_results(results, inputs.catalog, inputs.policy, run_id=run_id, tasks=tasks), inputs.catalog_paths


@click.command("rank")
@_options
@click.option("--all", "show_all", is_flag=True, help="Also list dominated and rejected candidates.")
@json_option
def rank_command(store, policy, catalogs, allow_network, run_id, tasks, show_all, as_json):
    """Rank the results in the store under a policy: hard rules, Pareto front, weighted score, ties within noise.
    Reads the store only."""
    from advisor.reporting.content import STATUS_TEXT, hardware_text, headline

    rec = _ranked(store, policy, catalogs, run_id, tasks, allow_network)[0].recommendation
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False, default=str))
        return
    click.echo(headline(rec))
    for note in rec.notes:
        click.echo(f"note: {note}")
    # when nothing passes, the headline promises the reasons below: every candidate is listed with them
    show_all = show_all or rec.recommended is None
    for group in rec.groups:
        click.echo(f"\n{hardware_text(group)} [{group.hardware}]")
        for c in group.candidates:
            if not show_all and c.status not in ("recommended", "pareto"):
                continue
            pos = f"{c.position:>3}" if c.position else "  -"
            click.echo(f"{pos} {STATUS_TEXT[c.status]:<12} {c.label}")
            click.echo(f"      {c.why}")
            for line in figure_lines(c):
                click.echo(f"      {line}")
        hidden = sum(c.status not in ("recommended", "pareto") for c in group.candidates)
        if hidden and not show_all:
            click.echo(f"    ({hidden} dominated or rejected candidates not shown; --all lists them)")
    rejected = [m for m in rec.models if not m.admitted]
    if rejected:
        click.echo("\nModels the policy rejects:")
        for m in rejected:
            click.echo(f"  {m.name}: {m.why}")


def figure_lines(c) -> list[str]:
    """A candidate's measured figures as the report writes them: quality and cost with their 95% intervals, the
    latency sample count, and each unstable measurement with its reasons."""
    from advisor.figures import (DOCS_PER_S, LATENCY_P95_MS, LATENCY_SAMPLES, SERVING_MEMORY_MB, figure_of,
                                 lookup)

    parts = []
    for task, value in c.quality.items():
        fig = figure_of(c.quality_metric.get(task, ""))
        low, high = ((c.per_item.get(task) or {}).get("ci", {}).get(fig.name) or (None, None))[:2]
        parts.append(f"{fig.label} {fig.interval_text(value, low, high)} on {task}")
    for name in (LATENCY_P95_MS, DOCS_PER_S, SERVING_MEMORY_MB):
        if c.cost.get(name) is None:
            continue
        fig = lookup(name)
        text = f"{fig.label} {fig.interval_text(c.cost[name], *c.cost_ci.get(name, (None, None)))}"
        if fig.measurement and c.unstable.get(fig.measurement):
            text += " unstable"
        if name == LATENCY_P95_MS and c.cost.get(LATENCY_SAMPLES):
            text += f" over {lookup(LATENCY_SAMPLES).text(c.cost[LATENCY_SAMPLES])}"
        parts.append(text)
    lines = ["; ".join(parts)] if parts else []
    lines += [f"unstable {measurement}: {'; '.join(reasons)}" for measurement, reasons in c.unstable.items()]
    return lines


@click.command("report")
@_options
@option("--out", required=True)
@report_format_option
@json_option
def report_command(store, policy, catalogs, allow_network, run_id, tasks, out, formats, as_json):
    """Write the report (Markdown, HTML with plots, JSON, CSV) from the results store. Reads the store only. With
    --run, the run's recorded estimate beside its wall time, and a racing sweep's final run its race."""
    from advisor.inputs import open_store
    from advisor.pipeline import main_path, recorded_sections, write_report

    ranked, catalog_paths = _ranked(store, policy, catalogs, run_id, tasks, allow_network)
    sections: dict = {}
    if run_id:
        with open_store(store) as results:
            sections = recorded_sections(results, run_id)
    paths = write_report(ranked, out, formats or None, _command(), catalogs=catalog_paths, **sections)
    if as_json:
        click.echo(json.dumps(_paths_json(paths), indent=2))
        return
    for name, path in paths.items():
        click.echo(f"{name:<9} {path}", err=True)
    click.echo(str(main_path(paths)))


@click.command("recommend")
@catalog_option
@policy_option
@option("--dataset", REPEATABLE, required=True)
@dataset_type_option
@corpus_option
@dataset_read_options
@option("--model", REPEATABLE)
@option("--out", required=True)
@store_option
@devices_option
@batch_size_option
@executor_option
@report_format_option
@dry_run_option
@budget_option
@allow_network_option
@json_option
def recommend_command(catalogs, policy, datasets, dataset_type, corpus, models, out, store, devices, batch_size,
                      executor, formats, dry_run, budget, allow_network, as_json):
    """Plan and run the sweep (the store is a cache: finished cells are never computed twice), rank the
    candidates under the policy and write the report; prints the report's path. With --budget (or a policy's
    budget:) the candidates race and the finalists are ranked; the report shows the race."""
    from advisor.inputs import read_inputs, unlabeled_notices
    from advisor.pipeline import main_path, recommend
    from advisor.sweep.executors import get_executor
    from advisor.sweep.planner import plan_sweep
    from advisor.sweep.progress import SweepProgress
    from advisor.sweep.racing import BudgetSpent
    from advisor.sweep.store import ResultStore

    try:
        get_executor(executor)  # a wrong name fails before any loading
        inputs = read_inputs(catalogs=catalogs, policy=policy, datasets=datasets, dataset_type=dataset_type,
                             models=models, devices=devices, allow_network=allow_network, corpus=corpus)
        for notice in unlabeled_notices(inputs.tasks):  # first, so a rater's score is never read as a judged one
            click.echo(notice, err=True)
        plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs,
                          batch_size=batch_size)
        budget = budget or inputs.policy.budget_s  # --budget wins over the policy's budget:
        if dry_run:
            _dry_run(plan, inputs, store, budget, batch_size, as_json)
            return
        ranked: list = []
        with ResultStore(store) as results, SweepProgress(enabled=not as_json) as progress:
            say = progress.log if not as_json else (lambda line: click.echo(line, err=True))
            paths, summary = recommend(plan, results, inputs.catalog, inputs.policy, out, executor=executor,
                                       command=_command(), on_event=progress.on_event, formats=formats or None,
                                       datasets=[str(d) for d in datasets], catalogs=inputs.catalog_paths,
                                       tasks=inputs.tasks, budget_s=budget, say=say, batch_size=batch_size,
                                       on_ranked=ranked.append)
    except KeyboardInterrupt:
        click.echo("interrupted: finished cells are kept in the store; run the same command again to resume",
                   err=True)
        sys.exit(130)
    except BudgetSpent as spent:
        for line in spent.race.lines():
            click.echo(line, err=True)
        click.echo("no report written: the race has no finalists measured in full yet", err=True)
        sys.exit(3)
    if as_json:
        click.echo(json.dumps({"run": summary.to_dict(), **_paths_json(paths)}, indent=2, default=str))
        return
    click.echo(f"run {summary.run_id}: {summary.planned} cells planned, {summary.already_done} already in the "
               f"store, {summary.computed} computed, {summary.failed} failed", err=True)
    if ranked:  # the verdict in the terminal too, not only in the files
        from advisor.reporting.content import headline

        click.echo(headline(ranked[0].recommendation), err=True)
    for name, path in paths.items():
        click.echo(f"{name:<9} {path}", err=True)
    click.echo(str(main_path(paths)))


def _dry_run(plan, inputs, store, budget, batch_size, as_json) -> None:
    """``recommend --dry-run``: the plan's size and expected wall time (and round 1 of a race), without running."""
    from advisor.sweep.driver import pending_groups
    from advisor.sweep.planner import model_loads
    from advisor.sweep.racing import preview
    from advisor.sweep.store import ResultStore

    results = ResultStore(store) if store.exists() else None  # a dry run creates no store
    groups, done = pending_groups(plan.groups, results, False) if results else (plan.groups, 0)
    ahead = preview(plan, inputs.tasks, results, inputs.policy, budget, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps({"cells": len(plan.cells), "already_done": done, "model_loads": model_loads(groups),
                               **{k: v for k, v in ahead.items() if k != "lines"}}, indent=2, default=str))
        return
    click.echo(f"{len(plan.cells)} cells planned, {done} already in {store}, {model_loads(groups)} model load(s)")
    for line in ahead["lines"]:
        click.echo(line)


def _paths_json(paths: dict) -> dict:
    from advisor.pipeline import main_path

    return {"report": str(main_path(paths)), "files": {name: str(path) for name, path in paths.items()}}


@hookimpl
def register_commands(cli):
    for command in (rank_command, report_command, recommend_command):
        cli.add_command(command)
