"""Is this model better than BM25 on your data? For every retrieval task with a BM25 cell, the paired bootstrap
(``advisor.quality.bootstrap.compare``) of each ranked candidate's nDCG@10 against BM25's over the same queries,
and a verdict. Reads the ranking only."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from advisor.config.task_types import TASK_TYPES
from advisor.figures import figure_of
from advisor.quality import bootstrap as boot
from advisor.ranking.model import Candidate, Recommendation

RANKED = ("recommended", "pareto", "dominated")


@dataclass(frozen=True)
class BaselineLine:
    task: str
    candidate: str           # the candidate's label
    status: str
    metric: str
    value: float             # the candidate's figure on the task
    bm25: float              # BM25's
    difference: float        # candidate - BM25
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str             # better / worse / no significant difference

    def text(self) -> str:
        fig = figure_of(self.metric)
        return (f"{self.task}: {self.candidate} {self.metric} {fig.text(self.value)} vs BM25 {fig.text(self.bm25)}, "
                f"difference {fig.difference_text(self.difference, self.ci_low, self.ci_high)}: {self.verdict}")

    def to_dict(self) -> dict:
        return {**asdict(self), "text": self.text()}


def verdict(c: boot.Comparison) -> str:
    if not c.different:
        return "no significant difference"
    return "better than BM25" if c.difference > 0 else "worse than BM25"


def _bm25(rec: Recommendation, task: str) -> Candidate | None:
    from advisor.index.bm25 import NAME

    return next((c for c in rec.candidates() if c.backend == NAME and task in c.per_item), None)


def bm25_lines(rec: Recommendation) -> list[BaselineLine]:
    """One line per (retrieval task with BM25, ranked candidate), the recommendation first."""
    out = []
    order = {s: i for i, s in enumerate(RANKED)}
    for task in rec.tasks:
        if not _has_bm25(task.type):
            continue
        base = _bm25(rec, task.name)
        if base is None:
            continue
        ranked = sorted((c for c in rec.candidates() if c.status in RANKED and c is not base and task.name in
                         c.per_item), key=lambda c: (order[c.status], c.position or 0, c.label))
        for c in ranked:
            if c.per_item[task.name].get("query_ids") != base.per_item[task.name].get("query_ids"):
                continue  # not the same queries (cannot be paired)
            cmp = boot.compare(c.per_item[task.name], base.per_item[task.name])
            out.append(BaselineLine(task.name, c.label, c.status, cmp.metric, cmp.a, cmp.b, cmp.difference,
                                    cmp.ci_low, cmp.ci_high, cmp.p_value, verdict(cmp)))
    return out


def missing_bm25(rec: Recommendation) -> list[str]:
    """Retrieval tasks without a BM25 cell (the policy says ``baselines: []``, or the results predate BM25)."""
    return [t.name for t in rec.tasks if _has_bm25(t.type) and _bm25(rec, t.name) is None]


def _has_bm25(task_type: str | None) -> bool:
    """Whether BM25 is planned beside the models on a task of this type (a judged corpus searched per query)."""
    spec = TASK_TYPES.get(task_type or "")
    return spec is not None and spec.index_variants
