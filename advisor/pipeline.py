"""From a results store (and, for ``recommend``, a fresh sweep) to a ranking and report files.

``advisor rank`` and ``advisor report`` read the store only. ``advisor recommend`` plans the sweep with
``advisor.sweep.planner``, runs it with ``advisor.sweep.driver.run_plan`` (the store is the cache: finished cells are never
computed again), then ranks the cells of that plan and writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from advisor.models.catalog import ModelEntry, default_catalog_paths, load_catalogs
from advisor.errors import UserError
from advisor.policy.spec import Policy, load_policy, permissive_policy
from advisor.ranking import Recommendation, rank
from advisor.sweep.results import CellResult
from advisor.reporting import Report, write_reports


def in_grid(result: CellResult, policy: Policy) -> bool:
    """Whether a stored cell is one of the variants the policy's grid asks for (so a store filled under another
    policy can be reported under this one without its extra variants)."""
    k, grid = result.key, policy.variants
    if k.device not in grid.devices:
        return False
    if k.kind == "quality":
        return (k.dim is None or k.dim in grid.dims) and (k.vector_precision or "float32") in grid.vector_precisions
    return True


def _run_identities(store: Any, run_id: str) -> tuple[set[tuple], list[dict], dict]:
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
    catalogs: list[str] = field(default_factory=list)


def rank_store(store_path: str | Path, policy_path: str | Path | None, catalogs: Sequence[str | Path] = (), *,
               run_id: str | None = None, tasks: Sequence[str] = (), devices: Sequence[str] = ()) -> Ranked:
    """Rank what a store holds under a policy: every cell in the policy's grid, or only one run's cells
    (``run_id``, 'latest' allowed), or only some tasks by name."""
    from advisor.sweep.store import ResultStore

    path = Path(store_path)
    if not path.exists():
        raise UserError(f"--store {path}: no results database there; run 'advisor run' or 'advisor recommend' "
                        f"first, or pass the right --store FILE")
    policy = load_policy(policy_path) if policy_path else permissive_policy()
    if devices:
        policy = replace(policy, variants=replace(policy.variants, devices=tuple(devices)))
    catalog_paths = [Path(c) for c in catalogs] or default_catalog_paths()
    entries = load_catalogs(catalog_paths)
    store = ResultStore(path)
    try:
        results = [r for r in store.results() if in_grid(r, policy)]
        skipped: list[dict] = []
        if run_id:
            keys, skipped, _ = _run_identities(store, run_id)
            results = [r for r in results if r.key.identity() in keys]
    finally:
        store.close()
    if tasks:
        known = {r.key.task for r in results}
        missing = [t for t in tasks if t not in known]
        if missing:
            raise UserError(f"--task {missing[0]}: no results for that task in {path} (tasks there: "
                            f"{', '.join(sorted(known)) or 'none'})")
        results = [r for r in results if r.key.task in set(tasks)]
    if not results:
        raise UserError(f"{path}: no results match policy {policy.name}'s variants"
                        + (f" in run {run_id}" if run_id else "") + "; run 'advisor recommend' or 'advisor run'")
    return Ranked(rank(results, entries, policy), entries, results, skipped, [str(p) for p in catalog_paths])


def report_store(store_path: str | Path, policy_path: str | Path | None, out_dir: str | Path,
                 catalogs: Sequence[str | Path] = (), *, run_id: str | None = None, tasks: Sequence[str] = (),
                 formats: Sequence[str] | None = None, command: str | None = None) -> dict[str, Path]:
    ranked = rank_store(store_path, policy_path, catalogs, run_id=run_id, tasks=tasks)
    report = Report(ranked.recommendation, store=str(store_path), catalogs=ranked.catalogs, command=command,
                    skipped=ranked.skipped)
    return write_reports(report, out_dir, formats)


def recommend(catalogs: Sequence[str | Path], policy_path: str | Path | None, datasets: Sequence[str],
              out_dir: str | Path, *, store_path: str | Path = ".advisor/results.sqlite",
              dataset_type: str | None = None, executor: str = "local", models: Sequence[str] = (),
              devices: Sequence[str] = (), command: str | None = None, on_event: Callable[[Any], None] | None = None,
              formats: Sequence[str] | None = None) -> tuple[dict[str, Path], Any]:
    """Plan, run (the store as a cache), rank the plan's cells, write the report. Returns (paths, run summary)."""
    from advisor.sweep.executors import get_executor
    from advisor.sweep.planner import plan_from_files
    from advisor.sweep.driver import run_plan
    from advisor.sweep.store import ResultStore

    get_executor(executor)
    plan, _tasks = plan_from_files([Path(c) for c in catalogs], Path(policy_path) if policy_path else None,
                                   list(datasets), dataset_type=dataset_type, models=models, devices=devices)
    store = ResultStore(store_path)
    try:
        summary = run_plan(plan, store, executor=executor, command=command, on_event=on_event)
        if summary.status == "interrupted":
            raise KeyboardInterrupt
        planned = {c.key.identity() for c in plan.cells}
        results = [r for r in store.results(model=sorted({g.entry.name for g in plan.groups}))
                   if r.key.identity() in planned]
    finally:
        store.close()
    catalog_paths = [Path(c) for c in catalogs] or default_catalog_paths()
    policy = load_policy(policy_path) if policy_path else permissive_policy()
    if devices:
        policy = replace(policy, variants=replace(policy.variants, devices=tuple(devices)))
    entries = load_catalogs(catalog_paths)
    rec = rank(results, entries, policy)
    report = Report(rec, store=str(store_path), catalogs=[str(p) for p in catalog_paths],
                    datasets=[str(d) for d in datasets], command=command,
                    skipped=[s.__dict__ for s in plan.skipped])
    return write_reports(report, out_dir, formats), summary


def main_path(paths: dict[str, Path]) -> Path:
    """The file to open first: the HTML page when it was written."""
    for name in ("html", "markdown"):
        if name in paths:
            return paths[name]
    return next(iter(paths.values()))
