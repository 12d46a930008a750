"""The cost cell's two load tests side by side: in process (``advisor.cost.inprocess_load``: ``advisor serve``'s own
dynamic batcher around the loaded model, no HTTP) and a real ``advisor serve`` subprocess of the same model on
127.0.0.1 (``advisor.cost.served``, driven by ``advisor loadtest``'s open-loop client), at the same target rates, the
same queries and the same ``ServeConfig``. It answers: what do HTTP, JSON and a client in another process add to the
sweep's default (in-process) load figures?

Changed meaning: until the one-batcher change (issue 24) the in-process side was a separate thread-based
simulation with its own batcher (max batch, max wait; no token budget, queue bound or per-request tokenization).
``benchmarks/results/load_inprocess_vs_served.*`` were measured then ("in-process simulation (advisor.cost.batcher)"
in their rows) and compare that simulation, not today's in-process test; rerun to compare the two sides now.

    python benchmarks/load_inprocess_vs_served.py                      # all-MiniLM-L6-v2, data/rt-reviews-plots
    python benchmarks/load_inprocess_vs_served.py --model NAME --dataset PATH --rates 10,20,40 --requests 300 \\
        --out benchmarks/results/load_inprocess_vs_served

Rates default to 0.5x, 1x and 1.5x the batch-1 capacity (1000 / p50 of batch-1 latency; the cost cell's own
target is 1.5x). Writes OUT.json and OUT.md and prints the table. A timing benchmark: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--catalog", action="append", default=[], help="extra catalog file(s) to resolve --model in")
    ap.add_argument("--dataset", default=str(REPO / "data" / "rt-reviews-plots"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rates", default=None, help="target rates (requests/s), comma separated")
    ap.add_argument("--requests", type=int, default=300, help="requests at each rate, for each side")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=2.0)
    ap.add_argument("--clients", type=int, default=256,
                    help="most requests in flight, both sides (the HTTP client's connections)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "load_inprocess_vs_served"),
                    help="path without suffix: OUT.json and OUT.md are written")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import numpy as np

    from advisor.cost.http_load import drive_rates
    from advisor.cost.inprocess_load import run_load
    from advisor.cost.latency import single_query_fn
    from advisor.cost.measure import split_texts
    from advisor.cost.served import IN_PROCESS, SOURCE, serve_subprocess
    from advisor.datasets.tasks import load_task
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.batcher import input_limit
    from advisor.models.resolve import resolve_model
    from advisor.models.serve_config import ServeConfig

    entry = resolve_model(args.model, args.catalog or None)
    load = LoadOptions(device=args.device)
    task = load_task(Path(args.dataset))
    _, queries, _ = split_texts(task)
    encoder = load_encoder(entry, load)
    encoder.warmup()
    one = single_query_fn(encoder, "query")
    for q in queries[:10]:
        one(q)
    samples = []
    for q in queries[:40]:
        t0 = time.perf_counter()
        one(q)
        samples.append((time.perf_counter() - t0) * 1000)
    p50 = float(np.percentile(samples, 50))
    capacity = 1000.0 / max(p50, 1e-3)
    rates = ([float(r) for r in args.rates.split(",") if r] if args.rates
             else [round(capacity * f, 2) for f in (0.5, 1.0, 1.5)])

    config = ServeConfig(host="127.0.0.1", max_batch_requests=args.max_batch, max_wait_ms=args.max_wait_ms,
                         batch_size=args.batch_size)
    rows = []
    for rate in rates:
        res = run_load(encoder, queries, config=config, rate_qps=rate, requests=args.requests, clients=args.clients,
                       max_tokens=input_limit(config, entry.max_tokens))
        rows.append({"side": IN_PROCESS, "target_qps": rate, "achieved_qps": round(res.achieved_qps, 3),
                     "p50_ms": round(res.latency.p50_ms, 3), "p95_ms": round(res.latency.p95_ms, 3),
                     "ok": res.ok, "failed": res.rejected, "mean_batch": round(res.mean_batch_size, 3)})
    encoder.close()  # the server runs alone, so the two sides never share the cores

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    payloads = [{"input": q} for q in queries]
    with serve_subprocess(entry, load, config, threads=threads) as served:
        results = drive_rates(served.url, "/v1/embeddings", payloads, rates, requests=args.requests,
                              duration_s=3.0 * args.requests / min(rates) + 1.0, timeout_s=60.0,
                              max_connections=args.clients, warmup=10)
        settings = dict(served.settings)
    for r in results:
        rows.append({"side": SOURCE, "target_qps": r.target_qps, "achieved_qps": r.achieved_qps,
                     "p50_ms": r.p50_ms, "p95_ms": r.p95_ms, "ok": r.ok,
                     "failed": r.rejected + r.errors + r.timed_out, "mean_batch": None})

    report = {"model": entry.name, "dataset": task.name, "device": args.device, "batch1_p50_ms": round(p50, 3),
              "rates": rates, "requests": args.requests, "max_batch": args.max_batch,
              "max_wait_ms": args.max_wait_ms, "clients": args.clients, "server": settings,
              "rows": rows}
    fmt = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    lines = [f"# Load test: in process (advisor serve's batcher, no HTTP) vs advisor serve subprocess",
             "", f"{entry.name} on {task.name} ({args.device}); batch-1 p50 {p50:.2f} ms; {args.requests} requests "
             f"per rate; max batch {args.max_batch}, max wait {args.max_wait_ms:g} ms.", "",
             "| side | target/s | achieved/s | p50 ms | p95 ms | ok | failed | mean batch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: (r["target_qps"], r["side"])):
        lines.append(f"| {row['side']} | {fmt(row['target_qps'])} | {fmt(row['achieved_qps'])} | {fmt(row['p50_ms'])} "
                     f"| {fmt(row['p95_ms'])} | {row['ok']} | {row['failed']} | {fmt(row['mean_batch'])} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
