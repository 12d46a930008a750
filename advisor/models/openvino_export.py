"""OpenVINO conversion of a transformers folder, made once per model revision, cached, reused.

``openvino.convert_model`` converts the torch module itself (the lean BERT module, ``advisor.models.bert``, for
BERT-class models: fused QKV and SDPA, which OpenVINO maps to its own ScaledDotProductAttention; the transformers
model with SDPA or eager attention otherwise), and the IR is saved with fp32 weights (``model-fp32.xml/.bin``); the
conversion is checked against torch fp32 on ``artifacts.PROBE_TEXTS`` (lowest cosine >= ``FAITHFUL``), the cosine
recorded in ``conversion.json``. Precisions:

- fp32: the IR compiled with ``INFERENCE_PRECISION_HINT f32`` (OpenVINO's CPU plugin picks bf16 by itself on a CPU
  with BF16 instructions; the hint keeps fp32 fp32).
- bf16: the same IR with the hint ``bf16``, only where the CPU has BF16 instructions (``bf16_unsupported``).
- int8-static: NNCF post-training static quantization (``ModelType.TRANSFORMER``: SmoothQuant, min/max activation
  ranges, fast bias correction) calibrated on the user's own texts (``advisor.models.calibration``), saved as
  ``model-int8-static-<calibration>.xml`` beside its texts; compiled with the f32 hint for what stays float.

Files live in ``<cache>/openvino/<folder>-<key>/`` (``advisor.models.artifacts``), beside the ONNX export's.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import UserError
from advisor.models.artifacts import (artifact_home, artifact_key, faithful_cosine, make_once, newest_static,
                                      read_json, reference_hidden, write_json)
from advisor.models.calibration import Calibration
from advisor.models.export import NO_CALIBRATION

OPENVINO_PRECISIONS = ("fp32", "bf16", "int8-static")
RECIPE = "openvino/1: convert_model from torch (lean BERT or transformers), fp32 IR, NNCF PTQ transformer"
LIBRARIES = ("torch", "transformers", "openvino", "nncf")
FAITHFUL = 0.999
HINTS = {"fp32": "f32", "bf16": "bf16", "int8-static": "f32"}
BF16_FEATURES = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class OpenVinoModel:
    """The IR to compile, the inference precision hint to compile it with, and how it was made."""

    path: Path
    hint: str
    info: dict[str, Any] = field(default_factory=dict)


def openvino_unsupported(folder: Path | None = None) -> str | None:
    """Why the OpenVINO runtime cannot run here (or this folder), or None."""
    import importlib.util

    for module in ("openvino", "nncf"):
        if importlib.util.find_spec(module) is None:
            return f"the openvino runtime needs {module} (pip install 'embedding-advisor[openvino]')"
    if folder is not None:
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            if not (folder / name).is_file():
                return f"{folder} has no {name} (the OpenVINO conversion needs a transformers folder with " \
                       f"safetensors weights)"
    return None


def bf16_unsupported() -> str | None:
    """Why bf16 would not be real bf16 on this CPU (OpenVINO emulates or ignores it without BF16 instructions)."""
    from advisor.environment import cpu_features

    if not set(BF16_FEATURES) & set(cpu_features()):
        return (f"this CPU has no BF16 instructions ({' or '.join(BF16_FEATURES)}); OpenVINO would run the bf16 "
                f"hint in fp32")
    return None


def convert_home(folder: Path, cache: Path | None = None) -> Path:
    return artifact_home("openvino", folder, artifact_key(folder, LIBRARIES, RECIPE), cache)


def _source_module(folder: Path) -> tuple[Any, str]:
    import json

    from advisor.models import bert

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if bert.supports(config) is None:
        return bert.build(folder).eval(), "advisor lean BERT (fused QKV, SDPA)"
    from transformers import AutoModel

    from advisor.models.attention import load_with_attention
    from advisor.models.export import _last_hidden

    model, attn = load_with_attention(lambda a: AutoModel.from_pretrained(
        str(folder), attn_implementation=a, use_safetensors=True, trust_remote_code=False))
    return _last_hidden(model.eval()), f"transformers ({attn} attention)"


def compile_ir(model: Any, hint: str, threads: int) -> Any:
    """An IR (or a path to one) compiled for the CPU at ``threads`` threads, one stream, precision ``hint``."""
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
              "PERFORMANCE_HINT": "LATENCY"}
    return core.compile_model(str(model) if isinstance(model, Path) else model, "CPU", config)


def ir_hidden(compiled: Any, ids: Any, mask: Any) -> Any:
    return compiled({"input_ids": ids, "attention_mask": mask})[0]


def _build_fp32(folder: Path, work: Path) -> None:
    import shutil

    import openvino as ov
    import torch

    from advisor.environment import thread_budget
    from advisor.models.export import probe_batch

    module, source = _source_module(folder)
    example = torch.ones((2, 16), dtype=torch.long)
    inputs = [("input_ids", ov.PartialShape([-1, -1]), ov.Type.i64),
              ("attention_mask", ov.PartialShape([-1, -1]), ov.Type.i64)]
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        model = ov.convert_model(module, example_input=(example, torch.ones_like(example)), input=inputs)
    ids, mask = probe_batch(folder)
    cosine = faithful_cosine(ir_hidden(compile_ir(model, "f32", thread_budget()), ids, mask),
                             reference_hidden(folder, ids, mask), mask)
    if cosine < FAITHFUL:
        raise UserError(f"{folder}: the OpenVINO conversion does not reproduce the model (lowest cosine to torch fp32 "
                        f"{cosine:.4f} < {FAITHFUL}); the openvino runtime cannot run it")
    ov.save_model(model, str(work / "model-fp32.xml"), compress_to_fp16=False)
    for name in ("tokenizer.json", "config.json"):
        shutil.copy2(folder / name, work / name)
    write_json(work / "conversion.json", {"source": source, "min_cosine": round(cosine, 6), "threshold": FAITHFUL,
                                          "probe_tokens": int(mask.shape[1])})


def _build_int8_static(folder: Path, home: Path, work: Path, calibration: Calibration, name: str) -> None:
    import numpy as np
    import nncf
    import openvino as ov
    from tokenizers import Tokenizer

    from advisor.models.fastpath import ModelLayout

    layout = ModelLayout.read(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(layout.max_length)

    def feed(text: str) -> dict[str, np.ndarray]:  # one text per item: no padding token enters the ranges
        e = tok.encode(text)
        return {"input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64)}

    nncf.set_log_level(logging.ERROR)
    model = ov.Core().read_model(str(home / "model-fp32.xml"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = nncf.quantize(model, nncf.Dataset(list(calibration.texts), feed),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration.texts))
    ov.save_model(quantized, str(work / name), compress_to_fp16=False)
    calibration.save(work / f"calibration-{calibration.digest}.json")


def convert_openvino(folder: str | Path, weight_precision: str = "fp32", *, cache: Path | None = None,
                     calibration: Calibration | None = None) -> OpenVinoModel:
    """The IR of ``folder`` for ``weight_precision`` (fp32, bf16 or int8-static), converted the first time.
    int8-static needs ``calibration`` (the user's texts)."""
    folder = Path(folder)
    if weight_precision not in OPENVINO_PRECISIONS:
        raise UserError(f"the openvino runtime runs {', '.join(OPENVINO_PRECISIONS)} weights, not {weight_precision}")
    reason = openvino_unsupported(folder) or (bf16_unsupported() if weight_precision == "bf16" else None)
    if reason:
        raise UserError(reason)
    home = convert_home(folder, cache)
    make_once(home, "model-fp32.xml", lambda work: _build_fp32(folder, work))
    info: dict[str, Any] = {"conversion": read_json(home / "conversion.json")}
    if weight_precision != "int8-static":
        return OpenVinoModel(home / "model-fp32.xml", HINTS[weight_precision], info)
    if calibration is None or not calibration.texts:
        reuse = newest_static(home, "xml")
        if reuse is None:
            raise UserError(NO_CALIBRATION)
        calibration = Calibration.load(reuse[1])
    name = f"model-int8-static-{calibration.digest}.xml"
    path = make_once(home, name, lambda work: _build_int8_static(folder, home, work, calibration, name))
    return OpenVinoModel(path, HINTS[weight_precision], {
        **info, "quantization": "NNCF post-training static int8 (ModelType.TRANSFORMER: SmoothQuant, min/max "
                                "activation ranges, fast bias correction)",
        "calibration": calibration.record(home / f"calibration-{calibration.digest}.json")})
