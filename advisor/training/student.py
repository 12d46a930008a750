"""The distillation student: an existing (smaller) model, the teacher with fewer layers, or a new BERT built from
a config and the teacher's tokenizer.

``--student`` forms: a catalog name or folder; ``layers=3`` (keep 3 of the teacher's layers, evenly spaced, first
and last included: the teacher's own weights are the start); ``layers=2,width=256,heads=4[,intermediate=1024]
[,dim=128]`` (a new BERT, random transformer weights, word embeddings initialised from the teacher's by PCA when
the width differs); or a YAML/JSON file holding those keys. ``dim`` adds a linear layer to that output size.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, UserError
from advisor.models.attention import load_with_attention
from advisor.models.folder_safety import check_model_folder, model_kwargs

SPEC_KEYS = ("layers", "width", "heads", "intermediate", "dim")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@dataclass(frozen=True)
class StudentSpec:
    model: str | None = None        # an existing model (catalog name or folder)
    layers: int | None = None
    width: int | None = None
    heads: int | None = None
    intermediate: int | None = None
    dim: int | None = None

    @property
    def kind(self) -> str:
        if self.model is not None:
            return "existing"
        return "new" if self.width is not None or self.heads is not None else "truncated"

    def describe(self) -> str:
        if self.model is not None:
            return f"existing model {self.model}"
        parts = ", ".join(f"{k}={v}" for k, v in asdict(self).items() if v is not None and k != "model")
        return ("teacher truncated to " if self.kind == "truncated" else "new BERT ") + parts

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


def _spec_from_mapping(data: dict, where: str) -> StudentSpec:
    unknown = [k for k in data if k not in SPEC_KEYS]
    if unknown:
        raise UserError(f"{where}: unknown student key '{unknown[0]}'; allowed: {', '.join(SPEC_KEYS)}")
    values: dict[str, int] = {}
    for key, value in data.items():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: student '{key}' must be a positive integer, got {value!r}") from None
        if number <= 0:
            raise UserError(f"{where}: student '{key}' must be a positive integer, got {value!r}")
        values[key] = number
    if "layers" not in values:
        raise UserError(f"{where}: a student architecture needs 'layers' (e.g. layers=3)")
    if ("width" in values) != ("heads" in values):
        raise UserError(f"{where}: a new architecture needs both width and heads (e.g. width=256,heads=4)")
    if "width" in values and values["width"] % values["heads"]:
        raise UserError(f"{where}: width {values['width']} must be divisible by heads {values['heads']}")
    return StudentSpec(**values)


def parse_student(value: str) -> StudentSpec:
    """``--student`` -> StudentSpec (see the module docstring)."""
    text = value.strip()
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml", ".json"):
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            from advisor.config.yamlfile import load_yaml
            data = load_yaml(path)
        if not isinstance(data, dict):
            raise ConfigError(str(path), f"a student config is a mapping of {', '.join(SPEC_KEYS)}")
        return _spec_from_mapping(dict(data), str(path))
    if "=" in text:
        pairs = {}
        for item in text.split(","):
            key, sep, val = item.partition("=")
            if not sep:
                raise UserError(f"--student '{value}': write key=value pairs separated by commas, e.g. layers=3")
            pairs[key.strip()] = val.strip()
        return _spec_from_mapping(pairs, f"--student '{value}'")
    return StudentSpec(model=text)


def _keep_layers(n_teacher: int, n_keep: int) -> list[int]:
    """Evenly spaced layer indices, first and last included."""
    if n_keep >= n_teacher:
        return list(range(n_teacher))
    if n_keep == 1:
        return [n_teacher - 1]
    return sorted({round(i * (n_teacher - 1) / (n_keep - 1)) for i in range(n_keep)})


def _encoder_layers(auto_model: Any) -> tuple[Any, str]:
    for owner_name in ("encoder", "transformer"):
        owner = getattr(auto_model, owner_name, None)
        for attr in ("layer", "layers"):
            if owner is not None and hasattr(owner, attr):
                return owner, attr
    raise UserError(f"cannot truncate a {type(auto_model).__name__}: no encoder layer list found; give the student "
                    f"as a new architecture (layers=,width=,heads=) instead")


def _add_head(modules: list, width: int, dim: int | None, seed: int) -> list:
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling

    modules = modules + [Pooling(width, "mean")]
    if dim is not None and dim != width:
        generator = torch.Generator().manual_seed(seed)
        weight = torch.empty(dim, width)
        torch.nn.init.orthogonal_(weight, generator=generator)
        modules.append(Dense(width, dim, bias=False, activation_function=torch.nn.Identity(), init_weight=weight))
    return modules + [Normalize()]


def build_student(spec: StudentSpec, teacher_folder: Path, device: str, *, seed: int = 0,
                  max_seq_length: int | None = None) -> Any:
    """A SentenceTransformer student on ``device`` (the existing-model case is loaded by the caller)."""
    import torch
    from sentence_transformers import SentenceTransformer

    check_model_folder(teacher_folder, str(teacher_folder))  # both kinds read the teacher's folder
    torch.manual_seed(seed)
    if spec.kind == "truncated":
        model, _ = load_with_attention(lambda attn: SentenceTransformer(
            str(teacher_folder), device="cpu", trust_remote_code=False, local_files_only=True,
            model_kwargs=model_kwargs(attn)))
        auto = model[0].auto_model
        owner, attr = _encoder_layers(auto)
        layers = getattr(owner, attr)
        if spec.layers > len(layers):
            raise UserError(f"--student layers={spec.layers}: the teacher has only {len(layers)} layers")
        keep = _keep_layers(len(layers), spec.layers)
        setattr(owner, attr, torch.nn.ModuleList([layers[i] for i in keep]))
        auto.config.num_hidden_layers = len(keep)
        if spec.dim is not None:
            width = int(model.get_embedding_dimension())
            head = [m for m in model if type(m).__name__ not in ("Pooling", "Normalize")]
            model = SentenceTransformer(modules=_add_head(head, width, spec.dim, seed), device="cpu")
        return model.to(device)
    return _new_bert(spec, teacher_folder, device, seed, max_seq_length)


def _new_bert(spec: StudentSpec, teacher_folder: Path, device: str, seed: int, max_seq_length: int | None) -> Any:
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(teacher_folder), local_files_only=True)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=spec.width, num_hidden_layers=spec.layers,
                        num_attention_heads=spec.heads, intermediate_size=spec.intermediate or 4 * spec.width,
                        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id or 0)
    bert = BertModel(config, add_pooling_layer=False)
    teacher_weights = next(iter(sorted(teacher_folder.glob("*.safetensors"))), None)
    if teacher_weights is not None:
        state = load_file(str(teacher_weights))
        key = next((k for k in state if k.endswith("word_embeddings.weight")), None)
        if key is not None and state[key].shape[0] == len(tokenizer):
            bert.embeddings.word_embeddings.weight.data.copy_(_pca(state[key].float(), spec.width))
    with tempfile.TemporaryDirectory(prefix="advisor-student-") as tmp:
        bert.save_pretrained(tmp, safe_serialization=True)
        for name in TOKENIZER_FILES:
            if (teacher_folder / name).exists():
                shutil.copy(teacher_folder / name, Path(tmp) / name)
        transformer = Transformer(tmp, max_seq_length=max_seq_length or 256)
        model = SentenceTransformer(modules=_add_head([transformer], spec.width, spec.dim, seed), device="cpu")
    return model.to(device)


def _pca(matrix: Any, width: int) -> Any:
    """The teacher's word embeddings reduced (or zero-padded) to ``width`` columns, rescaled to BERT's init std."""
    import torch

    centered = matrix - matrix.mean(dim=0, keepdim=True)
    if width < matrix.shape[1]:
        _, _, v = torch.linalg.svd(centered, full_matrices=False)
        reduced = centered @ v[:width].T
    else:
        reduced = torch.nn.functional.pad(centered, (0, width - matrix.shape[1]))
    return reduced * (0.02 / reduced.std().clamp_min(1e-8))
