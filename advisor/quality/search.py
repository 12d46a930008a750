"""Exact top-k search over stored vectors, in chunks so memory stays bounded whatever the corpus size.

Scores: float32/float16 by dot product, int8 by dot product of the de-quantized values, binary by
``dim - 2 * hamming`` (the dot product of the +-1 vectors, so higher is better for every form). Ties are broken
by the lower document index, deterministically: every (score, index) pair is turned into one unique int64 key, so
a chunked search returns exactly what a full sort would. Optional rescoring re-ranks ``k * rescore_multiplier``
candidates with the float32 query against the stored document vectors (int8 decoded, bits as +-1), as
sentence-transformers' quantized search does; no float copy of the corpus is needed.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from advisor.quality.vectors import VectorSet

DEFAULT_CHUNK_BYTES = 64 * 2**20  # the score block of one (query chunk x document chunk)
_INDEX_BITS = 31
_INDEX_MASK = (1 << _INDEX_BITS) - 1


@dataclass
class SearchResult:
    indices: np.ndarray   # (n_queries, k) int64 document rows, best first
    scores: np.ndarray    # (n_queries, k) float32
    details: dict[str, Any] = field(default_factory=dict)


# -- exact, tie-stable selection through unique integer keys -------------------------------------------------

def _score_keys(scores: np.ndarray, offset: int) -> np.ndarray:
    """int64 keys that sort ascending as (score descending, document index ascending)."""
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32).astype(np.int64)
    ordered = np.where(bits & 0x80000000, 0xFFFFFFFF - bits, bits | 0x80000000)  # monotone in the float value
    idx = np.arange(offset, offset + scores.shape[1], dtype=np.int64)
    return ((0xFFFFFFFF - ordered) << _INDEX_BITS) | idx


def _decode_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = keys & _INDEX_MASK
    ordered = 0xFFFFFFFF - (keys >> _INDEX_BITS)
    bits = np.where(ordered & 0x80000000, ordered & 0x7FFFFFFF, 0xFFFFFFFF - ordered).astype(np.uint32)
    return idx, bits.view(np.float32)


def _smallest(keys: np.ndarray, k: int) -> np.ndarray:
    if keys.shape[1] <= k:
        return keys
    return np.partition(keys, k - 1, axis=1)[:, :k]


# -- score blocks on CPU ------------------------------------------------------------------------------------

def _popcount_words(packed: np.ndarray) -> np.ndarray:
    """Packed bits as uint64 words (zero padded: padding XORs to zero)."""
    nbytes = packed.shape[1]
    pad = (-nbytes) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((len(packed), pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def hamming(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Hamming distances between packed-bit rows: XOR then popcount, 64 bits at a time. (nq, nd) int32."""
    q, d = _popcount_words(queries), _popcount_words(docs)
    out = np.zeros((len(q), len(d)), dtype=np.int32)
    for w in range(q.shape[1]):
        out += np.bitwise_count(q[:, w, None] ^ d[None, :, w]).astype(np.int32)
    return out


def _cpu_block(queries: VectorSet, docs: VectorSet) -> np.ndarray:
    if queries.precision == "binary":
        return (queries.dim - 2 * hamming(queries.data, docs.data)).astype(np.float32)
    return queries.as_float() @ docs.as_float().T


# -- the search ---------------------------------------------------------------------------------------------

def _chunk_sizes(n_queries: int, n_docs: int, dim: int, chunk_bytes: int) -> tuple[int, int]:
    doc_chunk = max(1, min(n_docs, chunk_bytes // (4 * max(dim, 256))))
    query_chunk = max(1, min(n_queries, chunk_bytes // (4 * doc_chunk)))
    return query_chunk, doc_chunk


def search(queries: VectorSet, corpus: VectorSet, k: int, *, rescore_multiplier: int = 0,
           query_float: np.ndarray | None = None, device: str = "cpu", chunk_bytes: int = DEFAULT_CHUNK_BYTES,
           progress: Callable[[int], None] | None = None) -> SearchResult:
    """The exact top-``k`` documents per query. With ``rescore_multiplier`` m > 0 and quantized vectors, the
    first pass keeps ``k * m`` candidates and ``query_float`` (unit float32 queries at the same dim) re-ranks
    them. ``device="cuda"`` runs the score blocks with torch on the GPU, ``"cpu"`` with torch on the CPU (numpy
    when torch is absent), ``"numpy"`` with the reference path that keys every score."""
    if queries.precision != corpus.precision or queries.dim != corpus.dim:
        raise ValueError("queries and corpus must share precision and dim")
    if len(corpus) >= 2**_INDEX_BITS:
        raise ValueError("corpus too large for one search call; shard it")
    k = min(k, len(corpus))
    rescore = rescore_multiplier > 0 and corpus.precision in ("int8", "binary")
    first_k = min(len(corpus), k * rescore_multiplier) if rescore else k
    if device == "cuda" or (device == "cpu" and _torch_available()):
        from advisor.quality._search_torch import torch_topk_keys
        keys = torch_topk_keys(queries, corpus, first_k, chunk_bytes, device=device)
        if progress is not None:
            progress(len(queries))
    else:  # "numpy": the reference path (every score keyed), and the fallback without torch
        keys = _cpu_topk_keys(queries, corpus, first_k, chunk_bytes, progress)
    idx, scores = _decode_keys(np.sort(keys, axis=1))
    details: dict[str, Any] = {"k": k, "device": device, "precision": corpus.precision, "dim": corpus.dim,
                               "rescore_multiplier": rescore_multiplier if rescore else 0}
    if rescore:
        if query_float is None:
            raise ValueError("rescoring needs the float32 queries (query_float)")
        idx, scores = _rescore(np.asarray(query_float, dtype=np.float32), corpus, idx, k)
        details["rescore"] = {"candidates": first_k, "against": f"stored {corpus.precision} document vectors"}
    elif rescore_multiplier > 0:
        details["rescore_note"] = f"no rescoring for {corpus.precision} vectors (already exact)"
    return SearchResult(indices=idx.astype(np.int64), scores=scores.astype(np.float32), details=details)


@functools.lru_cache(maxsize=1)
def _torch_available() -> bool:
    """Looked up once per process: every search asks, and the answer cannot change while it runs."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _cpu_topk_keys(queries: VectorSet, corpus: VectorSet, k: int, chunk_bytes: int,
                   progress: Callable[[int], None] | None) -> np.ndarray:
    qc, dc = _chunk_sizes(len(queries), len(corpus), corpus.dim, chunk_bytes)
    out = []
    for qs in range(0, len(queries), qc):
        q = queries.take(slice(qs, qs + qc))
        if q.precision == "int8":  # decode once per query chunk, not once per block
            q = VectorSet("float32", q.dim, q.as_float())
        best: np.ndarray | None = None
        for ds in range(0, len(corpus), dc):
            d = corpus.take(slice(ds, ds + dc))
            block = _cpu_block(q, d) if q.precision != "float32" else q.data @ d.as_float().T
            keys = _smallest(_score_keys(block, ds), k)
            best = keys if best is None else _smallest(np.concatenate([best, keys], axis=1), k)
        assert best is not None
        out.append(best)
        if progress is not None:
            progress(len(q))
    return np.concatenate(out)


def _rescore(query_float: np.ndarray, corpus: VectorSet, candidates: np.ndarray, k: int,
             chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    idx_out, score_out = [], []
    for qs in range(0, len(candidates), chunk):
        cand = candidates[qs:qs + chunk]
        docs = corpus.as_float(cand.ravel()).reshape(cand.shape[0], cand.shape[1], corpus.dim)
        s = np.einsum("qd,qcd->qc", query_float[qs:qs + chunk], docs)
        # keys over candidate positions keep the tie-break on document index: sort by (score, doc index)
        order = np.lexsort((cand, -s), axis=1)[:, :k]
        idx_out.append(np.take_along_axis(cand, order, axis=1))
        score_out.append(np.take_along_axis(s, order, axis=1))
    return np.concatenate(idx_out), np.concatenate(score_out).astype(np.float32)


def brute_force(queries: VectorSet, corpus: VectorSet, k: int) -> SearchResult:
    """Reference: score every pair at once and fully sort (small inputs; the tests' yardstick)."""
    if corpus.precision == "binary":
        qb = np.unpackbits(queries.data, axis=1, count=queries.dim).astype(np.int32)
        db = np.unpackbits(corpus.data, axis=1, count=corpus.dim).astype(np.int32)
        ham = (qb[:, None, :] != db[None, :, :]).sum(axis=2)
        scores = (corpus.dim - 2 * ham).astype(np.float32)
    else:
        scores = (queries.as_float().astype(np.float64) @ corpus.as_float().astype(np.float64).T).astype(np.float32)
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)[:, :k]
    return SearchResult(order.astype(np.int64), np.take_along_axis(scores, order, axis=1))
