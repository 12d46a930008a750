"""Built-in plugin: sweeps. Registers the ``local`` and ``ray`` executors and the ``advisor run`` and
``advisor runs list|show|export`` commands. The work is in ``advisor.sweep.planner``, ``advisor.sweep.worker``,
``advisor.sweep.executors`` and ``advisor.sweep.store``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from advisor.hookspecs import hookimpl
from advisor.options import (REPEATABLE, allow_network_option, batch_size_option, budget_option, catalog_option,
                              corpus_option, dataset_type_option, deprecated_alias, devices_option, dry_run_option,
                              executor_option, json_option, option, policy_option, store_option)
from advisor.options import dataset_read_options  # --pseudo-queries, --columns onto each dataset


@hookimpl
def register_executors(register):
    from advisor.sweep.executors import LocalExecutor, RayExecutor

    register(LocalExecutor())
    register(RayExecutor())


def _store(path: Path, *, must_exist: bool = False):
    from advisor.errors import UserError
    from advisor.sweep.store import ResultStore

    if must_exist and not path.exists():
        raise UserError(f"no results store at {path}; run 'advisor run ... --store {path}' first or pass --store FILE")
    return ResultStore(path)


def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


@click.command("run")
@catalog_option
@policy_option
@option("--dataset", REPEATABLE, required=True)
@dataset_type_option
@corpus_option
@dataset_read_options
@option("--model", REPEATABLE)
@devices_option
@store_option
@executor_option
@click.option("--address", default=None, help="Ray cluster address for --executor ray (default: start a local one).")
@click.option("--force", is_flag=True, help="Recompute cells that are already in the store.")
@click.option("--remeasure", type=click.Choice(["unstable"]), default=None,
              help="Measure again the cost cells marked unstable (not settled, or taken under contention); every "
                   "other finished cell is kept.")
@click.option("--no-cost", is_flag=True, help="Quality only: skip throughput, latency and memory measurements.")
@batch_size_option
@click.option("--cell-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Kill a model's worker when no cell finishes within S seconds; its cells fail by timeout "
                   "and the sweep goes on (local and ray executors).")
@dry_run_option
@budget_option
@allow_network_option
@json_option
def run_command(catalogs, policy, datasets, dataset_type, corpus, models, devices, store, executor, address, force,
                remeasure, no_cost, batch_size, cell_timeout, dry_run, budget, allow_network, as_json):
    """Sweep candidates x variants x datasets into the results store; finished cells are never recomputed, so
    running the same command again after a crash or Ctrl-C resumes where it stopped. With --budget (or a policy's
    budget:) the candidates race on growing slices and only the finalists are measured in full; a later run with a
    larger budget continues the race."""
    from advisor.inputs import read_inputs, unlabeled_notices
    from advisor.sweep.executors import get_executor
    from advisor.sweep.planner import model_loads, plan_sweep
    from advisor.sweep.driver import pending_groups, run_plan

    get_executor(executor)  # a wrong name fails before any loading
    inputs = read_inputs(catalogs=catalogs, policy=policy, datasets=datasets, dataset_type=dataset_type,
                         models=models, devices=devices, allow_network=allow_network, corpus=corpus)
    for notice in unlabeled_notices(inputs.tasks):  # first, so a rater's score is never read as a judged one
        click.echo(notice, err=True)
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs,
                      measure_cost=not no_cost, batch_size=batch_size)
    results = _store(store) if not dry_run or store.exists() else None  # a dry run creates no store
    for skip in plan.skipped:
        click.echo(f"skipped {skip.model} {skip.variant}: {skip.reason}", err=True)
    for rejected in plan.rejected:
        click.echo(f"rejected {rejected['name']}: {'; '.join(r['reason'] for r in rejected['rejections'])}",
                   err=True)
    budget = budget or inputs.policy.budget_s  # --budget wins over the policy's budget:
    if dry_run:
        from advisor.sweep.racing import preview

        groups, done = pending_groups(plan.groups, results, force) if results else (plan.groups, 0)
        ahead = preview(plan, inputs.tasks, None if force else results, inputs.policy, budget, batch_size=batch_size)
        data = {"groups": [g.to_dict() for g in plan.groups], "cells": len(plan.cells), "already_done": done,
                "model_loads": model_loads(groups), "skipped": [s.__dict__ for s in plan.skipped],
                **{k: v for k, v in ahead.items() if k != "lines"}}
        if as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            for g in plan.groups:
                click.echo(f"{g.label}: {len(g.cells)} cells over {len(g.tasks)} task(s)")
            click.echo(f"{len(plan.cells)} cells planned, {done} already in {store}, "
                       f"{model_loads(groups)} model load(s)")
            for line in ahead["lines"]:
                click.echo(line)
        return
    from advisor.sweep.progress import SweepProgress

    command = " ".join(["advisor", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("advisor") else None
    _stop_on_sigterm()
    options = {"address": address, "cell_timeout": cell_timeout or getattr(inputs.policy, "cell_timeout", None)}
    if budget is not None:
        _race(plan, inputs, results, budget, executor, options, remeasure, command, batch_size, as_json, store)
        return
    from advisor.sweep.estimate import estimate_plan

    plan.estimate = estimate_plan(plan, inputs.tasks, None if force else results).to_dict()  # kept with the run
    with SweepProgress(enabled=not as_json) as progress:
        summary = run_plan(plan, results, executor=executor, executor_options=options, force=force,
                           remeasure=remeasure, command=command, on_event=progress.on_event)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        click.echo(f"run {summary.run_id} {summary.status}: {summary.planned} cells planned, "
                   f"{summary.already_done} already done, {summary.computed} computed, {summary.failed} failed "
                   f"(store: {store})")
    if summary.status == "interrupted":
        click.echo("interrupted: finished cells are kept; run the same command again to resume", err=True)
        sys.exit(130)
    if summary.failed:
        sys.exit(1)


def _race(plan, inputs, results, budget, executor, options, remeasure, command, batch_size, as_json, store) -> None:
    """``advisor run --budget``: the racing sweep (advisor.sweep.racing), each round said as it goes."""
    from advisor.sweep.progress import SweepProgress
    from advisor.sweep.racing import run_race

    with SweepProgress(enabled=not as_json) as progress:
        say = progress.log if not as_json else (lambda line: click.echo(line, err=True))
        race = run_race(plan, inputs.tasks, results, budget_s=budget, executor=executor, executor_options=options,
                        command=command, on_event=progress.on_event, policy=inputs.policy, say=say,
                        batch_size=batch_size, remeasure=remeasure)
    summary = race.summary
    if as_json:
        click.echo(json.dumps({"race": race.to_dict(), "run": summary.to_dict() if summary else None}, indent=2,
                              default=str))
    else:
        for line in race.lines():
            click.echo(line)
        if summary is not None:
            click.echo(f"final run {summary.run_id} {summary.status}: {summary.planned} cells planned, "
                       f"{summary.already_done} already done, {summary.computed} computed, {summary.failed} failed "
                       f"(store: {store})")
    if race.status == "interrupted":
        click.echo("interrupted: finished cells are kept; run the same command again to continue the race", err=True)
        sys.exit(130)
    if summary is not None and summary.failed:
        sys.exit(1)


def _stop_on_sigterm() -> None:
    """A scheduler's SIGTERM stops the sweep as cleanly as Ctrl-C (run recorded as interrupted)."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@click.group("runs")
def runs_group():
    """Runs recorded in the results store: list them, show one, export cells."""


@runs_group.command("list")
@store_option
@json_option
def runs_list(store, as_json):
    """Every run, newest first, with how many of its cells are done, failed or missing."""
    runs = _store(store, must_exist=True).runs()
    if as_json:
        click.echo(json.dumps(runs, indent=2, default=str))
        return
    if not runs:
        click.echo(f"no runs in {store}")
    for r in runs:
        click.echo(f"{r['run_id']}  {r['status']:<11} {_when(r['created_at'])}  {r['executor'] or '-':<6} "
                   f"cells {r['cells']}: ok {r['ok']}, failed {r['failed']}, missing {r['missing']} "
                   f"(computed here {r['computed']})")


@runs_group.command("show")
@click.argument("run_id", default="latest")
@store_option
@click.option("--cells", "show_cells", is_flag=True, help="List every planned cell with its state.")
@json_option
def runs_show(run_id, store, show_cells, as_json):
    """One run (RUN_ID, a unique prefix, or 'latest'): its plan, status, skipped variants and failures."""
    db = _store(store, must_exist=True)
    run = db.run(run_id)
    cells = db.run_cells(run["run_id"])
    if as_json:
        click.echo(json.dumps({**run, "cell_states": cells}, indent=2, default=str))
        return
    plan = run["plan"]
    click.echo(f"run {run['run_id']}: {run['status']}, started {_when(run['created_at'])}, "
               f"finished {_when(run['finished_at'])}, executor {run['executor']}")
    if run["command"]:
        click.echo(f"  command: {run['command']}")
    click.echo(f"  policy {plan.get('policy')}; tasks: {', '.join(t['name'] for t in plan.get('tasks', []))}")
    click.echo(f"  cells {run['cells']}: ok {run['ok']}, failed {run['failed']}, missing {run['missing']}; "
               f"computed by this run: {run['computed']}")
    for g in plan.get("groups", []):
        click.echo(f"  {g['model']} [{g['device']}/{g['weight_precision']}]: "
                   f"{sum(len(t['cells']) for t in g['tasks'])} cells")
    for s in plan.get("skipped", []):
        click.echo(f"  skipped {s['model']} {s['variant']}: {s['reason']}")
    for r in plan.get("rejected", []):
        click.echo(f"  rejected {r['name']}: {'; '.join(x['reason'] for x in r['rejections'])}")
    for c in cells:
        if show_cells or c["state"] == "failed":
            click.echo(f"  {c['state']:<7} {c['label']}" + (f": {c['error']}" if c["error"] else ""))
    cost = db.results(fingerprint=[c["fingerprint"] for c in cells], kind="cost", status="ok")
    if cost:
        click.echo("  cost cells (batch-1 p50 / p95 with 95% intervals and the samples timed; bulk docs/s; machine "
                   "while measured; unstable marks with their reasons):")
    for r in cost:
        click.echo(f"    {cost_line(r)}")


def cost_line(result) -> str:
    """One cost cell in a line: the figures beside the contention they were taken under, and any unstable mark."""
    from advisor.figures import (BULK_DOCS, BULK_ROUNDS, CONTENTION_BUSY_CORES, DOCS_PER_S, LATENCY_P50_MS,
                                 LATENCY_P95_MS, LATENCY_SAMPLES, LOAD_AVG_1M, lookup)

    m, k = result.metrics, result.key
    unstable = (result.details.get("stability") or {}).get("unstable") or {}

    def with_ci(name: str) -> str:
        fig = lookup(name)
        text = fig.interval_text(m.get(name), m.get(fig.ci_low), m.get(fig.ci_high))
        return text + (" unstable" if fig.measurement and unstable.get(fig.measurement) else "")

    def t(name: str) -> str:
        return lookup(name).text(m[name])

    runtime = f"{k.runtime}:" if k.runtime else ""
    line = (f"{k.model} [{k.device}/{runtime}{k.weight_precision}] {k.task}: p50 {with_ci(LATENCY_P50_MS)}, "
            f"p95 {with_ci(LATENCY_P95_MS)}" + (f" over {t(LATENCY_SAMPLES)}" if LATENCY_SAMPLES in m else "")
            + f", {with_ci(DOCS_PER_S)}"
            + (f" ({t(BULK_DOCS)} x {t(BULK_ROUNDS)})" if BULK_DOCS in m and BULK_ROUNDS in m else ""))
    if LOAD_AVG_1M in m:
        busy = m.get(CONTENTION_BUSY_CORES)
        line += (f"; load {lookup(LOAD_AVG_1M).text(m[LOAD_AVG_1M])}"
                 + (f", others busy {lookup(CONTENTION_BUSY_CORES).text(busy)}" if busy is not None else ""))
    if unstable:
        line += "; UNSTABLE: " + "; ".join(f"{name}: {' / '.join(reasons)}" for name, reasons in unstable.items())
    return line


@runs_group.command("export")
@store_option
@option("--out-file", required=True)
@deprecated_alias("--out", "--out-file")
@option("--format", "table")
@click.option("--run", "run_id", default=None, help="Only the cells of this run (an id, a prefix or 'latest').")
@option("--model", REPEATABLE)
@click.option("--kind", type=click.Choice(["quality", "cost"]), default=None, help="Only quality or cost cells.")
@json_option
def runs_export(store, out_file, table_format, run_id, models, kind, as_json):
    """Export cells (one row each: key, status, metrics, details as JSON) to CSV, Parquet or JSON."""
    db = _store(store, must_exist=True)
    filters: dict = {}
    if run_id:
        filters["fingerprint"] = [c["fingerprint"] for c in db.run_cells(db.run(run_id)["run_id"])]
    if models:
        filters["model"] = list(models)
    if kind:
        filters["kind"] = kind
    path = db.export(out_file, table_format, **filters)
    cells = len(db.results(**filters))
    if as_json:
        click.echo(json.dumps({"path": str(path), "cells": cells}, indent=2))
        return
    click.echo(f"wrote {cells} cells to {path}")


@hookimpl
def register_commands(cli):
    cli.add_command(run_command)
    cli.add_command(runs_group)
