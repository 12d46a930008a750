"""What the vectors cost to keep and to rebuild: bytes per vector and index size at each output dimension and
vector precision, a monthly storage cost at a stated price, and re-embedding time from the measured throughput.

The index size is the raw vector payload (n x bytes per vector); an ANN index adds its graph or lists on top,
which depends on the index type and is not estimated here.
"""

from __future__ import annotations

from typing import Iterable

from advisor.models.variants import VECTOR_PRECISIONS, bytes_per_vector

DEFAULT_PRICE_PER_GB_MONTH = 0.10  # an assumption (USD per GB-month of block storage); pass your own


def default_dims(full: int, trained: Iterable[int] = ()) -> list[int]:
    """The full size, any trained (Matryoshka) sizes, and halvings down to 64."""
    dims = {int(full), *(int(d) for d in trained if 0 < int(d) <= full)}
    d = full // 2
    while d >= 64:
        dims.add(d)
        d //= 2
    return sorted(dims, reverse=True)


def index_table(n_vectors: int, dims: Iterable[int], *, precisions: Iterable[str] = VECTOR_PRECISIONS,
                price_per_gb_month: float = DEFAULT_PRICE_PER_GB_MONTH) -> list[dict]:
    """One row per (dim, vector precision): bytes per vector, index MB for ``n_vectors``, MB and monthly cost per
    million vectors."""
    rows = []
    for dim in dims:
        for precision in precisions:
            bpv = bytes_per_vector(dim, precision)
            rows.append({"dim": dim, "vector_precision": precision, "bytes_per_vector": bpv,
                         "index_mb": round(n_vectors * bpv / 2**20, 6),
                         "mb_per_million": round(1e6 * bpv / 2**20, 3),
                         "usd_per_month_per_million": round(1e6 * bpv / 1e9 * price_per_gb_month, 6)})
    return rows


def reembed_estimates(docs_per_s: float, tokens_per_s: float | None, n_docs: int,
                      mean_tokens: float | None) -> dict[str, float]:
    """Hours to re-embed this corpus and a million documents of the same length distribution at the measured
    throughput (one device, the measured settings)."""
    if docs_per_s <= 0:
        return {}
    out = {"reembed_corpus_s": round(n_docs / docs_per_s, 3),
           "reembed_hours_per_million_docs": round(1e6 / docs_per_s / 3600, 4)}
    if tokens_per_s and mean_tokens:
        out["reembed_hours_per_billion_tokens"] = round(1e9 / tokens_per_s / 3600, 4)
    return out
