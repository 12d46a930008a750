"""Where the time of a quality evaluation goes: the model (encoding) versus the harness (truncation, quantization,
exact search, metrics, bootstrap), on a ~5,000-document corpus on CPU.

    python benchmarks/harness_overhead.py [--model all-MiniLM-L6-v2] [--dataset data/rt-plots-reviews]
                                          [--device cpu] [--out benchmarks/results]

The default dataset is the shipped rt-plots-reviews example: 4,866 Rotten Tomatoes reviews as the corpus and 156
plot synopses as queries. The model is loaded once and each text set encoded once (advisor.quality.evaluation.encode_task);
then one variant (full size, float32) and a grid of 12 variants (4 dims x float32/int8/binary) are evaluated from
those embeddings, each with its 1,000-resample bootstrap. Prints the split and writes JSON beside the other results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--dataset", default=str(REPO / "data" / "rt-plots-reviews"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()

    from advisor.models.backends import get_backend, load_encoder
    from advisor.environment import hardware_manifest
    from advisor.quality.evaluation import encode_task, evaluate_embeddings
    from advisor.models.resolve import resolve_model
    from advisor.datasets.tasks import load_task
    from advisor.models.variants import Variant

    task = load_task(args.dataset)
    entry = resolve_model(args.model)
    t = time.perf_counter()
    encoder = load_encoder(entry, device=args.device)
    load_s = time.perf_counter() - t
    sizes = {name: len(ts.texts) for name, ts in task.text_sets().items()}
    print(f"{task.name}: {sizes}; model {entry.name} loaded in {load_s:.1f}s; encoding ...", flush=True)
    t = time.perf_counter()
    embeddings, per_set = encode_task(encoder, task, batch_size=args.batch_size)
    encode_s = time.perf_counter() - t
    encoder.close()

    def harness(variants: list[Variant]) -> tuple[float, dict[str, float], list]:
        parts: dict[str, float] = {}
        results = []
        start = time.perf_counter()
        for v in variants:
            r = evaluate_embeddings(task, embeddings, v)
            results.append(r)
            for k, s in r.details["timing"].items():
                if k != "total_s":
                    parts[k] = parts.get(k, 0.0) + s
        return time.perf_counter() - start, parts, results

    one_s, one_parts, (one,) = harness([Variant(device=args.device)])
    dims = [d for d in (384, 256, 128, 64) if d <= entry.embed_dim] or [entry.embed_dim]
    grid = [Variant(device=args.device, dim=d, vector_precision=p) for d in dims for p in ("float32", "int8", "binary")]
    grid_s, grid_parts, grid_results = harness(grid)

    report = {
        "model": entry.name, "dataset": task.name, "texts": sizes, "device": args.device,
        "hardware": hardware_manifest(args.device), "load_s": round(load_s, 3),
        "model_encode_s": round(encode_s, 3), "encode_s_per_set": {k: round(v, 3) for k, v in per_set.items()},
        "one_variant": {"harness_s": round(one_s, 3), "parts_s": {k: round(v, 3) for k, v in one_parts.items()},
                        "harness_share": round(one_s / (one_s + encode_s), 4),
                        "ndcg_at_10": round(one.metrics["ndcg_at_10"], 5)},
        "grid": {"variants": len(grid), "harness_s": round(grid_s, 3),
                 "parts_s": {k: round(v, 3) for k, v in grid_parts.items()},
                 "harness_share": round(grid_s / (grid_s + encode_s), 4),
                 "per_variant_s": round(grid_s / len(grid), 3),
                 "ndcg_at_10": {v.label(): round(r.metrics["ndcg_at_10"], 4) for v, r in zip(grid, grid_results)}},
    }
    print(f"model (encoding {sum(sizes.values())} texts): {encode_s:8.2f} s")
    print(f"harness, one variant:            {one_s:8.2f} s  ({100 * report['one_variant']['harness_share']:.1f}% "
          f"of model + harness)  parts: {report['one_variant']['parts_s']}")
    print(f"harness, {len(grid)} variants:           {grid_s:8.2f} s  ({100 * report['grid']['harness_share']:.1f}% "
          f"of model + harness)  {report['grid']['per_variant_s']:.2f} s/variant")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "harness_overhead.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out / 'harness_overhead.json'}")


if __name__ == "__main__":
    main()
