"""Score blocks for ``advisor.quality.search`` in torch: on the GPU, and on the CPU where torch's threaded matmul
and top-k beat numpy's single-threaded selection (imported only when a search runs).

Same keys as the numpy reference path, so results are identical up to float rounding: (score descending, index
ascending) packed into one int64. Binary vectors are scored as the dot product of +-1 vectors in float32, which
equals ``dim - 2 * hamming`` exactly (integers far below 2**24), and runs on the tensor cores instead of bit loops.

Selection per block: ``topk`` on the float scores picks k candidates; only rows where the k-th score is tied with
a score outside those k are keyed in full, so a tie still goes to the lower row exactly as a full sort would.
Keying every score (the reference path) costs several passes over 8-byte integers per score; this costs one.
"""

from __future__ import annotations

import numpy as np

from advisor.quality.vectors import VectorSet

_INDEX_BITS = 31


def _keys_of(torch, scores, rows):
    """Keys of ``scores`` whose document rows are ``rows`` (same shape, or one row broadcast)."""
    bits = scores.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    ordered = torch.where((bits & 0x80000000) != 0, 0xFFFFFFFF - bits, bits | 0x80000000)
    return ((0xFFFFFFFF - ordered) << _INDEX_BITS) | rows


def _keys(torch, scores, offset: int):
    rows = torch.arange(offset, offset + scores.shape[1], device=scores.device, dtype=torch.int64)
    return _keys_of(torch, scores, rows)


def _block_top_keys(torch, scores, offset: int, k: int):
    """The k smallest keys of one (queries x documents) score block, without keying every score."""
    if scores.shape[1] <= k:
        return _keys(torch, scores, offset)
    values, rows = torch.topk(scores, k + 1, dim=1, largest=True, sorted=True)
    keys = _keys_of(torch, values[:, :k], rows[:, :k] + offset)
    tied = values[:, k] >= values[:, k - 1]  # the first score left out equals the k-th: settle by row, in full
    if bool(tied.any()):
        where = tied.nonzero().squeeze(1)
        full = _keys(torch, scores[where], offset)
        keys[where] = torch.topk(full, k, dim=1, largest=False, sorted=False).values
    return keys


def torch_topk_keys(queries: VectorSet, corpus: VectorSet, k: int, chunk_bytes: int,
                    device: str = "cuda") -> np.ndarray:
    """Unique (score, row) keys of the top k per query, on ``device`` ("cuda" or "cpu")."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        from advisor.errors import UserError
        raise UserError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
    dev = torch.device(device)
    doc_chunk = max(1, min(len(corpus), chunk_bytes // (4 * max(corpus.dim, 256))))
    query_chunk = max(1, min(len(queries), chunk_bytes // (4 * doc_chunk)))
    q_all = torch.from_numpy(np.ascontiguousarray(queries.as_float())).to(dev)
    starts = list(range(0, len(queries), query_chunk))
    best: list = [None] * len(starts)
    # documents outer: each document chunk is decoded and copied to the GPU once; the running top-k of every
    # query chunk stays on the GPU (n_queries x k keys)
    for ds in range(0, len(corpus), doc_chunk):
        d = torch.from_numpy(np.ascontiguousarray(corpus.as_float(slice(ds, ds + doc_chunk)))).to(dev)
        for i, qs in enumerate(starts):
            keys = _block_top_keys(torch, q_all[qs:qs + query_chunk] @ d.T, ds, k)
            if best[i] is not None:
                keys = torch.cat([best[i], keys], dim=1)
            best[i] = torch.topk(keys, min(k, keys.shape[1]), dim=1, largest=False, sorted=False).values
        del d
    return np.concatenate([b.cpu().numpy() for b in best])
