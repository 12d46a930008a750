"""Benchmark: a 5 output dims x 3 vector precisions grid on one model and one task costs at most 1.2x one cell.

Why it holds: the runner loads the model once and encodes each text set once; every (dim, vector precision) cell
is derived from those embeddings. This script measures it end to end, as ``advisor run`` does it (local executor:
a fresh worker process, model load, encoding, evaluation, one store transaction per cell), with a fresh store for
every sweep so nothing is reused:

    python benchmarks/grid_cost.py                       # all-MiniLM-L6-v2 on data/rt-reviews-plots
    python benchmarks/grid_cost.py --model NAME --dataset PATH --repeats 3

Cost cells (throughput, latency, memory) are left out of both sweeps: they are measured once per model load
whatever the grid, so they would add the same time to both sides. Exit code 1 when the ratio exceeds --max-ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIMS = ("full", 256, 128, 64, 32)
PRECISIONS = ("float32", "int8", "binary")


def sweep_seconds(catalogs: list[Path], model: str, dataset: str, dims: tuple, precisions: tuple,
                  workdir: Path) -> tuple[float, list]:
    """Wall time of one whole sweep (plan, worker, load, encode, evaluate, store) into a fresh store."""
    from dataclasses import replace

    from advisor.inputs import read_inputs
    from advisor.policy.spec import VariantGrid
    from advisor.sweep.planner import plan_sweep
    from advisor.sweep.driver import run_plan
    from advisor.sweep.store import ResultStore

    store = ResultStore(Path(tempfile.mkdtemp(dir=workdir)) / "results.sqlite")
    start = time.perf_counter()
    inputs = read_inputs(catalogs=catalogs, datasets=[dataset], models=[model])
    grid = VariantGrid(dims=tuple(None if d == "full" else d for d in dims), vector_precisions=tuple(precisions))
    policy = replace(inputs.policy, name="grid-cost", variants=grid, baselines=())  # the model's cells only
    plan = plan_sweep(inputs.entries, policy, inputs.tasks, task_refs=inputs.task_refs, measure_cost=False)
    summary = run_plan(plan, store, executor="local")
    seconds = time.perf_counter() - start
    cells = store.results()
    if summary.failed or len(cells) != len(dims) * len(precisions):
        sys.exit(f"sweep failed: {summary.errors[:3]}")
    return seconds, cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", action="append", type=Path, default=None)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--dataset", default=str(REPO / "data" / "rt-reviews-plots"))
    parser.add_argument("--repeats", type=int, default=2, help="Sweeps per arm, alternating; the median counts.")
    parser.add_argument("--max-ratio", type=float, default=1.2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    catalogs = args.catalog or [REPO / "advisor/shipped/catalogs" / "offline.yaml"]

    one, grid = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for _ in range(args.repeats):  # alternate, so drift in machine load hits both arms alike
            seconds, one_cells = sweep_seconds(catalogs, args.model, args.dataset, ("full",), ("float32",), workdir)
            one.append(seconds)
            seconds, grid_cells = sweep_seconds(catalogs, args.model, args.dataset, DIMS, PRECISIONS, workdir)
            grid.append(seconds)
    one_s, grid_s = statistics.median(one), statistics.median(grid)
    ratio = grid_s / one_s
    encode = sum(grid_cells[0].details.get("encode_s", {}).values())
    derived = sum((c.finished_at or 0) - (c.started_at or 0) for c in grid_cells)
    print(f"model {args.model}, task {grid_cells[0].key.task}, {os.cpu_count()} CPUs")
    print(f"one cell (full, float32):          {one_s:7.2f} s  (runs: {', '.join(f'{s:.2f}' for s in one)})")
    print(f"grid {len(DIMS)} dims x {len(PRECISIONS)} precisions = {len(grid_cells)} cells: {grid_s:7.2f} s  "
          f"(runs: {', '.join(f'{s:.2f}' for s in grid)})")
    print(f"  of which encoding once: {encode:.2f} s; deriving + evaluating {len(grid_cells)} cells: {derived:.2f} s")
    print(f"ratio grid / one cell: {ratio:.3f} (limit {args.max_ratio})")
    if ratio > args.max_ratio:
        print("FAIL: the grid costs more than the limit")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
