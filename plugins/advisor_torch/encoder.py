"""Loading and running torch models: sentence-transformers folders through sentence-transformers, plain
transformers folders through AutoModel plus the entry's pooling. Imported only inside ``TorchBackend.load``."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advisor.models.catalog import ModelEntry
from advisor.models.batching import BatchedEncoder
from advisor.errors import UserError
from advisor.models.sources import resolve_source

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.float32}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def _weight_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors files, pickle files) of a model folder and its sentence-transformers module folders."""
    folders = [folder] + [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    safe = [f for d in folders for f in d.glob("*.safetensors")]
    pickled = [f for d in folders for f in d.iterdir() if f.is_file() and f.suffix in PICKLE_SUFFIXES
               and "training_args" not in f.name and "optimizer" not in f.name]
    return safe, pickled


def check_weights(entry: ModelEntry, folder: Path, allow_pickle: bool) -> bool:
    """True when pickle weights may be loaded. Pickle files can run code on load, so they need both the entry
    (``weights_format: pickle``) and the policy (``pickle_weights: true``)."""
    safe, pickled = _weight_files(folder)
    pickle_ok = allow_pickle and entry.weights_format == "pickle"
    if not safe and pickled and not pickle_ok:
        who = ("the policy does not allow pickle weights (set 'pickle_weights: true')" if entry.weights_format ==
               "pickle" else "the entry does not declare 'weights_format: pickle' and the policy must allow it")
        raise UserError(f"{entry.name}: {folder} has only pickle weights ({pickled[0].name}), which can run code "
                        f"when loaded; {who}, or convert them to safetensors")
    if not safe and not pickled:
        raise UserError(f"{entry.name}: no weights (*.safetensors) in {folder}")
    return pickle_ok


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * mask_f).sum(1) / mask_f.sum(1).clamp(min=1e-9)
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "max":
        return hidden.masked_fill(mask_f == 0, torch.finfo(hidden.dtype).min).max(1).values
    if pooling == "lasttoken":  # the last real token, whatever side the padding is on
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = (positions * mask).argmax(1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise UserError(f"unknown pooling '{pooling}' (mean, cls, max, lasttoken)")


def _load_kwargs(dtype: torch.dtype, pickle_ok: bool, attn: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn}
    if not pickle_ok:
        kwargs["use_safetensors"] = True
    return kwargs


def _with_attention_fallback(load, dtype: torch.dtype, pickle_ok: bool) -> tuple[Any, str]:
    """Load with SDPA attention; fall back to eager for architectures without an SDPA kernel."""
    try:
        return load(_load_kwargs(dtype, pickle_ok, "sdpa")), "sdpa"
    except (ValueError, NotImplementedError) as exc:
        if "sdpa" not in str(exc).lower() and "scaled_dot_product" not in str(exc).lower():
            raise
        return load(_load_kwargs(dtype, pickle_ok, "eager")), "eager"


class TorchEncoder(BatchedEncoder):
    """One loaded torch model; ``info`` records how it runs (path, dtype, attention, device)."""

    def __init__(self, entry: ModelEntry, *, model: Any, tokenizer: Any, kind: str, device: str,
                 weight_precision: str, info: dict[str, Any]) -> None:
        super().__init__(entry)
        self.model, self.tokenizer, self.kind, self.device = model, tokenizer, kind, device
        self.weight_precision = weight_precision
        self.max_tokens = entry.max_tokens or getattr(tokenizer, "model_max_length", 512)
        if not isinstance(self.max_tokens, int) or self.max_tokens > 1_000_000:
            self.max_tokens = 512
        self.info = info
        # sentence-transformers takes the prompt itself, so a Pooling module with include_prompt=False can leave
        # the prompt's tokens out of the mean, as the model was trained.
        self.add_prompts = kind != "sentence-transformers"

    @torch.inference_mode()
    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        if self.kind == "sentence-transformers":
            out = self.model.encode(texts, prompt=self.prompt(kind) or None, batch_size=len(texts),
                                    convert_to_tensor=True, show_progress_bar=False)
        else:
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                                   return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state
            out = _pool(hidden, batch["attention_mask"], self.entry.pooling or "mean")
        out = out.float()
        if self.entry.normalize:
            out = torch.nn.functional.normalize(out, dim=-1)
        return out.cpu().numpy()

    def count_tokens(self, texts) -> list[int]:
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)["input_ids"]
        return [len(x) for x in ids]

    def close(self) -> None:
        self.model = None
        gc.collect()
        if self.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 of every Linear layer, per-channel weight scales (per-tensor scales lose far more: cosine to
    fp32 about 0.94 against 0.97-0.98 for MiniLM on short sentences)."""
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def load_torch_encoder(entry: ModelEntry, *, device: str = "cpu", weight_precision: str = "fp32",
                       allow_network: bool = False, allow_remote_code: bool = False,
                       allow_pickle: bool = False) -> TorchEncoder:
    folder = resolve_source(entry.source, revision=entry.revision, allow_network=allow_network)
    if folder is None or not folder.is_dir():
        raise UserError(f"{entry.name}: the torch backend needs a model folder, got {folder}")
    if entry.trust_remote_code and not allow_remote_code:
        raise UserError(f"{entry.name} needs trust_remote_code, which runs the repository's own Python code; the "
                        f"policy must allow it ('remote_code: true') after a review")
    trust = entry.trust_remote_code and allow_remote_code
    pickle_ok = check_weights(entry, folder, allow_pickle)
    dtype = DTYPES[weight_precision]
    torch_device = "cuda" if device == "cuda" else "cpu"
    try:
        if (folder / "modules.json").exists():
            model, attn = _load_sentence_transformers(folder, entry, torch_device, dtype, trust, pickle_ok)
            tokenizer, kind = model.tokenizer, "sentence-transformers"
        else:
            model, tokenizer, attn = _load_transformers(folder, entry, torch_device, dtype, trust, pickle_ok)
            kind = "transformers"
    except OSError as exc:
        raise UserError(f"{entry.name}: cannot load {folder}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        msg = str(exc).splitlines()[0]
        if "trust_remote_code" in msg:
            raise UserError(f"{entry.name}: {folder} needs custom code (trust_remote_code); set it in the catalog "
                            f"entry and allow it in the policy after a review") from None
        raise UserError(f"{entry.name}: cannot load {folder}: {msg}") from None
    if weight_precision == "int8":
        model = _quantize_int8(model)
    model.eval()
    info = {"path": str(folder), "loader": kind, "dtype": str(dtype).replace("torch.", ""),
            "attn_implementation": attn, "device": torch_device,
            "quantization": "torch.ao dynamic int8 (Linear)" if weight_precision == "int8" else None}
    return TorchEncoder(entry, model=model, tokenizer=tokenizer, kind=kind, device=torch_device,
                        weight_precision=weight_precision, info=info)


def _load_sentence_transformers(folder: Path, entry: ModelEntry, device: str, dtype: torch.dtype, trust: bool,
                                pickle_ok: bool) -> tuple[Any, str]:
    from sentence_transformers import SentenceTransformer

    def load(kwargs: dict[str, Any]) -> Any:
        return SentenceTransformer(str(folder), device=device, trust_remote_code=trust, local_files_only=True,
                                   model_kwargs=kwargs)

    model, attn = _with_attention_fallback(load, dtype, pickle_ok)
    model.default_prompt_name = None  # the entry's prompts are added by the encoder, never twice
    if entry.max_tokens:
        model.max_seq_length = entry.max_tokens
    return model, attn


def _load_transformers(folder: Path, entry: ModelEntry, device: str, dtype: torch.dtype, trust: bool,
                       pickle_ok: bool) -> tuple[Any, Any, str]:
    from transformers import AutoModel, AutoTokenizer

    tok_dir = resolve_source(entry.tokenizer) if entry.tokenizer else folder
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True, trust_remote_code=trust)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # decoder models ship without a pad token

    def load(kwargs: dict[str, Any]) -> Any:
        return AutoModel.from_pretrained(str(folder), local_files_only=True, trust_remote_code=trust, **kwargs)

    model, attn = _with_attention_fallback(load, dtype, pickle_ok)
    return model.to(device), tokenizer, attn
