"""The serving footprint: the memory a process serving a candidate needs, measured one way for every candidate.

A fresh interpreter (``python -P -m <probe module>``, so the working directory is not on ``sys.path``) reads a JSON
spec on stdin and does what a serving process does: it imports the serving libraries (runtime), loads the model
(weights), holds the index of the task's corpus (index) and answers 32 queries; it prints one JSON line with its
peak RSS (``ru_maxrss``) and its RSS after each stage, and exits. The measuring process has other models, caches and
test data in it, so only a fresh one is clean.

- A model (this module's probe): its corpus vectors are *loaded*, not encoded. A serving process holds the vectors a
  bulk job computed; it never encodes the corpus, so the bulk job's activations and copies are not serving memory
  (and an asymmetric pair's serving process holds its query model only, which cannot encode the documents). The
  measuring process hands over the vectors it has (the sweep: those its quality cells encoded) as a ``.npy`` file
  that the probe reads whole into memory; they are its exact index (the full-size float32 vectors, searched by a
  dot product). Queries: one batch of up to 32 (advisor serve's max batch), each searched for its top 10.
- BM25 (``advisor.index.bm25``'s probe): the process builds its index from the documents (tokenize + index, what
  bm25s does at start) and answers the same 32 queries.

Parts, from the same process: runtime = RSS once the libraries are imported, before the model; weights = the RSS
the model's load and one warm-up query add; index = the bytes of the index structure (the vectors; BM25's postings
and vocabulary); index per million documents = index bytes / documents x 1,000,000 (linear). ``Footprint.figures``
names them in the figure registry (``serving_*``). On a GPU the same process also reports
``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from advisor.errors import UserError
from advisor.figures import (GPU_PEAK_MEMORY_MB, LOAD_TIME_COLD_S, SERVING_INDEX_MB, SERVING_INDEX_MB_PER_M,
                             SERVING_MEMORY_MB, SERVING_RUNTIME_MB, SERVING_WEIGHTS_MB)
from advisor.formatting import duration

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.backends import Encoder

# The method a cost cell's ``memory.method`` records: a sweep measures again a cost cell that records another one
# (advisor.sweep.driver.memory_changed), so figures measured two ways are never ranked side by side.
FOOTPRINT_METHOD = "serving-footprint/1"
HOW = ("peak RSS of a fresh python -P process that imports the serving libraries, loads the model, holds the index "
       "of the task's corpus and answers 32 queries")
INDEX_RULE = "index bytes / documents indexed x 1,000,000 (linear in the corpus)"
QUERIES = 32  # queries the process answers: advisor serve's max batch
TOP_K = 10
MODEL_PROBE = __name__  # the probe of a model (BM25's is advisor.index.bm25)
MiB = 2**20
# top-level packages a loaded encoder's objects may come from that are not serving libraries of their own
_NOT_LIBRARIES = {"advisor", "builtins", "numpy", "typing_extensions"}


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), MiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / MiB
    except (OSError, ValueError):
        return float("nan")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB: Linux's VmHWM, the high-water mark of this process's own memory
    map. Not ``ru_maxrss``: on Linux, exec carries the high-water mark of the process it replaced into it, and a
    child started by fork or vfork replaced a copy of its parent, so a fresh process's ru_maxrss starts at the
    measuring process's RSS. Elsewhere (no /proc), ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / MiB if sys.platform == "darwin" else peak / 1024


def reload_spec(entry: Any, load: Any) -> dict[str, Any]:
    """How a fresh process loads the same model the same way: the catalog entry and the ``LoadOptions``."""
    return {"entry": entry.to_dict(), "load": asdict(load)}


def encoder_libraries(encoder: Any, *, depth: int = 4) -> list[str]:
    """The top-level packages a loaded encoder's objects come from (their classes and base classes, walked through
    attributes, lists and dicts ``depth`` deep), outside the standard library, numpy and the advisor: the libraries a
    fresh serving process imports before it loads the model, so that the runtime part counts them and the weights
    part does not. A library the load imports for itself alone (e.g. safetensors) falls in the weights part."""
    found: dict[str, None] = {}
    seen: set[int] = set()
    stack = [(encoder, 0)]
    while stack:
        obj, level = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for cls in type(obj).__mro__:
            top = (getattr(cls, "__module__", "") or "").split(".")[0]
            if top and not top.startswith("_") and top not in _NOT_LIBRARIES and top not in sys.stdlib_module_names:
                found.setdefault(top, None)
        if level >= depth or isinstance(obj, (str, bytes, int, float, type)):
            continue
        try:
            if isinstance(obj, dict):
                children = list(obj.values())[:64]
            elif isinstance(obj, (list, tuple)):
                children = list(obj[:64])
            else:
                attrs = getattr(obj, "__dict__", None)
                children = list(attrs.values()) if isinstance(attrs, dict) else []
        except Exception:  # noqa: BLE001 - an object that will not show its attributes holds no library we need
            continue
        stack.extend((child, level + 1) for child in children)
    return list(found)


def subprocess_peak_rss(spec: dict[str, Any], *, module: str = MODEL_PROBE,
                        timeout_s: float = 600.0) -> dict[str, Any]:
    """Run ``python -P -m module`` with ``spec`` as JSON on stdin and return the JSON line it prints last (its peak
    RSS and its stages); the process is waited for (reaped) whatever happens. ``spec["threads"]`` sets its intra-op
    thread count (torch reads it at start)."""
    payload = json.dumps(spec)
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if spec.get("threads"):
        env["OMP_NUM_THREADS"] = str(spec["threads"])
    try:  # subprocess.run waits for the child, and kills then waits for it on a timeout
        proc = subprocess.run([sys.executable, "-P", "-m", module], input=payload, capture_output=True, text=True,
                              timeout=timeout_s, env=env, cwd=str(Path.cwd()))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the memory probe process ran past {duration(timeout_s)}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the memory probe process failed (exit {proc.returncode}): {tail[0]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass
class FootprintSpec:
    """What a serving process holds. ``module``: the probe that serves (``MODEL_PROBE`` for a model, given
    ``model``, a ``reload_spec``, and ``vectors``, the corpus vectors; ``advisor.index.bm25`` for BM25, given
    ``documents``). ``libraries``: top-level packages imported before the model (the runtime part)."""

    module: str
    queries: list[str]
    libraries: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None
    vectors: "np.ndarray | None" = None
    documents: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    vectors_source: str = ""  # where the vectors came from, for the details


@dataclass
class Footprint:
    """A serving process's memory, MiB: its peak (the serving footprint) and its parts."""

    peak_mb: float
    runtime_mb: float
    weights_mb: float
    index_bytes: int
    index_docs: int
    pid: int
    stages_mb: dict[str, float]
    peaks_mb: dict[str, float]
    libraries: list[str]
    queries: int
    load_time_s: float | None = None
    gpu_peak_mb: float | None = None
    vectors_source: str = ""

    @property
    def index_mb(self) -> float:
        return self.index_bytes / MiB

    @property
    def index_mb_per_million_docs(self) -> float | None:
        return self.index_bytes / self.index_docs * 1e6 / MiB if self.index_docs else None

    def figures(self) -> dict[str, float]:
        out = {SERVING_MEMORY_MB: round(self.peak_mb, 2), SERVING_RUNTIME_MB: round(self.runtime_mb, 2),
               SERVING_WEIGHTS_MB: round(self.weights_mb, 2), SERVING_INDEX_MB: round(self.index_mb, 4)}
        if self.index_mb_per_million_docs is not None:
            out[SERVING_INDEX_MB_PER_M] = round(self.index_mb_per_million_docs, 3)
        if self.gpu_peak_mb is not None:
            out[GPU_PEAK_MEMORY_MB] = round(self.gpu_peak_mb, 2)
        if self.load_time_s is not None:
            out[LOAD_TIME_COLD_S] = round(self.load_time_s, 4)
        return out

    def details(self) -> dict[str, Any]:
        """What a cost cell stores beside the figures (``details["memory"]``)."""
        return {"method": FOOTPRINT_METHOD, "how": HOW, "pid": self.pid, "rss_mb": self.stages_mb,
                "peak_rss_mb_so_far": self.peaks_mb,
                "libraries": self.libraries, "queries": self.queries, "index_bytes": self.index_bytes,
                "index_docs": self.index_docs, "index_rule": INDEX_RULE, "vectors": self.vectors_source}


def serving_footprint(spec: FootprintSpec, *, timeout_s: float = 600.0) -> Footprint:
    """The serving footprint of ``spec`` in a fresh process (a model or BM25: the same process, stages and rules)."""
    payload: dict[str, Any] = {"queries": list(spec.queries)[:QUERIES], "libraries": list(spec.libraries),
                               "settings": dict(spec.settings), "threads": spec.threads}
    if spec.model is not None:
        payload.update(spec.model)
    if spec.documents is not None:
        payload["documents"] = list(spec.documents)
    with tempfile.TemporaryDirectory(prefix="advisor-footprint-") as tmp:
        if spec.vectors is not None:
            import numpy as np

            path = Path(tmp) / "vectors.npy"
            np.save(path, np.ascontiguousarray(spec.vectors, dtype=np.float32))
            payload["vectors"] = str(path)
        out = subprocess_peak_rss(payload, module=spec.module, timeout_s=timeout_s)
    stages = {k: round(float(v), 2) for k, v in out["stages"].items()}
    return Footprint(peak_mb=float(out["peak_rss_mb"]), runtime_mb=stages["runtime"], peaks_mb=dict(out["peaks"]),
                     weights_mb=max(0.0, stages["loaded"] - stages["runtime"]), index_bytes=int(out["index_bytes"]),
                     index_docs=int(out["index_docs"]), pid=int(out["pid"]), stages_mb=stages,
                     libraries=list(out["libraries"]), queries=int(out["queries"]),
                     load_time_s=out.get("load_time_s"), gpu_peak_mb=out.get("gpu_peak_mb"),
                     vectors_source=spec.vectors_source)


# -- the measuring process's side for a model -----------------------------------------------------------------------

def model_footprint(encoder: "Encoder", entry: Any, load: Any, vectors: "np.ndarray", queries: Sequence[str], *,
                    vectors_source: str, timeout_s: float = 600.0) -> Footprint:
    """The serving footprint of a loaded model (loaded again in the fresh process the same way: the catalog entry and
    the ``LoadOptions``; an asymmetric pair serves queries only, so its process loads its query model) with
    ``vectors`` as the index of the corpus."""
    serving = getattr(encoder, "serving_entry", None)
    spec = reload_spec(serving or entry, getattr(encoder, "serving_options", None) or load)
    served = getattr(encoder, "query", encoder) if serving is not None else encoder
    torch = sys.modules.get("torch")
    return serving_footprint(FootprintSpec(MODEL_PROBE, list(queries), encoder_libraries(served), model=spec,
                                           vectors=vectors, threads=torch.get_num_threads() if torch else None,
                                           vectors_source=vectors_source), timeout_s=timeout_s)


def serving_memory(encoder: "Encoder", entry: Any, load: Any, documents: Sequence[str], queries: Sequence[str], *,
                   vectors: "np.ndarray | None" = None, batch_size: int = 32,
                   progress: Callable[[str, int, "int | None"], None] | None = None
                   ) -> tuple[dict[str, Any], list[str]]:
    """(figures and details, notes) of a model's serving footprint for ``measure_cost``: the ``serving_*`` figures,
    ``load_time_cold_s``, ``memory`` (``Footprint.details``) and ``memory_method``. ``vectors``: the documents'
    vectors when the caller has them (the sweep's quality encode); else this process encodes ``documents`` first,
    as the bulk job that fills the index would. A probe that cannot run (e.g. a backend registered only in this
    process) leaves a note and ``memory.error``; the other cost figures still count."""
    tell = progress or (lambda stage, done, total: None)
    if vectors is not None and len(vectors) == len(documents):
        source = "the corpus vectors the measuring process had (the sweep: its quality cells' encode)"
    else:
        source = "the corpus vectors the measuring process encoded for it (a bulk job's output)"
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            tell("memory: encoding the documents", done, len(documents))

        tell("memory: encoding the documents", 0, len(documents))
        vectors = encoder.encode(list(documents), kind="document", batch_size=batch_size, progress=step)
    tell("memory (fresh process)", 0, None)
    try:
        footprint = model_footprint(encoder, entry, load, vectors, queries, vectors_source=source)
    except RuntimeError as exc:
        return {"memory": {"method": FOOTPRINT_METHOD, "error": str(exc)}}, [f"serving memory not measured: {exc}"]
    return {**footprint.figures(), "memory": footprint.details(), "memory_method": HOW}, []


# -- the fresh process's side -----------------------------------------------------------------------------------------

class Stages:
    """RSS after each stage of the fresh process, and the peak so far (which stage the peak comes from), MiB."""

    def __init__(self) -> None:
        self.mb: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.mb[name] = round(_rss_mb(), 2)
        self.peak_mb[name] = self.peak()

    def peak(self) -> float:
        """The high-water mark so far. The kernel updates it lazily (memory given back before it looked is not in
        it), so it is never taken below an RSS this process saw at a stage."""
        return round(max([_peak_rss_mb(), *self.mb.values(), *self.peak_mb.values()]), 2)


Serve = Callable[[dict[str, Any], Stages], dict[str, Any]]


def probe_main(serve: Serve) -> None:
    """The fresh process: read the spec, import the libraries (stage ``runtime``), let ``serve`` load the model
    (stage ``loaded``), build or load the index (``indexed``) and answer the queries (``answered``), and print one
    JSON line: the peak RSS, the stages and what ``serve`` returns (``index_bytes``, ``index_docs`` ...)."""
    try:
        spec = json.load(sys.stdin)
        stages = Stages()
        stages.mark("start")  # the interpreter, numpy and the advisor's probe module
        for name in spec.get("libraries") or []:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # a library the serving process cannot import is not part of its runtime
        stages.mark("runtime")
        result = serve(spec, stages)
        for name in ("loaded", "indexed", "answered"):
            stages.mb.setdefault(name, stages.mb["runtime"])
        out = {"peak_rss_mb": stages.peak(), "stages": stages.mb, "peaks": stages.peak_mb,
               "pid": os.getpid(),
               "libraries": list(spec.get("libraries") or []), "queries": len(spec.get("queries") or []),
               **result}
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            out["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated() / MiB, 2)
        print(json.dumps(out))
    except UserError as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _serve_model(spec: dict[str, Any], stages: Stages) -> dict[str, Any]:
    """A model's serving process: load it (and run one warm-up query, so that the weights part holds every weight
    even when they are mapped from their file and read in on first use), load the corpus vectors whole into memory
    (the exact index), encode the queries as one batch and search each for its top 10."""
    import numpy as np

    from advisor.models.backends import LoadOptions, load_encoder
    from advisor.models.catalog import ModelEntry

    t0 = time.perf_counter()
    encoder = load_encoder(ModelEntry.from_dict(spec["entry"]), LoadOptions(**spec["load"]))
    load_s = time.perf_counter() - t0
    encoder.warmup()  # one short query: a model whose weights are mapped from their file reads them all in
    stages.mark("loaded")
    vectors = np.load(spec["vectors"], mmap_mode=None).astype(np.float32, copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, np.where(norms > 0, norms, 1.0), out=vectors)
    del norms
    stages.mark("indexed")
    queries = list(spec.get("queries") or [])
    if queries and len(vectors):
        q = encoder.encode(queries, kind="query", batch_size=QUERIES)
        k = min(TOP_K, len(vectors))
        for row in q:
            scores = vectors @ (row / (np.linalg.norm(row) or 1.0))
            np.argpartition(-scores, k - 1)[:k]
    stages.mark("answered")
    return {"index_bytes": int(vectors.nbytes), "index_docs": int(len(vectors)), "load_time_s": round(load_s, 4)}


if __name__ == "__main__":
    probe_main(_serve_model)
