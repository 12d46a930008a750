"""Hugging Face datasets: a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (found by its
``dataset_info.json`` + ``state.json``, or ``dataset_dict.json``), and ``hf:ORG/NAME[:CONFIG][@SPLIT]``, read
through the ``datasets`` library from its cache (``HF_DATASETS_CACHE``, else ``HF_HOME/datasets``). The hub is
reached only when the run grants the network (``advisor.config.network``, the one gate); otherwise the library
runs offline and a dataset missing from the cache is one line with the exact call that fills it.

Their rows become the readers' rows (``Row``, numbered from 1 per split) and go through ``advisor.datasets.rows``:
the columns decide the task type (pairs -> retrieval; sentence1/sentence2/score -> STS; text/label ->
classification; ...) and ``#FIELD=COLUMN`` maps other names. A split is chosen as a judgements split is: the one
named (``@SPLIT``, or the split's own folder of a saved DatasetDict), else test, validation, dev, train."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.datasets.readers import Row
from advisor.datasets.rows import Splits
from advisor.datasets.tasks import Task, TaskSource
from advisor.errors import ConfigError, UserError

PREFIX = "hf:"
HUB_SOURCE, DISK_SOURCE = "hf", "hf-disk"
_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:  # a dependency of mteb, so always there in a full install
        raise UserError("reading Hugging Face datasets needs the 'datasets' package: pip install datasets") from None
    return datasets


def _rows(dataset: Any, where: str) -> list[Row]:
    return [Row(where, number, dict(record), unit="row") for number, record in enumerate(dataset.to_list(), start=1)]


def _splits(loaded: Any, name: str, source: str, where: Any, split: str | None, meta: dict) -> Splits:
    """``loaded`` (a Dataset or a DatasetDict) as Splits; ``where(split)`` names a split in messages."""
    if hasattr(loaded, "keys"):  # a DatasetDict
        parts = {str(k): loaded[k] for k in loaded.keys()}
    else:
        parts = {str(loaded.split or "data"): loaded}
    if not parts:
        raise UserError(f"{meta.get('path', name)}: the dataset holds no split")
    rows = {}
    for key, part in parts.items():
        try:
            rows[key] = _rows(part, where(key))
        except Exception as exc:  # noqa: BLE001 - a damaged table fails only when its rows are read
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(where(key), f"its rows cannot be read ({type(exc).__name__}: {text})") from None
    return Splits(name=name, source=source, rows=rows, where={k: where(k) for k in parts}, split=split, meta=meta)


# --- a folder written by save_to_disk ------------------------------------------------------------------------------

def saved_kind(path: Path) -> str | None:
    """'dict' for a DatasetDict folder, 'dataset' for a Dataset folder, None for anything else."""
    if not path.is_dir():
        return None
    if (path / "dataset_dict.json").is_file():
        return "dict"
    if (path / "state.json").is_file() and (path / "dataset_info.json").is_file():
        return "dataset"
    return None


def saved_splits(path: Path) -> Splits:
    """The splits of a save_to_disk folder, read with ``datasets.load_from_disk``."""
    kind = saved_kind(path)
    if kind is None:
        raise UserError(f"{path}: not a folder written by save_to_disk (it needs dataset_dict.json, or state.json "
                        "and dataset_info.json)")
    datasets = _datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds for a damaged folder
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(str(path), f"is not a readable Hugging Face dataset folder ({type(exc).__name__}: "
                          f"{text})") from None
    where = (lambda split: str(path / split)) if kind == "dict" else (lambda split: str(path))
    return _splits(loaded, path.name, DISK_SOURCE, where, None, {"path": str(path)})


class SavedDatasetSource(TaskSource):
    name = DISK_SOURCE
    description = ("a Hugging Face dataset saved with save_to_disk (Dataset or DatasetDict folder); its columns give "
                   "the task type, #FIELD=COLUMN maps other names")

    def detect(self, spec: str) -> bool:
        return saved_kind(Path(spec).expanduser()) is not None

    def load(self, spec: str) -> Task:
        from advisor.datasets.rows import task_of_splits

        return task_of_splits(saved_splits(Path(spec).expanduser()), spec)


# --- hf:ORG/NAME[:CONFIG][@SPLIT] ----------------------------------------------------------------------------------

def parse_hub_spec(spec: str) -> tuple[str, str | None, str | None]:
    """(dataset id, config, split) of ``hf:ORG/NAME[:CONFIG][@SPLIT]``."""
    rest = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    rest, _, split = rest.partition("@")
    repo, _, config = rest.partition(":")
    if not _ID.match(repo) or (split == "" and "@" in spec) or (config == "" and ":" in rest):
        raise UserError(f"{spec}: a Hugging Face dataset is hf:ORG/NAME, hf:ORG/NAME:CONFIG or "
                        "hf:ORG/NAME:CONFIG@SPLIT")
    return repo, config or None, split or None


def datasets_cache() -> tuple[Path, str]:
    """The datasets cache folder the advisor reads, and what set it."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser(), "HF_DATASETS_CACHE"
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "datasets", "HF_HOME"
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return base / "huggingface" / "datasets", "the default; set HF_DATASETS_CACHE or HF_HOME to move it"


def fill_command(repo: str, config: str | None, cache: Path) -> str:
    """The Python call that fills the cache with this dataset (run where the network is allowed)."""
    args = ", ".join([repr(repo)] + ([repr(config)] if config else []) + [f"cache_dir={str(cache)!r}"])
    return f'python -c "import datasets; datasets.load_dataset({args})"'


def _not_loaded(spec: str, repo: str, config: str | None, online: bool, exc: BaseException) -> UserError:
    from advisor.config.network import SWITCH

    cache, set_by = datasets_cache()
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip() or "unset"
    if online and offline in ("unset", "0", "false", "False"):
        return UserError(f"{spec}: could not be loaded from the Hugging Face hub ({type(exc).__name__}: {reason}); "
                         f"check the name (https://huggingface.co/datasets/{repo}) and the network")
    network = f"HF_HUB_OFFLINE={offline}" if online else f"the network is off (give {SWITCH}; HF_HUB_OFFLINE={offline})"
    return UserError(f"{spec}: could not be read from the Hugging Face datasets cache {cache} ({set_by}) and "
                     f"{network}: {type(exc).__name__}: {reason}; fill the cache where the network is allowed with: "
                     f"{fill_command(repo, config, cache)}")


def hub_splits(spec: str) -> Splits:
    """The splits of ``hf:ORG/NAME[:CONFIG][@SPLIT]``, from the cache, or from the hub when the network is
    granted."""
    from advisor.config.network import hub_offline_unless_granted  # THE NETWORK GATE: the only way out to the hub

    repo, config, split = parse_hub_spec(spec)
    datasets = _datasets()
    cache, _ = datasets_cache()
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity_error()  # not its 'using the latest cached version' lines on every load
    try:
        with hub_offline_unless_granted() as online:
            try:
                loaded = datasets.load_dataset(repo, config, cache_dir=str(cache))
            except Exception as exc:  # noqa: BLE001 - the library and the hub raise many kinds
                raise _not_loaded(spec, repo, config, online, exc) from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    label = PREFIX + repo + (f":{config}" if config else "")
    name = repo.split("/")[-1] + (f"-{config}" if config else "")
    found = _splits(loaded, name, HUB_SOURCE, lambda s: f"{label}@{s}", split,
                    {"path": spec, "hf_dataset": repo, "hf_config": config})
    return replace(found, origin=repo)


class HubDatasetSource(TaskSource):
    name = HUB_SOURCE
    description = ("hf:ORG/NAME[:CONFIG][@SPLIT], a Hugging Face dataset from the datasets cache (the hub with "
                   "--allow-network); its columns give the task type, #FIELD=COLUMN maps other names")

    def detect(self, spec: str) -> bool:
        return spec.startswith(PREFIX)

    def load(self, spec: str) -> Task:
        from advisor.datasets.rows import task_of_splits

        return task_of_splits(hub_splits(spec), spec)
