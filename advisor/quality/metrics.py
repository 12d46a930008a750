"""Quality figures under mteb's names, computed the way the reference tools compute them.

Retrieval follows trec_eval (as pytrec_eval runs it for mteb): documents are ranked by score, ties broken by
document id *descending*; a document is relevant when its qrel is >= 1; nDCG uses the qrel value as gain and
log2 discount; MAP@k divides by all relevant documents of the query; recall@k likewise; P@k divides by k.
MRR@k is mteb's own (first relevant hit within k). STS correlations follow scipy (Pearson; Spearman with
average ranks for ties). Classification is mteb's evaluator: logistic regression on undersampled training
embeddings, averaged over experiments. Pair classification average precision follows scikit-learn.

Functions return per-item arrays too: the paired bootstrap resamples queries or pairs from them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 100)


# -- retrieval ----------------------------------------------------------------------------------------------

def trec_order(indices: np.ndarray, scores: np.ndarray, doc_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-order each query's hits as trec_eval does: score descending, then document id descending.
    ``doc_rank[i]`` is the position of document i's id in sorted (string) order."""
    order = np.lexsort((-doc_rank[indices], -scores.astype(np.float64)), axis=1)
    return np.take_along_axis(indices, order, axis=1), np.take_along_axis(scores, order, axis=1)


def retrieval_metrics(indices: np.ndarray, scores: np.ndarray, query_ids: Sequence[str], doc_ids: Sequence[str],
                      qrels: Mapping[str, Mapping[str, int]], k_values: Sequence[int] = K_VALUES,
                      ) -> tuple[dict[str, float], dict[str, np.ndarray], list[str]]:
    """Mean metrics, per-query arrays (same names) and the ids of the evaluated queries (those with qrels).

    ``indices``/``scores``: (n_queries, depth) from ``advisor.quality.search``, one row per ``query_ids`` entry."""
    doc_ids = list(doc_ids)
    doc_rank = np.empty(len(doc_ids), dtype=np.int64)
    doc_rank[np.argsort(np.array(doc_ids, dtype=object))] = np.arange(len(doc_ids))
    indices, scores = trec_order(np.asarray(indices), np.asarray(scores), doc_rank)
    depth = indices.shape[1]
    rows = [i for i, q in enumerate(query_ids) if q in qrels]
    evaluated = [query_ids[i] for i in rows]
    n = len(rows)
    gains = np.zeros((n, depth), dtype=np.float64)
    n_rel = np.zeros(n, dtype=np.float64)
    kmax = max(k_values)
    ideal = np.zeros((n, kmax), dtype=np.float64)
    for j, i in enumerate(rows):
        judged = qrels[query_ids[i]]
        for r, d in enumerate(indices[i]):
            g = judged.get(doc_ids[d], 0)
            if g > 0:
                gains[j, r] = g
        positive = sorted((g for g in judged.values() if g > 0), reverse=True)
        n_rel[j] = len(positive)
        ideal[j, :min(kmax, len(positive))] = positive[:kmax]
    relevant = (gains > 0).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(2, max(depth, kmax) + 2))
    cum_rel = np.cumsum(relevant, axis=1)
    precision_at_rank = cum_rel / np.arange(1, depth + 1)
    safe_rel = np.where(n_rel > 0, n_rel, 1.0)
    first_hit = np.where(relevant.any(axis=1), relevant.argmax(axis=1), depth)
    per_query: dict[str, np.ndarray] = {}
    for k in k_values:
        kk = min(k, depth)
        dcg = (gains[:, :kk] * discount[:kk]).sum(axis=1)
        idcg = (ideal[:, :k] * discount[:k]).sum(axis=1)
        hits = cum_rel[:, kk - 1] if kk > 0 else np.zeros(n)
        per_query[f"ndcg_at_{k}"] = np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)
        per_query[f"map_at_{k}"] = np.where(n_rel > 0, (precision_at_rank[:, :kk] * relevant[:, :kk]).sum(axis=1)
                                            / safe_rel, 0.0)
        per_query[f"recall_at_{k}"] = np.where(n_rel > 0, hits / safe_rel, 0.0)
        per_query[f"precision_at_{k}"] = hits / k
        per_query[f"mrr_at_{k}"] = np.where(first_hit < kk, 1.0 / (first_hit + 1.0), 0.0)
    means = {name: float(v.mean()) if n else float("nan") for name, v in per_query.items()}
    return means, per_query, evaluated


def position_weighted_score(ratings: np.ndarray, k: int | None = None) -> np.ndarray:
    """Per-query average of rater scores over the top k, weighted by 1/log2(rank + 1) like DCG (for unlabeled
    data: the higher a well-rated document sits, the more it counts). ``ratings``: (n_queries, depth) in [0, 1]."""
    r = np.asarray(ratings, dtype=np.float64)[:, :k]
    w = 1.0 / np.log2(np.arange(2, r.shape[1] + 2))
    return (r * w).sum(axis=1) / w.sum()


# -- STS -----------------------------------------------------------------------------------------------------

def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along the last axis, as scipy.stats.rankdata(method='average'); works on 2-D
    batches so the bootstrap ranks all its resamples at once."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty_like(flat)
    m = flat.shape[1]
    order = np.argsort(flat, axis=1, kind="stable")
    sorted_x = np.take_along_axis(flat, order, axis=1)
    new_group = np.ones_like(sorted_x, dtype=bool)
    new_group[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    pos = np.broadcast_to(np.arange(1, m + 1, dtype=np.float64), flat.shape)
    for row in range(flat.shape[0]):
        starts = np.flatnonzero(new_group[row])
        ends = np.append(starts[1:], m)
        avg = (pos[row, starts] + pos[row, ends - 1]) / 2.0
        out[row, order[row]] = np.repeat(avg, ends - starts)
    return out.reshape(x.shape)


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis (scalar for 1-D input)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xm = x - x.mean(axis=-1, keepdims=True)
    ym = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xm * xm).sum(axis=-1) * (ym * ym).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xm * ym).sum(axis=-1) / den


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return pearson(rankdata(x), rankdata(y))


def sts_metrics(similarity: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return {"cosine_spearman": float(spearman(similarity, gold)), "cosine_pearson": float(pearson(similarity, gold))}


# -- pair classification ---------------------------------------------------------------------------------------

def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision as scikit-learn computes it: one step per distinct score (ties share a threshold)."""
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last row of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_accuracy_f1(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Best accuracy and F1 over thresholds that do not split tied scores (mteb's pair classification)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    n, n_pos = len(y), int(y.sum())
    cut = np.flatnonzero(s[:-1] != s[1:])  # threshold after row i
    tp = np.cumsum(y)[cut]
    taken = cut + 1
    acc = (tp + (n - n_pos) - (taken - tp)) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = tp / taken
        rec = tp / max(n_pos, 1)
        f1 = np.where(tp > 0, 2 * prec * rec / (prec + rec), 0.0)
    best_f1 = int(np.argmax(f1)) if len(f1) else None
    return {"accuracy": float(acc.max()) if len(acc) else 0.0,
            "f1": float(f1[best_f1]) if best_f1 is not None else 0.0,
            "precision": float(prec[best_f1]) if best_f1 is not None and f1[best_f1] > 0 else 0.0,
            "recall": float(rec[best_f1]) if best_f1 is not None and f1[best_f1] > 0 else 0.0}


def pair_classification_metrics(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> tuple[dict[str, float],
                                                                                             np.ndarray]:
    """mteb's figures for unit vectors ``a``/``b``: cosine, dot, euclidean and manhattan scores, each with
    accuracy, f1, precision, recall, ap; and ``max_*`` over them. Returns the metrics and the cosine scores."""
    cos = np.einsum("ij,ij->i", a, b).astype(np.float64)
    scores = {"cosine": cos, "dot": cos,
              "euclidean": -np.linalg.norm(a - b, axis=1).astype(np.float64),
              "manhattan": -np.abs(a - b).sum(axis=1).astype(np.float64)}
    out: dict[str, float] = {}
    for name, s in scores.items():
        vals = best_accuracy_f1(s, labels)
        vals["ap"] = average_precision(labels, s)
        for metric, v in vals.items():
            out[f"{name}_{metric}"] = v
    for metric in ("accuracy", "f1", "precision", "recall", "ap"):
        out[f"max_{metric}"] = max(out[f"{name}_{metric}"] for name in scores)
    return out, cos


# -- classification (mteb's AbsTaskClassification) ----------------------------------------------------------------

def undersample(labels: Sequence[str], n_experiments: int, samples_per_label: int, seed: int) -> list[list[int]]:
    """The training rows of each experiment, drawn exactly as mteb draws them (a fresh RandomState(seed) shuffles
    the previous experiment's order again; the first ``samples_per_label`` rows of each label are kept)."""
    idxs = list(range(len(labels)))
    chosen = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(idxs)
        count: dict[str, int] = {}
        picked = []
        for i in idxs:
            if count.get(labels[i], 0) < samples_per_label:
                picked.append(i)
                count[labels[i]] = count.get(labels[i], 0) + 1
        chosen.append(picked)
    return chosen


def classification_metrics(train_x: np.ndarray, train_y: Sequence[str], test_x: np.ndarray, test_y: Sequence[str],
                           *, n_experiments: int = 10, samples_per_label: int = 8, seed: int = 42,
                           max_iter: int = 100) -> tuple[dict[str, float], np.ndarray]:
    """mteb's classification figures (means over experiments) and, per test item, the share of experiments that
    classified it correctly (its mean is the accuracy: what the bootstrap resamples)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    train_y = list(train_y)
    test_arr = np.asarray(list(test_y))
    per_item = np.zeros(len(test_arr))
    runs: dict[str, list[float]] = {k: [] for k in ("accuracy", "f1", "f1_weighted", "precision",
                                                    "precision_weighted", "recall", "recall_weighted")}
    for picked in undersample(train_y, n_experiments, samples_per_label, seed):
        clf = LogisticRegression(max_iter=max_iter, random_state=seed)
        clf.fit(train_x[picked], [train_y[i] for i in picked])
        pred = clf.predict(test_x)
        per_item += pred == test_arr
        runs["accuracy"].append(accuracy_score(test_arr, pred))
        for avg, suffix in (("macro", ""), ("weighted", "_weighted")):
            runs["f1" + suffix].append(f1_score(test_arr, pred, average=avg))
            runs["precision" + suffix].append(precision_score(test_arr, pred, average=avg, zero_division=0))
            runs["recall" + suffix].append(recall_score(test_arr, pred, average=avg, zero_division=0))
    return {k: float(np.mean(v)) for k, v in runs.items()}, per_item / n_experiments
