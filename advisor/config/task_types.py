"""The task types the advisor evaluates, as one table: per type its text sets, its main metric, the figures it
reports and its item (the unit its bootstrap resamples when items share no text).

This is the declarative half, below both the policy (which ranks each type on its main metric by default) and
the datasets (which read and slice each type). Each layer above keeps its own functions in one dict keyed by this
table and checks it with :func:`require_every_type` at import, so a type that lacks a function fails at once:
``advisor.datasets.types.DATASET_TYPES`` (data class, slicer, task sources that read it) and
``advisor.quality.evaluation.EVALUATORS`` (the evaluation function). Adding a task type is one entry here plus
its functions there.

Metric names are mteb's, as the figure registry (``advisor.figures``) holds them: the names the store, the ranking
and the reports use.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

from advisor import figures as fig
from advisor.errors import UserError

# The cut-offs the retrieval figures are reported at (advisor.quality.metrics.K_VALUES); reranking adds 1000 (MAP
# over the whole candidate list), unlabeled retrieval stops at 10 (advisor.quality.raters.RATED_K).
_RETRIEVAL_K = (1, 3, 5, 10, 100)
_RETRIEVAL_FAMILIES = (fig.NDCG, fig.MAP, fig.RECALL, fig.PRECISION, fig.MRR)
_PAIR_MEASURES = ("accuracy", "f1", "precision", "recall", "ap")


def _at(families: Iterable[fig.Family], ks: Iterable[int]) -> tuple[str, ...]:
    return tuple(f.name(k) for f in families for k in ks)


@dataclass(frozen=True)
class TextSetSpec:
    """A set of texts the harness encodes once per model variant; ``kind`` picks the query or document prompt."""

    name: str
    kind: Literal["query", "document"]


@dataclass(frozen=True)
class TaskTypeSpec:
    """One task type. ``unit`` is what one item of ``QualityResult.per_item`` is, so what the paired bootstrap
    resamples when the items share no text; items that share texts (STS pairs of the same documents, every pair
    of a de-duplication corpus) are resampled by group of texts or by text, as the data shows
    (``advisor.quality.bootstrap.units_of_texts``); ``rated``: scored by a rater instead of judgements;
    ``index_variants``: a judged corpus searched per query, so index, BM25-baseline, hybrid and chunked variants are
    planned for it."""

    name: str
    description: str
    text_sets: tuple[TextSetSpec, ...]
    main_metric: str
    metrics: tuple[str, ...]
    unit: str
    rated: bool = False
    index_variants: bool = False


_QUERIES, _CORPUS = TextSetSpec("queries", "query"), TextSetSpec("corpus", "document")
_PAIR_FIGURES = tuple(f"{similarity}_{m}" for similarity in ("cosine", "dot", "euclidean", "manhattan", "max")
                      for m in _PAIR_MEASURES)

TASK_TYPES: dict[str, TaskTypeSpec] = {t.name: t for t in (
    TaskTypeSpec(
        name="retrieval", description="queries search a corpus; relevance judgements (qrels) say what they want",
        text_sets=(_QUERIES, _CORPUS), main_metric=fig.ndcg_at(10), metrics=_at(_RETRIEVAL_FAMILIES, _RETRIEVAL_K),
        unit="query", index_variants=True),
    TaskTypeSpec(
        name="sts", description="sentence pairs with a graded similarity, scored by correlation with the cosine",
        text_sets=(TextSetSpec("sentence1", "query"), TextSetSpec("sentence2", "query")),
        main_metric=fig.COSINE_SPEARMAN, metrics=(fig.COSINE_SPEARMAN, fig.COSINE_PEARSON), unit="pair"),
    TaskTypeSpec(
        name="classification", description="texts with a class label; a logistic regression on the embeddings",
        text_sets=(TextSetSpec("train", "query"), TextSetSpec("test", "query")), main_metric=fig.ACCURACY,
        metrics=(fig.ACCURACY, fig.F1, fig.F1_WEIGHTED, fig.PRECISION_SCORE, fig.PRECISION_WEIGHTED,
                 fig.RECALL_SCORE, fig.RECALL_WEIGHTED),
        unit="example"),  # a test example
    TaskTypeSpec(
        name="pair_classification", description="text pairs labelled same or different, scored by the cosine's "
                                                 "average precision",
        text_sets=(TextSetSpec("text1", "query"), TextSetSpec("text2", "query")), main_metric=fig.COSINE_AP,
        metrics=_PAIR_FIGURES, unit="pair"),
    TaskTypeSpec(
        name="unlabeled_retrieval", description="queries search a corpus without judgements; a rater scores what "
                                                "they retrieve",
        text_sets=(_QUERIES, _CORPUS), main_metric=fig.RATED_SCORE.name(10),
        metrics=_at((fig.RATED_SCORE,), (1, 3, 5, 10)), unit="query", rated=True),
    TaskTypeSpec(
        name="clustering", description="texts and the group each belongs to; k-means should find the groups",
        text_sets=(TextSetSpec("texts", "query"),), main_metric=fig.V_MEASURE,
        metrics=(fig.V_MEASURE, fig.HOMOGENEITY, fig.COMPLETENESS),
        unit="text"),  # V-measure has no interval; per text: in its group's majority cluster or not
    TaskTypeSpec(
        name="deduplication", description="a corpus and its near-duplicate pairs; every pair of texts is scored by "
                                          "its cosine",
        text_sets=(TextSetSpec("texts", "query"),), main_metric=fig.COSINE_AP,
        metrics=(*_PAIR_FIGURES[:5], "cosine_f1_threshold"),
        unit="pair"),  # every pair of the corpus: its texts are what the bootstrap resamples
    TaskTypeSpec(
        name="reranking", description="each query reorders its own candidate list (a first stage's output)",
        text_sets=(_QUERIES, _CORPUS), main_metric=fig.MAP.name(1000),
        metrics=_at(_RETRIEVAL_FAMILIES, (*_RETRIEVAL_K, 1000)), unit="query"),
)}

TaskTypeName = Literal["retrieval", "sts", "classification", "pair_classification", "unlabeled_retrieval",
                       "clustering", "deduplication", "reranking"]  # the keys of TASK_TYPES, for type checkers


def task_type(name: str) -> TaskTypeSpec:
    """The table's entry for ``name``; an unknown name is a UserError with the closest known ones."""
    spec = TASK_TYPES.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, TASK_TYPES, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UserError(f"unknown task type '{name}' (known: {', '.join(TASK_TYPES)}){hint}")
    return spec


def main_metrics() -> dict[str, str]:
    """Task type -> its main metric (what the policy ranks each type on unless it says otherwise)."""
    return {name: spec.main_metric for name, spec in TASK_TYPES.items()}


def type_of_cell(main_metric: str | None, metrics: Iterable[str] = ()) -> str | None:
    """The task type of a stored quality cell that does not name it (cells from before types were recorded): the
    one type whose main metric is ``main_metric``, or, where several share it (pair classification and
    de-duplication both rank on ``cosine_ap``), the one whose figures are exactly ``metrics``. None when that
    still leaves no single type."""
    found = [s for s in TASK_TYPES.values() if s.main_metric == main_metric]
    if len(found) > 1:
        names = set(metrics)
        found = [s for s in found if set(s.metrics) == names]
    return found[0].name if len(found) == 1 else None


def require_every_type(table: Mapping[str, object], what: str) -> None:
    """Fail (at import, where the table is built) when ``table`` lacks a task type or names one the table lacks."""
    missing = [t for t in TASK_TYPES if t not in table]
    unknown = [t for t in table if t not in TASK_TYPES]
    if missing or unknown:
        raise RuntimeError(f"{what} must have exactly one entry per task type of advisor.config.task_types"
                           + (f"; missing {', '.join(missing)}" if missing else "")
                           + (f"; unknown {', '.join(unknown)}" if unknown else ""))
