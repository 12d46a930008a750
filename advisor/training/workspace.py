"""The ``--out`` folder of a training run: what was asked (``training.json``), the held-out split
(``split.json``), checkpoints, the trained model (``model/``, sentence-transformers, safetensors) and its catalog
entry (``catalog.yaml``, valid under the catalog schema, so every other command can use the new model by name)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from advisor.models.catalog import ModelEntry, PairSpec, load_catalog, load_catalogs, write_catalog
from advisor.errors import UserError
from advisor.datasets.tasks import Task
from advisor.training.split import SPLIT_FILE, HeldOutSplit

CONFIG_FILE = "training.json"
CATALOG_FILE = "catalog.yaml"
MODEL_DIR = "model"


PREPARED_FILES = (CONFIG_FILE, SPLIT_FILE, "train_pairs.jsonl", "mining.json", "teacher.npy")


def _trained_anything(root: Path) -> bool:
    return (root / MODEL_DIR).exists() or any((root / "checkpoints").glob("checkpoint-*"))


def _clear_unstarted(root: Path) -> None:
    """Remove what a run writes before training starts (nothing else: the folder may hold the user's files)."""
    import shutil

    for name in PREPARED_FILES:
        (root / name).unlink(missing_ok=True)
    if (root / "student_init").is_dir():
        shutil.rmtree(root / "student_init")


@dataclass
class Workspace:
    root: Path
    kind: str

    @classmethod
    def open(cls, out: str | Path, kind: str, identity: dict[str, Any], *, resume: bool) -> "Workspace":
        """Create the folder, or reopen it for ``--resume``; refuses to overwrite a finished or different run."""
        root = Path(out).expanduser().resolve()
        identity = json.loads(json.dumps(identity, default=str))  # tuples -> lists, as stored
        config_path = root / CONFIG_FILE
        record = {"kind": kind, "config": identity}
        if resume:
            if not config_path.exists():
                raise UserError(f"--resume: {root} holds no training run ({CONFIG_FILE} missing); run without "
                                f"--resume to start one")
            stored = json.loads(config_path.read_text(encoding="utf-8"))
            old = stored.get("config", {})
            changed = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            if stored.get("kind") != kind or changed:
                what = f"kind {stored.get('kind')} -> {kind}" if stored.get("kind") != kind else ", ".join(
                    f"{k}: {old.get(k)!r} -> {identity.get(k)!r}" for k in changed[:4])
                raise UserError(f"--resume: {root} was started with different settings ({what}); resume with the "
                                f"same options or choose a new --out")
        elif root.exists() and any(root.iterdir()):
            if config_path.exists() and not _trained_anything(root):
                _clear_unstarted(root)  # a run that stopped before its first checkpoint: start it again
            else:
                hint = "pass --resume to continue it, or " if config_path.exists() else ""
                raise UserError(f"--out {root} is not empty; {hint}choose a new --out folder")
        root.mkdir(parents=True, exist_ok=True)
        if not resume:  # a resumed run keeps its record as written (fields added since read as their default)
            config_path.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        return cls(root, kind)

    def path(self, name: str) -> Path:
        return self.root / name

    def split(self, task: Task, make: Callable[[], HeldOutSplit]) -> HeldOutSplit:
        """The recorded split when there is one (resume), else a new one, saved before any training starts."""
        path = self.root / SPLIT_FILE
        if path.exists():
            split = HeldOutSplit.load(path)
            if split.task_hash != task.content_hash:
                raise UserError(f"{path}: the split was made from different data (hash {split.task_hash}, now "
                                f"{task.content_hash}); the dataset changed since the run started")
            return split
        split = make()
        split.save(self.root)
        return split

    def save_model(self, model: Any) -> Path:
        folder = self.root / MODEL_DIR
        model.save(str(folder), safe_serialization=True, create_model_card=False)
        return folder

    def new_entry(self, base: ModelEntry, model: Any, model_dir: Path, *, name: str,
                  matryoshka_dims: tuple[int, ...] = (), notes: str = "", license: str | None = None,
                  languages: tuple[str, ...] | None = None, pooling: str | None = None) -> ModelEntry:
        """Write ``catalog.yaml`` for the trained model (source relative to the catalog) and validate it by loading
        it back through the catalog schema."""
        embed_dim = int(model.get_embedding_dimension())
        n_params = int(sum(p.numel() for p in model.parameters()))
        entry = ModelEntry(
            name=name, source=f"path:{model_dir.resolve()}", backend="torch", embed_dim=embed_dim,
            license=license or base.license, languages=tuple(languages or base.languages or ("eng-Latn",)),
            domains=tuple(base.domains), n_parameters=n_params,
            matryoshka_dims=tuple(d for d in matryoshka_dims if d != embed_dim),
            max_tokens=int(model.max_seq_length) if model.max_seq_length else None,
            pooling=pooling or base.pooling or "mean", normalize=True, query_prompt=base.query_prompt,
            document_prompt=base.document_prompt, weights_format="safetensors", notes=notes)
        path = self.root / CATALOG_FILE
        write_catalog([entry], path, name=f"trained-{name}",
                      header=f"Written by 'advisor {self.kind}'. Use it with --catalog {path}")
        (entry,) = load_catalog(path)
        return entry

    def add_pair(self, name: str, query: ModelEntry, document: ModelEntry,
                 catalogs: tuple[str, ...] = ()) -> ModelEntry:
        """Add an asymmetric pair (queries by ``query``, documents by ``document``) to ``catalog.yaml`` and return
        it as loaded back. A document model that no catalog lists (a folder) is copied into the file so the pair
        resolves; one from a catalog is named (give that catalog too when it is not a shipped one)."""
        path = self.root / CATALOG_FILE
        entries: list[ModelEntry | PairSpec] = list(load_catalog(path))
        if document.catalog is None:  # a folder: copied into the file so the pair resolves
            entries.append(document)
        entries.append(PairSpec(name=name, query_model=query.name, document_model=document.name,
                                notes=f"queries by {query.name} (distilled into {document.name}'s space, query "
                                      f"side only), documents by {document.name}"))
        extra = "" if document.catalog is None or not catalogs else " --catalog " + " --catalog ".join(catalogs)
        write_catalog(entries, path, name=f"trained-{query.name}",
                      header=f"Written by 'advisor {self.kind}'. Use it with --catalog {path}{extra}")
        loaded = load_catalogs([*catalogs, path]) if catalogs else load_catalog(path)
        return next(e for e in loaded if e.name == name)
