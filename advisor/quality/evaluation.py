"""Quality of one variant of one model on one task, from embeddings computed once.

``evaluate_embeddings`` is the contract the sweep runner calls: full-size float32 embeddings per text set in,
every figure under mteb's name out, with the per-item values of the main figure (for the paired bootstrap) and
a bootstrap interval for every figure. ``evaluate_model`` encodes each text set of a task once and evaluates
every requested (dim, vector precision) from those same embeddings.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from advisor.config.task_types import require_every_type, task_type
from advisor.quality import bootstrap as boot
from advisor.quality.metrics import (K_VALUES, classification_metrics, pair_classification_metrics, position_weighted_score,
                      retrieval_metrics, sts_metrics)
from advisor.quality.search import search
from advisor.models.variants import Variant, bytes_per_vector
from advisor.quality.vectors import VectorSet, derive, pair_similarity

if TYPE_CHECKING:
    from advisor.models.backends import Encoder
    from advisor.quality.raters import Rater
    from advisor.datasets.tasks import Task

@dataclass
class QualityResult:
    """Figures under mteb's names; ``per_item`` holds the main figure's per-query (or per-pair) values: the
    score itself for mean figures, the similarity for correlation and AP figures (``details['bootstrap']``
    names the statistic and carries the gold values)."""

    metrics: dict[str, float]
    main_metric: str
    per_item: list[float]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def main_score(self) -> float:
        return self.metrics[self.main_metric]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _search_device(variant: Variant) -> str:
    if variant.device != "cuda":
        return "cpu"
    import sys
    torch = sys.modules.get("torch")
    return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"


def evaluate_embeddings(task: "Task", embeddings: dict[str, np.ndarray], variant: Variant, *,
                        rescore_multiplier: int = 0, k_values: tuple[int, ...] = K_VALUES,
                        resamples: int = boot.DEFAULT_RESAMPLES, seed: int = boot.DEFAULT_SEED,
                        rater: "Rater | None" = None) -> QualityResult:
    """Truncate, re-normalize and quantize per ``variant`` (never re-encode), then score the task with its type's
    evaluator (``EVALUATORS``); ``details['task_type']`` records the type, so the ranking never has to guess it."""
    spec = task_type(task.type)
    missing = set(task.text_sets()) - set(embeddings)
    if missing:
        raise ValueError(f"embeddings for text set(s) {sorted(missing)} of task {task.name} are missing")
    t0 = time.perf_counter()
    vecs = derive(embeddings, variant.dim, variant.vector_precision,
                  calibrate_on="corpus" if "corpus" in embeddings else None)
    dim = next(iter(vecs.values())).dim
    details: dict[str, Any] = {"task_type": task.type, "variant": variant.to_dict(), "dim": dim,
                               "bytes_per_vector": bytes_per_vector(dim, variant.vector_precision),
                               "bootstrap": {"statistic": "mean", "resamples": resamples, "seed": seed,
                                             "level": boot.DEFAULT_LEVEL}}
    if task.meta.get("synthetic"):  # judgements built from the corpus: the report's headline says so
        details["synthetic"] = task.meta["synthetic"]
    cal = next(iter(vecs.values())).calibration
    if cal is not None:
        details["int8_calibration"] = cal.to_dict()
    timing: dict[str, float] = {"quantize_s": time.perf_counter() - t0}
    metrics, per_item, cis = EVALUATORS[task.type](task, vecs, variant, details, timing,
                                                   rescore_multiplier=rescore_multiplier, k_values=k_values,
                                                   resamples=resamples, seed=seed, rater=rater)
    details["ci"] = {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in cis.items()} if resamples > 0 else {}
    timing["total_s"] = time.perf_counter() - t0
    details["timing"] = {k: round(v, 4) for k, v in timing.items()}
    return QualityResult(metrics=metrics, main_metric=spec.main_metric,
                         per_item=[float(v) for v in per_item], details=details)


def _retrieval(task, vecs: dict[str, VectorSet], variant, details, timing, *, rescore_multiplier, k_values,
               resamples, seed, rater):
    data = task.data
    query_ids, doc_ids = list(data.queries), list(data.corpus)
    t = time.perf_counter()
    query_float = vecs["queries"].unit_float() if rescore_multiplier and vecs["queries"].precision in (
        "int8", "binary") else None
    # search the corpus in document-id-descending order: the search breaks ties by the lower row, so the top k
    # is then exactly the head of trec_eval's full ranking (score descending, id descending), ties included
    order = np.argsort(np.array(doc_ids, dtype=object))[::-1].astype(np.int64)
    res = search(vecs["queries"], vecs["corpus"].take(order), max(k_values), rescore_multiplier=rescore_multiplier,
                 query_float=query_float, device=_search_device(variant))
    res.indices = order[res.indices]
    timing["search_s"] = time.perf_counter() - t
    details["search"] = res.details
    details["rescore_multiplier"] = res.details["rescore_multiplier"]
    t = time.perf_counter()
    if task_type(task.type).rated:  # no judgements: a rater scores what was retrieved
        from advisor.quality.raters import rate_results
        metrics, per_query, rating_details = rate_results(task, res.indices, rater=rater, k_values=k_values)
        details["rater"] = rating_details
    else:
        metrics, per_query, evaluated = retrieval_metrics(res.indices, res.scores, query_ids, doc_ids, data.qrels,
                                                          k_values)
        details["n_queries"] = len(evaluated)
        details["n_queries_without_qrels"] = len(query_ids) - len(evaluated)
        details["query_ids"] = evaluated
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    spec = task_type(task.type)
    units = _record_units(details, boot.items(len(per_query[spec.main_metric]), spec.unit))  # the query
    cis = boot.many_mean_ci(per_query, resamples=resamples, seed=seed, units=units)
    timing["bootstrap_s"] = time.perf_counter() - t
    return metrics, per_query[spec.main_metric], cis


def _sts(task, vecs, variant, details, timing, *, resamples, seed, **_):
    t = time.perf_counter()
    sim = pair_similarity(vecs["sentence1"], vecs["sentence2"])
    gold = np.asarray(task.data.scores, dtype=np.float64)
    metrics = sts_metrics(sim, gold)
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    # pairs that share a sentence are not independent: resample their groups, or their sentences
    units = _record_units(details, boot.units_of_texts(task.data.sentence1, task.data.sentence2,
                                                       task_type(task.type).unit))
    cis = {"cosine_spearman": boot.main_ci(sim, "spearman", gold, resamples=resamples, seed=seed, units=units),
           "cosine_pearson": boot.main_ci(sim, "pearson", gold, resamples=resamples, seed=seed, units=units)}
    timing["bootstrap_s"] = time.perf_counter() - t
    details["n_pairs"] = len(sim)
    details["bootstrap"].update(statistic="spearman", reference=gold.tolist())
    return metrics, sim, cis


def _classification(task, vecs, variant, details, timing, *, resamples, seed, **_):
    t = time.perf_counter()
    # mteb's evaluator with the task's own few-shot settings when it has them (an MTEB task: 8 per label, 10
    # experiments); a user's dataset trains on all its training rows once, as advisor.datasets.to_mteb_task does
    meta = task.meta or {}
    labels = list(task.data.train_labels)
    largest = max(labels.count(x) for x in set(labels))
    spl = meta.get("samples_per_label")
    opts = {"n_experiments": int(meta.get("n_experiments", 1 if spl is None else 10)),
            "samples_per_label": int(spl if spl is not None else largest), "seed": int(meta.get("seed", 42))}
    metrics, per_item = classification_metrics(vecs["train"].unit_float(), task.data.train_labels,
                                               vecs["test"].unit_float(), task.data.test_labels, **opts)
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    # a text repeated in the test set is one unit, however many rows hold it
    units = _record_units(details, boot.units_of_texts(task.data.test_texts, None, task_type(task.type).unit))
    cis = {"accuracy": boot.mean_ci(per_item, resamples=resamples, seed=seed, units=units)}
    timing["bootstrap_s"] = time.perf_counter() - t
    details["classifier"] = {"model": "LogisticRegression(max_iter=100)", **opts}
    details["n_test"] = len(per_item)
    return metrics, per_item, cis


def _pair(task, vecs, variant, details, timing, *, resamples, seed, **_):
    t = time.perf_counter()
    labels = np.asarray(task.data.labels, dtype=np.int64)
    metrics, cos = pair_classification_metrics(vecs["text1"].unit_float(), vecs["text2"].unit_float(), labels)
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    units = _record_units(details, boot.units_of_texts(task.data.text1, task.data.text2, task_type(task.type).unit))
    cis = {"cosine_ap": boot.main_ci(cos, "average_precision", labels, resamples=resamples, seed=seed, units=units)}
    timing["bootstrap_s"] = time.perf_counter() - t
    details["n_pairs"] = len(cos)
    details["bootstrap"].update(statistic="average_precision", reference=labels.tolist())
    return metrics, cos, cis


def _clustering(task, vecs, variant, details, timing, *, resamples, seed, **_):
    from advisor.quality.clustering import clustering_metrics

    t = time.perf_counter()
    metrics, predicted = clustering_metrics(vecs["texts"].unit_float(), task.data.labels)
    timing["metrics_s"] = time.perf_counter() - t
    # V-measure is a property of the whole assignment, not a mean over items: per item is whether the text's
    # cluster is the one most of its gold group landed in (for the bootstrap's paired comparison), no interval
    labels = np.asarray(task.data.labels, dtype=object)
    majority = {g: np.bincount(predicted[labels == g]).argmax() for g in set(task.data.labels)}
    per_item = np.array([float(predicted[i] == majority[g]) for i, g in enumerate(task.data.labels)])
    details["n_texts"] = len(labels)
    details["n_clusters"] = len(majority)
    details["clustering"] = {"algorithm": "MiniBatchKMeans", "batch_size": 500, "n_init": "auto", "seed": 42}
    details["bootstrap"].update(statistic="majority_cluster_share")
    return metrics, per_item, {}


def _reranking(task, vecs, variant, details, timing, *, k_values, resamples, seed, **_):
    """Each query's candidates ordered by cosine, scored as retrieval over that list (mteb reranks the same
    way): MAP (``map_at_1000``, mteb's main reranking figure) and ``mrr_at_10`` among the rest. Documents
    outside the list are never ranked; short lists are padded with a document no query judges."""
    data = task.data
    k_values = tuple(sorted({*k_values, 1000}))
    t = time.perf_counter()
    query_ids, doc_ids = list(data.queries), list(data.corpus)
    row_of = {d: i for i, d in enumerate(doc_ids)}
    pad = len(doc_ids)
    q = vecs["queries"].unit_float()
    c = vecs["corpus"].unit_float()
    depth = max(len(data.candidates.get(qid, ())) for qid in query_ids)
    indices = np.full((len(query_ids), depth), pad, dtype=np.int64)
    scores = np.full((len(query_ids), depth), -np.inf, dtype=np.float64)
    for i, qid in enumerate(query_ids):
        rows = np.array([row_of[d] for d in data.candidates.get(qid, ())], dtype=np.int64)
        if len(rows):
            indices[i, :len(rows)] = rows
            scores[i, :len(rows)] = c[rows] @ q[i]
    scores = np.where(np.isfinite(scores), scores, -1e9)
    metrics, per_query, evaluated = retrieval_metrics(indices, scores, query_ids, doc_ids + ["\uffffpad"],
                                                      data.qrels, k_values)
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    units = _record_units(details, boot.items(len(evaluated), task_type(task.type).unit))  # the query
    cis = boot.many_mean_ci(per_query, resamples=resamples, seed=seed, units=units)
    timing["bootstrap_s"] = time.perf_counter() - t
    details["n_queries"] = len(evaluated)
    sizes = [len(data.candidates.get(qid, ())) for qid in evaluated]
    details["n_candidates"] = {"min": min(sizes, default=0), "max": max(sizes, default=0)}
    details["query_ids"] = evaluated
    return metrics, per_query[task_type("reranking").main_metric], cis


def _deduplication(task, vecs, variant, details, timing, *, resamples, seed, **_):
    """Every pair of the corpus scored by cosine: best-threshold F1 and average precision as mteb's pair
    classification computes them, and the cosine threshold that gives that F1 (what a user would set)."""
    from advisor.datasets.deduplication import all_pairs
    from advisor.quality.metrics import average_precision, best_accuracy_f1

    t = time.perf_counter()
    left, right, pair_labels = all_pairs(task.data)
    unit = vecs["texts"].unit_float()
    cos = np.einsum("ij,ij->i", unit[left], unit[right]).astype(np.float64)
    labels = np.asarray(pair_labels, dtype=np.int64)
    best = best_accuracy_f1(cos, labels)
    metrics = {f"cosine_{k}": v for k, v in best.items()}
    metrics["cosine_ap"] = average_precision(labels, cos)
    metrics["cosine_f1_threshold"] = _best_f1_threshold(cos, labels)
    timing["metrics_s"] = time.perf_counter() - t
    t = time.perf_counter()
    # every pair of the corpus: each text is in every pair it could be in, so the texts are what is resampled
    texts = task.data.texts
    units = _record_units(details, boot.units_of_texts([texts[i] for i in left], [texts[j] for j in right],
                                                       task_type(task.type).unit))
    cis = {"cosine_ap": boot.main_ci(cos, "average_precision", labels, resamples=resamples, seed=seed,
                                     units=units)} if resamples > 0 else {}
    timing["bootstrap_s"] = time.perf_counter() - t
    details["n_texts"] = len(task.data.texts)
    details["n_pairs"] = len(cos)
    details["n_duplicates"] = int(labels.sum())
    details["bootstrap"].update(statistic="average_precision", reference=labels.tolist())
    return metrics, cos, cis


def _record_units(details: dict[str, Any], units: boot.Units) -> boot.Units:
    """Record what the bootstrap resamples: ``details['bootstrap']`` gets ``scheme``, ``unit``, ``n_units`` and
    ``n_items``; ``details['bootstrap_units']`` the item-to-unit map (for the paired comparison of stored cells)."""
    details["bootstrap"].update(units.summary())
    mapping = units.mapping()
    if mapping:
        details["bootstrap_units"] = mapping
    return units


def _best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cosine cut (midway between two neighbouring distinct scores) at which F1 is best."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    cut = np.flatnonzero(s[:-1] != s[1:])
    if not len(cut):
        return float(s[0]) if len(s) else 0.0
    tp = np.cumsum(y)[cut]
    taken = cut + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * tp / (taken + max(int(y.sum()), 1)), 0.0)
    i = cut[int(np.argmax(f1))]
    return float((s[i] + s[i + 1]) / 2)


# The quality layer's half of the task-type table (advisor.config.task_types): each type's evaluation function,
# ``(task, vectors, variant, details, timing, **options) -> (metrics, per-item values of the main metric, intervals)``.
EVALUATORS: dict[str, Callable[..., tuple[dict[str, float], Any, dict[str, tuple[float, float]]]]] = {
    "retrieval": _retrieval, "unlabeled_retrieval": _retrieval, "sts": _sts, "classification": _classification,
    "pair_classification": _pair, "clustering": _clustering, "deduplication": _deduplication,
    "reranking": _reranking}
require_every_type(EVALUATORS, "advisor.quality.evaluation.EVALUATORS")


# -- encode once, evaluate every variant ---------------------------------------------------------------------------

EncodeProgress = Callable[[str, int, int], None]  # (text set name, texts done, texts in the set)


def truncation_share(encoder: "Encoder", task: "Task") -> dict[str, Any]:
    """How many texts of each set reach the model's max tokens (so are cut there, or end exactly at it): the
    share a long-document task loses to truncation. Empty when the encoder cannot count tokens."""
    limit = getattr(encoder, "max_tokens", None) or getattr(encoder, "max_length", None)  # torch / fast path
    if not isinstance(limit, int) or limit <= 0:
        return {}
    out: dict[str, Any] = {"max_tokens": limit, "sets": {}}
    for name, text_set in task.text_sets().items():
        texts = list(dict.fromkeys(text_set.texts))
        counts = encoder.count_tokens(texts) if texts else []
        if counts is None:
            return {}
        at_limit = sum(1 for c in counts if c >= limit)
        out["sets"][name] = {"texts": len(texts), "truncated": at_limit,
                             "share": round(at_limit / len(texts), 6) if texts else 0.0}
    return out


def encode_task(encoder: "Encoder", task: "Task", *, batch_size: int = 32, notes: list[str] | None = None,
                progress: EncodeProgress | None = None,
                truncation: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    """Every text set of ``task`` at the model's full size, through ``advisor.models.encode.encode_texts``: each
    distinct text of a kind (query or document) is encoded once, whatever the number of sets and rows it appears
    in (STS pairs repeat sentences), and an out-of-memory error halves the batch (noted in ``notes``).
    Returns the embeddings, seconds per set, and the batch size that worked. A ``truncation`` dict is filled with
    :func:`truncation_share` (for the cells' details)."""
    from advisor.models.encode import encode_texts

    if truncation is not None:
        try:
            truncation.update(truncation_share(encoder, task))
        except Exception as exc:  # noqa: BLE001 - a count that fails must not fail the evaluation
            truncation["error"] = f"{type(exc).__name__}: {exc}"

    embeddings, seconds = {}, {}
    seen: dict[str, dict[str, np.ndarray]] = {}
    for name, text_set in task.text_sets().items():
        table = seen.setdefault(text_set.kind, {})
        todo = list(dict.fromkeys(t for t in text_set.texts if t not in table))
        done = 0

        def step(n: int, name: str = name, total: int = len(todo)) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(name, done, total)

        t = time.perf_counter()
        if todo:
            vectors, batch_size = encode_texts(encoder, todo, kind=text_set.kind, batch_size=batch_size,
                                               notes=notes, progress=step)
            table.update(zip(todo, vectors))
        embeddings[name] = np.stack([table[t] for t in text_set.texts]) if text_set.texts else \
            np.zeros((0, encoder.embed_dim), dtype=np.float32)
        seconds[name] = time.perf_counter() - t
    return embeddings, seconds, batch_size


def evaluate_model(encoder: "Encoder", task: "Task", variants: Iterable[Variant], *, batch_size: int = 32,
                   rescore_multiplier: int = 0, progress: EncodeProgress | None = None,
                   **kwargs: Any) -> dict[Variant, QualityResult]:
    """Encode each text set once, then evaluate every variant (dims and vector precisions) from it. The encoder
    fixes device and weight precision; the variants' other axes are derived. Each result's
    ``details['timing']`` holds the shared encode seconds beside its own harness seconds."""
    truncation: dict[str, Any] = {}
    embeddings, encode_s, _ = encode_task(encoder, task, batch_size=batch_size, progress=progress,
                                          truncation=truncation)
    results = {}
    for variant in variants:
        result = evaluate_embeddings(task, embeddings, variant, rescore_multiplier=rescore_multiplier, **kwargs)
        result.details["timing"]["encode_s"] = {k: round(v, 4) for k, v in encode_s.items()}
        if truncation:
            result.details["truncation"] = truncation
        results[variant] = result
    return results
