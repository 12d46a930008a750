"""Hard negatives mined with the model itself: for each training query, the highest-scoring documents that are not
relevant to it. The search runs in blocks of queries x documents, so memory stays bounded by
``query_block * (doc_block + depth)`` scores whatever the corpus size.

False-negative filter: an unlabelled document that scores almost as high as (or higher than) the query's positive
is more likely an unlabelled positive than a negative. A candidate is kept only if
``score < max_ratio * positive_score`` and ``score < positive_score - margin``; documents with the same text as a
positive are never negatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MiningStats:
    queries: int = 0
    mined: int = 0               # negatives taken from the search
    filled_random: int = 0       # negatives drawn at random because too few candidates passed the filter
    rejected_as_false_negative: int = 0
    positive_score_mean: float = 0.0
    negative_score_mean: float = 0.0
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def top_k_blocked(queries: np.ndarray, corpus: np.ndarray, k: int, *, query_block: int = 512,
                  doc_block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores (dot products, best first) of the ``k`` best documents per query, block by block."""
    n_q, n_d = len(queries), len(corpus)
    k = min(k, n_d)
    top_idx = np.empty((n_q, k), dtype=np.int64)
    top_score = np.empty((n_q, k), dtype=np.float32)
    for qs in range(0, n_q, query_block):
        q = queries[qs:qs + query_block]
        best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(q), 0), dtype=np.int64)
        for ds in range(0, n_d, doc_block):
            scores = q @ corpus[ds:ds + doc_block].T
            idx = np.broadcast_to(np.arange(ds, ds + scores.shape[1]), scores.shape)
            cand_s = np.concatenate([best_s, scores], axis=1)
            cand_i = np.concatenate([best_i, idx], axis=1)
            if cand_s.shape[1] > k:
                part = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
                cand_s = np.take_along_axis(cand_s, part, axis=1)
                cand_i = np.take_along_axis(cand_i, part, axis=1)
            best_s, best_i = cand_s, cand_i
        order = np.argsort(-best_s, axis=1, kind="stable")
        top_idx[qs:qs + len(q)] = np.take_along_axis(best_i, order, axis=1)
        top_score[qs:qs + len(q)] = np.take_along_axis(best_s, order, axis=1)
    return top_idx, top_score


def mine_negatives(query_emb: np.ndarray, corpus_emb: np.ndarray, positives: list[list[int]], *,
                   num_negatives: int = 1, depth: int = 50, max_ratio: float = 0.95, margin: float = 0.0,
                   corpus_texts: list[str] | None = None, seed: int = 0, query_block: int = 512,
                   doc_block: int = 8192) -> tuple[list[list[int]], MiningStats]:
    """``positives[i]`` are the corpus indices relevant to query ``i`` (the first one is the training positive).
    Returns ``num_negatives`` corpus indices per query: the best-scoring candidates that pass the filter, topped up
    at random among non-relevant documents when too few pass (counted in the stats)."""
    rng = np.random.default_rng(seed)
    q = np.ascontiguousarray(query_emb, dtype=np.float32)
    c = np.ascontiguousarray(corpus_emb, dtype=np.float32)
    top_idx, top_score = top_k_blocked(q, c, depth + max((len(p) for p in positives), default=0),
                                       query_block=query_block, doc_block=doc_block)
    text_of = corpus_texts
    stats = MiningStats(queries=len(q), settings={"num_negatives": num_negatives, "depth": depth,
                                                  "max_ratio": max_ratio, "margin": margin})
    out: list[list[int]] = []
    pos_scores, neg_scores = [], []
    for i, pos in enumerate(positives):
        pos_set = set(pos)
        pos_score = float(q[i] @ c[pos[0]])
        pos_scores.append(pos_score)
        pos_texts = {text_of[p] for p in pos} if text_of is not None else set()
        limit = min(max_ratio * pos_score if pos_score > 0 else pos_score, pos_score - margin)
        chosen: list[int] = []
        for j, s in zip(top_idx[i], top_score[i]):
            j = int(j)
            if j in pos_set or (text_of is not None and text_of[j] in pos_texts):
                continue
            if s >= limit:
                stats.rejected_as_false_negative += 1
                continue
            chosen.append(j)
            neg_scores.append(float(s))
            if len(chosen) == num_negatives:
                break
        stats.mined += len(chosen)
        taken = pos_set | set(chosen)
        if len(chosen) < num_negatives and len(c) - len(taken) > 0:
            pool = np.setdiff1d(np.arange(len(c)), np.fromiter(taken, dtype=np.int64))
            extra = rng.choice(pool, size=min(num_negatives - len(chosen), len(pool)), replace=False)
            chosen.extend(int(x) for x in extra)
            stats.filled_random += len(extra)
        out.append(chosen)
    stats.positive_score_mean = float(np.mean(pos_scores)) if pos_scores else 0.0
    stats.negative_score_mean = float(np.mean(neg_scores)) if neg_scores else 0.0
    return out, stats
