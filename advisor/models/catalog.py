"""Model catalogs: YAML files with one entry per model, in fields close to mteb's ModelMeta.

A catalog is validated on load: every error names the file, the entry, the field and what is allowed. The entry is
pure data (picklable), so a remote worker can rebuild the model from it.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from advisor.errors import ConfigError
from advisor.config.languages import normalize_language
from advisor.config.licenses import normalize_license
from advisor.config.schema import Fields
from advisor.models.hosted import validate_options
from advisor.models.variants import WEIGHT_PRECISIONS
from advisor.config.shipped import DEFAULT_CATALOGS, default_catalog_files, resolve_file, shipped_catalog_files
from advisor.config.yamlfile import dump_yaml, line_of, load_yaml

POOLINGS = ("mean", "cls", "lasttoken", "max")
WEIGHT_FORMATS = ("safetensors", "pickle", "onnx", "native")
SOURCE_SCHEMES = ("package", "hub", "path", "builtin", "parts")  # builtin: nothing on disk; parts: split zip

ENTRY_FIELDS = (
    "name", "source", "backend", "revision", "license", "languages", "domains", "n_parameters", "embed_dim",
    "matryoshka_dims", "max_tokens", "pooling", "normalize", "query_prompt", "document_prompt", "trust_remote_code",
    "weights_format", "tokenizer", "options", "notes", "reference", "weight_precision",
    "training_datasets", "training_data_licenses", "price_per_million_tokens", "hosted",
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
    # The datasets the model was trained on (MTEB task names or dataset ids): None when unknown, () when known to
    # be none; and the licence of each where known (a dataset absent here has an unknown licence).
    training_datasets: tuple[str, ...] | None = None
    training_data_licenses: dict[str, str] = field(default_factory=dict)
    # A hosted model's price in USD per million input tokens (None: not billed per token, e.g. run locally).
    price_per_million_tokens: float | None = None
    # Runs off this machine whatever its URL says (e.g. a tunnel to a provider); see advisor.models.destination.
    hosted: bool = False
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
        if data.get("training_datasets") is not None:
            data["training_datasets"] = list(data["training_datasets"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelEntry":
        data = dict(data)
        for key in ("languages", "domains", "matryoshka_dims"):
            data[key] = tuple(data.get(key) or ())
        if data.get("training_datasets") is not None:
            data["training_datasets"] = tuple(data["training_datasets"])
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
    options = validate_options(str(f.raw("backend")), f.mapping("options"), file, entry_name)
    training_datasets, training_licenses = _training_data(f)
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
        weight_precision=f.str("weight_precision", choices=WEIGHT_PRECISIONS),
        training_datasets=training_datasets, training_data_licenses=training_licenses,
        price_per_million_tokens=f.number("price_per_million_tokens", minimum=0.0), hosted=f.bool("hosted"),
        catalog=file,
    )


def _training_data(f: Fields) -> tuple[tuple[str, ...] | None, dict[str, str]]:
    """``training_datasets`` (absent: unknown; ``[]``: none) and ``training_data_licenses`` (name -> SPDX id)."""
    names = tuple(f.list("training_datasets", str, item_type=str)) if f.has("training_datasets") else None
    licenses: dict[str, str] = {}
    for name, value in f.mapping("training_data_licenses").items():
        if not isinstance(value, str):
            raise f.error("training_data_licenses", f"the licence of '{name}' must be a string, got {value!r}")
        try:
            licenses[str(name)] = normalize_license(value)
        except ValueError as exc:
            raise f.error("training_data_licenses", f"'{name}': {exc}") from None
    stray = [n for n in licenses if names is None or n not in names]
    if stray:
        raise f.error("training_data_licenses", f"names data sets not in training_datasets: {', '.join(stray)}")
    return names, licenses


def _read_catalog(path: str | Path) -> tuple[list[ModelEntry], list["PairSpec"]]:
    """One file's plain entries and its pair entries (not yet resolved: a pair may name entries of other files)."""
    path = resolve_file("catalog", path)
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
    pairs: list[PairSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(models):
        item: ModelEntry | PairSpec = parse_pair(raw, file, index) if is_pair(raw) else parse_entry(raw, file, index)
        if item.name in seen:
            raise ConfigError(file, "duplicate model name; each entry needs its own name", entry=item.name,
                              field="name", line=line_of(raw, "name"))
        seen.add(item.name)
        (pairs if isinstance(item, PairSpec) else entries).append(item)
    return entries, pairs


def load_catalog(path: str | Path) -> list[ModelEntry]:
    """Read and validate one catalog file: ``models: [ {name: ..., ...}, ... ]``. Pair entries are resolved
    against the file's own entries, then the shipped catalogs."""
    entries, pairs = _read_catalog(path)
    return entries + resolve_pairs(pairs, entries)


def load_catalogs(paths: Iterable[str | Path]) -> list[ModelEntry]:
    """Several catalogs together; a name defined twice across files is an error naming both files. Pair entries
    are resolved against all of them (then the shipped catalogs)."""
    entries: dict[str, ModelEntry] = {}
    pairs: list[PairSpec] = []
    for path in paths:
        file_entries, file_pairs = _read_catalog(path)
        for item in [*file_entries, *file_pairs]:
            other = entries.get(item.name) or next((p for p in pairs if p.name == item.name), None)
            if other is not None:
                raise ConfigError(str(path), f"model already defined in {other.catalog}", entry=item.name,
                                  field="name")
            if isinstance(item, PairSpec):
                pairs.append(item)
            else:
                entries[item.name] = item
    return list(entries.values()) + resolve_pairs(pairs, list(entries.values()))


# Asymmetric pairs: a small query model beside a big document model, one candidate. A pair entry names two
# entries; it becomes a ModelEntry of backend "pair" whose options carry both sides (pure data, so a worker can
# rebuild it), whose vectors (dims, precisions) are the document side's, and whose cost figures come from the side
# the user pays them on (advisor.models.pair).
PAIR_FIELDS = ("name", "query_model", "document_model", "license", "languages", "domains", "notes", "reference")
PAIR_BACKEND = "pair"


@dataclass(frozen=True)
class PairSpec:
    """A pair entry as written, before its two names are looked up."""

    name: str
    query_model: str
    document_model: str
    license: str | None = None
    languages: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    notes: str = ""
    reference: str | None = None
    catalog: str | None = None
    line: int | None = None


def is_pair(data: Any) -> bool:
    return isinstance(data, dict) and ("query_model" in data or "document_model" in data)


def parse_pair(data: Any, file: str, index: int) -> PairSpec:
    entry_name = data.get("name") if isinstance(data.get("name"), str) else f"#{index + 1}"
    f = Fields(data, file, entry_name, PAIR_FIELDS, what="pair entry")
    license_value = f.str("license")
    if license_value is not None:
        try:
            license_value = normalize_license(license_value)
        except ValueError as exc:
            raise f.error("license", str(exc)) from None
    return PairSpec(name=f.str("name", required=True), query_model=f.str("query_model", required=True),
                    document_model=f.str("document_model", required=True), license=license_value,
                    languages=tuple(f.list("languages", normalize_language)),
                    domains=tuple(d.lower() for d in f.list("domains")), notes=f.str("notes", "") or "",
                    reference=f.str("reference"), catalog=file, line=line_of(data))


def resolve_pairs(pairs: Iterable[PairSpec], entries: Iterable[ModelEntry], *,
                  fallback: bool = True) -> list[ModelEntry]:
    """Each pair as a ModelEntry; a name found neither in ``entries`` nor (``fallback``) in the shipped catalogs,
    a side that is itself a pair, or two spaces of different sizes is a one-line ConfigError with the reason."""
    pairs = list(pairs)
    if not pairs:
        return []
    known = {e.name: e for e in entries}
    shipped: dict[str, ModelEntry] | None = None
    out: list[ModelEntry] = []
    for pair in pairs:
        sides = []
        for field_name in ("query_model", "document_model"):
            name = getattr(pair, field_name)
            side = known.get(name)
            if side is None and fallback:
                if shipped is None:
                    paths = [p for p in default_catalog_paths()
                             if str(p.resolve()) != str(Path(pair.catalog or "").resolve())]
                    shipped = {e.name: e for e in load_catalogs(paths)} if paths else {}
                side = shipped.get(name)
            if side is None and any(p.name == name for p in pairs):
                raise ConfigError(str(pair.catalog), f"'{name}' is itself a pair; a pair's sides are plain models",
                                  entry=pair.name, field=field_name, line=pair.line)
            if side is None:
                raise ConfigError(str(pair.catalog), f"'{name}' names no catalog entry (looked in the given catalogs "
                                                     f"and the default ones: {', '.join(DEFAULT_CATALOGS)})"
                                                     f"{elsewhere_hint(name)}", entry=pair.name, field=field_name,
                                  line=pair.line)
            if side.backend == PAIR_BACKEND:
                raise ConfigError(str(pair.catalog), f"'{name}' is itself a pair; a pair's sides are plain models",
                                  entry=pair.name, field=field_name, line=pair.line)
            sides.append(side)
        out.append(pair_entry(pair, *sides))
    return out


def pair_entry(pair: PairSpec, query: ModelEntry, document: ModelEntry) -> ModelEntry:
    """The candidate for ``pair``: vectors from the document side, serving metadata from the query side."""
    def refuse(message: str) -> ConfigError:
        return ConfigError(str(pair.catalog), message, entry=pair.name, line=pair.line)

    if query.name == document.name:
        raise refuse(f"query_model and document_model are both '{query.name}'; use the model itself")
    if query.embed_dim != document.embed_dim:
        raise refuse(f"the two spaces do not match: query model '{query.name}' gives {query.embed_dim}-d vectors, "
                     f"document model '{document.name}' {document.embed_dim}-d; distill the query model into the "
                     f"document model's space (advisor distill --side query)")
    if pair.license is not None:
        license_id = pair.license
    else:
        license_id = query.license if query.license == document.license else "unknown"
    languages = pair.languages or tuple(x for x in document.languages if x in query.languages) or document.languages
    fixed = query.weight_precision if query.weight_precision == document.weight_precision else None
    notes = pair.notes or (f"pair: queries by {query.name}, documents by {document.name}")
    return ModelEntry(
        name=pair.name, source=f"builtin:{PAIR_BACKEND}", backend=PAIR_BACKEND, embed_dim=document.embed_dim,
        license=license_id, languages=tuple(languages), domains=pair.domains or document.domains,
        n_parameters=query.n_parameters,  # what is served online; the document side's count is in options
        matryoshka_dims=tuple(d for d in document.matryoshka_dims if d in query.matryoshka_dims),
        max_tokens=document.max_tokens, normalize=query.normalize and document.normalize,
        trust_remote_code=query.trust_remote_code or document.trust_remote_code,
        weights_format="pickle" if "pickle" in (query.weights_format, document.weights_format) else "safetensors",
        options={"query_model": query.to_dict(), "document_model": document.to_dict()}, notes=notes,
        reference=pair.reference, weight_precision=fixed, catalog=pair.catalog)


# Writing: the one way a catalog file is written (training outcomes, the student grid, import-mteb). What it
# writes, load_catalog reads back as equal entries (only ``catalog``, the file an entry came from, differs).

_DEFAULTS = {f.name: f.default for f in fields(ModelEntry) if f.default is not MISSING}
_DEFAULTS.update({f.name: f.default_factory() for f in fields(ModelEntry) if f.default_factory is not MISSING})
_ALWAYS = ("name", "source", "backend", "languages", "embed_dim")  # required by the schema


def _relative_source(value: str, folder: Path) -> str:
    """A local path under ``folder`` written relative to it (so the folder can move with its catalog), in the
    same form (``path:`` or bare); anything else unchanged."""
    scheme, sep, rest = value.partition(":")
    if sep and scheme in SOURCE_SCHEMES and scheme != "path":
        return value
    prefix, local = ("path:", rest) if sep and scheme == "path" else ("", value)
    target = Path(local)
    if not target.is_absolute() or not target.is_relative_to(folder):
        return value
    relative = target.relative_to(folder)
    return prefix + relative.as_posix() if (folder / relative).resolve() == target else value


def _pair_sides(entry: ModelEntry) -> tuple[ModelEntry, ModelEntry] | None:
    if entry.backend != PAIR_BACKEND:
        return None
    return (ModelEntry.from_dict(entry.options["query_model"]),
            ModelEntry.from_dict(entry.options["document_model"]))


def entry_record(item: "ModelEntry | PairSpec", folder: Path) -> dict[str, Any]:
    """One catalog record: a plain entry's fields that differ from their defaults (required ones always), in
    schema order, local paths under ``folder`` relative to it; a pair (as written, or as loaded) by the names of
    its two sides plus what differs from what the pair would take from them."""
    if isinstance(item, PairSpec):
        record: dict[str, Any] = {"name": item.name, "query_model": item.query_model,
                                  "document_model": item.document_model}
        for key in PAIR_FIELDS[3:]:
            if getattr(item, key) not in (None, "", ()):
                record[key] = getattr(item, key)
        return record
    sides = _pair_sides(item)
    if sides is not None:
        spec = PairSpec(item.name, sides[0].name, sides[1].name)
        derived = pair_entry(spec, *sides)
        record = {"name": item.name, "query_model": spec.query_model, "document_model": spec.document_model}
        for key in PAIR_FIELDS[3:]:
            if getattr(item, key) != getattr(derived, key):
                record[key] = getattr(item, key)
        return record
    record = {}
    for key in ENTRY_FIELDS:
        value = getattr(item, key)
        if key not in _ALWAYS and value == _DEFAULTS.get(key):
            continue
        if key in ("source", "tokenizer") and value is not None:
            value = _relative_source(value, folder)
        record[key] = value
    return record


def write_catalog(entries: Iterable["ModelEntry | PairSpec"], path: str | Path, *, name: str | None = None,
                  description: str | None = None, header: str = "") -> Path:
    """Write ``entries`` as a catalog file that :func:`load_catalog` reads back as the same entries; ``header``
    becomes ``#`` comment lines at the top (say what wrote the file and how to use it). Two entries of one name
    are refused before anything is written (the loader would refuse the file)."""
    path = Path(path)
    folder = path.parent.resolve()
    records = [entry_record(item, folder) for item in entries]
    names = [r["name"] for r in records]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(str(path), "duplicate model name; each entry needs its own name", entry=twice[0])
    doc: dict[str, Any] = {}
    if name is not None:
        doc["name"] = name
    if description is not None:
        doc["description"] = description
    doc["models"] = records
    return dump_yaml(doc, path, header=header)


def shipped_catalogs_with(name: str) -> list[str]:
    """The shipped catalogs outside the default ones that have an entry ``name`` (for a hint on a miss)."""
    found = []
    for path in shipped_catalog_files():
        if path.stem in DEFAULT_CATALOGS:
            continue
        entries, pairs = _read_catalog(path)
        if any(item.name == name for item in [*entries, *pairs]):
            found.append(path.stem)
    return found


def elsewhere_hint(name: str) -> str:
    """'; it is in the shipped catalog 'hub': add --catalog hub' when another shipped catalog has ``name``."""
    found = shipped_catalogs_with(name)
    if not found:
        return ""
    return f"; it is in the shipped catalog '{found[0]}', used only when named: add --catalog {found[0]}"


def default_catalog_paths() -> list[Path]:
    """The catalogs in force when none is named (``advisor.config.shipped.DEFAULT_CATALOGS``: the shipped offline
    catalog), for every command, the TUI and a ``--model`` name alike."""
    return default_catalog_files()
