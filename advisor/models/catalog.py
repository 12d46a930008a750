"""Model catalogs: YAML files with one entry per model, in fields close to mteb's ModelMeta.

A catalog is validated on load: every error names the file, the entry, the field and what is allowed. The entry is
pure data (picklable), so a remote worker can rebuild the model from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from advisor.errors import ConfigError
from advisor.config.languages import normalize_language
from advisor.config.licenses import normalize_license
from advisor.config.schema import Fields
from advisor.models.variants import WEIGHT_PRECISIONS
from advisor.config.yamlfile import line_of, load_yaml

POOLINGS = ("mean", "cls", "lasttoken", "max")
WEIGHT_FORMATS = ("safetensors", "pickle", "onnx", "native")
SOURCE_SCHEMES = ("package", "hub", "path", "builtin", "parts")  # builtin: nothing on disk; parts: split zip

ENTRY_FIELDS = (
    "name", "source", "backend", "revision", "license", "languages", "domains", "n_parameters", "embed_dim",
    "matryoshka_dims", "max_tokens", "pooling", "normalize", "query_prompt", "document_prompt", "trust_remote_code",
    "weights_format", "tokenizer", "options", "notes", "reference", "weight_precision",
)


@dataclass(frozen=True)
class ModelEntry:
    """One candidate model. ``source`` is ``package:MODULE[/SUBPATH]``, ``hub:ORG/NAME``, ``builtin:NAME`` or a path
    (a relative path is resolved against the catalog file's folder when loading)."""

    name: str
    source: str
    backend: str
    embed_dim: int
    license: str = "unknown"
    languages: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    revision: str | None = None
    n_parameters: int | None = None
    matryoshka_dims: tuple[int, ...] = ()
    max_tokens: int | None = None
    pooling: str | None = None
    normalize: bool = True
    query_prompt: str = ""
    document_prompt: str = ""
    trust_remote_code: bool = False
    weights_format: str = "safetensors"
    tokenizer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    reference: str | None = None
    # The precision the weights ship in when it is fixed (a pre-quantized file or engine): the only weight
    # precision the model can run at. None: full-precision weights the backend may convert.
    weight_precision: str | None = None
    catalog: str | None = None  # the file it came from, for messages

    @property
    def source_scheme(self) -> str:
        scheme, sep, _ = self.source.partition(":")
        return scheme if sep and scheme in SOURCE_SCHEMES else "path"

    @property
    def source_value(self) -> str:
        scheme, sep, rest = self.source.partition(":")
        return rest if sep and scheme in SOURCE_SCHEMES else self.source

    def trained_dims(self) -> tuple[int, ...]:
        """Output sizes the model was trained for: its full size plus any Matryoshka sizes."""
        return tuple(sorted({self.embed_dim, *self.matryoshka_dims}, reverse=True))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("languages", "domains", "matryoshka_dims"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelEntry":
        data = dict(data)
        for key in ("languages", "domains", "matryoshka_dims"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


def _resolve_source(source: str, base: Path) -> str:
    scheme, sep, rest = source.partition(":")
    if sep and scheme in SOURCE_SCHEMES:
        if scheme == "path":
            return "path:" + str((base / rest).resolve()) if not Path(rest).is_absolute() else source
        return source
    if len(scheme) == 1 and sep:  # a Windows drive letter
        return source
    path = Path(source).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def parse_entry(data: Any, file: str, index: int) -> ModelEntry:
    entry_name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else f"#{index + 1}"
    f = Fields(data, file, entry_name, ENTRY_FIELDS)
    name = f.str("name", required=True)
    source = f.str("source", required=True)
    embed_dim = f.int("embed_dim", required=True)
    license_value = f.str("license", "unknown")
    try:
        license_id = normalize_license(license_value)
    except ValueError as exc:
        raise f.error("license", str(exc)) from None
    languages = f.list("languages", normalize_language, required=True)
    if not languages:
        raise f.error("languages", "must list at least one language, e.g. [eng-Latn]")
    matryoshka = f.list("matryoshka_dims", int, item_type=int)
    too_big = [d for d in matryoshka if d <= 0 or d > embed_dim]
    if too_big:
        raise f.error("matryoshka_dims", f"sizes must be between 1 and embed_dim={embed_dim}, got {too_big}")
    options = dict(f.mapping("options"))
    return ModelEntry(
        name=name, source=_resolve_source(source, Path(file).parent), backend=f.str("backend", required=True),
        embed_dim=embed_dim, license=license_id, languages=tuple(languages),
        domains=tuple(d.lower() for d in f.list("domains")), revision=f.str("revision"),
        n_parameters=f.int("n_parameters"), matryoshka_dims=tuple(sorted(set(matryoshka), reverse=True)),
        max_tokens=f.int("max_tokens"), pooling=f.str("pooling", choices=POOLINGS),
        normalize=f.bool("normalize", True), query_prompt=f.raw("query_prompt") or "",
        document_prompt=f.raw("document_prompt") or "", trust_remote_code=f.bool("trust_remote_code"),
        weights_format=f.str("weights_format", "safetensors", choices=WEIGHT_FORMATS),
        tokenizer=_resolve_source(t, Path(file).parent) if (t := f.str("tokenizer")) else None,
        options=options, notes=f.str("notes", "") or "", reference=f.str("reference"),
        weight_precision=f.str("weight_precision", choices=WEIGHT_PRECISIONS), catalog=file,
    )


def load_catalog(path: str | Path) -> list[ModelEntry]:
    """Read and validate one catalog file: ``models: [ {name: ..., ...}, ... ]``."""
    file = str(path)
    data = load_yaml(path)
    if not isinstance(data, dict) or "models" not in data:
        raise ConfigError(file, "a catalog is a mapping with a 'models:' list of model entries", line=line_of(data))
    extra = [k for k in data if k not in ("models", "description", "name")]
    if extra:
        raise ConfigError(file, f"unknown top-level field '{extra[0]}'; allowed: name, description, models",
                          line=line_of(data, extra[0]))
    models = data["models"]
    if not isinstance(models, list):
        raise ConfigError(file, "must be a list of model entries", field="models", line=line_of(data, "models"))
    entries: list[ModelEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(models):
        entry = parse_entry(raw, file, index)
        if entry.name in seen:
            raise ConfigError(file, "duplicate model name; each entry needs its own name", entry=entry.name,
                              field="name", line=line_of(raw, "name"))
        seen.add(entry.name)
        entries.append(entry)
    return entries


def load_catalogs(paths: Iterable[str | Path]) -> list[ModelEntry]:
    """Several catalogs together; a name defined twice across files is an error naming both files."""
    entries: dict[str, ModelEntry] = {}
    for path in paths:
        for entry in load_catalog(path):
            if entry.name in entries:
                raise ConfigError(str(path), f"model already defined in {entries[entry.name].catalog}",
                                  entry=entry.name, field="name")
            entries[entry.name] = entry
    return list(entries.values())


SHIPPED_CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalogs"


def default_catalog_paths(*, with_hub: bool = False) -> list[Path]:
    """The one list of shipped catalogs: the offline catalog (what a sweep runs by default), plus the hub catalog
    when ``with_hub`` (what a model name is resolved against)."""
    names = ("offline.yaml", "hub.yaml") if with_hub else ("offline.yaml",)
    return [SHIPPED_CATALOG_DIR / n for n in names if (SHIPPED_CATALOG_DIR / n).exists()]
