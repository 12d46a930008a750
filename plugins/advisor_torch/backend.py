"""The torch backend's declaration: what it can run and why it refuses a variant. Imports no torch at import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.models.backends import Backend, BackendCapabilities, Encoder
from advisor.errors import UserError
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

HALF_ON_CPU = ("half precision (fp16/bf16) is not offered on CPU: without AVX512-BF16/AMX it runs about 8x slower "
               "than fp32 with no memory benefit worth that; use int8 (dynamic quantization) on CPU, fp16/bf16 on CUDA")
INT8_ON_CUDA = ("int8 here is torch dynamic quantization, which runs on CPU only; use fp16 or bf16 on CUDA")


class TorchBackend(Backend):
    name = "torch"
    description = ("sentence-transformers folders and plain transformers encoders (mean/CLS/last-token pooling), "
                   "SDPA attention, fp32/fp16/bf16 on CUDA, fp32/int8 (dynamic quantization) on CPU")
    capabilities = BackendCapabilities(
        devices=("cpu", "cuda"),
        weight_precisions={"cpu": ("fp32", "int8"), "cuda": ("fp32", "fp16", "bf16")},
        can_truncate=True, max_batch_size=None, prompts=True,
        notes="safetensors only unless the policy allows pickle weights; trust_remote_code only when both the "
              "entry and the policy allow it; int8 = torch.ao dynamic quantization of Linear layers (CPU)",
    )

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        if entry.weight_precision and variant.weight_precision != entry.weight_precision:
            return (f"{entry.name} ships fixed {entry.weight_precision} weights; it cannot run at "
                    f"{variant.weight_precision}")
        if variant.device == "cpu" and variant.weight_precision in ("fp16", "bf16"):
            return f"backend 'torch' refuses {variant.weight_precision} on cpu: {HALF_ON_CPU}"
        if variant.device == "cuda" and variant.weight_precision == "int8":
            return f"backend 'torch' refuses int8 on cuda: {INT8_ON_CUDA}"
        reason = super().unsupported_reason(entry, variant)
        if reason is None and variant.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                return "CUDA is not available on this machine (torch.cuda.is_available() is False)"
        return reason

    def load(self, entry: "ModelEntry", *, device: str = "cpu", weight_precision: str = "fp32",
             allow_network: bool = False, allow_remote_code: bool = False, allow_pickle: bool = False) -> Encoder:
        reason = self.unsupported_reason(entry, Variant(device=device, weight_precision=weight_precision))
        if reason:
            raise UserError(f"cannot load {entry.name}: {reason}")
        from .encoder import load_torch_encoder

        return load_torch_encoder(entry, device=device, weight_precision=weight_precision,
                                  allow_network=allow_network, allow_remote_code=allow_remote_code,
                                  allow_pickle=allow_pickle)
