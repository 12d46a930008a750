"""Ranking: from stored cells to a recommendation with a reason for every candidate.

Order of judgement (each step only sees what the previous one let through):

1. metadata rules (licence, languages, domains, remote code, pickle weights) on the catalog entry;
2. failed or incomplete cells (a candidate not evaluated on every task cannot be compared);
3. limits on measured figures (p95 latency, throughput, peak memory, bytes per vector, quality floors);
4. the Pareto front over quality (mean of each task's main metric) and cost (p95 latency, throughput, peak
   memory, bytes per vector);
5. the policy's weighted score, which orders the front; the best is recommended.

Figures measured on different hardware are never compared: candidates are grouped by the hardware id their cells
carry and each group is ranked on its own. Quality differences smaller than the paired-bootstrap noise (per-query
scores stored in ``CellResult.details``) are reported as ties. This module reads results only; it never runs a
model.
"""

from __future__ import annotations

from typing import Sequence

from advisor.models.catalog import ModelEntry
from advisor.policy.spec import Policy
from advisor.sweep.results import CellResult
from advisor.policy.rules import Rejection, check_metadata
from advisor.ranking.gather import gather
from advisor.ranking.judge import near_misses, quality_difference, rank_group
from advisor.ranking.zero_shot import mark_trained_on, zero_shot_names
from advisor.ranking.model import (COST_FIGURES, COST_OBJECTIVES, STATUSES, Candidate, Difference, HardwareGroup,
                                   ModelVerdict, NearMiss, Recommendation, TaskInfo)

__all__ = ["COST_FIGURES", "COST_OBJECTIVES", "STATUSES", "Candidate", "Difference", "HardwareGroup", "ModelVerdict",
           "NearMiss", "Recommendation", "TaskInfo", "quality_difference", "rank"]


def rank(results: Sequence[CellResult], entries: Sequence[ModelEntry], policy: Policy) -> Recommendation:
    """Rank stored results under a policy. ``entries`` are the catalog entries (metadata rules need them); a model
    in the results but not in ``entries`` is rejected because its licence and languages cannot be checked."""
    entries = [*entries, *_baseline_entries(results, entries)]
    from advisor.models.pair import sides_to_add
    from advisor.ranking.pairs import compare_pairs

    entries = [*entries, *sides_to_add(entries)]  # a pair's sides carry their metadata inside the pair entry
    by_name = {e.name: e for e in entries}
    candidates, tasks, manifests, notes = gather(results, by_name, policy)
    notes[:0] = [f"policy: {note}" for note in policy.notes]  # how the policy file was read, e.g. a region dropped
    evaluated = {c.model for c in candidates.values()}

    models: list[ModelVerdict] = []
    metadata: dict[str, list[Rejection]] = {}
    for e in entries:
        rejections = check_metadata(e, policy, tasks=zero_shot_names(tasks))
        metadata[e.name] = rejections
        models.append(ModelVerdict(e.name, e.license, e.languages, rejections, e.name in evaluated))
    for name in sorted(evaluated - set(by_name)):
        rejections = [Rejection("catalog", "not in the given catalogs, so its licence and languages cannot be "
                                           "checked; pass its catalog with --catalog")]
        metadata[name] = rejections
        models.append(ModelVerdict(name, "unknown", (), rejections, True, in_catalog=False))

    for c in candidates.values():
        if metadata.get(c.model):
            c.status = "rejected"
            c.rejections = list(metadata[c.model]) + c.rejections

    mark_trained_on(candidates.values(), by_name, tasks, notes)
    cost_failures = sorted({(c.model, c.variant.weight_precision, e) for c in candidates.values()
                            for e in c.cost_errors})
    for model, wp, error in cost_failures:
        notes.append(f"{model} ({wp}): {error}; its latency, throughput and memory are missing")
    for floor in policy.limits.min_quality:
        if floor.task not in {t.name for t in tasks}:
            from advisor.config.schema import did_you_mean

            notes.append(f"quality floor on task '{floor.task}' not applied: that task is not in these results"
                         f"{did_you_mean(floor.task, [t.name for t in tasks])}")

    groups: list[HardwareGroup] = []
    for hardware in sorted({c.hardware for c in candidates.values()}):
        members = [c for c in candidates.values() if c.hardware == hardware]
        objectives = rank_group(members, policy, tasks)
        order = {s: i for i, s in enumerate(STATUSES)}
        members.sort(key=lambda c: (order[c.status], c.position or 0, c.model, c.label))
        devices = sorted({c.variant.device for c in members})
        best = next((c for c in members if c.status == "recommended"), None)
        groups.append(HardwareGroup(hardware, ", ".join(devices), manifests.get(hardware, {}), members, objectives,
                                    near_misses(members, policy, best)))
    if len(groups) > 1:
        notes.append(f"figures come from {len(groups)} different machines or devices; each is ranked on its own "
                     f"and never compared with the others")
    for g in groups:
        versions = {v for c in g.candidates for v in c.versions}
        if len(versions) > 1:
            notes.append(f"machine {g.hardware}: results come from {len(versions)} different library version sets")
    return Recommendation(policy, groups, models, tasks, notes, pairs=compare_pairs(groups, by_name, models))


def _baseline_entries(results: Sequence[CellResult], entries: Sequence[ModelEntry]) -> list[ModelEntry]:
    """The BM25 baseline's catalog entry when its cells are in the results (it is in no catalog file)."""
    from advisor.index.bm25 import NAME, bm25_entry

    if any(r.key.backend == NAME for r in results) and NAME not in {e.name for e in entries}:
        return [bm25_entry()]
    return []

