"""Screening a catalog against a policy's metadata rules, before anything is run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from advisor.models.catalog import ModelEntry, default_catalog_paths, load_catalogs
from advisor.policy.spec import Policy, load_policy, permissive_policy
from advisor.policy.rules import Rejection, check_metadata


@dataclass(frozen=True)
class ScreenedEntry:
    entry: ModelEntry
    rejections: tuple[Rejection, ...]

    @property
    def admitted(self) -> bool:
        return not self.rejections

    def to_dict(self) -> dict:
        return {"name": self.entry.name, "admitted": self.admitted,
                "rejections": [{"rule": r.rule, "reason": r.reason} for r in self.rejections],
                "entry": self.entry.to_dict()}


def backend_rejection(entry: ModelEntry) -> Rejection | None:
    from advisor.plugins import registered

    if entry.backend not in registered("backends"):
        return Rejection("backend", f"backend '{entry.backend}' is not installed; see 'advisor plugins'")
    return None


def screen(entries: Sequence[ModelEntry], policy: Policy, *, tasks: Sequence[str] = ()) -> list[ScreenedEntry]:
    """``tasks``: the dataset names the tasks to be scored come from (``advisor.datasets.origin.origin_names``),
    for ``require_zero_shot``."""
    out = []
    for entry in entries:
        rejections = check_metadata(entry, policy, tasks=tasks)
        missing = backend_rejection(entry)
        if missing:
            rejections.append(missing)
        out.append(ScreenedEntry(entry, tuple(rejections)))
    return out


def screen_catalog(catalogs: Sequence[Path], policy_path: Path | None) -> list[ScreenedEntry]:
    entries = load_catalogs(catalogs or default_catalog_paths())
    policy = load_policy(policy_path) if policy_path else permissive_policy()
    return screen(entries, policy)
