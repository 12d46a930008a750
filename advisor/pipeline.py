"""From a results store (and, for ``recommend``, a fresh sweep) to a ranking and report files, on objects.

``rank_results`` reads a store only. ``recommend`` runs a plan (from ``advisor.sweep.planner.plan_sweep``) with
``advisor.sweep.driver.run_plan`` (the store is the cache: finished cells are never computed again), then ranks the
cells of that plan and writes the report. Reading the user's files is the edges' job (``advisor.inputs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from advisor.models.catalog import ModelEntry
from advisor.errors import UserError
from advisor.policy.spec import Policy
from advisor.ranking import Recommendation, rank
from advisor.sweep.results import CellResult
from advisor.reporting import Report, write_reports

if TYPE_CHECKING:
    from advisor.sweep.planner import Plan
    from advisor.sweep.store import ResultStore


def in_grid(result: CellResult, policy: Policy) -> bool:
    """Whether a stored cell is one of the variants the policy's grid asks for (so a store filled under another
    policy can be reported under this one without its extra variants)."""
    k, grid = result.key, policy.variants
    if k.backend == "bm25":  # the BM25 baseline (planned on the CPU whatever the grid's devices): in the grid
        return "bm25" in policy.baselines  # unless the policy turns it off (baselines: [])
    if k.device not in grid.devices:
        return False
    if k.kind == "quality":
        return ((k.dim is None or k.dim in grid.dims) and (k.vector_precision or "float32") in grid.vector_precisions
                and (not k.chunking or k.chunking in grid.chunking))  # chunked cells only where the grid chunks
    return True


def _run_identities(store: "ResultStore", run_id: str) -> tuple[set[tuple], list[dict], dict]:
    run = store.run(run_id)
    wanted = [c["fingerprint"] for c in store.run_cells(run["run_id"])]
    keys = {r.key.identity() for r in store.results(fingerprint=wanted)}
    plan = run.get("plan", {})
    return keys, plan.get("skipped", []), run


@dataclass
class Ranked:
    recommendation: Recommendation
    entries: list[ModelEntry]
    results: list[CellResult]
    skipped: list[dict] = field(default_factory=list)
    store: str | None = None  # where the results were read, for the report


def rank_results(store: "ResultStore", entries: Sequence[ModelEntry], policy: Policy, *, run_id: str | None = None,
                 tasks: Sequence[str] = ()) -> Ranked:
    """Rank what a store holds under a policy: every cell in the policy's grid, or only one run's cells
    (``run_id``, 'latest' allowed), or only some tasks by name. ``entries`` are the catalog entries the metadata
    rules read."""
    from advisor.sweep.racing import race_cell

    # a race's slice and probe cells are its rounds' evidence, not figures of the whole tasks
    results = [r for r in store.results() if in_grid(r, policy) and not race_cell(r.key)]
    skipped: list[dict] = []
    if run_id:
        keys, skipped, _ = _run_identities(store, run_id)
        results = [r for r in results if r.key.identity() in keys]
    if tasks:
        known = {r.key.task for r in results}
        missing = [t for t in tasks if t not in known]
        if missing:
            raise UserError(f"--task {missing[0]}: no results for that task in {store.path} (tasks there: "
                            f"{', '.join(sorted(known)) or 'none'})")
        results = [r for r in results if r.key.task in set(tasks)]
    if not results:
        raise UserError(f"{store.path}: no results match policy {policy.name}'s variants"
                        + (f" in run {run_id}" if run_id else "") + "; run 'advisor recommend' or 'advisor run'")
    return Ranked(rank(results, entries, policy), list(entries), results, skipped, str(store.path))


def write_report(ranked: Ranked, out_dir: str | Path, formats: Sequence[str] | None = None,
                 command: str | None = None, *, catalogs: Sequence[str | Path] = (),
                 datasets: Sequence[str] = (), race: dict | None = None,
                 timing: dict | None = None) -> dict[str, Path]:
    """Write the ranking as a report in each format (default: every registered writer); ``catalogs`` and
    ``datasets`` are named in it as where the inputs came from; ``race`` (a racing sweep's record) and ``timing``
    (``run_timing``) add their sections. Returns format -> path."""
    report = Report(ranked.recommendation, store=ranked.store, catalogs=[str(c) for c in catalogs],
                    datasets=[str(d) for d in datasets], command=command, skipped=ranked.skipped, race=race,
                    timing=timing)
    return write_reports(report, out_dir, formats)


def run_timing(plan: "Plan", summary: Any) -> dict | None:
    """The plan's recorded estimate beside the run's wall time, in all and per model (its model loads' times)."""
    return _timing(plan.estimate, summary.to_dict() if hasattr(summary, "to_dict") else summary,
                   {g.label: g.entry.name for g in plan.groups})


def recorded_sections(store: "ResultStore", run_id: str) -> dict[str, Any]:
    """What a run's record holds for the report beside its cells: the race it was a round of (a racing sweep's
    final run records the whole race) and its estimate beside its wall time (``write_report``'s ``race`` and
    ``timing``)."""
    run = store.run(run_id)
    plan = run.get("plan") or {}
    labels = {}
    for g in plan.get("groups", []):
        runtime = f"{g['runtime']}:" if g.get("runtime") else ""
        labels[f"{g['model']} [{g['device']}/{runtime}{g['weight_precision']}]"] = g["model"]
    race = plan.get("race")
    if race and race.get("exits") is not None:  # the final run: its own round ended with the run
        race = {**race, "status": run["status"], "rounds": [
            {**r, "wall_s": (run.get("summary") or {}).get("wall_s"), "run_id": run["run_id"]} if r.get("final") else r
            for r in race.get("rounds", [])]}
    else:
        race = None
    return {"race": race,
            "timing": _timing(plan.get("estimate"), run.get("summary") or {}, labels)}


def _timing(estimate: dict | None, summary: dict, models_by_label: dict[str, str]) -> dict | None:
    if not estimate:
        return None
    models: dict[str, dict[str, float]] = {name: {"estimated_s": seconds}
                                           for name, seconds in (estimate.get("per_model") or {}).items()}
    for label, taken in (summary.get("group_s") or {}).items():
        if label in models_by_label:
            entry = models.setdefault(models_by_label[label], {})
            entry["actual_s"] = entry.get("actual_s", 0.0) + taken
    return {"estimated_s": estimate.get("seconds"), "actual_s": summary.get("wall_s"), "models": models}


def plan_results(store: "ResultStore", plan: "Plan") -> list[CellResult]:
    """The stored results of a plan's cells, wherever and with whatever versions they were measured."""
    planned = {c.key.identity() for c in plan.cells}
    return [r for r in store.results(model=sorted({g.entry.name for g in plan.groups}))
            if r.key.identity() in planned]


def recommend(plan: "Plan", store: "ResultStore", entries: Sequence[ModelEntry], policy: Policy,
              out_dir: str | Path, *, executor: str = "local", command: str | None = None,
              on_event: Callable[[Any], None] | None = None, formats: Sequence[str] | None = None,
              datasets: Sequence[str] = (), catalogs: Sequence[str | Path] = (), tasks: Sequence[Any] = (),
              budget_s: float | None = None, say: Callable[[str], None] | None = None,
              batch_size: int = 32, on_ranked: Callable[[Ranked], None] | None = None,
              ) -> tuple[dict[str, Path], Any]:
    """Run the plan (the store as a cache), rank the plan's cells under ``policy`` (``entries``: the catalog
    entries the metadata rules read), write the report. Returns (paths, run summary); a Ctrl-C raises
    KeyboardInterrupt once the run is recorded as interrupted. With ``budget_s`` the candidates race
    (``advisor.sweep.racing``: ``tasks`` are the loaded tasks the plan was made for, ``say`` hears each round) and
    the finalists' cells are ranked; a budget spent before the final round raises ``BudgetSpent`` with the race.
    ``on_ranked`` sees the ranking the report was written from (the command prints its headline)."""
    from advisor.sweep.driver import run_plan
    from advisor.sweep.executors import get_executor

    get_executor(executor)
    race = None
    if budget_s is not None:
        from advisor.sweep.racing import BudgetSpent, run_race

        race = run_race(plan, list(tasks), store, budget_s=budget_s, executor=executor, command=command,
                        on_event=on_event, policy=policy, say=say or (lambda line: None), batch_size=batch_size)
        if race.status == "interrupted":
            raise KeyboardInterrupt
        if race.final_plan is None or race.summary is None:
            raise BudgetSpent(race)
        plan, summary = race.final_plan, race.summary
    else:
        if tasks and plan.estimate is None:
            from advisor.sweep.estimate import estimate_plan

            plan.estimate = estimate_plan(plan, tasks, store).to_dict()
        summary = run_plan(plan, store, executor=executor, command=command, on_event=on_event)
    if summary.status == "interrupted":
        raise KeyboardInterrupt
    results = plan_results(store, plan)
    ranked = Ranked(rank(results, entries, policy), list(entries), results,
                    [s.__dict__ for s in plan.skipped], str(store.path))
    paths = write_report(ranked, out_dir, formats, command, catalogs=catalogs, datasets=datasets,
                         race=race.to_dict() if race is not None else None, timing=run_timing(plan, summary))
    if on_ranked is not None:
        on_ranked(ranked)
    return paths, summary


def main_path(paths: dict[str, Path]) -> Path:
    """The file to open first: the HTML page when it was written."""
    for name in ("html", "markdown"):
        if name in paths:
            return paths[name]
    return next(iter(paths.values()))
