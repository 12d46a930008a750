"""The one prepared GPU run (under 8 minutes on an H100/H200), from a carried folder, writing one JSON file:

1. bulk encode: the advisor's fast path (fp16, token budget, tokenizer thread) against sentence-transformers'
   default ``encode`` (fp32, batch 32) on the same corpus, docs/s and the ratio (target >= 8x);
2. batch-1 latency p50/p95/p99 with CUDA graphs, in rounds until settled (target p50 <= 1 ms for MiniLM);
3. the 5 dims x 3 vector precisions grid derived from one encoding of data/rt-reviews-plots (nDCG@10 each);
4. exact top-100 over 1M x 10K vectors at d=384 on the GPU (target <= 1 s).

The GPU machine has torch, transformers and sentence-transformers but no weights and no internet; carry the model
and corpus (prepared here, under 64 MiB):

    python benchmarks/prepare_gpu.py --out bench-data/minilm
    python benchmarks/corpus.py --n 20000 --out bench-data/corpus-20k.txt
    # device: python benchmarks/gpu_suite.py --model bench-data/minilm --corpus bench-data/corpus-20k.txt \\
    #         --out $OUT/gpu_suite.json

``--device cpu`` with tiny sizes is its dry run (tests/cost/test_cost_gpu_suite_dry_run.py runs it in the test
suite), so the day a GPU is lent the script runs the first time:

    python benchmarks/gpu_suite.py --device cpu --model MODEL --corpus FILE --n 32 --rounds 1 \\
        --latency-samples 20 --latency-budget-s 5 --exact-docs 4096 --exact-queries 16 --grid-dims 64 \\
        --out dry.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


DEVICE = "cuda"  # --device; "cpu" is the dry run
PRECISION = {"cuda": "fp16", "cpu": "fp32"}


def _sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def bulk(model: Path, texts: list[str], rounds: int) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from advisor.models.fastpath import FastTransformerEncoder

    st = SentenceTransformer(str(model), device=DEVICE)
    st.float()
    fast = FastTransformerEncoder(model, device=DEVICE, weight_precision=PRECISION[DEVICE])
    st.encode(texts[:256], batch_size=32)
    fast.encode(texts[:2048])
    def timed(run) -> float:
        _sync()
        t0 = time.perf_counter()
        run()
        _sync()
        return time.perf_counter() - t0

    st_s, fast_s = [], []
    for _ in range(rounds):  # alternate the sides so a change on the machine slows both alike
        st_s.append(timed(lambda: st.encode(texts, batch_size=32)))
        fast_s.append(timed(lambda: fast.encode(texts)))
    a, b = st.encode(texts[:512], batch_size=32), fast.encode(texts[:512])
    cos = (a * b).sum(1) / ((a ** 2).sum(1) ** 0.5 * (b ** 2).sum(1) ** 0.5)
    st_rate, fast_rate = len(texts) / statistics.median(st_s), len(texts) / statistics.median(fast_s)
    del st
    if DEVICE == "cuda":
        torch.cuda.empty_cache()
    return {"docs": len(texts), "st_default_fp32_docs_per_s": round(st_rate, 1),
            f"fast_{PRECISION[DEVICE]}_docs_per_s": round(fast_rate, 1), "ratio": round(fast_rate / st_rate, 2),
            "min_cosine_fast_vs_st": float(cos.min()), "encoder": fast}


def latency(fast, queries: list[str], samples: int = 200, budget_s: float = 60.0) -> dict:
    from advisor.cost.latency import measure_latency
    from advisor.cost.stability import StabilityRule

    m = measure_latency(fast, queries, rule=StabilityRule(round_samples=samples, latency_budget_s=budget_s),
                        warmup=min(50, samples), kind="query")
    return {**m.stats.figures("latency"), "settled": m.settled.to_dict(), "contention": m.contention.to_dict(),
            "cuda_graphs": fast.use_graphs}


def grid(fast, dims: tuple[int | None, ...] = (None, 256, 192, 128, 64)) -> dict:
    from advisor.datasets.tasks import load_task
    from advisor.models.variants import Variant
    from advisor.quality.evaluation import evaluate_model

    task = load_task(REPO / "data" / "rt-reviews-plots")
    variants = [Variant(DEVICE, PRECISION[DEVICE], d, p) for d in dims for p in ("float32", "int8", "binary")]
    t0 = time.perf_counter()
    results = evaluate_model(fast, task, variants, resamples=0)
    return {"seconds": round(time.perf_counter() - t0, 2),
            "ndcg_at_10": {v.label(): round(r.metrics["ndcg_at_10"], 4) for v, r in results.items()}}


def exact_search(n_docs: int, n_queries: int, dim: int, k: int) -> dict:
    import torch

    g = torch.Generator(device=DEVICE).manual_seed(0)
    half = torch.half if DEVICE == "cuda" else torch.float32  # fp16 matmuls are the GPU's; the dry run keeps fp32
    docs = torch.nn.functional.normalize(torch.randn(n_docs, dim, device=DEVICE, generator=g), dim=1).to(half)
    queries = torch.nn.functional.normalize(torch.randn(n_queries, dim, device=DEVICE, generator=g), dim=1).to(half)

    def run() -> tuple:
        best_s = torch.full((n_queries, k), -2.0, device=DEVICE, dtype=torch.float32)
        best_i = torch.zeros((n_queries, k), device=DEVICE, dtype=torch.long)
        for start in range(0, n_docs, 262144):
            s = (queries @ docs[start:start + 262144].T).float()
            top_s, top_i = s.topk(k, dim=1)
            merged_s = torch.cat([best_s, top_s], 1)
            merged_i = torch.cat([best_i, top_i + start], 1)
            best_s, pos = merged_s.topk(k, dim=1)
            best_i = merged_i.gather(1, pos)
        return best_s, best_i

    run()
    _sync()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        scores, ids = run()
        _sync()
        times.append(time.perf_counter() - t0)
    check = (queries[:8].float() @ docs.float().T).topk(k, dim=1).indices
    recall = float((ids[:8, :, None] == check[:, None, :]).any(-1).float().mean())
    return {"docs": n_docs, "queries": n_queries, "dim": dim, "k": k, "seconds": [round(t, 4) for t in times],
            "median_s": round(statistics.median(times), 4), "recall_vs_fp32_recheck": recall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: the dry run (tiny sizes)")
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--latency-budget-s", type=float, default=60.0,
                    help="seconds of latency rounds before an unsettled result is written as it stands")
    ap.add_argument("--exact-docs", type=int, default=1_000_000)
    ap.add_argument("--exact-queries", type=int, default=10_000)
    ap.add_argument("--grid-dims", type=str, default="full,256,192,128,64")
    args = ap.parse_args()
    import torch

    global DEVICE
    DEVICE = args.device
    dims = tuple(None if d == "full" else int(d) for d in args.grid_dims.split(","))
    texts = [line.strip() for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:args.n]
    out: dict = {"gpu": torch.cuda.get_device_name(0) if DEVICE == "cuda" else None, "device": DEVICE,
                 "torch": torch.__version__, "load_average": os.getloadavg()}
    steps = [("bulk", lambda: bulk(args.model, texts, args.rounds))]
    fast = None
    for name, step in steps:
        try:
            res = step()
            fast = res.pop("encoder")
            out[name] = res
        except Exception:  # noqa: BLE001 - record and go on: device time is short
            out[name] = {"error": traceback.format_exc(limit=4)}
    for name, step in (("latency", lambda: latency(fast, texts[:500], args.latency_samples, args.latency_budget_s)),
                       ("grid", lambda: grid(fast, dims)),
                       ("exact_search", lambda: exact_search(args.exact_docs, args.exact_queries, 384, 100))):
        try:
            out[name] = step()
        except Exception:  # noqa: BLE001
            out[name] = {"error": traceback.format_exc(limit=4)}
        args.out.write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
