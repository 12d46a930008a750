"""What the TUI is looking at: the catalogs, the policy, the datasets and the store, held between screens.

A thin adapter over the core (catalog, policy, screening, tasks); it imports no Textual, so it is tested and used
without a terminal. The run, the ranking and the report live in ``advisor.sweep.worker``, ``advisor.ranking`` and
``advisor.reporting``; see ``sweep.py`` for how the TUI calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from advisor.config.shipped import files_in_force, shipped_dir
from advisor.models.catalog import ModelEntry
from advisor.errors import UserError
from advisor.config.languages import covers, normalize_language
from advisor.inputs import read_catalogs, read_policy
from advisor.policy.spec import NUMERIC_LIMIT_FIELDS, Policy, load_policy, policy_with_limits, write_policy
from advisor.policy.screening import ScreenedEntry, screen
from advisor.datasets.tasks import Task
from advisor.sweep.planner import TaskRef

REPO_ROOT = Path(__file__).resolve().parents[3]  # a source checkout's root; in an installed wheel, site-packages
# The example datasets are the source repository's data/ folder: a wheel does not carry them (they are test data,
# not part of the package), so an installed advisor offers none and says where they are.
EXAMPLES_MISSING = ("no example datasets here: they are the source repository's data/ folder, which an installed "
                    "advisor does not have; add a dataset by path or as mteb:TASK")
# The limits a person adjusts as numbers; min_quality (a list of per-task floors) is kept as the file has it.
NUMERIC_LIMITS = NUMERIC_LIMIT_FIELDS
# specs that name a dataset rather than a path (``advisor.datasets.tasks.load_task`` reads them the same way)
NAMED_PREFIXES = ("hf:", "mteb:")
SIZE_BUCKETS: tuple[tuple[str, int], ...] = (("≤ 10 M params", 10_000_000), ("≤ 50 M params", 50_000_000),
                                             ("≤ 150 M params", 150_000_000), ("≤ 500 M params", 500_000_000))


@dataclass
class Filters:
    """The catalog screen's filters; None / empty means 'any'."""

    license: str | None = None
    language: str = ""
    max_params: int | None = None
    backend: str | None = None

    def accepts(self, entry: ModelEntry) -> bool:
        if self.license and entry.license != self.license:
            return False
        if self.backend and entry.backend != self.backend:
            return False
        if self.max_params is not None and (entry.n_parameters is None or entry.n_parameters > self.max_params):
            return False
        if self.language.strip():
            try:
                wanted = normalize_language(self.language.strip())
            except ValueError:
                wanted = self.language.strip()
            if not covers(list(entry.languages), wanted):
                return False
        return True


@dataclass
class DatasetState:
    """One dataset of the session: what the person typed and how to read it (``--dataset-type``, ``--corpus``),
    and, once loaded in a worker, its task or the loader's one-line error."""

    spec: str
    source: str | None = None  # the task source to read it with (``--dataset-type``); None: detected
    corpus: str | None = None  # a corpus file whose documents join a retrieval task's (``--corpus``)
    task: Task | None = None
    error: str | None = None
    loading: bool = False
    # the lines the CLI prints first for this task: UNLABELED (a rater's scores) or SYNTHETIC (pseudo-queries)
    notices: tuple[str, ...] = ()


@dataclass
class Session:
    catalog_paths: list[Path]
    policy: Policy
    store_path: Path
    entries: list[ModelEntry] = field(default_factory=list)
    screened: list[ScreenedEntry] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    datasets: list[DatasetState] = field(default_factory=list)
    measure_cost: bool = True  # False: quality only, like 'advisor run --no-cost'
    base_policy: Policy | None = None  # the policy as its file says; ``policy`` adds the unsaved edits, if any

    def __post_init__(self) -> None:
        if self.base_policy is None:
            self.base_policy = self.policy

    @classmethod
    def open(cls, *, catalogs: Sequence[str | Path] = (), policy: str | Path | None = None,
             datasets: Sequence[str] = (), store: str | Path = ".advisor/results.sqlite") -> "Session":
        """Read and validate the inputs (``advisor.inputs``, as the CLI does); a bad file raises the same
        ConfigError as the CLI."""
        paths, entries = read_catalogs(catalogs)
        session = cls(catalog_paths=paths, policy=read_policy(policy), store_path=Path(store), entries=entries)
        session.datasets = [DatasetState(str(spec)) for spec in datasets]
        session.rescreen()
        return session

    # ---- catalog -------------------------------------------------------------------------------------------
    @property
    def catalogs_in_force(self) -> str:
        """Which catalogs the session lists: ``offline (shipped)`` when none was named (the default ones)."""
        return files_in_force(self.catalog_paths)

    def rescreen(self) -> None:
        """Screen the catalog against the current policy (advisor.policy.screening), keeping the selection admitted."""
        self.screened = screen(self.entries, self.policy)
        admitted = {s.entry.name for s in self.screened if s.admitted}
        self.selected = [name for name in self.selected if name in admitted]

    def visible(self, filters: Filters) -> list[ScreenedEntry]:
        return [s for s in self.screened if filters.accepts(s.entry)]

    def toggle(self, name: str) -> bool:
        """Select or unselect a candidate; a rejected one cannot be selected (returns False)."""
        row = next((s for s in self.screened if s.entry.name == name), None)
        if row is None or not row.admitted:
            return False
        if name in self.selected:
            self.selected.remove(name)
        else:
            self.selected.append(name)
        return True

    def selected_entries(self) -> list[ModelEntry]:
        by_name = {e.name: e for e in self.entries}
        return [by_name[n] for n in self.selected if n in by_name]

    def licenses(self) -> list[str]:
        return sorted({e.license for e in self.entries})

    def backends(self) -> list[str]:
        return sorted({e.backend for e in self.entries})

    # ---- policy --------------------------------------------------------------------------------------------
    @property
    def policy_source(self) -> str | None:
        """The policy file the session's policy comes from (None: the permissive default)."""
        return self.base_policy.file if self.base_policy else None

    @property
    def policy_edited(self) -> bool:
        return self.policy is not self.base_policy

    def policy_files(self) -> list[Path]:
        """Policies to pick from: the current one's folder, ./policies and the shipped policies."""
        folders = [Path("policies"), shipped_dir("policy")]
        source = self.policy_source
        if source:
            folders.insert(0, Path(source).parent)
        seen: dict[Path, Path] = {}
        for folder in folders:
            if folder.is_dir():
                for path in sorted(folder.glob("*.y*ml")):
                    seen.setdefault(path.resolve(), path)
        if source:
            seen.setdefault(Path(source).resolve(), Path(source))
        return list(seen.values())

    def use_policy(self, path: str | Path | None) -> Policy:
        self.policy = self.base_policy = read_policy(path)
        self.rescreen()
        return self.policy

    def adjust_policy(self, limits: dict[str, float | None], weights: dict[str, float]) -> Policy:
        """Run and rank with the policy file's rules under new limits and weights, without writing a file
        (``advisor.policy.spec.policy_with_limits`` checks the values as ``load_policy`` would)."""
        base = self.base_policy or self.policy
        self.policy = policy_with_limits(base, limits, weights, name=f"{base.name} (adjusted)")
        self.rescreen()
        return self.policy

    def save_policy_as(self, dest: str | Path, limits: dict[str, float | None],
                       weights: dict[str, float]) -> Policy:
        """Write the policy with new limits and weights to a NEW file and switch to it. The values are checked
        first (``policy_with_limits``), so a bad one writes nothing; the file is written by
        ``advisor.policy.spec.write_policy`` and read back with ``load_policy``, as the CLI will read it."""
        dest = Path(dest)
        if dest.suffix not in (".yaml", ".yml"):
            raise UserError(f"{dest}: a policy file name ends in .yaml")
        if dest.exists():
            raise UserError(f"{dest} already exists; save the adjusted policy under a new name")
        base = self.base_policy or self.policy
        try:
            adjusted = policy_with_limits(base, limits, weights, name=dest.stem)
        except UserError as exc:
            raise UserError(f"{dest}: not saved: {exc}") from None
        write_policy(adjusted, dest, header=f"Saved from the advisor TUI: {base.file or base.name} with adjusted "
                                           f"limits and ranking weights.")
        try:
            policy = load_policy(dest)
        except UserError:
            dest.unlink(missing_ok=True)
            raise
        self.policy = self.base_policy = policy
        self.rescreen()
        return policy

    # ---- datasets ------------------------------------------------------------------------------------------
    def add_dataset(self, spec: str, source: str | None = None, corpus: str | None = None) -> DatasetState:
        """Add a dataset to load, read with ``source`` (None: detected) and ``corpus``'s documents added, as
        ``--dataset --dataset-type --corpus`` would. A path that does not exist, an unknown type or a corpus file
        that cannot be found is refused with the loader's one line (UserError) and nothing changes. The same spec
        again with other settings replaces its row (it is read again)."""
        spec = spec.strip()
        if not spec:
            raise UserError("type a dataset path (a folder or file) or an MTEB task name")
        corpus = (corpus or "").strip() or None
        check_dataset(spec, source, corpus)
        state = DatasetState(spec, source, corpus)
        for i, old in enumerate(self.datasets):
            if old.spec == spec:
                if (old.source, old.corpus) == (source, corpus):
                    return old
                self.datasets[i] = state  # a worker still loading the old row writes into the old object
                return state
        self.datasets.append(state)
        return state

    def remove_dataset(self, spec: str) -> None:
        self.datasets = [d for d in self.datasets if d.spec != spec]

    def load_dataset(self, state: DatasetState) -> DatasetState:
        """Load through the registered task sources (``advisor.datasets.tasks.load_task``, with the row's type and
        corpus) and note the lines the CLI prints first (``advisor.inputs.unlabeled_notices``); errors are kept,
        not raised."""
        from advisor.datasets.tasks import load_task
        from advisor.inputs import unlabeled_notices

        state.loading = True
        try:
            task = load_task(state.spec, state.source, corpus=state.corpus)
            state.notices = tuple(unlabeled_notices([task]))
            state.task, state.error = task, None
        except UserError as exc:
            state.task, state.error, state.notices = None, str(exc), ()
        finally:
            state.loading = False
        return state

    def notices(self) -> list[str]:
        """The UNLABELED / SYNTHETIC lines of the loaded datasets, in their order (shown first, as the CLI does)."""
        return [line for d in self.datasets if d.task is not None for line in d.notices]

    def use_split(self, spec: str, split: str) -> DatasetState:
        """Read the dataset ``spec`` with another of its splits (``split_choices``); its row is replaced."""
        old = next((d for d in self.datasets if d.spec == spec), None)
        if old is None or old.task is None:
            raise UserError(f"{spec}: not loaded yet")
        choices = split_choices(old.task)
        if split not in choices:
            raise UserError(f"{spec}: no split '{split}'; the splits here are: {', '.join(choices) or 'none'}")
        state = DatasetState(choices[split], old.source, old.corpus)
        self.datasets[self.datasets.index(old)] = state
        return state

    def tasks(self) -> list[Task]:
        return [d.task for d in self.datasets if d.task is not None]

    def task_refs(self) -> list[TaskRef]:
        """How a sweep worker finds each loaded task again (its spec as typed, made absolute when a path)."""
        return [TaskRef.of(d.task, d.spec, d.source) for d in self.datasets if d.task is not None]

    def load_pending(self) -> list[str]:
        """Load every dataset not loaded yet (the sweep worker calls it: datasets given on the command line load
        even if the datasets screen was never opened); returns the loaders' errors."""
        for state in self.datasets:
            if state.task is None and state.error is None:
                self.load_dataset(state)
        return [d.error for d in self.datasets if d.error]

    def example_datasets(self) -> list[str]:
        """The example tasks of the source repository's data/ folder, to offer when none was given; none when the
        advisor runs from an installed wheel (EXAMPLES_MISSING says so)."""
        root = examples_dir(REPO_ROOT)
        if root is None:
            return []
        return [str(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith((".", "_"))]


def examples_dir(root: Path) -> Path | None:
    """``root/data`` when ``root`` is a source checkout of the advisor (its pyproject.toml beside the package), else
    None: an installed wheel's site-packages may hold some other project's data/ folder."""
    pyproject = root / "pyproject.toml"
    data = root / "data"
    if not (pyproject.is_file() and data.is_dir() and (root / "advisor" / "__init__.py").is_file()):
        return None
    return data


def check_dataset(spec: str, source: str | None = None, corpus: str | None = None) -> None:
    """What can be told before loading, with the loader's own lines: an unknown type, a path that does not exist
    ('<path>: no such file or directory (did you mean ...?)', ``advisor.datasets.readers.missing_path``), a corpus
    file that cannot be found. A name (``mteb:``, ``hf:``, or a spec read with the source of that name) is only
    checked by loading it."""
    from advisor.datasets.readers import missing_path
    from advisor.datasets.spec import parse_spec
    from advisor.plugins import registered

    sources = registered("task_sources")
    if source is not None and source not in sources:
        raise UserError(f"unknown dataset type '{source}'; available: {', '.join(sorted(sources))}")
    base = parse_spec(spec).base
    named = base.startswith(NAMED_PREFIXES) or (source is not None and f"{source}:" in NAMED_PREFIXES)
    if not named and not Path(base).expanduser().exists():
        raise missing_path(base)
    if corpus is not None:
        from advisor.datasets.corpus import corpus_path

        corpus_path(corpus)


def split_choices(task: Task) -> dict[str, str]:
    """The splits a loaded task's folder holds, each with the spec that reads it (a BEIR folder's judgement files:
    ``<folder>/qrels/<split>.tsv``); empty when there is one, or when the source names its split in the spec
    (``hf:ORG/NAME:CONFIG@SPLIT``)."""
    if task.source != "beir" or "path" not in task.meta:
        return {}
    from advisor.datasets.beir import judgement_files, split_name, unreadable_reason

    choices: dict[str, str] = {}
    for path in judgement_files(Path(task.meta["path"])):
        if unreadable_reason(path) is None:
            choices.setdefault(split_name(path), str(path))
    return choices if len(choices) > 1 else {}


def task_size(task: Task) -> str:
    """A short size line for the datasets table."""
    sizes = {name: len(ts.texts) for name, ts in task.text_sets().items()}
    return ", ".join(f"{n} {name}" for name, n in sizes.items())
