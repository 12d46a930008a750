"""The edge where files come in: what the user named on the command line or in the TUI (catalog files, a policy
file, dataset folders or names, ``--model`` names or folders, a results store) read into the objects the core
takes. Nothing below this layer opens a user's file by path for the sweep, the ranking or the report.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from advisor.errors import UserError
from advisor.models.catalog import ModelEntry, default_catalog_paths, load_catalogs
from advisor.policy.spec import Policy, load_policy, permissive_policy
from advisor.sweep.planner import TaskRef

if TYPE_CHECKING:
    from advisor.datasets.tasks import Task
    from advisor.sweep.store import ResultStore


@dataclass
class Inputs:
    """What one command works on. ``entries`` are the candidates (the ``--model`` selection, else every catalog
    entry); ``catalog`` is every entry the ranking may meet (the catalogs' plus any local model folder named)."""

    entries: list[ModelEntry]
    policy: Policy
    tasks: list["Task"] = field(default_factory=list)
    task_refs: list[TaskRef] = field(default_factory=list)
    catalog_paths: list[Path] = field(default_factory=list)
    catalog: list[ModelEntry] = field(default_factory=list)


MTEB_CATALOG = "mteb"  # ``--catalog mteb``: mteb's model registry, read in memory (advisor.models.mteb_import)


def read_catalogs(paths: Sequence[str | Path] = ()) -> tuple[list[Path], list[ModelEntry]]:
    """The catalog files named (default: the shipped ones) and their entries. ``mteb`` (when no file of that name
    exists) is mteb's model registry, as ``advisor catalog import-mteb`` would write it, less the models the other
    named catalogs hold."""
    named = [Path(p) for p in paths]
    registry = [p for p in named if str(p) == MTEB_CATALOG and not p.exists()]
    files = [p for p in named if p not in registry]
    catalog_paths = files or ([] if registry else default_catalog_paths())
    entries = load_catalogs(catalog_paths) if catalog_paths else []
    if registry:
        entries += mteb_registry(entries)
    return catalog_paths + registry[:1], entries


def mteb_registry(existing: Sequence[ModelEntry] = ()) -> list[ModelEntry]:
    """Every record of mteb's model registry the catalog schema can hold, as entries (not in ``existing``)."""
    try:
        import mteb  # noqa: F401
    except ImportError:
        raise UserError("--catalog mteb needs the mteb package: pip install mteb") from None
    from advisor.models.catalog import parse_entry
    from advisor.models.mteb_import import import_mteb

    result = import_mteb(existing=existing)
    return [replace(parse_entry(record, "mteb model registry", i), catalog=MTEB_CATALOG)
            for i, record in enumerate(result.entries)]


def read_policy(path: str | Path | None = None, devices: Sequence[str] = (), *,
                allow_network: bool = False) -> Policy:
    """The policy file named (None: the permissive default); ``devices`` (``--device``) replaces its grid's;
    ``allow_network`` (``--allow-network``) grants what the policy's ``network: true`` does (its
    ``data.stay_on_machine`` still denies hosted models: the rules read both). The result is the run's network
    grant (``advisor.config.network.grant_network``): hub downloads, MTEB tasks and raters follow it too."""
    from advisor.config.network import grant_network

    policy = load_policy(path) if path else permissive_policy()
    if devices:
        policy = replace(policy, variants=replace(policy.variants, devices=tuple(devices)))
    if allow_network:
        policy = replace(policy, allow_network=True)
    grant_network(policy.load_grants()["allow_network"])
    return policy


def read_datasets(specs: Sequence[str | Path], dataset_type: str | None = None,
                  corpus: str | Path | None = None) -> tuple[list["Task"], list[TaskRef]]:
    """Each dataset (a folder, a file or a source's name) as a task, with the ref a worker finds it again by;
    ``corpus`` (``--corpus``) adds its documents to each retrieval dataset."""
    from advisor.datasets.tasks import load_task

    tasks, refs = [], []
    for spec in specs:
        task = load_task(spec, dataset_type, corpus=corpus)
        tasks.append(task)
        refs.append(TaskRef.of(task, str(spec), dataset_type))
    names = [t.name for t in tasks]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise UserError(f"two datasets are both named '{duplicate}'; give each --dataset a different folder")
    return tasks, refs


def unlabeled_notices(tasks: Sequence["Task"]) -> list[str]:
    """The first lines a command that evaluates ``tasks`` prints: one per task that has no relevance judgements,
    naming the rater that will score it (the first available one, as the sweep picks it), and one per task whose
    judgements are synthetic (pseudo-queries built from its corpus)."""
    from advisor.config.task_types import task_type
    from advisor.datasets.tasks import unlabeled_notice

    rater: str | None = None
    if any(task_type(t.type).rated for t in tasks):
        from advisor.quality.raters import get_rater

        try:
            rater = get_rater().name
        except UserError:  # no rater can run: the cells say so when they fail
            rater = None
    return [line for t in tasks if (line := unlabeled_notice(t, rater))]


def select_models(entries: Sequence[ModelEntry], names: Sequence[str]) -> list[ModelEntry]:
    """The entries named by ``--model`` (all when none is named); a name that is not in the catalogs may be a local
    model folder or file, inspected by ``advisor.models.resolve.resolve_model``."""
    if not names:
        return list(entries)
    from advisor.models.resolve import resolve_model

    by_name = {e.name: e for e in entries}
    return [by_name[name] if name in by_name else resolve_model(name, list(entries)) for name in names]


def read_inputs(*, catalogs: Sequence[str | Path] = (), policy: str | Path | None = None,
                datasets: Sequence[str | Path] = (), dataset_type: str | None = None, models: Sequence[str] = (),
                devices: Sequence[str] = (), allow_network: bool = False,
                corpus: str | Path | None = None) -> Inputs:
    """Catalogs, policy, model selection and datasets, read in that order (a bad catalog or policy fails before
    any dataset is loaded)."""
    catalog_paths, catalog = read_catalogs(catalogs)
    chosen_policy = read_policy(policy, devices, allow_network=allow_network)
    for note in chosen_policy.notes:  # how the policy was read other than as written: said, not silent
        print(f"advisor: note: {note}", file=sys.stderr)
    entries = select_models(catalog, models)
    known = {e.name for e in catalog}
    catalog = catalog + [e for e in entries if e.name not in known]
    tasks, refs = read_datasets(datasets, dataset_type, corpus)
    return Inputs(entries, chosen_policy, tasks, refs, catalog_paths, catalog)


def open_store(path: str | Path) -> "ResultStore":
    """An existing results store (ranking and reports read one; they never create it)."""
    from advisor.sweep.store import ResultStore

    path = Path(path)
    if not path.exists():
        raise UserError(f"--store {path}: no results database there; run 'advisor run' or 'advisor recommend' "
                        f"first, or pass the right --store FILE")
    return ResultStore(path)
