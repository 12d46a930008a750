"""Distillation: a teacher's similarities (score), embeddings (embedding) or both taught to a smaller student on the
training queries' (query, document) pairs; teacher embeddings are computed once (cached in ``teacher.npy`` for
resume). The student is then compared on the held-out split with itself before training and with the teacher.

``side="query"`` trains the student on the query texts only, into the teacher's space (embedding distillation,
with score distillation against the teacher's document vectors), and registers an asymmetric pair beside it
(queries by the student, documents by the teacher); the report then compares the pair with the teacher alone and
the student alone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advisor.errors import UserError
from advisor.training.data import load_training_task
from advisor.training.finetune import PreparedData, build_rows
from advisor.training.settings import TrainSettings, check_settings, distill_settings, flat_identity
from advisor.training.split import split_queries, subset_task
from advisor.training.workspace import Workspace

TEACHER_FILE = "teacher.npy"
TRAIN_PAIRS = "train_pairs.jsonl"
STUDENT_INIT = "student_init"
SIDES = ("both", "query")


@dataclass(frozen=True)
class DistillConfig:
    teacher: str
    student: str
    dataset: str
    out: str
    loss: str = "both"
    catalogs: tuple[str, ...] = ()
    pair_source: str | None = None
    dataset_type: str | None = None
    corpus: str | None = None  # --corpus: documents added to the corpus
    heldout: float = 0.2
    split_seed: int = 0
    max_pairs: int | None = None
    name: str | None = None
    side: str = "both"              # both: queries and documents; query: the query half of a pair
    pair_name: str | None = None    # the pair entry's name (side=query)
    train: TrainSettings = field(default_factory=distill_settings)  # learning rate: DISTILL_LEARNING_RATE

    def identity(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run it continues (flat, as ``training.json`` holds them)."""
        data = {k: v for k, v in self.__dict__.items() if k not in ("out", "train")}
        if self.side == "both":  # runs started before --side existed resume unchanged
            data.pop("side")
            data.pop("pair_name")
        return flat_identity(data, self.train)


def _teacher_embeddings(teacher: Any, rows: list[dict], task: Any, query_prompt: str, document_prompt: str,
                        progress: Any) -> np.ndarray:
    """(rows, 2, teacher_dim): the teacher's normalized query and positive embeddings, each unique text once."""
    data = task.data
    qids = sorted({r["query_id"] for r in rows})
    dids = sorted({r["positive_id"] for r in rows})
    if progress:
        progress("teacher", 0, len(qids) + len(dids), {})
    q = teacher.encode([query_prompt + data.queries[i] for i in qids], batch_size=64, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
    if progress:
        progress("teacher", len(qids), len(qids) + len(dids), {})
    d = teacher.encode([document_prompt + data.corpus[i] for i in dids], batch_size=64, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
    if progress:
        progress("teacher", len(qids) + len(dids), len(qids) + len(dids), {})
    qi = {k: n for n, k in enumerate(qids)}
    di = {k: n for n, k in enumerate(dids)}
    return np.stack([np.stack([q[qi[r["query_id"]]], d[di[r["positive_id"]]]]) for r in rows]).astype(np.float32)


def distill(config: DistillConfig, *, device: str | None = None, resume: bool = False, evaluate: bool = True,
            measure: bool = False, progress: Any = None) -> dict[str, Any]:
    """Train the student, save ``out/model`` and ``out/catalog.yaml``, evaluate student (after and before training)
    and teacher on the held-out split, write ``out/report.json``/``report.md``; returns the report."""
    from advisor.training.loading import load_sentence_transformer, pick_device, resolve_trainable
    from advisor.training.student import build_student, parse_student

    if config.loss not in ("score", "embedding", "both"):
        raise UserError(f"--loss must be score, embedding or both, got '{config.loss}'")
    if config.side not in SIDES:
        raise UserError(f"--side must be both or query, got '{config.side}'")
    spec = parse_student(config.student)
    settings = config.train
    check_settings(settings, heldout=config.heldout)
    teacher = resolve_trainable(config.teacher, config.catalogs)
    existing = resolve_trainable(spec.model, config.catalogs) if spec.kind == "existing" else None
    if config.side == "query":  # refused before any work: a query model must search the teacher's index
        planned = (existing.entry.embed_dim if existing is not None
                   else spec.dim or (spec.width if spec.kind == "new" else teacher.entry.embed_dim))
        _check_query_dim(planned, teacher.entry.embed_dim)
    from datasets import Dataset

    from advisor.training.losses import DistillLoss
    from advisor.training.runner import quiet_libraries, train

    quiet_libraries(progress is not None)
    task = load_training_task(config.dataset, config.pair_source, config.dataset_type, config.corpus)
    ws = Workspace.open(config.out, "distill", config.identity(), resume=resume)
    device = pick_device(device)
    split = ws.split(task, lambda: split_queries(task, config.heldout, config.split_seed))

    rows_path, teacher_path = ws.path(TRAIN_PAIRS), ws.path(TEACHER_FILE)
    if resume and rows_path.exists() and teacher_path.exists():
        rows = [json.loads(line) for line in rows_path.read_text(encoding="utf-8").splitlines() if line]
        prepared = PreparedData(task, split, rows, notes=["training pairs and teacher embeddings reused"])
        labels = np.load(teacher_path, allow_pickle=False)
    else:
        prepared = build_rows(task, split, None, max_pairs=config.max_pairs)
        teacher_model = load_sentence_transformer(teacher.folder, device, settings.max_seq_length)
        labels = _teacher_embeddings(teacher_model, prepared.rows, task, teacher.entry.query_prompt,
                                     teacher.entry.document_prompt, progress)
        del teacher_model
        rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prepared.rows),
                             encoding="utf-8")
        np.save(teacher_path, labels, allow_pickle=False)

    if existing is not None:
        student = load_sentence_transformer(existing.folder, device)
        prompts = (existing.entry.query_prompt, existing.entry.document_prompt)
        init_entry = existing.entry
        meta_base = existing.entry
    else:
        student = build_student(spec, teacher.folder, device, seed=settings.seed)
        prompts = (teacher.entry.query_prompt, teacher.entry.document_prompt)
        meta_base = teacher.entry
        init_dir = ws.path(STUDENT_INIT)
        if not init_dir.exists():
            student.save(str(init_dir), safe_serialization=True, create_model_card=False)
        init_entry = None  # written below, once the trained entry's metadata is known
    native_length = student.max_seq_length
    if settings.max_seq_length:
        student.max_seq_length = settings.max_seq_length  # a training shortcut; the saved model keeps its own length
    texts = {"anchor": [prompts[0] + task.data.queries[r["query_id"]] for r in prepared.rows],
             "positive": [prompts[1] + task.data.corpus[r["positive_id"]] for r in prepared.rows],
             "label": labels.tolist()}
    if config.side == "query":
        _check_query_dim(int(student.get_embedding_dimension()), int(labels.shape[-1]))
        from advisor.training.losses import QueryDistillLoss

        texts.pop("positive")
        loss: Any = QueryDistillLoss(student, config.loss)
    else:
        loss = DistillLoss(student, config.loss, teacher_dim=int(labels.shape[-1]))
    dataset = Dataset.from_dict(texts)
    log = train(student, dataset, loss, settings, ws.root, device=device, resume=resume, progress=progress,
                save_extra=loss.save_projection, load_extra=loss.load_projection)
    student.max_seq_length = native_length
    model_dir = ws.save_model(student)
    if loss.projection is not None:
        loss.save_projection(ws.root)

    name = config.name or f"{teacher.entry.name}-distilled-{_short(spec)}"
    license_note = (f"distilled from {teacher.entry.name} (licence {teacher.entry.license})"
                    + (f" into {existing.entry.name} (licence {existing.entry.license})" if existing else ""))
    entry = ws.new_entry(meta_base, student, model_dir, name=name, license=_license(teacher.entry, existing),
                         notes=f"{license_note}; student {spec.describe()}; loss {config.loss}; {log.steps} steps; "
                               f"held-out split in split.json")
    if init_entry is None:
        init_entry = _init_entry(ws, entry)
    training_info = {
        "kind": "distill", "teacher": teacher.entry.name, "student": spec.to_dict(), "loss": f"distill-{config.loss}",
        "task": task.name, "task_source": task.source, "task_hash": task.content_hash,
        "pair_source": task.meta.get("pair_source"), "train_queries": len({r["query_id"] for r in prepared.rows}),
        "train_rows": len(prepared.rows), "heldout_queries": len(split.heldout_ids),
        "dropped_duplicate_of_heldout": prepared.dropped_leaks, "projection": loss.projection is not None,
        "teacher_parameters": teacher.entry.n_parameters, "student_parameters": entry.n_parameters,
        "settings": settings.to_dict(), "log": log.to_dict(), "notes": prepared.notes, "side": config.side,
    }
    references = [("student before training", init_entry), ("teacher", teacher.entry)]
    trained = entry
    if config.side == "query":
        trained = ws.add_pair(config.pair_name or f"{entry.name}+{teacher.entry.name}", entry, teacher.entry,
                              config.catalogs)
        training_info["pair"] = {"name": trained.name, "query_model": entry.name, "document_model": teacher.entry.name}
        references = [("query model alone", entry), ("document model alone", teacher.entry)]
    del student, loss
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
    from advisor.training.outcome import finish

    heldout = subset_task(task, split.heldout_ids, "heldout")
    return finish(ws, references, trained, heldout, training_info, device=device, evaluate=evaluate,
                  measure=measure, progress=progress)


def _check_query_dim(student_dim: int, teacher_dim: int) -> None:
    if student_dim != teacher_dim:
        raise UserError(f"--side query: the student outputs {student_dim}-d vectors but the teacher's space is "
                        f"{teacher_dim}-d; a query model must search the teacher's index, so give the student "
                        f"dim={teacher_dim} (or keep the teacher's width)")


def _short(spec: Any) -> str:
    if spec.kind == "existing":
        return Path(spec.model).name
    return "-".join(f"{k[0]}{v}" for k, v in (("layers", spec.layers), ("width", spec.width), ("dim", spec.dim))
                    if v is not None)


def _license(teacher: Any, existing: Any) -> str:
    """A student trained on the teacher's outputs inherits the teacher's licence terms; with an existing student
    both apply, so the entry says 'unknown' unless they agree (the notes name both)."""
    if existing is None or existing.entry.license == teacher.license:
        return teacher.license
    return "unknown"


def _init_entry(ws: Workspace, trained: Any) -> Any:
    """The untrained student as an entry (not in the catalog file): the 'before' of a new architecture."""
    from dataclasses import replace

    return replace(trained, name=trained.name + "-init", source=str(ws.path(STUDENT_INIT)),
                   notes="the student before distillation")
