"""Must-show of issue 17: a small query model beside MiniLM, a student grid and a span-corruption fine-tune, each
with the advisor's own commands, on data/rt-reviews-plots-large (1,000 review queries, 1,083 plots).

    python benchmarks/pair_and_students.py --out runs/pairs          # about 10-15 minutes on 2 quiet CPU cores

Steps (every command is printed before it runs; artifacts go under --out, the results store is OUT/results.sqlite):

a. ``advisor distill --side query``: a 2-layer query student (MiniLM's first and last layers kept) trained on the
   training queries only to land in all-MiniLM-L6-v2's space; OUT/q2/catalog.yaml holds the student and the pair
   (queries by the student, documents by MiniLM); OUT/q2/heldout is the held-out split (200 queries, seed 0).
b. ONE ``advisor recommend`` whose catalog holds the pair, MiniLM and the student alone, on the held-out split:
   OUT/recommend/report.{md,html,json} with the three-way comparison (nDCG@10 with intervals, paired bootstrap
   differences, query p50/p95, bulk docs/s).
c. ``advisor distill --student-grid`` (default 4 students: layers 2,3 x width 256,384, 4 heads; same budget each)
   with ``--benchmark --store`` into the same store, then ``advisor report`` over everything: OUT/report/ has
   every student on the Pareto plot beside the off-the-shelf models.
d. ``advisor finetune --pairs span-corruption`` of MiniLM on the plot texts alone (no query is ever seen), then
   the fine-tuned model on the same held-out reviews->plots split against MiniLM's stored per-query scores
   (paired bootstrap).

The summary (OUT/summary.md and .json, also printed) reads the figures back from the store and the catalogs. Quality
figures do not depend on the machine's load; latency and throughput do: take them on a quiet machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEACHER = "all-MiniLM-L6-v2"
OFFLINE = REPO / "advisor/shipped/catalogs" / "offline.yaml"
TASK = "heldout"  # the held-out split's task name (its folder)


def advisor(*args: str, log: Path) -> dict:
    """Run one advisor command (JSON on stdout), echo it, keep its stderr in ``log``; stop on failure."""
    exe = shutil.which("advisor") or str(Path(sys.executable).parent / "advisor")
    cmd = [exe, *args]
    print("$ advisor " + " ".join(args), flush=True)
    start = time.perf_counter()
    with log.open("a", encoding="utf-8") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    if proc.returncode != 0:
        sys.exit(f"advisor {args[0]} failed (exit {proc.returncode}); see {log}")
    out = proc.stdout
    return json.loads(out[out.index("{"):]) if "{" in out else {}


def training_args(a: argparse.Namespace, steps: int) -> list[str]:
    return ["--max-steps", str(steps), "--batch-size", str(a.batch_size), "--max-seq-length", str(a.max_seq_length),
            "--device", "cpu", "--seed", "0", "--json", "--quiet"]


def stored(store: Path) -> tuple[dict, dict]:
    """Full-size float32 quality cells and cost cells of the held-out task, by model."""
    from advisor.sweep.store import ResultStore

    quality, cost = {}, {}
    with ResultStore(store) as s:
        for r in s.results(status="ok"):
            if r.key.task != TASK or r.key.device != "cpu":
                continue
            if r.key.kind == "quality" and r.key.dim is None and (r.key.vector_precision or "float32") == "float32":
                quality[r.key.model] = r
            elif r.key.kind == "cost":
                cost[r.key.model] = r
    return quality, cost


def span_evaluation(span: dict, heldout: Path, quality: dict) -> dict:
    """The span-corruption model on the real held-out split against MiniLM's stored per-query scores."""
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import load_encoder
    from advisor.models.catalog import load_catalogs
    from advisor.models.variants import Variant
    from advisor.quality.bootstrap import compare, mean_ci
    from advisor.quality.evaluation import evaluate_model

    entries = {e.name: e for e in load_catalogs([OFFLINE, Path(span["catalog"])])}
    task = load_task(heldout)
    base = quality[TEACHER]
    if base.key.task_hash != task.content_hash:
        sys.exit("the stored MiniLM cell is not on this held-out split")
    encoder = load_encoder(entries[span["trained"]], device="cpu")
    try:
        after = evaluate_model(encoder, task, [Variant()])[Variant()]
    finally:
        encoder.close()
    diff = compare(after, base.details)
    return {"model": span["trained"], "base": TEACHER, "queries": len(after.per_item),
            "before": diff.b, "before_ci": list(mean_ci(base.details["per_item"])),
            "after": diff.a, "after_ci": list(mean_ci(after.per_item)),
            "difference": diff.difference, "ci": [diff.ci_low, diff.ci_high], "different": diff.different,
            "steps": span["training"]["log"]["steps"], "train_rows": span["training"].get("train_rows")}


def fmt(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def summary_rows(store: Path, catalogs: list[Path], kinds: dict[str, str]) -> list[dict]:
    from advisor.models.catalog import load_catalogs

    entries = {e.name: e for e in load_catalogs(catalogs)}
    quality, cost = stored(store)
    rows = []
    for model, kind in kinds.items():
        q, c = quality.get(model), cost.get(model)
        ci = (q.details.get("ci", {}).get("ndcg_at_10") if q else None) or [None, None]
        m = c.metrics if c else {}
        entry = entries.get(model)
        rows.append({"model": model, "kind": kind, "ndcg_at_10": q.metrics["ndcg_at_10"] if q else None,
                     "ci": ci, "latency_p50_ms": m.get("latency_p50_ms"), "latency_p95_ms": m.get("latency_p95_ms"),
                     "docs_per_s": m.get("docs_per_s"),
                     "parameters": entry.n_parameters if entry else None})
    return rows


def markdown(rows: list[dict], pairs: list[dict], span: dict | None, notes: list[str]) -> str:
    lines = ["| model | what | nDCG@10 (95% CI) | query p50 ms | query p95 ms | bulk docs/s | parameters |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        nd = ("–" if r["ndcg_at_10"] is None
              else f"{r['ndcg_at_10']:.4f} ({fmt(r['ci'][0], 4)}–{fmt(r['ci'][1], 4)})")
        params = "–" if r["parameters"] is None else f"{r['parameters'] / 1e6:.1f} M"
        lines.append(f"| {r['model']} | {r['kind']} | {nd} | {fmt(r['latency_p50_ms'])} | {fmt(r['latency_p95_ms'])} "
                     f"| {fmt(r['docs_per_s'])} | {params} |")
    lines.append("")
    for p in pairs:
        lines += [f"- {line}" for line in p["summary"]]
    if span:
        lines.append(f"- span-corruption fine-tune ({span['steps']} steps on plot passages, no query seen), held-out "
                     f"reviews->plots ({span['queries']} queries): nDCG@10 {span['before']:.4f} -> "
                     f"{span['after']:.4f}, "
                     f"difference {span['difference']:+.4f} (95% CI {span['ci'][0]:+.4f} .. {span['ci'][1]:+.4f})"
                     + ("" if span["different"] else ", within the noise"))
    lines += [f"- note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="Folder for every artifact (runs resume inside it).")
    p.add_argument("--dataset", type=Path, default=REPO / "data" / "rt-reviews-plots-large")
    p.add_argument("--distill-steps", type=int, default=100, help="Training steps of the 2-layer query student.")
    p.add_argument("--grid", default="layers=2,3 width=256,384 heads=4", help="--student-grid value (>= 4 students).")
    p.add_argument("--grid-steps", type=int, default=60, help="Training steps of each grid student (same budget).")
    p.add_argument("--grid-pairs", type=int, default=400, help="Training pairs of each grid student.")
    p.add_argument("--span-steps", type=int, default=60, help="Training steps of the span-corruption fine-tune.")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--skip", default="", help="Steps to leave out, e.g. 'd' or 'c,d'.")
    a = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log, store = out / "commands.log", out / "results.sqlite"
    skip = set(a.skip.replace(" ", "").split(",")) - {""}
    started = time.perf_counter()
    pair_name = f"{TEACHER}-l2-queries+{TEACHER}"

    # a. the query student and its pair
    q2 = out / "q2"
    done = q2 / "report.json"
    report = json.loads(done.read_text()) if done.exists() else advisor(
        "distill", "--teacher", TEACHER, "--student", "layers=2", "--side", "query", "--pair-name", pair_name,
        "--dataset", str(a.dataset), "--out", str(q2), "--no-evaluate", *training_args(a, a.distill_steps), log=log)
    student = report["training"]["pair"]["query_model"]
    heldout = q2 / "heldout"
    catalogs = [OFFLINE, q2 / "catalog.yaml"]
    kinds = {pair_name: "pair (queries by the student, documents by MiniLM)", TEACHER: "off the shelf",
             student: "query student alone (2 layers)"}

    # b. one recommend whose catalog holds the pair, MiniLM and the student
    rec = advisor("recommend", "--catalog", str(OFFLINE), "--catalog", str(q2 / "catalog.yaml"), "--model", pair_name,
                  "--model", TEACHER, "--model", student, "--dataset", str(heldout), "--out", str(out / "recommend"),
                  "--store", str(store), "--device", "cpu", "--json", log=log)
    pairs = json.loads(Path(rec["files"]["json"]).read_text(encoding="utf-8"))["pairs"]

    # c. the student grid, benchmarked into the same store; one report over everything
    notes: list[str] = []
    if "c" not in skip:
        grid = advisor("distill", "--teacher", TEACHER, "--student-grid", a.grid, "--dataset", str(a.dataset),
                       "--out", str(out / "grid"), "--max-pairs", str(a.grid_pairs), "--no-evaluate", "--benchmark",
                       "--store", str(store), *training_args(a, a.grid_steps), log=log)
        catalogs.append(out / "grid" / "catalog.yaml")
        kinds.update({row["trained"]: f"grid student {row['student']}" for row in grid["students"]})
        notes += grid.get("notes", [])
        args = ["report", "--store", str(store), "--out", str(out / "report"), "--json"]
        for c in catalogs:
            args += ["--catalog", str(c)]
        advisor(*args, log=log)

    # d. span corruption on the plot texts, judged on the real held-out queries
    span = None
    if "d" not in skip:
        span_out = out / "span"
        done = span_out / "report.json"
        trained = json.loads(done.read_text()) if done.exists() else advisor(
            "finetune", "--model", TEACHER, "--dataset", str(a.dataset / "corpus.jsonl"), "--pairs",
            "span-corruption", "--out", str(span_out), "--no-evaluate", *training_args(a, a.span_steps), log=log)
        quality, _ = stored(store)
        span = span_evaluation(trained, heldout, quality)

    rows = summary_rows(store, catalogs, kinds)
    text = markdown(rows, pairs, span, notes)
    (out / "summary.md").write_text(text, encoding="utf-8")
    (out / "summary.json").write_text(json.dumps({"rows": rows, "pairs": pairs, "span_corruption": span,
                                                  "notes": notes, "seconds": time.perf_counter() - started},
                                                 indent=1, default=str), encoding="utf-8")
    print("\n" + text)
    reports = [out / "recommend" / "report.html"] + ([] if "c" in skip else [out / "report" / "report.html"])
    print(f"reports: {', '.join(map(str, reports))}; {time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
