"""Where a task's data comes from, so a figure can be called zero-shot or not.

A dataset folder may hold a manifest, ``dataset.yaml``, with ``origin`` (an MTEB task name or a dataset id) and
``overlaps`` (other dataset ids holding the same texts). Without a manifest the data is the user's own: ``user``,
zero-shot by construction, because no model's training data can include it. MTEB tasks carry their own name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from advisor.config.schema import Fields
from advisor.config.yamlfile import load_yaml

if TYPE_CHECKING:
    from advisor.datasets.tasks import Task

MANIFEST = "dataset.yaml"
USER = "user"
MANIFEST_FIELDS = ("origin", "overlaps", "note")


def manifest_path(spec: str | Path) -> Path | None:
    """The manifest beside a dataset: inside its folder, or beside a single data file."""
    path = Path(spec).expanduser()
    folder = path if path.is_dir() else path.parent
    candidate = folder / MANIFEST
    return candidate if path.exists() and candidate.is_file() else None


def with_origin(task: "Task", spec: str | Path) -> "Task":
    """``task`` with the origin its manifest states (unchanged when there is none). The content hash is not
    touched: the manifest says where the data comes from, it is not the data."""
    path = manifest_path(spec)
    if path is None:
        return task
    f = Fields(load_yaml(path) or {}, str(path), None, MANIFEST_FIELDS, what="manifest")
    origin = f.str("origin", USER) or USER
    overlaps = tuple(dict.fromkeys(f.list("overlaps", str)))
    return replace(task, origin=origin, overlaps=overlaps, origin_note=f.str("note", "") or "")


def origin_names(task: "Task") -> tuple[str, ...]:
    """The dataset names a model must not have trained on for ``task``'s figures to be zero-shot."""
    names = ([] if task.origin == USER else [task.origin]) + list(task.overlaps)
    return tuple(dict.fromkeys(names))


def trained_on(training_datasets: Sequence[str] | None, names: Iterable[str]) -> list[str]:
    """The ``names`` a model's training data includes (case-insensitive); empty when unknown or none."""
    if not training_datasets:
        return []
    seen = {t.lower() for t in training_datasets}
    return [n for n in names if n.lower() in seen]
