"""A student search: ``advisor distill --student-grid "layers=2,3 width=256,384 heads=4,8"`` (or a YAML file of
lists) distills every student of the grid from the same teacher with the same budget (data, steps, batch, learning
rate, seed), each into its own folder ``OUT/students/NAME``, evaluates each on the same held-out split, and writes
one catalog of all of them (``OUT/catalog.yaml``) so a sweep benchmarks them beside the off-the-shelf models.

Resumable like a sweep: a student whose folder holds a finished report is not trained again; one stopped after a
checkpoint continues from it; one stopped before its first checkpoint starts again.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, UserError
from advisor.models.catalog import ModelEntry, load_catalog, load_catalogs, write_catalog
from advisor.training.student import SPEC_KEYS, StudentSpec, _spec_from_mapping

STUDENTS_DIR = "students"
GRID_REPORT = "grid.json"


def parse_student_grid(value: str) -> tuple[list[StudentSpec], list[str]]:
    """``"layers=2,3 width=256,384 heads=4,8"`` (axes separated by spaces, values by commas) or a YAML/JSON file
    mapping each key to a value or a list -> the students of the cartesian product, and notes naming the
    combinations skipped as impossible (a width its heads do not divide)."""
    text = value.strip()
    path = Path(text).expanduser()
    axes: dict[str, list[Any]] = {}
    if path.is_file():
        from advisor.config.yamlfile import load_yaml

        data = load_yaml(path)
        if not isinstance(data, dict):
            raise ConfigError(str(path), f"a student grid is a mapping of {', '.join(SPEC_KEYS)} to lists")
        axes = {str(k): list(v) if isinstance(v, (list, tuple)) else [v] for k, v in data.items()}
        where = str(path)
    else:
        where = f"--student-grid '{value}'"
        for item in text.split():
            key, sep, values = item.partition("=")
            if not sep or not values:
                raise UserError(f"{where}: write axes as key=v1,v2 separated by spaces, e.g. 'layers=2,3 width=256'")
            axes[key.strip()] = [v for v in values.split(",") if v]
    if "layers" not in axes:
        raise UserError(f"{where}: a student grid needs a 'layers' axis (e.g. layers=2,3)")
    keys = list(axes)
    students: list[StudentSpec] = []
    notes: list[str] = []
    for combo in itertools.product(*(axes[k] for k in keys)):
        mapping = dict(zip(keys, combo))
        try:
            spec = _spec_from_mapping(mapping, where)
        except UserError as exc:
            if "divisible" not in str(exc):
                raise
            notes.append(f"skipped {', '.join(f'{k}={v}' for k, v in mapping.items())}: width not divisible by heads")
            continue
        if spec not in students:
            students.append(spec)
    if not students:
        raise UserError(f"{where}: no student left in the grid ({'; '.join(notes)})")
    return students, notes


def spec_text(spec: StudentSpec) -> str:
    """The ``--student`` form of a spec (``layers=2,width=256,heads=4``)."""
    return ",".join(f"{k}={getattr(spec, k)}" for k in SPEC_KEYS if getattr(spec, k) is not None)


def student_folder_name(spec: StudentSpec) -> str:
    return "-".join(f"{k}{getattr(spec, k)}" for k in SPEC_KEYS if getattr(spec, k) is not None)


def _finished(folder: Path) -> dict[str, Any] | None:
    report = folder / "report.json"
    if report.exists() and (folder / "catalog.yaml").exists():
        return json.loads(report.read_text(encoding="utf-8"))
    return None


def distill_grid(config: Any, students: list[StudentSpec], *, notes: list[str] | None = None,
                 device: str | None = None, evaluate: bool = True, measure: bool = False,
                 progress: Any = None, store: str | Path | None = None, cost: bool = True) -> dict[str, Any]:
    """Distill each student (``config`` is the DistillConfig every student shares; its ``student`` and ``out``
    are set per student), skipping finished ones, then write ``OUT/catalog.yaml`` and ``OUT/grid.json``. With
    ``store``, benchmark the students and the teacher on the held-out split with the sweep (cells already in the
    store are not computed again), so rank, report and the TUI show them beside the other candidates."""
    from advisor.training.distill import distill
    from advisor.training.runner import last_checkpoint

    root = Path(config.out).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    models: dict[str, ModelEntry] = {}
    prefix = config.name or f"{Path(config.teacher).name}-student"
    for spec in students:
        name = student_folder_name(spec)
        folder = root / STUDENTS_DIR / name
        report = _finished(folder)
        reused = report is not None
        if report is None:
            child = replace(config, student=spec_text(spec), out=str(folder), name=f"{prefix}-{name}",
                            pair_name=f"{prefix}-{name}+{Path(config.teacher).name}" if config.side == "query"
                            else None)
            resume = last_checkpoint(folder) is not None and (folder / "training.json").exists()
            report = distill(child, device=device, resume=resume, evaluate=evaluate, measure=measure,
                             progress=progress)
        for entry in _student_entries(folder, config.catalogs):
            models.setdefault(entry.name, entry)
        rows.append({"student": spec_text(spec), "folder": str(folder), "trained": report["trained"],
                     "reused": reused, "parameters": report["training"].get("student_parameters"),
                     "steps": report["training"]["log"]["steps"], "verdict": report.get("verdict"),
                     "quality": [{k: r[k] for k in ("reference", "metric", "before", "after")}
                                 for r in report.get("quality", [])]})
    catalog = write_catalog(models.values(), root / "catalog.yaml", name="student-grid",
                            header=f"Written by 'advisor distill --student-grid'. Use it with --catalog "
                                   f"{root / 'catalog.yaml'}")  # sources under OUT relative to it
    entries = load_catalogs([*config.catalogs, catalog] if config.catalogs else [catalog])  # valid, or an error
    grid = {"teacher": config.teacher, "students": rows, "notes": list(notes or []), "catalog": str(catalog),
            "budget": {"max_steps": config.train.max_steps, "epochs": config.train.epochs,
                       "batch_size": config.train.batch_size, "learning_rate": config.train.learning_rate,
                       "max_pairs": config.max_pairs, "seed": config.train.seed}}
    if store is not None:
        grid["sweep"] = _benchmark([e for e in entries if e.name in models], config, Path(rows[0]["folder"]),
                                   store, device=device, cost=cost)
    (root / GRID_REPORT).write_text(json.dumps(grid, indent=1, default=str), encoding="utf-8")
    return grid


def _benchmark(students: list[Any], config: Any, first: Path, store: str | Path, *, device: str | None,
               cost: bool) -> dict[str, Any]:
    """The students and the teacher through the sweep on the held-out split (the same for every student: same
    data and split seed), with the default policy's variant grid."""
    from dataclasses import replace as replace_policy

    from advisor.datasets.tasks import load_task
    from advisor.models.resolve import resolve_model
    from advisor.policy.spec import permissive_policy
    from advisor.sweep.driver import run_plan
    from advisor.sweep.planner import TaskRef, plan_sweep
    from advisor.sweep.store import ResultStore

    heldout = first / "heldout"
    task = load_task(heldout)
    teacher = resolve_model(config.teacher, list(config.catalogs) or None)
    policy = permissive_policy()
    if device:
        policy = replace_policy(policy, variants=replace_policy(policy.variants, devices=(device,)))
    plan = plan_sweep([teacher, *students], policy, [task], task_refs=[TaskRef.of(task, str(heldout))],
                      measure_cost=cost)
    summary = run_plan(plan, ResultStore(Path(store)), command="advisor distill --student-grid")
    return {"store": str(store), "dataset": str(heldout), **summary.to_dict()}


def _student_entries(folder: Path, catalogs: tuple[str, ...]) -> list[ModelEntry]:
    """The entries of a student's own catalog (the student; with --side query also its pair and any copied
    teacher), loaded beside the user's catalogs so a pair naming one of their models resolves."""
    path = folder / "catalog.yaml"
    loaded = load_catalogs([*catalogs, path]) if catalogs else load_catalog(path)
    return [e for e in loaded if e.catalog == str(path)]
