"""Training settings and the cheap checks made before anything heavy is imported or loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from advisor.errors import UserError

FINETUNE_LEARNING_RATE = 2e-5
"""Fine-tuning starts from a model that already embeds well and only nudges it towards the user's data: a small
step (the sentence-transformers recipes for MultipleNegativesRankingLoss use 2e-5) keeps what the model knows
instead of forgetting it on a few hundred pairs."""

DISTILL_LEARNING_RATE = 1e-4
"""Distillation usually starts from a student that knows little (fresh or truncated layers, a new projection) and
regresses the teacher's outputs (MSE, a smoother target than in-batch contrast), so it needs a larger step to
get anywhere in a short budget; 1e-4 is five times the fine-tuning rate."""


@dataclass(frozen=True)
class TrainSettings:
    """How long and how hard to train: the one definition, shared by fine-tuning and distillation (each config
    holds one as ``train``). ``max_steps`` (when set) wins over ``epochs``; ``save_steps`` None saves about ten
    checkpoints over the run (two are kept). The learning rate defaults to the fine-tuning one; distillation
    starts from :func:`distill_settings`."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = FINETUNE_LEARNING_RATE
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0
    save_steps: int | None = None
    logging_steps: int | None = None
    max_seq_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def distill_settings() -> TrainSettings:
    """The defaults of a distillation run (its own learning rate, see ``DISTILL_LEARNING_RATE``)."""
    return TrainSettings(learning_rate=DISTILL_LEARNING_RATE)


def check_settings(settings: TrainSettings, *, heldout: float) -> None:
    """Cheap checks before anything heavy is loaded."""
    if not 0 < heldout < 1:
        raise UserError(f"--heldout must be a fraction between 0 and 1 (exclusive), got {heldout}")
    if settings.batch_size < 2:
        raise UserError(f"--batch-size must be at least 2 (in-batch negatives need company), "
                        f"got {settings.batch_size}")
    if settings.max_steps is not None and settings.max_steps <= 0:
        raise UserError(f"--max-steps must be positive, got {settings.max_steps}")
    if settings.epochs <= 0:
        raise UserError(f"--epochs must be positive, got {settings.epochs}")
    if settings.learning_rate <= 0:
        raise UserError(f"--learning-rate must be positive, got {settings.learning_rate}")


NOT_RECORDED_AT_DEFAULT = ("weight_decay", "logging_steps")
"""Settings the configs did not hold before they held a TrainSettings: an identity names them only when they
differ from the default, so runs recorded before still resume."""


def flat_identity(fields: dict[str, Any], settings: TrainSettings) -> dict[str, Any]:
    """A config's identity as stored in ``training.json``: its own fields beside the training settings, flat (as
    runs recorded them before the settings were one object, so those runs still resume)."""
    train = settings.to_dict()
    defaults = TrainSettings().to_dict()
    for name in NOT_RECORDED_AT_DEFAULT:
        if train[name] == defaults[name]:
            train.pop(name)
    return {**fields, **train}
