"""GPU score blocks for ``advisor.quality.search`` (torch, imported only when a search asks for cuda).

Same keys as the CPU path, so results are identical up to float rounding: (score descending, index ascending)
packed into one int64. Binary vectors are scored as the dot product of +-1 vectors in float32, which equals
``dim - 2 * hamming`` exactly (integers far below 2**24), and runs on the tensor cores instead of bit loops.
"""

from __future__ import annotations

import numpy as np

from advisor.quality.vectors import VectorSet

_INDEX_BITS = 31


def _keys(torch, scores, offset: int):
    bits = scores.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    ordered = torch.where((bits & 0x80000000) != 0, 0xFFFFFFFF - bits, bits | 0x80000000)
    idx = torch.arange(offset, offset + scores.shape[1], device=scores.device, dtype=torch.int64)
    return ((0xFFFFFFFF - ordered) << _INDEX_BITS) | idx


def torch_topk_keys(queries: VectorSet, corpus: VectorSet, k: int, chunk_bytes: int,
                    device: str = "cuda") -> np.ndarray:
    """Unique (score, row) keys of the top k per query; ``device="cpu"`` runs the same torch code without a GPU
    (how the tests check it on machines that have none)."""
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
            keys = _keys(torch, q_all[qs:qs + query_chunk] @ d.T, ds)
            if best[i] is not None:
                keys = torch.cat([best[i], keys], dim=1)
            best[i] = torch.topk(keys, min(k, keys.shape[1]), dim=1, largest=False, sorted=False).values
        del d
    return np.concatenate([b.cpu().numpy() for b in best])
