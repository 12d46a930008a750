"""Quality retained by lower weight and vector precisions, against fp32 weights and float32 vectors, on real tasks.

    python benchmarks/precision_quality.py [--model all-MiniLM-L6-v2] [--dataset data/rt-reviews-plots ...]
                                           [--out DIR] [--no-half]

Each weight precision loads the model once and encodes every text set once; every vector precision is derived
from those embeddings by advisor.quality.evaluation (no re-encoding). Half precision (fp16/bf16) runs on CUDA when there
is one; without CUDA it is measured on CPU through the torch loading path directly (the backend refuses it on CPU
for speed, not for quality: the numbers are what the weights give, the timings are not representative). The int8
ONNX export of MiniLM is measured beside torch's dynamic int8. Writes a markdown table and JSON to --out.
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

VECTOR_PRECISIONS = ("float32", "float16", "int8", "binary")


def encoders(model: str, half: bool):
    """(label, weight precision, loader) for each weight precision worth measuring for ``model``."""
    from advisor.models.backends import load_encoder
    from advisor.models.resolve import resolve_model

    entry = resolve_model(model)
    yield "torch fp32", "fp32", lambda: load_encoder(entry, weight_precision="fp32")
    yield "torch int8 (dynamic)", "int8", lambda: load_encoder(entry, weight_precision="int8")
    if half and entry.backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        for precision in ("fp16", "bf16"):
            if device == "cuda":
                yield f"torch {precision} (cuda)", precision, (
                    lambda p=precision: load_encoder(entry, device="cuda", weight_precision=p))
            else:
                from advisor.builtin.torch.encoder import load_torch_encoder

                yield f"torch {precision} (cpu, quality only)", precision, (
                    lambda p=precision: load_torch_encoder(entry, weight_precision=p))
    if model == "all-MiniLM-L6-v2":
        onnx = resolve_model("all-MiniLM-L6-v2-onnx-int8")
        yield "onnx int8 export", "int8", lambda: load_encoder(onnx, weight_precision="int8")


def render(rows: list[dict], model: str) -> str:
    """Markdown: each cell is the main metric and the share of the fp32/float32 figure it keeps."""
    lines = [f"# Quality retained against fp32 weights + float32 vectors ({model})", "",
             "| weights | task | metric | " + " | ".join(VECTOR_PRECISIONS) + " |",
             "|---|---|---|" + "---|" * len(VECTOR_PRECISIONS)]
    for weights in dict.fromkeys(r["weights"] for r in rows):
        for task in dict.fromkeys(r["task"] for r in rows):
            cells = {r["vector_precision"]: r for r in rows if r["weights"] == weights and r["task"] == task}
            metric = next(iter(cells.values()))["metric"]
            lines.append(f"| {weights} | {task} | {metric} | " + " | ".join(
                f"{cells[vp]['value']:.4f} ({100 * cells[vp]['retained']:.1f}%){_mark(cells[vp])}"
                for vp in VECTOR_PRECISIONS) + " |")
    lines += ["", "`*`: differs from fp32/float32 by a paired bootstrap over the task's items (1,000 resamples, 95%); "
                  "unmarked differences are within the noise.", ""]
    for r in rows:
        if r["weights"] == "torch fp32" and r["vector_precision"] == "float32" and r.get("ci"):
            lines.append(f"- {r['task']}: fp32/float32 {r['metric']} = {r['value']:.4f}, 95% bootstrap interval "
                         f"[{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]")
    return "\n".join(lines)


def _mark(row: dict) -> str:
    return "*" if (row.get("vs_fp32") or {}).get("different") else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--dataset", action="append", default=None)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--no-half", action="store_true", help="skip fp16/bf16")
    args = parser.parse_args(argv)
    # Small real tasks by default (half precision runs ~8x slower on CPU); pass --dataset for larger ones.
    datasets = args.dataset or [str(REPO / "data" / "rt-reviews-plots"), str(REPO / "data" / "pang-lee-polarity")]

    from advisor.quality.evaluation import evaluate_model
    from advisor.datasets.tasks import load_task
    from advisor.models.variants import Variant

    from advisor.quality.bootstrap import compare

    tasks = [load_task(d) for d in datasets]
    rows, baselines = [], {}
    for label, precision, load in encoders(args.model, not args.no_half):
        t0 = time.perf_counter()
        encoder = load()
        for task in tasks:
            variants = [Variant("cpu", precision, None, vp) for vp in VECTOR_PRECISIONS]
            results = evaluate_model(encoder, task, variants, resamples=200)
            for variant, result in results.items():
                baseline = baselines.setdefault(task.name, result)  # torch fp32 + float32 comes first
                paired = compare(result, baseline, resamples=1000)
                rows.append({"weights": label, "weight_precision": precision, "task": task.name,
                             "vector_precision": variant.vector_precision, "metric": result.main_metric,
                             "value": result.main_score, "ci": result.details.get("ci", {}).get(result.main_metric),
                             "vs_fp32": {"difference": paired.difference, "ci": [paired.ci_low, paired.ci_high],
                                         "p_value": paired.p_value, "different": paired.different}})
        encoder.close()
        print(f"{label}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    base = {(r["task"]): r["value"] for r in rows if r["weights"] == "torch fp32" and r["vector_precision"] == "float32"}
    for r in rows:
        r["retained"] = r["value"] / base[r["task"]] if base.get(r["task"]) else None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "precision_quality.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))
    table = render(rows, args.model)
    (args.out / "precision_quality.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
