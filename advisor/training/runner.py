"""The trainer plumbing shared by fine-tuning and distillation: sentence-transformers' trainer with checkpoints,
resume, progress and a loss log. Imported only when training starts (it imports torch)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from transformers import TrainerCallback

from advisor.errors import UserError
from advisor.training.settings import TrainSettings

# progress(stage, completed, total, info): stage is e.g. "mine", "train", "evaluate"; info carries e.g. the loss.
ProgressFn = Callable[[str, int, "int | None", dict], None]
CHECKPOINTS = "checkpoints"


@dataclass
class TrainLog:
    losses: list[tuple[int, float]] = field(default_factory=list)   # (step, logged training loss)
    components: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    runtime_s: float = 0.0
    resumed_from: str | None = None
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quiet_libraries(quiet: bool) -> None:
    """Hide the libraries' own tqdm bars (weights loading, shard writing) when the CLI shows its progress."""
    if quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def total_steps(n_examples: int, settings: TrainSettings) -> int:
    if settings.max_steps:
        return settings.max_steps
    return max(1, math.ceil(n_examples / settings.batch_size) * max(1, math.ceil(settings.epochs)))


def last_checkpoint(out_dir: Path) -> Path | None:
    folder = out_dir / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in folder.glob("checkpoint-*")
             if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
             and (p / "trainer_state.json").exists()]
    return max(found)[1] if found else None


def _restore_log(checkpoint: Path, log: TrainLog) -> None:
    """The losses logged before the checkpoint, so a resumed run's log covers the whole run."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    for item in state.get("log_history", []):
        if "loss" in item and "train_runtime" not in item:
            log.losses.append((int(item["step"]), float(item["loss"])))


class _Progress(TrainerCallback):
    """Forwards the trainer's steps and logged losses to ``progress`` and keeps the loss log."""

    def __init__(self, progress: ProgressFn | None, log: TrainLog) -> None:
        self.progress, self.log = progress, log

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 (transformers' signature)
        if self.progress:
            last = self.log.losses[-1][1] if self.log.losses else None
            self.progress("train", state.global_step, state.max_steps, {"loss": last})

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        if "loss" in logs and "train_runtime" not in logs:
            self.log.losses.append((state.global_step, float(logs["loss"])))
            extra = {k: float(v) for k, v in logs.items() if k.startswith("loss_") or k in ("score", "embedding")}
            if extra:
                self.log.components.append({"step": state.global_step, **extra})


class _SaveExtra(TrainerCallback):
    """Saves loss-owned weights (a distillation projection) into each checkpoint, so resume restores them too."""

    def __init__(self, save: Callable[[Path], None]) -> None:
        self.save = save

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.exists():
            self.save(folder)


def train(model: Any, dataset: Any, loss: Any, settings: TrainSettings, out_dir: Path, *, device: str,
          resume: bool, progress: ProgressFn | None = None, no_duplicates: bool = True,
          save_extra: Callable[[Path], None] | None = None, load_extra: Callable[[Path], None] | None = None
          ) -> TrainLog:
    """Run sentence-transformers' trainer; checkpoints go to ``out_dir/checkpoints``. With ``resume`` it continues
    from the last checkpoint there (optimizer, scheduler, step and data order included)."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    steps = total_steps(len(dataset), settings)
    checkpoint = last_checkpoint(out_dir) if resume else None
    if resume and checkpoint is None:
        raise UserError(f"--resume: no checkpoint in {out_dir / CHECKPOINTS}; run without --resume to start")
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out_dir / CHECKPOINTS),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        warmup_steps=int(round(settings.warmup_ratio * steps)),
        weight_decay=settings.weight_decay,
        seed=settings.seed, data_seed=settings.seed,
        logging_steps=settings.logging_steps or max(1, steps // 20),
        save_strategy="steps", save_steps=settings.save_steps or max(1, steps // 10), save_total_limit=2,
        use_cpu=device == "cpu", bf16=bf16,
        report_to=[], disable_tqdm=progress is not None, dataloader_num_workers=0,
        batch_sampler=BatchSamplers.NO_DUPLICATES if no_duplicates else BatchSamplers.BATCH_SAMPLER,
    )
    log = TrainLog(device=device, resumed_from=str(checkpoint) if checkpoint else None)
    callbacks: list[TrainerCallback] = [_Progress(progress, log)]
    if save_extra is not None:
        callbacks.append(_SaveExtra(save_extra))
    if checkpoint is not None:
        _restore_log(checkpoint, log)
        if load_extra is not None:
            load_extra(checkpoint)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss,
                                         callbacks=callbacks)
    if progress is not None:
        from transformers import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    log.steps = int(trainer.state.global_step)
    log.runtime_s = float(output.metrics.get("train_runtime", 0.0))
    (out_dir / "train_log.json").write_text(json.dumps(log.to_dict(), indent=1), encoding="utf-8")
    return log
