"""Zero-shot or not: which of a candidate's quality figures were measured on data its model trained on (the task's
origin or a dataset it overlaps, among the catalog entry's ``training_datasets``). Such figures are marked in every
table, with a legend line, because they overstate what the model does on unseen data."""

from __future__ import annotations

from typing import Iterable

from advisor.models.catalog import ModelEntry
from advisor.ranking.model import Candidate, TaskInfo

MARK = "†"


def zero_shot_names(tasks: Iterable[TaskInfo]) -> list[str]:
    """Every dataset the tasks come from or overlap with, for ``require_zero_shot``."""
    return list(dict.fromkeys(n for t in tasks for n in t.origin))


def mark_trained_on(candidates: Iterable[Candidate], entries: dict[str, ModelEntry], tasks: list[TaskInfo],
                    notes: list[str]) -> None:
    """Fill ``Candidate.trained_on`` and add the legend line when any figure is marked."""
    from advisor.datasets.origin import trained_on

    marked: dict[str, set[str]] = {}
    for c in candidates:
        entry = entries.get(c.model)
        if entry is None:
            continue
        for t in tasks:
            hit = trained_on(entry.training_datasets, t.origin)
            if hit and t.name in c.quality:
                c.trained_on[t.name] = hit
                marked.setdefault(c.model, set()).update(f"{t.name} ({', '.join(hit)})" for _ in [0])
    if marked:
        which = "; ".join(f"{m}: {', '.join(sorted(v))}" for m, v in sorted(marked.items()))
        notes.append(f"{MARK} quality measured on data the model trained on (not zero-shot): {which}")


def quality_mark(c: Candidate, task: str) -> str:
    return f" {MARK}" if task in c.trained_on else ""
