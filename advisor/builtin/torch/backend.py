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
                      "onnx": {"cpu": ("fp32", "int8", "int8-static")},
                      "openvino": {"cpu": ("fp32", "bf16", "int8-static")}}
# What each converted runtime needs of a model: its own files exported (safetensors, no remote code)
CONVERTED = ("onnx", "openvino")


class TorchBackend(Backend):
    name = "torch"
    description = ("sentence-transformers folders and plain transformers encoders (mean/CLS/last-token pooling), "
                   "SDPA attention, fp32/fp16/bf16 on CUDA and CPU, int8 (dynamic quantization) on CPU; runtimes: "
                   "torch (the fast path when it reproduces the folder), onnx (exported and graph-optimized once, "
                   "ONNX Runtime; dynamic and static int8) and openvino (converted once; bf16 where the CPU has "
                   "it, NNCF static int8)")
    capabilities = BackendCapabilities(
        devices=("cpu", "cuda"),
        weight_precisions=RUNTIME_PRECISIONS["torch"], runtimes=tuple(RUNTIME_PRECISIONS),
        can_truncate=True, max_batch_size=None, prompts=True,
        notes="safetensors only unless the policy allows pickle weights; trust_remote_code only when both the "
              "entry and the policy allow it; int8 = dynamic quantization (torch.ao on Linear layers, or "
              "onnxruntime's); int8-static = activations calibrated on the task's own texts (onnxruntime QDQ, "
              "OpenVINO NNCF); every runtime runs at the same thread budget (the cores the process may use); "
              "whether fp16/bf16 are fast on a CPU is for the measurement to say (they need AVX512-BF16 / AMX)",
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
        if runtime in CONVERTED and (entry.trust_remote_code or entry.weights_format != "safetensors"):
            return f"the {runtime} runtime converts safetensors models without remote code only"
        if runtime == "openvino":
            from advisor.models.openvino_export import bf16_unsupported, openvino_unsupported

            reason = openvino_unsupported() or (bf16_unsupported() if variant.weight_precision == "bf16" else None)
            if reason:
                return reason
        # the rest (device, output size) as the backend's own runtime sees it; the precision was checked above
        reason = super().unsupported_reason(entry, replace(variant, runtime=None, weight_precision="fp32"))
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
        if options.runtime == "openvino":
            from .openvino_runtime import load_openvino_runtime

            return load_openvino_runtime(entry, options)
        from .encoder import load_torch_encoder

        return load_torch_encoder(entry, options)
