"""The torch backend's declaration: what it can run and why it refuses a variant. Imports no torch at import."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.errors import UserError
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

INT8_ON_CUDA = ("int8 here is torch dynamic quantization, which runs on CPU only; use fp16 or bf16 on CUDA")
RUNTIME_PRECISIONS = {"torch": {"cpu": ("fp32", "fp16", "bf16", "int8"), "cuda": ("fp32", "fp16", "bf16")},
                      "onnx": {"cpu": ("fp32", "int8")}}


class TorchBackend(Backend):
    name = "torch"
    description = ("sentence-transformers folders and plain transformers encoders (mean/CLS/last-token pooling), "
                   "SDPA attention, fp32/fp16/bf16 on CUDA and CPU, int8 (dynamic quantization) on CPU; runtimes: "
                   "torch (the fast path when it reproduces the folder) and onnx (exported once, ONNX Runtime)")
    capabilities = BackendCapabilities(
        devices=("cpu", "cuda"),
        weight_precisions=RUNTIME_PRECISIONS["torch"], runtimes=tuple(RUNTIME_PRECISIONS),
        can_truncate=True, max_batch_size=None, prompts=True,
        notes="safetensors only unless the policy allows pickle weights; trust_remote_code only when both the "
              "entry and the policy allow it; int8 = torch.ao dynamic quantization of Linear layers (CPU), or "
              "onnxruntime's dynamic int8 on the onnx runtime; whether fp16/bf16 are fast on a CPU is for the "
              "measurement to say (they need AVX512-BF16 / AMX to pay off)",
    )

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        if entry.weight_precision and variant.weight_precision != entry.weight_precision:
            return (f"{entry.name} ships fixed {entry.weight_precision} weights; it cannot run at "
                    f"{variant.weight_precision}")
        runtime = variant.runtime or "torch"
        if runtime not in RUNTIME_PRECISIONS:
            return f"backend 'torch' has no runtime '{runtime}' (runtimes: {', '.join(RUNTIME_PRECISIONS)})"
        precisions = RUNTIME_PRECISIONS[runtime].get(variant.device)
        if precisions is None:
            return f"the {runtime} runtime runs on {', '.join(RUNTIME_PRECISIONS[runtime])} only, not {variant.device}"
        if variant.weight_precision not in precisions:
            if runtime == "torch" and variant.device == "cuda" and variant.weight_precision == "int8":
                return f"backend 'torch' refuses int8 on cuda: {INT8_ON_CUDA}"
            return (f"the {runtime} runtime does not run {variant.weight_precision} weights on {variant.device} "
                    f"(it runs {', '.join(precisions)})")
        if runtime == "onnx" and (entry.trust_remote_code or entry.weights_format != "safetensors"):
            return "the onnx runtime exports safetensors models without remote code only"
        reason = super().unsupported_reason(entry, replace(variant, runtime=None))
        if reason is None and variant.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                return "CUDA is not available on this machine (torch.cuda.is_available() is False)"
        return reason

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        reason = self.unsupported_reason(entry, Variant(device=options.device,
                                                        weight_precision=options.precision_for(entry),
                                                        runtime=options.runtime))
        if reason:
            raise UserError(f"cannot load {entry.name}: {reason}")
        if options.runtime == "onnx":
            from .onnx_runtime import load_onnx_runtime

            return load_onnx_runtime(entry, options)
        from .encoder import load_torch_encoder

        return load_torch_encoder(entry, options)
