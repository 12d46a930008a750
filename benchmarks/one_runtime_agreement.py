"""One runtime, two paths, the same figures: a sweep's cost cell (``advisor run``) and ``advisor measure`` on the same
model and data, their bulk docs/s and batch-1 p50 compared within their measured noise.

    python benchmarks/one_runtime_agreement.py [--model all-MiniLM-L6-v2] [--dataset data/pang-lee-polarity]
                                               [--pairs 3] [--tolerance 0.25] [--out benchmarks/results]

Each pair runs the sweep (a fresh store) and then ``advisor measure``, in subprocesses, as a user would; pairs are
repeated so one disturbed run shows as one. Two figures agree when their 95% intervals overlap or they differ by less
than ``--tolerance`` (relative to the smaller). The unit test ``tests/cost/test_cost_one_runtime.py`` holds what
can be held without a clock (the same runtime, options, threads, batchers and stability rule, as both record them);
this is the timing half, a measurement: run it on a quiet machine (the load average and the contention each run
recorded are written beside the figures). Writes ``one_runtime_agreement.json`` into ``--out``; exits 1 when a pair
disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIGURES = ("docs_per_s", "latency_p50_ms")  # the two figures compared, each with its _ci_low / _ci_high
CONDITIONS = ("load_avg_1m", "contention_busy_cores")  # what the machine was doing, as each run recorded it


def advisor(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"advisor {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def agree(a: float, a_ci: tuple[float, float], b: float, b_ci: tuple[float, float], tolerance: float) -> bool:
    """Two measurements agree when their intervals overlap or they differ by less than ``tolerance``."""
    overlap = a_ci[0] <= b_ci[1] and b_ci[0] <= a_ci[1]
    return overlap or abs(a - b) / min(a, b) <= tolerance


def figures_of(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name in FIGURES:
        out[name] = {"value": metrics[name], "ci": [metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")]}
    out["conditions"] = {name: metrics.get(name) for name in CONDITIONS}
    return out


def one_pair(model: str, dataset: str, tolerance: float) -> dict[str, Any]:
    from advisor.sweep.store import ResultStore

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "r.sqlite"
        advisor("run", "--model", model, "--dataset", dataset, "--store", str(store), "--json")
        with ResultStore(store) as results:
            [cell] = results.results(kind="cost")
    measured = json.loads(advisor("measure", "--model", model, "--dataset", dataset, "--json"))
    figures = measured["results"][0]["figures"]
    sweep, measure = figures_of(cell.metrics), figures_of(figures)
    verdicts = {}
    for name in FIGURES:
        a, b = sweep[name], measure[name]
        a_ci = tuple(a["ci"]) if None not in a["ci"] else (a["value"], a["value"])
        b_ci = tuple(b["ci"]) if None not in b["ci"] else (b["value"], b["value"])
        verdicts[name] = {"agree": agree(a["value"], a_ci, b["value"], b_ci, tolerance),
                          "relative_difference": round(abs(a["value"] - b["value"]) / min(a["value"], b["value"]), 4)}
    return {"sweep": sweep, "measure": measure, "verdicts": verdicts,
            "same_settings": cell.details.get("settings") == figures.get("settings"),
            "same_runtime": runtime_of(cell.details.get("runtime")) == runtime_of(measured.get("runtime"))}


def runtime_of(info: dict[str, Any] | None) -> dict[str, Any]:
    """What an encoder records about how it runs, less what it measured (its load time: a registered figure)."""
    from advisor.figures import is_figure

    return {k: v for k, v in (info or {}).items() if not is_figure(k)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--dataset", default=str(REPO / "data" / "pang-lee-polarity"))
    parser.add_argument("--pairs", type=int, default=3, help="sweep + measure pairs to run (default 3)")
    parser.add_argument("--tolerance", type=float, default=0.25)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()

    from advisor.environment import hardware_manifest, library_versions

    pairs = []
    for i in range(args.pairs):
        pair = one_pair(args.model, args.dataset, args.tolerance)
        pairs.append(pair)
        words = ", ".join(f"{name}: sweep {pair['sweep'][name]['value']:.4g} vs measure "
                          f"{pair['measure'][name]['value']:.4g} ({'agree' if v['agree'] else 'DISAGREE'})"
                          for name, v in pair["verdicts"].items())
        print(f"pair {i + 1}/{args.pairs}: {words}", flush=True)
    agreed = all(v["agree"] for p in pairs for v in p["verdicts"].values())
    report = {"model": args.model, "dataset": args.dataset, "pairs": pairs, "tolerance": args.tolerance,
              "rule": "agree when the 95% intervals overlap or the values differ by less than the tolerance",
              "agree": agreed, "hardware": hardware_manifest("cpu"), "libraries": library_versions()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "one_runtime_agreement.json"
    path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    if not agreed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
