"""ONNX export of a transformers folder at its best for ONNX Runtime, made once per model revision, cached, reused.

A CPU team ships a transformer through ONNX Runtime with its transformer graph optimizer applied, often with int8
weights; to measure that deployment the advisor makes the same files:

- ``model-fp32.onnx``: the encoder exported by torch's TorchScript exporter from the eager attention (the graph
  whose patterns onnxruntime's fusions know; the dynamo exporter's SDPA decomposition defeats its attention
  fusion), the dynamo exporter when that fails. Batch and sequence length are dynamic; the graph returns the last
  hidden states and pooling stays in the harness (``advisor.models.pooling``).
- ``model-fp32-opt.onnx``: ``onnxruntime.transformers.optimizer.optimize_model`` (BERT fusions: attention,
  embedding + LayerNorm, skip + LayerNorm, bias + GELU) at the highest level (2, 1, 0) whose sentence vectors
  reproduce torch fp32 (lowest cosine >= ``FAITHFUL`` on ``artifacts.PROBE_TEXTS``); ``optimization.json`` records
  the level, the fusions and the cosine of every level tried. When no level reproduces the model, fp32 runs the
  plain export and the record says so.
- ``model-int8.onnx``: dynamic int8 (weights per channel, activations quantized at run time) of that graph.
- ``model-int8-static-<calibration>.onnx``: static int8 (QDQ: activation scales calibrated on the user's own texts,
  ``advisor.models.calibration``, weights per channel) of that graph; the texts are kept beside it.

Files live in ``<cache>/onnx/<folder>-<key>/`` (``advisor.models.artifacts``: keyed by the weights, the library
versions and ``RECIPE``, made under a lock, atomically).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import UserError
from advisor.models.artifacts import (PROBE_TEXTS, artifact_home, artifact_key, faithful_cosine, make_once,
                                      newest_static, read_json, reference_hidden, token_batch, write_json)
from advisor.models.calibration import Calibration

ONNX_PRECISIONS = ("fp32", "int8", "int8-static")
RECIPE = "onnx/2: torchscript-eager export, ort transformer optimizer, dynamic and static int8"
LIBRARIES = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime")
FAITHFUL = 0.999          # the lowest cosine to torch fp32 an fp32 graph optimization may have
OPT_LEVELS = (2, 1, 0)    # 2: every transformer fusion and ORT's extended rewrites; 0: the Python fusions only
PROBE_TOKENS = 256        # the probe texts are cut here (or at the model's limit, whichever is smaller)
NO_CALIBRATION = ("static int8 needs calibration texts from your data, and no static int8 model of it is in the "
                  "cache yet: a sweep ('advisor run' / 'advisor recommend' with weight_precisions: [int8-static]) "
                  "takes a few hundred from the task and makes it")


@dataclass(frozen=True)
class OnnxModel:
    """The file to run and how it was made (recorded in ``Encoder.info``)."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)


def onnx_unsupported(folder: Path) -> str | None:
    """Why this folder cannot be exported here, or None."""
    import importlib.util

    for module, extra in (("onnx", "onnx"), ("onnxscript", "onnx"), ("onnxruntime", "onnx")):
        if importlib.util.find_spec(module) is None:
            return f"the ONNX runtime needs {module} (pip install 'embedding-advisor[{extra}]')"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            return f"{folder} has no {name} (the ONNX export needs a transformers folder with safetensors weights)"
    return None


def export_home(folder: Path, cache: Path | None = None) -> Path:
    return artifact_home("onnx", folder, artifact_key(folder, LIBRARIES, RECIPE), cache)


def _load_eager(folder: Path) -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(folder), attn_implementation="eager", use_safetensors=True,
                                     trust_remote_code=False).eval()


def _last_hidden(model: Any) -> Any:
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return LastHidden(model)


def _export_torchscript(folder: Path, target: Path) -> None:
    import torch

    model = _last_hidden(_load_eager(folder))
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def _export_dynamo(folder: Path, target: Path) -> None:
    import torch
    from torch.export import Dim
    from transformers import AutoModel

    from advisor.models.attention import load_with_attention

    inner, _ = load_with_attention(lambda attn: AutoModel.from_pretrained(
        str(folder), attn_implementation=attn, use_safetensors=True, trust_remote_code=False))
    model = _last_hidden(inner.eval())
    ids = torch.ones((2, 16), dtype=torch.long)
    batch, seq = Dim("batch"), Dim("sequence", max=int(inner.config.max_position_embeddings))
    with warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamo=True, dynamic_shapes={"input_ids": {0: batch, 1: seq},
                                                       "attention_mask": {0: batch, 1: seq}},
                          optimize=True, verbose=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _build_fp32(folder: Path, work: Path) -> None:
    """``model-fp32.onnx``: the TorchScript exporter from eager attention, the dynamo exporter when it fails."""
    record: dict[str, Any] = {}
    try:
        _export_torchscript(folder, work / "model-fp32.onnx")
        record["exporter"] = "torch.onnx TorchScript (eager attention, opset 17)"
    except Exception as exc:  # noqa: BLE001 - the exporters raise many kinds
        record["torchscript_failed"] = _first_line(exc)
        for f in work.glob("model-fp32.onnx*"):
            f.unlink()
        try:
            _export_dynamo(folder, work / "model-fp32.onnx")
        except Exception as exc2:  # noqa: BLE001
            raise UserError(f"{folder}: torch.onnx.export failed ({_first_line(exc2)}); the ONNX runtime cannot run "
                            f"this model") from None
        record["exporter"] = "torch.onnx dynamo"
    write_json(work / "export.json", record)


def _session(path: Path) -> Any:
    from advisor.models.ort import onnxruntime
    ort = onnxruntime()

    from advisor.environment import thread_budget

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = thread_budget()
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_hidden(path: Path, ids: Any, mask: Any) -> Any:
    """An ONNX file's last hidden states on CPU, fed the inputs its graph asks for."""
    import numpy as np

    session = _session(path)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]


def probe_batch(folder: Path) -> tuple[Any, Any]:
    from advisor.models.fastpath import ModelLayout

    layout = ModelLayout.read(folder)
    pad_id = int(layout.config.get("pad_token_id") or 0)
    return token_batch(folder / "tokenizer.json", PROBE_TEXTS, min(PROBE_TOKENS, layout.max_length), pad_id)


def _build_optimized(folder: Path, home: Path, work: Path) -> None:
    """``model-fp32-opt.onnx``: the highest optimizer level that reproduces torch fp32, else the plain export."""
    import shutil

    from onnxruntime.transformers.optimizer import optimize_model

    config = read_json(folder / "config.json")
    ids, mask = probe_batch(folder)
    reference = reference_hidden(folder, ids, mask)
    tried: list[dict[str, Any]] = []
    chosen: dict[str, Any] | None = None
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    for level in OPT_LEVELS:
        candidate = work / f"opt-{level}.onnx"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = optimize_model(str(home / "model-fp32.onnx"), model_type="bert",
                                       num_heads=int(config.get("num_attention_heads", 0)),
                                       hidden_size=int(config.get("hidden_size", 0)), opt_level=level, use_gpu=False)
                fusions = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
                model.save_model_to_file(str(candidate))
            cosine = faithful_cosine(onnx_hidden(candidate, ids, mask), reference, mask)
        except Exception as exc:  # noqa: BLE001 - a level the optimizer cannot apply is tried no further
            tried.append({"level": level, "error": _first_line(exc)})
            continue
        tried.append({"level": level, "min_cosine": round(cosine, 6), "fusions": fusions})
        if cosine >= FAITHFUL:
            chosen = {"level": level, "fusions": fusions, "min_cosine": round(cosine, 6)}
            shutil.move(str(candidate), work / "model-fp32-opt.onnx")
            break
    if chosen is None:  # no level reproduces the model: fp32 runs the plain export
        plain = faithful_cosine(onnx_hidden(home / "model-fp32.onnx", ids, mask), reference, mask)
        chosen = {"level": None, "fusions": {}, "min_cosine": round(plain, 6),
                  "why": f"no optimizer level reproduced torch fp32 (cosine >= {FAITHFUL})"}
        shutil.copy2(home / "model-fp32.onnx", work / "model-fp32-opt.onnx")
    for f in work.glob("opt-*.onnx"):
        f.unlink()
    write_json(work / "optimization.json", {**chosen, "threshold": FAITHFUL, "tried": tried,
                                            "probe_texts": len(PROBE_TEXTS), "probe_tokens": int(mask.shape[1])})


def _build_dynamic_int8(home: Path, work: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice on every call
    quantize_dynamic(str(home / "model-fp32-opt.onnx"), str(work / "model-int8.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _build_static_int8(folder: Path, home: Path, work: Path, calibration: Calibration, name: str) -> None:
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from tokenizers import Tokenizer

    from advisor.models.fastpath import ModelLayout

    layout = ModelLayout.read(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(layout.max_length)

    class Reader(CalibrationDataReader):
        """One text per batch, so no padding token enters the activation ranges."""

        def __init__(self) -> None:
            self.texts = iter(calibration.texts)

        def get_next(self) -> dict[str, np.ndarray] | None:
            text = next(self.texts, None)
            if text is None:
                return None
            e = tok.encode(text)
            return {"input_ids": np.array([e.ids], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask], dtype=np.int64)}

    logging.getLogger().setLevel(logging.ERROR)
    # U8 activations with S8 weights: the combination x86 VNNI kernels run; MatMul only (attention's own
    # matmuls stay float inside the fused Attention op)
    quantize_static(str(home / "model-fp32-opt.onnx"), str(work / name), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul"], calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    calibration.save(work / f"calibration-{calibration.digest}.json")


def export_onnx(folder: str | Path, weight_precision: str = "fp32", *, cache: Path | None = None,
                calibration: Calibration | None = None) -> OnnxModel:
    """The ONNX file of ``folder`` at ``weight_precision`` (fp32, int8 or int8-static), made the first time.
    int8-static needs ``calibration`` (the user's texts)."""
    folder = Path(folder)
    if weight_precision not in ONNX_PRECISIONS:
        raise UserError(f"the ONNX runtime runs {', '.join(ONNX_PRECISIONS)} weights here, not {weight_precision}")
    reason = onnx_unsupported(folder)
    if reason:
        raise UserError(reason)
    home = export_home(folder, cache)

    def copy_tokenizer(work: Path) -> None:
        import shutil

        _build_fp32(folder, work)
        for name in ("tokenizer.json", "config.json"):
            shutil.copy2(folder / name, work / name)

    make_once(home, "model-fp32.onnx", copy_tokenizer)
    make_once(home, "model-fp32-opt.onnx", lambda work: _build_optimized(folder, home, work))
    info: dict[str, Any] = {"export": read_json(home / "export.json").get("exporter"),
                            "graph_optimization": read_json(home / "optimization.json")}
    if weight_precision == "fp32":
        return OnnxModel(home / "model-fp32-opt.onnx", info)
    if weight_precision == "int8":
        path = make_once(home, "model-int8.onnx", lambda work: _build_dynamic_int8(home, work))
        return OnnxModel(path, {**info, "quantization": "onnxruntime dynamic int8 (weights per channel, activations "
                                                        "quantized at run time)"})
    if calibration is None or not calibration.texts:
        reuse = newest_static(home, "onnx")
        if reuse is None:
            raise UserError(NO_CALIBRATION)
        calibration = Calibration.load(reuse[1])
    name = f"model-int8-static-{calibration.digest}.onnx"
    path = make_once(home, name, lambda work: _build_static_int8(folder, home, work, calibration, name))
    return OnnxModel(path, {**info, "quantization": "onnxruntime static int8 (QDQ; U8 activations calibrated by "
                                                    "min/max, S8 weights per channel; MatMul)",
                            "calibration": calibration.record(home / f"calibration-{calibration.digest}.json")})
