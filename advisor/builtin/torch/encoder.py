"""Loading and running torch models: sentence-transformers folders through sentence-transformers, plain
transformers folders through AutoModel plus the entry's pooling. Imported only inside ``TorchBackend.load``."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advisor.models.attention import load_with_attention
from advisor.models.catalog import ModelEntry
from advisor.models.backends import Encoder, LoadOptions
from advisor.models.folder_safety import check_model_folder, model_kwargs, read_folders
from advisor.models.batching import BatchedEncoder
from advisor.errors import UserError
from advisor.models.pooling import POOLINGS, pool
from advisor.models.quantize import quantize_int8
from advisor.models.sources import resolve_source

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.float32}


def check_weights(entry: ModelEntry, folder: Path, allow_pickle: bool, allow_remote_code: bool = False) -> bool:
    """True when pickle weights will be read. The folder's own code and its pickle files are refused by
    ``advisor.models.folder_safety`` unless granted (``allow_*`` are already both halves: entry and policy); a
    folder without safetensors and without granted pickle weights has nothing to load."""
    grant = ("the policy does not allow pickle weights (set 'pickle_weights: true')" if entry.weights_format ==
             "pickle" else "the entry does not declare 'weights_format: pickle' and the policy must allow it "
                           "('pickle_weights: true')")
    pickle_ok = check_model_folder(folder, entry.name, allow_remote_code=allow_remote_code, allow_pickle=allow_pickle,
                                   pickle_grant=f"{grant}, or convert it to safetensors")
    if not pickle_ok and not any(next(d.glob("*.safetensors"), None) for d in read_folders(folder)):
        raise UserError(f"{entry.name}: no weights (*.safetensors) in {folder}")
    return pickle_ok


def _load_kwargs(dtype: torch.dtype, pickle_ok: bool, attn: str) -> dict[str, Any]:
    return {"dtype": dtype, **model_kwargs(attn, pickle_ok)}


def _with_attention_fallback(load, dtype: torch.dtype, pickle_ok: bool) -> tuple[Any, str]:
    """Load with SDPA attention where the architecture has it, eager otherwise (advisor.models.attention)."""
    return load_with_attention(lambda attn: load(_load_kwargs(dtype, pickle_ok, attn)))


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
            out = pool(hidden, batch["attention_mask"], self.entry.pooling or "mean")
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


def fast_path_reason(entry: ModelEntry, folder: Path, pickle_ok: bool) -> str | None:
    """Why the lean fast path cannot reproduce this model exactly (then sentence-transformers / transformers
    runs it), or None when it can."""
    from advisor.models.fastpath import ModelLayout, fast_path_unsupported

    if entry.trust_remote_code:
        return "the model needs its own code (trust_remote_code)"
    if pickle_ok:
        return "the weights are a pickle file, not safetensors"
    if entry.tokenizer:
        return "the entry names a separate tokenizer"
    reason = fast_path_unsupported(folder)
    if reason:
        return reason
    layout = ModelLayout.read(folder)
    architectures = layout.config.get("architectures") or []
    if layout.config.get("is_decoder") or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return "decoder models run through transformers (their tokenizer adds special tokens the fast path does not)"
    if not (folder / "modules.json").is_file() and (entry.pooling or "mean") not in POOLINGS:
        return f"pooling '{entry.pooling}' is not supported by the fast path"
    if (entry.query_prompt or entry.document_prompt) and not layout.include_prompt:
        return "the Pooling module leaves prompt tokens out of the mean (include_prompt: false)"
    return None


def load_torch_encoder(entry: ModelEntry, options: LoadOptions) -> Encoder:
    """The torch backend's one runtime: the fast path whenever it reproduces the folder exactly, the
    sentence-transformers (or plain transformers) model otherwise, with the reason in ``info``."""
    device, weight_precision = options.device, options.precision_for(entry)
    allow_remote_code, allow_pickle = options.allow_remote_code, options.allow_pickle
    folder = resolve_source(entry.source, revision=entry.revision, allow_network=options.allow_network)
    if folder is None or not folder.is_dir():
        raise UserError(f"{entry.name}: the torch backend needs a model folder, got {folder}")
    if entry.trust_remote_code and not allow_remote_code:
        raise UserError(f"{entry.name} needs trust_remote_code, which runs the repository's own Python code; the "
                        f"policy must allow it ('remote_code: true') after a review")
    trust = entry.trust_remote_code and allow_remote_code
    pickle_ok = check_weights(entry, folder, allow_pickle, trust)
    dtype = DTYPES[weight_precision]
    torch_device = "cuda" if device == "cuda" else "cpu"
    threads = None
    if torch_device == "cpu":  # every runtime runs at the same budget: the cores this process may use
        from advisor.environment import thread_budget

        threads = thread_budget()
        torch.set_num_threads(threads)
    why_not_fast = fast_path_reason(entry, folder, pickle_ok)
    if why_not_fast is None and options.runtime in (None, "torch"):
        from advisor.models.fastpath import FastTransformerEncoder

        plain = not (folder / "modules.json").is_file()
        fast = FastTransformerEncoder(folder, device=torch_device, weight_precision=weight_precision,
                                      prompts={"query": entry.query_prompt, "document": entry.document_prompt},
                                      max_length=entry.max_tokens, normalize=entry.normalize,
                                      pooling=(entry.pooling or "mean") if plain else None)
        fast.info = {"runtime": "torch", "path": "fast (lean BERT)" if fast.lean else "fast (transformers)",
                     "attn_implementation": fast.attn_implementation,
                     "folder": str(folder), "dtype": str(fast.dtype).replace("torch.", ""), "device": torch_device,
                     "cuda_graphs": fast.use_graphs, "token_budget": fast.token_budget, "threads": fast.threads,
                     "kernels": fast.kernels,
                     "quantization": "torch.ao dynamic int8 (Linear)" if weight_precision == "int8" else None}
        return fast
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
        model = quantize_int8(model)
    model.eval()
    info = {"runtime": "torch", "path": kind, "fast_path_not_used": why_not_fast, "folder": str(folder),
            "dtype": str(dtype).replace("torch.", ""),
            "attn_implementation": attn, "device": torch_device, "threads": threads,
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
