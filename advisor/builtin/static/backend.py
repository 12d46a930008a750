"""Static embedding backend around the model2vec and WordLlama libraries (imported inside ``load``).

Both formats are a token table plus mean pooling: no attention, so a batch costs a lookup. The table is stored
in a fixed precision (int8 for quantized model2vec models, fp16 for WordLlama) and computed in float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.models.batching import BatchedEncoder, fixed_precision_reason, l2_normalize
from advisor.errors import UserError
from advisor.models.sources import resolve_source
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry

FORMATS = ("model2vec", "wordllama")


class Model2VecEncoder(BatchedEncoder):
    def __init__(self, entry: "ModelEntry", model: Any) -> None:
        super().__init__(entry)
        self.model = model
        self.info = {"format": "model2vec", "max_length": model.max_length}

    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        out = np.asarray(self.model.encode(texts, batch_size=len(texts), use_multiprocessing=False),
                         dtype=np.float32)
        return l2_normalize(out) if self.entry.normalize else out

    def count_tokens(self, texts) -> list[int]:
        """The tokens the model pools over (model2vec drops unknown tokens and truncates at max_length)."""
        return [len(ids) for ids in self.model.tokenize(list(texts))]

    def close(self) -> None:
        self.model = None


class WordLlamaEncoder(BatchedEncoder):
    def __init__(self, entry: "ModelEntry", model: Any) -> None:
        super().__init__(entry)
        self.model = model
        self.info = {"format": "wordllama"}

    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        return np.asarray(self.model.embed(texts, norm=self.entry.normalize, batch_size=len(texts)),
                          dtype=np.float32)

    def count_tokens(self, texts) -> list[int]:
        return [sum(e.attention_mask) for e in self.model.tokenize(list(texts))]

    def close(self) -> None:
        self.model = None


def detect_format(entry: "ModelEntry", path: Path) -> str:
    fmt = entry.options.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            raise UserError(f"{entry.catalog or entry.name}: entry '{entry.name}': options.format '{fmt}' is not "
                            f"a static format; allowed: {', '.join(FORMATS)}")
        return fmt
    if path.is_dir() and (path / "config.json").exists() and (path / "tokenizer.json").exists():
        return "model2vec"
    if path.is_file() and path.suffix == ".safetensors":
        return "wordllama"
    raise UserError(f"{entry.name}: cannot tell the static format of {path}; set options.format to one of "
                    f"{', '.join(FORMATS)}")


def load_wordllama(entry: "ModelEntry", path: Path) -> Any:
    """WordLlama from an installed weights file: ``.../weights/<config>_<dim>.safetensors`` inside a WordLlama
    cache layout (weights/ and tokenizers/ side by side), with downloads disabled."""
    from wordllama import WordLlama

    if not path.is_file():
        raise UserError(f"{entry.name}: a WordLlama source is the weights file (…/weights/l2_supercat_256"
                        f".safetensors), got {path}")
    config = entry.options.get("config") or path.stem.rsplit("_", 1)[0]
    dim = int(entry.options.get("dim") or entry.embed_dim)
    try:
        return WordLlama.load(config=config, dim=dim, cache_dir=path.parent.parent, disable_download=True)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"{entry.name}: WordLlama could not load {config} dim {dim} from {path.parent.parent} "
                        f"with downloads disabled: {str(exc).splitlines()[0]}") from None


class StaticBackend(Backend):
    name = "static"
    description = "static token embeddings: model2vec folders and WordLlama weights (lookup + mean, CPU)"
    capabilities = BackendCapabilities(
        devices=("cpu",), weight_precisions={"cpu": ("fp32",)}, can_truncate=True, prompts=True,
        notes="the stored table (int8 or fp16) is computed in float32; a lookup table gains nothing from a GPU",
    )

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        if variant.device != "cpu":
            return "static embeddings are a table lookup and a mean; they run on cpu only (a GPU would not help)"
        if entry.weight_precision is None and variant.weight_precision != "fp32":
            return (f"backend 'static' computes the stored table in float32 only; {variant.weight_precision} is "
                    f"not a separate variant for a lookup model")
        return super().unsupported_reason(entry, variant) if entry.weight_precision is None else (
            fixed_precision_reason(self.name, entry, variant.weight_precision))

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        device, weight_precision, allow_network = options.device, options.precision_for(entry), options.allow_network
        reason = self.unsupported_reason(entry, Variant(device=device, weight_precision=weight_precision))
        if reason:
            raise UserError(f"cannot load {entry.name}: {reason}")
        path = resolve_source(entry.source, revision=entry.revision, allow_network=allow_network)
        if path is None:
            raise UserError(f"{entry.name}: the static backend needs a model file or folder")
        if detect_format(entry, path) == "wordllama":
            return WordLlamaEncoder(entry, load_wordllama(entry, path))
        from model2vec import StaticModel

        if not (path / "model.safetensors").exists():
            raise UserError(f"{entry.name}: {path} is not a model2vec folder (config.json, model.safetensors, "
                            f"tokenizer.json)")
        limit = {"max_length": entry.max_tokens} if entry.max_tokens else {}
        model = StaticModel.from_pretrained(str(path), normalize=entry.normalize, force_download=False, **limit)
        return Model2VecEncoder(entry, model)
