"""Find and load a model that can be trained: a sentence-transformers (or plain transformers) folder with
safetensors weights, resolved through the same catalogs and sources as every other command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from advisor.models.catalog import ModelEntry
from advisor.models.attention import load_with_attention
from advisor.models.folder_safety import check_model_folder, model_kwargs
from advisor.errors import UserError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class TrainableModel:
    entry: ModelEntry
    folder: Path


def resolve_trainable(name_or_path: str, catalogs: Sequence[str | Path] | None = None, *,
                      allow_network: bool = False) -> TrainableModel:
    """A catalog name or a local folder -> its entry and folder; refuses what cannot be trained safely."""
    from advisor.models.resolve import resolve_model
    from advisor.models.sources import resolve_source

    entry = resolve_model(name_or_path, list(catalogs) if catalogs else None)
    if entry.backend != "torch":
        raise UserError(f"model '{entry.name}' runs on backend '{entry.backend}' and cannot be trained; training "
                        f"needs a transformer model with safetensors weights (backend 'torch')")
    if entry.trust_remote_code:
        raise UserError(f"model '{entry.name}' needs trust_remote_code; training refuses to run remote code")
    if entry.weights_format != "safetensors":
        raise UserError(f"model '{entry.name}' has {entry.weights_format} weights; only transformer models with "
                        f"safetensors weights can be trained (backend 'torch')")
    folder = resolve_source(entry.source, revision=entry.revision, allow_network=allow_network)
    if folder is None or not Path(folder).is_dir():
        raise UserError(f"model '{entry.name}' is not a model folder ({entry.source}); training needs a "
                        f"sentence-transformers or transformers folder")
    folder = Path(folder)
    if not (folder / "modules.json").exists() and not (folder / "config.json").exists():
        raise UserError(f"{folder}: not a sentence-transformers or transformers folder (no modules.json or "
                        f"config.json); backend '{entry.backend}' models cannot be trained")
    check_model_folder(folder, entry.name)
    if not list(folder.rglob("*.safetensors")):
        raise UserError(f"{folder}: no .safetensors weights; the advisor never loads pickle weights")
    return TrainableModel(entry, folder)


def pick_device(requested: str | None) -> str:
    """``cuda`` when asked for (an error when absent) or when present and nothing was asked; else ``cpu``."""
    import torch

    if requested not in (None, "cpu", "cuda"):
        raise UserError(f"--device must be cpu or cuda, got '{requested}'")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu")
    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def load_sentence_transformer(folder: Path, device: str, max_seq_length: int | None = None) -> "SentenceTransformer":
    """Load offline, without the folder's own code or pickle files (``advisor.models.folder_safety``); a plain
    transformers folder gets mean pooling and normalization. Attention is SDPA where the architecture has it, eager
    otherwise (``advisor.models.attention``)."""
    from sentence_transformers import SentenceTransformer

    check_model_folder(folder, str(folder))
    model, _ = load_with_attention(lambda attn: SentenceTransformer(
        str(folder), device=device, trust_remote_code=False, local_files_only=True,
        model_kwargs=model_kwargs(attn)))
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model
