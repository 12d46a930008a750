"""Indexes at scale: 1M documents x 10K queries at d=384 (all-MiniLM-L6-v2), exact top-100 in bounded memory,
faiss HNSW and usearch HNSW tuned up to recall@10 >= 0.95 against it, pgvector HNSW on a smaller slice; QPS and
memory for each. Written for issue 15; run it by hand (it takes a long while on CPU):

    python benchmarks/index_scale.py --out bench-out/index-scale.json            # 1M x 10K
    python benchmarks/index_scale.py --docs 100000 --queries 1000 --out /tmp/s.json  # a quick look

The vectors: ``--real`` passages of real text (benchmarks/corpus.py: Rotten Tomatoes reviews and plots) are
encoded by the real MiniLM (``--cache FILE.npy`` keeps them for the next run); the first ``--queries`` real
vectors are the queries, the rest seed the corpus. The corpus is padded out to ``--docs`` with vectors drawn
between real ones (``--padding between``, the default): a random real corpus vector u, one of its
``--neighbours`` nearest real neighbours v, a point u + t (v - u) with t uniform in [0, 1], plus Gaussian noise of
norm ``--jitter`` x |v - u|, re-normalized. The padding so stays on the real vectors' manifold, with their local
dimension and density; the earlier ``--padding around`` (a real vector plus isotropic noise of norm ``--spread``)
puts hundreds of near-equidistant points in all 384 directions around each seed, which no real corpus does and
which holds HNSW recall@10 under 0.8 at any ef (benchmarks/results/index_scale_1m_around.json, kept for reference).
The JSON output records every choice. Exact search: advisor.quality.search in chunks (``--chunk-mb``), on the GPU
with torch when one is available (``--device cuda``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def real_vectors(n: int, batch_size: int, cache: Path | None = None) -> np.ndarray:
    if cache is not None and cache.exists():
        kept = np.load(cache)
        if len(kept) >= n:
            return kept[:n]
    vectors = _encode(n, batch_size)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return vectors


def _encode(n: int, batch_size: int) -> np.ndarray:
    from corpus import build_corpus

    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    texts = build_corpus(n)
    encoder = load_encoder(resolve_model("all-MiniLM-L6-v2"))
    try:
        return np.asarray(encoder.encode(texts, kind="document", batch_size=batch_size), dtype=np.float32)
    finally:
        encoder.close()


def pad_around(real: np.ndarray, n: int, spread: float, seed: int) -> np.ndarray:
    """``n`` unit vectors: the real ones first, then real ones plus noise of norm ``spread``."""
    from advisor.quality.vectors import truncate_normalize

    real = truncate_normalize(real)
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[:len(real)] = real
    for start in range(len(real), n, 100_000):
        stop = min(n, start + 100_000)
        parents = real[rng.integers(0, len(real), stop - start)]
        noise = rng.standard_normal(parents.shape).astype(np.float32) * (spread / np.sqrt(real.shape[1]))
        out[start:stop] = truncate_normalize(parents + noise)
    return out


def pad_between(real: np.ndarray, n: int, neighbours: int, jitter: float, seed: int) -> np.ndarray:
    """``n`` unit vectors: the real ones first, then points on the chords between real neighbours, jittered."""
    from advisor.quality.search import search
    from advisor.quality.vectors import quantize, truncate_normalize

    real = truncate_normalize(real)
    if n <= len(real):
        return real[:n]
    as_set = quantize(real, "float32")
    near = search(as_set, as_set, neighbours + 1).indices[:, 1:]  # drop each vector itself
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[:len(real)] = real
    for start in range(len(real), n, 100_000):
        stop = min(n, start + 100_000)
        u = rng.integers(0, len(real), stop - start)
        v = near[u, rng.integers(0, neighbours, stop - start)]
        chord = real[v] - real[u]
        t = rng.random((stop - start, 1), dtype=np.float32)
        scale = np.linalg.norm(chord, axis=1, keepdims=True) * (jitter / np.sqrt(real.shape[1]))
        noise = rng.standard_normal(chord.shape).astype(np.float32) * scale
        out[start:stop] = truncate_normalize(real[u] + t * chord + noise)
    return out


def exact_top(queries, corpus, k: int, device: str, chunk_mb: int) -> tuple[np.ndarray, float]:
    from advisor.quality.search import search

    t = time.perf_counter()
    res = search(queries, corpus, k, device=device, chunk_bytes=chunk_mb * 2**20)
    return res.indices, time.perf_counter() - t


def tune(name: str, corpus, queries, truth: np.ndarray, efs: list[int], target: float, **settings) -> dict:
    """Build once, raise ef_search until recall@10 reaches ``target``; QPS with every core, batch-1 p50/p95."""
    from advisor.index import make_index
    from advisor.index.evaluation import recall_against

    index = make_index(name, corpus.precision, **settings)
    t = time.perf_counter()
    index.build(corpus, np.arange(len(corpus)))
    build_s = time.perf_counter() - t
    print(f"{name}: built over {len(corpus)} vectors in {build_s:.1f} s", flush=True)
    rows = []
    try:
        for ef in efs:
            set_ef(index, ef)
            t = time.perf_counter()
            ids, _ = index.search(queries, 10)
            wall = time.perf_counter() - t
            recall = float(recall_against(ids, truth, 10).mean())
            lat = []
            for i in range(min(200, len(queries))):
                t = time.perf_counter()
                index.search(queries.take(slice(i, i + 1)), 10)
                lat.append(time.perf_counter() - t)
            rows.append({"ef_search": ef, "recall_at_10": recall, "qps": len(queries) / wall,
                         "p50_ms": float(np.percentile(lat, 50) * 1e3), "p95_ms": float(np.percentile(lat, 95) * 1e3)})
            print(name, rows[-1], flush=True)
            if recall >= target:
                break
        return {"index": name, "settings": settings, "build_s": build_s, "memory_bytes": index.memory_bytes(),
                "disk_bytes": index.disk_bytes(), "sweep": rows, "reached": rows[-1]["recall_at_10"] >= target,
                "info": index.info()}
    finally:
        index.close()


def set_ef(index, ef: int) -> None:
    """ef_search after the build (each library keeps it in another place)."""
    index.settings["ef_search"] = ef
    if hasattr(index, "index") and index.index is not None:
        inner = getattr(index.index, "index", None)
        if inner is not None and type(index.index).__module__.startswith("faiss"):  # IndexIDMap2(IndexHNSWFlat)
            import faiss

            faiss.downcast_index(inner).hnsw.efSearch = ef  # the SWIG proxy of the base class has no .hnsw
        elif hasattr(index.index, "expansion_search"):  # usearch
            index.index.expansion_search = ef


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--real", type=int, default=50_000, help="real passages to encode (queries come first)")
    p.add_argument("--padding", choices=["between", "around"], default="between")
    p.add_argument("--neighbours", type=int, default=10, help="--padding between: real neighbours to draw towards")
    p.add_argument("--jitter", type=float, default=0.1, help="--padding between: noise norm / chord length")
    p.add_argument("--spread", type=float, default=0.5, help="--padding around: noise norm")
    p.add_argument("--cache", type=Path, help="a .npy file keeping the encoded real vectors between runs")
    p.add_argument("--M", type=int, default=32, help="HNSW graph degree (faiss and usearch)")
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    p.add_argument("--chunk-mb", type=int, default=256)
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--pg-docs", type=int, default=100_000)
    p.add_argument("--pg-queries", type=int, default=1_000)
    p.add_argument("--skip", nargs="*", default=[], choices=["faiss", "usearch", "pgvector"])
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()

    from advisor.quality.vectors import quantize

    cached = a.cache is not None and a.cache.exists()
    t = time.perf_counter()
    real = real_vectors(a.real, a.batch_size, a.cache)
    encode_s = None if cached else time.perf_counter() - t  # a cached run did not encode
    print(f"real vectors: {len(real)} ({'from ' + str(a.cache) if cached else f'encoded in {encode_s:.1f} s'})",
          flush=True)
    q = quantize(pad_around(real[:a.queries], a.queries, a.spread, a.seed + 1), "float32")
    if a.padding == "between":
        padded = pad_between(real[a.queries:], a.docs, a.neighbours, a.jitter, a.seed)
        how = ("a random real corpus vector u, one of its nearest real neighbours v, u + t (v - u) with t ~ U(0, 1), "
               "plus Gaussian noise of norm jitter x |v - u|, re-normalized")
        padding = {"kind": "between", "neighbours": a.neighbours, "jitter": a.jitter, "seed": a.seed, "how": how}
    else:
        padded = pad_around(real[a.queries:], a.docs, a.spread, a.seed)
        padding = {"kind": "around", "spread": a.spread, "seed": a.seed,
                   "how": "random real corpus vector + Gaussian noise of norm spread, re-normalized"}
    docs = quantize(padded, "float32")
    del padded
    truth, exact_s = exact_top(q, docs, 100, a.device, a.chunk_mb)
    print(f"exact top-100 over {a.docs} x {a.queries} on {a.device}: {exact_s:.2f} s", flush=True)
    out = {"command": " ".join(sys.argv), "docs": a.docs, "queries": a.queries, "dim": docs.dim,
           "real_vectors": len(real), "encode_s": encode_s, "padding": padding,
           "exact": {"device": a.device, "seconds": exact_s, "chunk_mb": a.chunk_mb}, "cpu_count": os.cpu_count(),
           "indexes": []}
    efs = [16, 32, 64, 128, 256, 512, 1024]
    a.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every index, so a stopped run keeps what it measured
        a.out.write_text(json.dumps(out, indent=2, default=str))

    save()
    if "faiss" not in a.skip:
        out["indexes"].append(tune("faiss-hnsw", docs, q, truth[:, :10], efs, a.target, M=a.M, ef_construction=a.ef_construction))
        save()
    if "usearch" not in a.skip:
        out["indexes"].append(tune("usearch-hnsw", docs, q, truth[:, :10], efs, a.target, M=a.M, ef_construction=a.ef_construction))
        save()
    if "pgvector" not in a.skip:
        import advisor.builtin.pgvector

        slice_docs, slice_q = docs.take(slice(0, a.pg_docs)), q.take(slice(0, a.pg_queries))
        slice_truth, _ = exact_top(slice_q, slice_docs, 10, a.device, a.chunk_mb)
        try:
            row = tune("pgvector-hnsw", slice_docs, slice_q, slice_truth, [40, 80, 160, 320], a.target,
                       M=16, ef_construction=64)
        finally:
            advisor.builtin.pgvector.stop_servers()
        row["slice"] = {"docs": a.pg_docs, "queries": a.pg_queries}
        out["indexes"].append(row)
    save()
    print(f"wrote {a.out}")


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


if __name__ == "__main__":
    main()
