"""Catalog entries from the model registry that ships inside mteb (its ModelMeta records), offline.

Only what mteb states is written: a field mteb leaves empty stays out of the entry (unknown), never guessed. A record
the catalog schema cannot hold (no output size, no language, not a text bi-encoder) is skipped and counted with its
reason. Entries run through the torch backend from ``hub:ORG/NAME``, so a user with a hub or a filled cache can run
them; the YAML written is read back by :func:`advisor.models.catalog.load_catalog` like any hand-written catalog.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from advisor.config.languages import covers, normalize_language
from advisor.config.licenses import UNKNOWN, normalize_license
from advisor.errors import UserError
from advisor.formatting import megabytes
from advisor.models.catalog import ModelEntry, parse_entry, write_catalog

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMbBgG]?)\s*$")
_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}
_NOT_A_LICENSE = {"not specified", "multiple", "none", "unknown", "other", ""}


def parse_size(text: str) -> int:
    """``600M`` -> 600000000 (k, M, B/G suffixes); a bare number is a count of parameters."""
    match = _SIZE.match(str(text))
    if not match:
        raise UserError(f"--max-params: '{text}' is not a size; write e.g. 600M, 1.5B or 110000000")
    return int(float(match.group(1)) * _SCALE[match.group(2).lower()])


@dataclass(frozen=True)
class ImportFilters:
    """Which records to keep: a name containing any of ``names``, a licence among ``licenses`` (SPDX ids), at most
    ``max_params`` parameters (an unknown count does not pass a size limit), covering every one of ``languages``,
    and with open weights when ``open_weights``."""

    names: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    max_params: int | None = None
    languages: tuple[str, ...] = ()
    open_weights: bool = False


@dataclass
class ImportResult:
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    duplicates: list[str] = field(default_factory=list)  # records already in the given catalogs


def mteb_license(value: Any) -> str:
    """mteb's licence string as a catalog licence: an SPDX id, ``LicenseRef-<name>`` for a named or linked custom
    licence (so a commercial-use rule asks for review), ``unknown`` when mteb states none."""
    text = str(value).strip() if value is not None else ""
    if text.lower() in _NOT_A_LICENSE:
        return UNKNOWN
    try:
        return normalize_license(text)
    except ValueError:
        slug = re.sub(r"^https?://(www\.)?", "", text)
        slug = re.sub(r"[^A-Za-z0-9.]+", "-", slug).strip("-.")[:80] or "custom"
        return f"LicenseRef-{slug}"


def task_licenses() -> dict[str, str]:
    """MTEB task name -> licence of its data, for every task mteb ships (superseded ones included)."""
    import mteb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tasks = mteb.get_tasks(exclude_superseded=False, exclude_private=False)
    return {t.metadata.name: mteb_license(t.metadata.license) for t in tasks}


def _languages(values: Iterable[str] | None) -> tuple[list[str], list[str]]:
    kept, dropped = [], []
    for code in values or ():
        try:
            lang = normalize_language(code)
        except ValueError:
            dropped.append(code)
            continue
        if lang not in kept:
            kept.append(lang)
    return kept, dropped


def entry_from_meta(meta: Any, licenses_of_data: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    """(catalog record, None) for a ModelMeta, or (None, why it cannot be an entry)."""
    modalities = list(getattr(meta, "modalities", None) or ["text"])
    if "text" not in modalities:
        return None, "not a text model"
    types = list(getattr(meta, "model_type", None) or ["dense"])
    if "dense" not in types:
        return None, f"not a dense bi-encoder ({', '.join(types)})"
    dims = meta.embed_dim
    if dims is None:
        return None, "output size unknown"
    dims = sorted({int(d) for d in dims}, reverse=True) if isinstance(dims, (list, tuple)) else [int(dims)]
    languages, dropped = _languages(meta.languages)
    if not languages:
        return None, "languages unknown"
    record: dict[str, Any] = {"name": meta.name, "source": f"hub:{meta.name}", "backend": "torch"}
    if meta.revision and meta.revision != "no_revision_available":
        record["revision"] = str(meta.revision)
    record["license"] = mteb_license(meta.license)
    record["languages"] = languages
    if meta.n_parameters:
        record["n_parameters"] = int(meta.n_parameters)
    record["embed_dim"] = dims[0]
    if len(dims) > 1:
        record["matryoshka_dims"] = dims[1:]
    if meta.max_tokens and math.isfinite(meta.max_tokens):  # inf: no limit (a static model)
        record["max_tokens"] = int(meta.max_tokens)
    similarity = getattr(meta.similarity_fn_name, "value", meta.similarity_fn_name)
    if similarity == "dot":
        record["normalize"] = False  # trained for dot product: normalizing would change the scores
    if (getattr(meta, "loader_kwargs", None) or {}).get("trust_remote_code"):
        record["trust_remote_code"] = True
    if meta.reference:
        record["reference"] = str(meta.reference)
    if meta.training_datasets is not None:
        names = sorted(str(n) for n in meta.training_datasets)
        record["training_datasets"] = names
        known = {n: licenses_of_data[n] for n in names if licenses_of_data.get(n, UNKNOWN) != UNKNOWN}
        if known:
            record["training_data_licenses"] = known
    notes = ["imported from mteb's ModelMeta"]
    if meta.open_weights is False:
        notes.append("weights not open (an API model): it cannot run locally")
    elif meta.open_weights is None:
        notes.append("open weights unknown")
    if meta.memory_usage_mb:
        notes.append(f"weights about {megabytes(float(meta.memory_usage_mb))}")
    if dropped:
        notes.append(f"also covers {', '.join(dropped[:5])}{'…' if len(dropped) > 5 else ''}")
    if str(meta.license or "").startswith("http"):
        notes.append(f"licence: {meta.license}")
    if (getattr(meta, "loader_kwargs", None) or {}).get("model_prompts"):
        notes.append("mteb uses prompts for this model (see its reference); none are set here")
    record["notes"] = "; ".join(notes)
    return record, None


def _keep(record: dict[str, Any], meta: Any, filters: ImportFilters) -> str | None:
    """Why the filters drop the record, or None."""
    if filters.names and not any(n.lower() in meta.name.lower() for n in filters.names):
        return "name filter"
    if filters.licenses and record["license"] not in filters.licenses:
        return "licence filter"
    if filters.max_params is not None and (record.get("n_parameters") or filters.max_params + 1) > filters.max_params:
        return "size filter (or size unknown)"
    if filters.languages and not all(covers(record["languages"], lang) for lang in filters.languages):
        return "language filter"
    if filters.open_weights and meta.open_weights is not True:
        return "open-weights filter"
    return None


def _hub_id(entry: ModelEntry) -> str | None:
    if entry.source_scheme == "hub":
        return entry.source_value.lower()
    ref = entry.reference or ""
    prefix = "https://huggingface.co/"
    return ref[len(prefix):].strip("/").lower() if ref.startswith(prefix) else None


def import_mteb(filters: ImportFilters = ImportFilters(), existing: Sequence[ModelEntry] = (),
                metas: Sequence[Any] | None = None) -> ImportResult:
    """Records for every ModelMeta that passes ``filters`` and is not already in ``existing`` (same name, or the
    same hub repository by source or reference)."""
    if metas is None:
        import mteb

        metas = mteb.get_model_metas()
    data_licenses = task_licenses()
    names = {e.name.lower() for e in existing}
    hub_ids = {h for e in existing if (h := _hub_id(e))}
    result = ImportResult()
    seen: set[str] = set()
    for meta in sorted(metas, key=lambda m: m.name.lower()):
        record, why = entry_from_meta(meta, data_licenses)
        if record is None:
            result.skipped[why] += 1
            continue
        dropped = _keep(record, meta, filters)
        if dropped:
            result.skipped[dropped] += 1
            continue
        key = meta.name.lower()
        if key in names or key in hub_ids or key.split("/")[-1] in names or key in seen:
            result.duplicates.append(meta.name)
            continue
        seen.add(key)
        result.entries.append(record)
    return result


def write_import(result: ImportResult, path: str | Path, filters: ImportFilters) -> Path:
    """The records as a catalog file (``name``, ``description``, ``models``), checked against the catalog schema
    entry by entry before anything is written."""
    path = Path(path)
    described = [f"{k}={v}" for k, v in vars(filters).items() if v not in ((), None, False)]
    entries = [parse_entry(record, f"mteb model registry ({record.get('name')})", i)
               for i, record in enumerate(result.entries)]
    return write_catalog(entries, path, name=path.stem,
                         description="Imported with 'advisor catalog import-mteb' from mteb's model registry"
                                     f"{' (' + ', '.join(described) + ')' if described else ''}. Fields mteb does "
                                     "not state are left out (unknown); pooling and prompts come from each model's "
                                     "own configuration.")
