"""``--model NAME_OR_PATH``: a catalog name, a local model folder or file, or a hub id, turned into a ModelEntry.

A local folder is inspected (sentence-transformers modules, transformers config, model2vec config, ONNX file) so
an entry can be built for a model that no catalog lists: its pooling, size, prompts and licence come from the
folder's own files. Nothing is loaded here; backends load.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

from advisor.config.shipped import files_in_force, shipped_catalog_files
from advisor.models.catalog import ModelEntry, default_catalog_paths, elsewhere_hint, load_catalog, load_catalogs
from advisor.errors import UserError
from advisor.config.licenses import normalize_license
from advisor.models.pooling import read_pooling
from advisor.models.sources import resolve_source, split_source

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w.-]+)?$")


def _entries(catalogs: Sequence[str | Path | ModelEntry] | None) -> list[ModelEntry]:
    """The entries in force: those given, else the default catalogs (advisor.config.shipped.DEFAULT_CATALOGS)."""
    if catalogs is None:
        return load_catalogs(default_catalog_paths())
    paths = [c for c in catalogs if not isinstance(c, ModelEntry)]
    return [c for c in catalogs if isinstance(c, ModelEntry)] + (load_catalogs(paths) if paths else [])


def _hub_entry(hub_id: str, entries: Sequence[ModelEntry]) -> ModelEntry | None:
    """The entry whose source is ``hub_id``: among the entries in force, else in a shipped catalog that lists that id
    (the hub catalog holds the facts its model cards state: licence, languages, pinned revision)."""
    def find(candidates: Iterable[ModelEntry]) -> ModelEntry | None:
        return next((e for e in candidates if e.source_scheme == "hub"
                     and e.source_value.split("@")[0] == hub_id.split("@")[0]), None)

    return find(entries) or find(e for path in shipped_catalog_files() for e in load_catalog(path))


def resolve_model(name_or_path: str, catalogs: Sequence[str | Path | ModelEntry] | None = None) -> ModelEntry:
    """A catalog entry by name among the catalogs in force (``catalogs``, default: the default catalogs) or by its
    hub id, else an entry inspected from a local folder/file or from the Hugging Face cache (``hub:ORG/NAME``). A
    model found nowhere raises a UserError listing where it looked and, when another shipped catalog has that name,
    the --catalog that brings it in."""
    entries = _entries(catalogs)
    for entry in entries:
        if entry.name == name_or_path:
            return entry
    scheme, value = split_source(name_or_path)
    hub_id = value if scheme == "hub" else None
    if scheme == "path" and not Path(value).expanduser().exists() and _HUB_ID.match(value):
        hub_id = value  # a bare ORG/NAME that is not a local path
    if hub_id is not None and (known := _hub_entry(hub_id, entries)) is not None:
        return known
    in_force = files_in_force(sorted({e.catalog for e in entries if e.catalog}))
    looked = f"catalog names ({len(entries)} entries in {in_force if entries else 'no catalog'})"
    if hub_id is not None:
        try:
            path = resolve_source("hub:" + hub_id)
        except UserError as exc:
            local = ", as a local path" if scheme == "path" else ""
            raise UserError(f"model '{name_or_path}' not found: looked in {looked}{local} and in the hub cache: "
                            f"{exc}") from None
        return inspect_folder(path, name=hub_id.split("@")[0], source="hub:" + hub_id)
    path = Path(value).expanduser()
    if scheme in ("package", "builtin") or not path.exists():
        if scheme == "package":
            path = resolve_source(name_or_path)  # raises with the package name
            return inspect_folder(path, name=path.name, source=name_or_path)
        elsewhere = elsewhere_hint(name_or_path)
        close = [e.name for e in entries if name_or_path.lower() in e.name.lower()][:5]
        hint = elsewhere or (f"; did you mean {', '.join(close)}?" if close else
                             "; 'advisor catalog list' lists the known names")
        raise UserError(f"model '{name_or_path}' not found: looked in {looked} and as a local path "
                        f"({path.resolve()}){hint}")
    return inspect_folder(path.resolve())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read model config ({exc})") from None
    return data if isinstance(data, dict) else {}


def _readme_license(folder: Path) -> str:
    """The licence from a model card's YAML front matter (``license: apache-2.0``), else 'unknown'."""
    readme = folder / "README.md"
    if not readme.exists():
        return "unknown"
    text = readme.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"^---\s*\n(.*?)\n---", text, re.S)
    if not match:
        return "unknown"
    lic = re.search(r"^license:\s*([^\s#]+)", match.group(1), re.M)
    if not lic:
        return "unknown"
    try:
        return normalize_license(lic.group(1).strip("'\""))
    except ValueError:
        return "unknown"


def _weights_format(folder: Path) -> str:
    if list(folder.glob("*.safetensors")):
        return "safetensors"
    if list(folder.glob("*.bin")) or list(folder.glob("*.pt")) or list(folder.glob("*.pth")):
        return "pickle"
    if list(folder.glob("*.onnx")):
        return "onnx"
    return "safetensors"


def _st_entry(folder: Path, name: str, source: str) -> ModelEntry:
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    types = [m.get("type", "") for m in modules]
    pooling, embed_dim = "mean", None
    for m in modules:
        sub = folder / m.get("path", "")
        if m.get("type", "").endswith("Pooling") and (sub / "config.json").exists():
            cfg = read_pooling(sub / "config.json")
            embed_dim = cfg.dim or embed_dim
            pooling = cfg.mode
        if m.get("type", "").endswith("Dense") and (sub / "config.json").exists():
            embed_dim = _read_json(sub / "config.json").get("out_features", embed_dim)
    if embed_dim is None and (folder / "config.json").exists():
        embed_dim = _read_json(folder / "config.json").get("hidden_size")
    st_cfg = _read_json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").exists() else {}
    cst = (_read_json(folder / "config_sentence_transformers.json")
           if (folder / "config_sentence_transformers.json").exists() else {})
    prompts = cst.get("prompts") or {}
    max_tokens = st_cfg.get("max_seq_length")
    if max_tokens is None and (folder / "tokenizer_config.json").exists():  # sentence-transformers >= 6
        limit = _read_json(folder / "tokenizer_config.json").get("model_max_length")
        max_tokens = limit if isinstance(limit, int) and limit < 1_000_000 else None
    remote = bool((folder / "config.json").exists() and _read_json(folder / "config.json").get("auto_map"))
    return ModelEntry(
        name=name, source=source, backend="torch", embed_dim=int(embed_dim or 0), license=_readme_license(folder),
        max_tokens=max_tokens, pooling=pooling,
        normalize=any(t.endswith("Normalize") for t in types),
        query_prompt=prompts.get("query", "") or "",
        document_prompt=prompts.get("document", prompts.get("passage", prompts.get("corpus", ""))) or "",
        trust_remote_code=remote, weights_format=_weights_format(folder),
        notes="inspected from a local sentence-transformers folder (languages unknown: add a catalog entry)",
    )


def _transformers_entry(folder: Path, name: str, source: str, config: dict[str, Any]) -> ModelEntry:
    dim = config.get("hidden_size") or config.get("d_model") or config.get("dim")
    if not dim:
        raise UserError(f"{folder / 'config.json'}: no hidden_size; cannot tell the model's output size")
    decoder = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or [])
    return ModelEntry(
        name=name, source=source, backend="torch", embed_dim=int(dim), license=_readme_license(folder),
        max_tokens=config.get("max_position_embeddings"), pooling="lasttoken" if decoder else "mean",
        trust_remote_code=bool(config.get("auto_map")), weights_format=_weights_format(folder),
        notes="inspected from a local transformers folder; pooling guessed "
              f"({'last token for a decoder' if decoder else 'mean'}): add a catalog entry to set it",
    )


def inspect_folder(path: Path, *, name: str | None = None, source: str | None = None) -> ModelEntry:
    """Build an entry from a model folder (or an .onnx file) without loading any weights."""
    name = name or path.stem
    source = source or str(path)
    if path.is_file():
        if path.suffix == ".onnx":
            tokenizer = next((p for p in (path.parent, path.parent.parent) if (p / "tokenizer.json").exists()), None)
            if tokenizer is None:
                raise UserError(f"{path}: an ONNX model needs a tokenizer.json beside it (or a catalog entry with "
                                f"'tokenizer: FOLDER')")
            return ModelEntry(name=name, source=source, backend="onnx", embed_dim=_onnx_dim(path),
                              tokenizer=str(tokenizer), weights_format="onnx", pooling="mean",
                              notes="inspected from a local ONNX file")
        raise UserError(f"{path}: not a model folder or an .onnx file")
    if (path / "modules.json").exists():
        return _st_entry(path, name, source)
    if (path / "config.json").exists():
        config = _read_json(path / "config.json")
        if "model_type" in config:
            return _transformers_entry(path, name, source, config)
        if (path / "model.safetensors").exists() and (path / "tokenizer.json").exists():
            return ModelEntry(name=name, source=source, backend="static", embed_dim=_static_dim(path),
                              pooling="mean", normalize=bool(config.get("normalize", True)),
                              options={"format": "model2vec"}, notes="inspected from a model2vec folder")
    onnx = sorted(path.glob("*.onnx")) + sorted(path.glob("onnx/*.onnx"))
    if onnx:
        return inspect_folder(onnx[0], name=name, source=str(onnx[0]))
    raise UserError(f"{path}: not a model folder (no modules.json, config.json with model_type, model2vec "
                    f"config or .onnx file)")


def _static_dim(folder: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "np") as handle:
        key = "embeddings" if "embeddings" in handle.keys() else next(iter(handle.keys()))
        return int(handle.get_slice(key).get_shape()[-1])


def _onnx_dim(path: Path) -> int:
    from advisor.models.ort import onnxruntime
    ort = onnxruntime()

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = session.get_outputs()[0].shape
    if not isinstance(shape[-1], int):
        raise UserError(f"{path}: the output size is not fixed in the graph; add a catalog entry with embed_dim")
    return int(shape[-1])


def find_entries(names: Iterable[str], catalogs: Sequence[str | Path | ModelEntry] | None = None
                 ) -> list[ModelEntry]:
    """Several ``--model`` values at once."""
    return [resolve_model(n, catalogs) for n in names]
