"""onnxruntime backend: runs an exported encoder graph at the precision it was exported in, pooling its token
outputs per the entry. onnxruntime and tokenizers are imported inside ``load``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.models.batching import BatchedEncoder, fixed_precision_reason, l2_normalize
from advisor.errors import UserError
from advisor.models.pooling import pool
from advisor.models.sources import resolve_source
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxEncoder(BatchedEncoder):
    def __init__(self, entry: "ModelEntry", session: Any, tokenizer: Any, provider: str) -> None:
        super().__init__(entry)
        self.session, self.tokenizer = session, tokenizer
        self.inputs = [i.name for i in session.get_inputs()]
        self.info = {"provider": provider, "inputs": self.inputs, "output": session.get_outputs()[0].name}

    def _feeds(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        available = {"input_ids": ids, "attention_mask": mask,
                     "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        missing = [name for name in self.inputs if name not in available]
        if missing:
            raise UserError(f"{self.entry.name}: the ONNX graph wants inputs {missing}; only input_ids, "
                            f"attention_mask and token_type_ids can be fed")
        return {name: available[name] for name in self.inputs}, mask

    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        feeds, mask = self._feeds(texts)
        out = self.session.run(None, feeds)[0]
        if out.ndim == 3:  # token outputs (last_hidden_state)
            out = pool(out.astype(np.float32), mask, self.entry.pooling or "mean")
        out = out.astype(np.float32)
        return l2_normalize(out) if self.entry.normalize else out

    def count_tokens(self, texts) -> list[int]:
        return [sum(e.attention_mask) for e in self.tokenizer.encode_batch(list(texts))]

    def close(self) -> None:
        self.session = None


def load_tokenizer(entry: "ModelEntry", model_path: Path, allow_network: bool) -> Any:
    """A ``tokenizers.Tokenizer`` from the entry's tokenizer folder (or the model's own folder), truncating at
    max_tokens and padding with the tokenizer's pad token."""
    from tokenizers import Tokenizer

    folder = resolve_source(entry.tokenizer, allow_network=allow_network) if entry.tokenizer else model_path.parent
    file = folder / "tokenizer.json" if folder.is_dir() else folder
    if not file.exists():
        raise UserError(f"{entry.name}: no tokenizer.json at {file}; set 'tokenizer:' in the catalog entry to a "
                        f"folder holding the model's tokenizer.json")
    tokenizer = Tokenizer.from_file(str(file))
    if entry.max_tokens:
        tokenizer.enable_truncation(max_length=entry.max_tokens)
    pad = tokenizer.padding or {}
    pad_token = pad.get("pad_token") or ("[PAD]" if tokenizer.token_to_id("[PAD]") is not None else "<pad>")
    pad_id = tokenizer.token_to_id(pad_token)
    tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token=pad_token)
    return tokenizer


class OnnxBackend(Backend):
    name = "onnx"
    description = "onnxruntime: an exported encoder graph + tokenizer.json; CPU and CUDA execution providers"
    capabilities = BackendCapabilities(
        devices=("cpu", "cuda"),
        weight_precisions={"cpu": ("fp32", "fp16", "int8"), "cuda": ("fp32", "fp16", "int8")},
        can_truncate=True, prompts=True,
        notes="runs each file at the precision it was exported in (the entry's weight_precision, fp32 when unset); "
              "CUDA needs the onnxruntime-gpu build",
    )

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        reason = super().unsupported_reason(entry, variant) or fixed_precision_reason(self.name, entry,
                                                                                      variant.weight_precision)
        if reason is None and variant.device == "cuda":
            from advisor.models.ort import onnxruntime
            ort = onnxruntime()

            if PROVIDERS["cuda"] not in ort.get_available_providers():
                return ("onnxruntime here has no CUDAExecutionProvider (install onnxruntime-gpu for CUDA); "
                        f"available: {', '.join(ort.get_available_providers())}")
        return reason

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        device, weight_precision, allow_network = options.device, options.precision_for(entry), options.allow_network
        reason = self.unsupported_reason(entry, Variant(device=device, weight_precision=weight_precision))
        if reason:
            raise UserError(f"cannot load {entry.name}: {reason}")
        from advisor.models.ort import onnxruntime
        ort = onnxruntime()

        path = resolve_source(entry.source, revision=entry.revision, allow_network=allow_network)
        if path is not None and path.is_dir():
            files = sorted(path.glob("*.onnx")) + sorted(path.glob("onnx/*.onnx"))
            if not files:
                raise UserError(f"{entry.name}: no .onnx file in {path}")
            path = files[0]
        tokenizer = load_tokenizer(entry, path, allow_network)
        from advisor.environment import thread_budget

        options = ort.SessionOptions()
        options.log_severity_level = 3
        threads = thread_budget()  # every runtime runs at the same budget: the cores this process may use
        options.intra_op_num_threads = threads
        provider = PROVIDERS[device]
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=[provider])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise UserError(f"{entry.name}: onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from None
        if session.get_providers()[0] != provider:  # onnxruntime falls back silently; a CPU figure is not CUDA's
            raise UserError(f"{entry.name}: onnxruntime did not start {provider} (got {session.get_providers()}); "
                            f"check the CUDA/cuDNN libraries onnxruntime-gpu needs")
        encoder = OnnxEncoder(entry, session, tokenizer, provider)
        encoder.info = {**encoder.info, "threads": threads}
        return encoder
