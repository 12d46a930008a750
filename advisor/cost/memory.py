"""Peak memory where it is clean. On CPU: the peak RSS of a fresh subprocess that only imports the libraries,
loads the model and encodes some texts (the parent process has other models, caches and test data in it). On GPU:
``torch.cuda.max_memory_allocated`` around the measured work (done in ``measure``).

The child is ``python -m advisor.cost.memory`` with a JSON spec on stdin and one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import asdict
from typing import Any, Sequence

from advisor.models.backends import Encoder
from advisor.errors import UserError
from advisor.formatting import duration


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), MiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def reload_spec(entry: Any, load: Any) -> dict[str, Any]:
    """How a fresh process loads the same model the same way: the catalog entry and the ``LoadOptions``."""
    return {"entry": entry.to_dict(), "load": asdict(load)}


def subprocess_peak_rss(spec: dict[str, Any], texts: Sequence[str], *, kind: str = "document",
                        timeout_s: float = 600.0) -> dict[str, float]:
    """Load and run the model in a fresh interpreter; returns ``peak_rss_mb`` (whole process), ``baseline_rss_mb``
    (Python, numpy and the advisor core, before the backend imports its libraries), ``model_rss_mb`` (the
    difference: the backend's libraries, the weights and the activations) and a cold ``load_time_s``."""
    payload = json.dumps({**spec, "texts": list(texts), "kind": kind})
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if spec.get("threads"):  # the same intra-op thread count as the measuring process (torch reads it at start)
        env["OMP_NUM_THREADS"] = str(spec["threads"])
    try:
        proc = subprocess.run([sys.executable, "-m", "advisor.cost.memory"], input=payload, capture_output=True,
                              text=True, timeout=timeout_s, env=env, cwd=str(Path.cwd()))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the memory probe subprocess ran past {duration(timeout_s)}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the memory probe subprocess failed (exit {proc.returncode}): {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child() -> None:
    spec = json.load(sys.stdin)
    import numpy  # noqa: F401 - every backend needs it; torch is imported only by backends that use it

    baseline = _rss_mb()
    t0 = time.perf_counter()
    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.catalog import ModelEntry

    encoder: Encoder = load_encoder(ModelEntry.from_dict(spec["entry"]), LoadOptions(**spec["load"]))
    load_s = time.perf_counter() - t0
    loaded = _rss_mb()
    if spec["texts"]:
        encoder.encode(spec["texts"], kind=spec.get("kind", "document"))
    peak = _peak_rss_mb()
    print(json.dumps({"peak_rss_mb": round(peak, 2), "baseline_rss_mb": round(baseline, 2),
                      "loaded_rss_mb": round(loaded, 2), "model_rss_mb": round(peak - baseline, 2),
                      "load_time_s": round(load_s, 4)}))


if __name__ == "__main__":
    try:
        _child()
    except UserError as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        sys.exit(2)
