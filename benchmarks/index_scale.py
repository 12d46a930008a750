"""Indexes at scale: 1M documents x 10K queries at d=384 (all-MiniLM-L6-v2), exact top-100 in bounded memory,
faiss HNSW and usearch HNSW tuned up to recall@10 >= 0.95 against it, pgvector HNSW on a smaller slice; QPS and
memory for each. Written for issue 15; run it by hand (it takes a long while on CPU):

    python benchmarks/index_scale.py --out bench-out/index-scale.json            # 1M x 10K
    python benchmarks/index_scale.py --docs 100000 --queries 1000 --out /tmp/s.json  # a quick look

The vectors: ``--real`` passages of real text (benchmarks/corpus.py: Rotten Tomatoes reviews and plots) are
encoded by the real MiniLM; the first ``--queries`` real vectors are the queries, the rest seed the corpus. The
corpus is padded out to ``--docs`` with vectors drawn around real ones: a random real corpus vector plus Gaussian
noise of total norm ``--spread`` (per dimension spread/sqrt(d)), re-normalized; so the padding keeps the real
vectors' directions and density instead of filling the sphere uniformly (which would make ANN search
unrealistically easy or hard). The JSON output records every choice. Exact search: advisor.quality.search in
chunks (``--chunk-mb``), on the GPU with torch when one is available (``--device cuda``).
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


def real_vectors(n: int, batch_size: int) -> np.ndarray:
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
    p.add_argument("--spread", type=float, default=0.5)
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

    t = time.perf_counter()
    real = real_vectors(a.real, a.batch_size)
    encode_s = time.perf_counter() - t
    print(f"encoded {len(real)} real passages in {encode_s:.1f} s", flush=True)
    q = quantize(pad_around(real[:a.queries], a.queries, a.spread, a.seed + 1), "float32")
    docs = quantize(pad_around(real[a.queries:], a.docs, a.spread, a.seed), "float32")
    truth, exact_s = exact_top(q, docs, 100, a.device, a.chunk_mb)
    print(f"exact top-100 over {a.docs} x {a.queries} on {a.device}: {exact_s:.2f} s", flush=True)
    out = {"command": " ".join(sys.argv), "docs": a.docs, "queries": a.queries, "dim": docs.dim,
           "real_vectors": len(real), "encode_s": encode_s, "padding": {"spread": a.spread, "seed": a.seed,
           "how": "random real corpus vector + Gaussian noise of norm spread, re-normalized"},
           "exact": {"device": a.device, "seconds": exact_s, "chunk_mb": a.chunk_mb}, "cpu_count": os.cpu_count(),
           "indexes": []}
    efs = [16, 32, 64, 128, 256, 512, 1024]
    a.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every index, so a stopped run keeps what it measured
        a.out.write_text(json.dumps(out, indent=2, default=str))

    save()
    if "faiss" not in a.skip:
        out["indexes"].append(tune("faiss-hnsw", docs, q, truth[:, :10], efs, a.target, M=32, ef_construction=100))
        save()
    if "usearch" not in a.skip:
        out["indexes"].append(tune("usearch-hnsw", docs, q, truth[:, :10], efs, a.target, M=32, ef_construction=128))
        save()
    if "pgvector" not in a.skip:
        import advisor_pgvector

        slice_docs, slice_q = docs.take(slice(0, a.pg_docs)), q.take(slice(0, a.pg_queries))
        slice_truth, _ = exact_top(slice_q, slice_docs, 10, a.device, a.chunk_mb)
        try:
            row = tune("pgvector-hnsw", slice_docs, slice_q, slice_truth, [40, 80, 160, 320], a.target,
                       M=16, ef_construction=64)
        finally:
            advisor_pgvector.stop_servers()
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
