"""Dataset task sources: BEIR folders, STS / classification / pair-classification tables, unlabeled retrieval,
official MTEB tasks by name, and the bridge that runs an advisor Task through mteb's own evaluators.

Light at import time: mteb and the HF ``datasets`` library are imported inside the functions that need them."""

from __future__ import annotations

from ..tasks import TaskSource


def task_sources() -> list[TaskSource]:
    """Every built-in task source, in detection order (the most specific layouts first)."""
    from .beir import BeirSource, UnlabeledSource
    from .mteb_hub import MtebSource
    from .tabular import ClassificationSource, PairClassificationSource, STSSource

    return [MtebSource(), BeirSource(), UnlabeledSource(), STSSource(), PairClassificationSource(),
            ClassificationSource()]
