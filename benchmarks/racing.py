"""Benchmark: a racing sweep under a third of the full sweep's time against the full sweep itself.

Both start from an empty store (nothing reused) on the same candidates, policy and dataset:

1. the full sweep (``advisor run``): every admitted candidate measured in full; its dry-run estimate first;
2. the racing sweep (``advisor run --budget``) with a budget of ``--budget-fraction`` (a third) of the full sweep's
   measured wall time; its dry-run estimate of round 1 first.

It records the wall time of each, the recommendation of each (and whether the race's is the full sweep's or one
tied with it within the paired-bootstrap noise), the round at which each candidate left the race and the sentence
that ended it, and each estimate beside the time it took. Writes benchmarks/results/racing.json and racing.md:

    python benchmarks/racing.py                                   # the offline catalog, data/rt-reviews-plots-large
    python benchmarks/racing.py --policy default --dataset data/rt-reviews-plots-large
    python benchmarks/racing.py --model tokenlearn-static-64 --model wordllama-l2-supercat-256 \\
        --dataset data/rt-reviews-plots --no-cost --finalists 1 --out /tmp/racing   # a tiny check that it works

Run it on a quiet machine: the figures are wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _plan(args):
    from advisor.inputs import read_inputs
    from advisor.sweep.planner import plan_sweep

    inputs = read_inputs(catalogs=args.catalog or ["offline"], policy=args.policy, datasets=args.dataset,
                         models=args.model or ())
    plan = plan_sweep(inputs.entries, inputs.policy, inputs.tasks, task_refs=inputs.task_refs,
                      measure_cost=not args.no_cost)
    return inputs, plan


def _recommended(rec) -> dict | None:
    best = rec.recommended
    if best is None:
        return None
    return {"label": best.label, "model": best.model, "quality": best.quality_mean, "tied_with": list(best.tied_with)}


def _per_model(plan, summary) -> dict:
    out: dict[str, float] = {}
    for group in plan.groups:
        if group.label in summary.group_s:
            out[group.entry.name] = round(out.get(group.entry.name, 0.0) + summary.group_s[group.label], 2)
    return out


def full_sweep(args, workdir: Path) -> tuple[dict, object]:
    """The full sweep into a fresh store: its figures, and its ranking (to judge the race's decision by)."""
    from advisor.pipeline import plan_results
    from advisor.ranking import rank
    from advisor.sweep.driver import run_plan
    from advisor.sweep.estimate import estimate_plan
    from advisor.sweep.store import ResultStore

    store = ResultStore(workdir / "full.sqlite")
    inputs, plan = _plan(args)
    estimate = estimate_plan(plan, inputs.tasks, store)  # what --dry-run says
    plan.estimate = estimate.to_dict()
    start = time.perf_counter()
    summary = run_plan(plan, store)
    wall = time.perf_counter() - start
    rec = rank(plan_results(store, plan), inputs.catalog, inputs.policy)
    return ({"wall_s": round(wall, 2), "estimate_s": round(estimate.seconds, 2),
             "estimate_per_model_s": estimate.to_dict()["per_model"],
             "actual_per_model_s": _per_model(plan, summary), "cells": summary.computed, "failed": summary.failed,
             "recommended": _recommended(rec)}, rec)


def racing_sweep(args, workdir: Path, budget_s: float) -> dict:
    """The racing sweep into another fresh store, under ``budget_s``."""
    from advisor.pipeline import plan_results
    from advisor.ranking import rank
    from advisor.sweep.racing import FINALISTS, preview, run_race
    from advisor.sweep.store import ResultStore

    store = ResultStore(workdir / "race.sqlite")
    inputs, plan = _plan(args)
    finalists = args.finalists or FINALISTS
    ahead = preview(plan, inputs.tasks, store, inputs.policy, budget_s, finalists=finalists, first=args.first)
    start = time.perf_counter()
    race = run_race(plan, inputs.tasks, store, budget_s=budget_s, policy=inputs.policy, finalists=finalists,
                    first=args.first, say=lambda line: print(f"  {line}", file=sys.stderr))
    wall = time.perf_counter() - start
    rec = rank(plan_results(store, race.final_plan), inputs.catalog, inputs.policy) if race.final_plan else None
    record = race.to_dict()
    return {"budget_s": round(budget_s, 2), "wall_s": round(wall, 2), "status": race.status,
            "stopped": race.stopped, "dry_run_round_1": (ahead.get("race") or {}).get("round_1"),
            "rounds": [{"round": r["number"], "final": r["final"], "candidates": len(r["models"]),
                        "sizes": r["sizes"], "estimate_s": round(r["estimate_s"], 2), "wall_s": r["wall_s"]}
                       for r in record["rounds"]],
            "left": {m: {"round": x["round"], "reason": x["reason"], "text": x["text"]}
                     for m, x in record["exits"].items()},
            "finalists": record["finalists"], "missing": record["missing"],
            "recommended": _recommended(rec) if rec else None}


def same_decision(full_rec, race: dict) -> str:
    """'same' when the race recommends the full sweep's choice, 'tied' when its choice is tied with it within the
    noise in the full sweep's ranking, else 'different' ('none' when either has no recommendation)."""
    best, pick = full_rec.recommended, race.get("recommended")
    if pick is None or best is None:
        return "none"
    if pick["label"] == best.label:
        return "same"
    return "tied" if pick["label"] in best.tied_with else "different"


def markdown(data: dict) -> str:
    full, race = data["full"], data["race"]
    lines = ["# Racing sweep against the full sweep", "",
             f"{data['machine']}; catalog {', '.join(data['catalogs'])}; policy {data['policy'] or 'permissive'}; "
             f"dataset {', '.join(data['datasets'])}; {data['candidates']} candidates; cost cells "
             f"{'off' if data['no_cost'] else 'on'}.", "",
             "| sweep | wall time | estimated before it | recommended |", "|---|---|---|---|",
             f"| full | {full['wall_s']:.1f} s | {full['estimate_s']:.1f} s | "
             f"{(full['recommended'] or {}).get('label', '–')} |",
             f"| racing (budget {race['budget_s']:.1f} s) | {race['wall_s']:.1f} s | "
             f"{sum(r['estimate_s'] for r in race['rounds']):.1f} s (each round's, before it) | "
             f"{(race['recommended'] or {}).get('label', '–')} |", "",
             f"Decision: **{data['decision']}** (same, tied within the noise, different; none when the race "
             f"stopped: {race['stopped'] or 'it finished'}).", "", "## Rounds", "",
             "| round | candidates | slices | estimate | took |", "|---|---|---|---|---|"]
    for r in race["rounds"]:
        sizes = "full measurement" if r["final"] else ", ".join(f"{t}: {n or 'all'}" for t, n in r["sizes"].items())
        took = f"{r['wall_s']:.1f} s" if r["wall_s"] is not None else "–"
        lines.append(f"| {r['round']}{' (final)' if r['final'] else ''} | {r['candidates']} | {sizes} | "
                     f"{r['estimate_s']:.1f} s | {took} |")
    lines += ["", "## Who left, when", "", "| model | round | why |", "|---|---|---|"]
    for model, x in sorted(race["left"].items(), key=lambda kv: (kv[1]["round"], kv[0])):
        lines.append(f"| {model} | {x['round']} | {x['text']} |")
    for model in race["finalists"]:
        lines.append(f"| {model} | final | finalist |")
    lines += ["", "## The full sweep's estimate per candidate", "", "| model | estimated | took |", "|---|---|---|"]
    for model, seconds in full["estimate_per_model_s"].items():
        took = full["actual_per_model_s"].get(model)
        lines.append(f"| {model} | {seconds:.1f} s | {f'{took:.1f} s' if took is not None else '–'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", action="append", default=None, help="Default: the shipped offline catalog.")
    parser.add_argument("--policy", default=None, help="Default: none (the permissive policy).")
    parser.add_argument("--dataset", action="append", default=None, help="Default: data/rt-reviews-plots-large.")
    parser.add_argument("--model", action="append", default=None, help="Only these candidates (repeatable).")
    parser.add_argument("--budget-fraction", type=float, default=1 / 3)
    parser.add_argument("--no-cost", action="store_true", help="Quality only (a quick check, not the benchmark).")
    parser.add_argument("--finalists", type=int, default=None)
    parser.add_argument("--first", type=int, default=60, help="Units of each task in round 1.")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    args.dataset = args.dataset or [str(REPO / "data" / "rt-reviews-plots-large")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print("full sweep ...", file=sys.stderr)
        full, full_rec = full_sweep(args, workdir)
        budget = full["wall_s"] * args.budget_fraction
        print(f"racing sweep, budget {budget:.1f} s ...", file=sys.stderr)
        race = racing_sweep(args, workdir, budget)
    data = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                       f"load {os.getloadavg()[0]:.1f}",
            "catalogs": args.catalog or ["offline"], "policy": args.policy, "datasets": args.dataset,
            "candidates": len(full["estimate_per_model_s"]), "no_cost": args.no_cost,
            "budget_fraction": args.budget_fraction, "full": full, "race": race,
            "decision": same_decision(full_rec, race)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "racing.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    (args.out / "racing.md").write_text(markdown(data), encoding="utf-8")
    print(markdown(data))
    print(f"wrote {args.out / 'racing.json'} and {args.out / 'racing.md'}", file=sys.stderr)
    return 0 if data["decision"] in ("same", "tied") else 1


if __name__ == "__main__":
    sys.exit(main())
