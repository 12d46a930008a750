"""Training settings and the cheap checks made before anything heavy is imported or loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from advisor.errors import UserError


@dataclass(frozen=True)
class TrainSettings:
    """How long and how hard to train. ``max_steps`` (when set) wins over ``epochs``; ``save_steps`` None saves
    about ten checkpoints over the run (two are kept)."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0
    save_steps: int | None = None
    logging_steps: int | None = None
    max_seq_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_settings(*, heldout: float, batch_size: int, epochs: float, max_steps: int | None,
                   learning_rate: float) -> None:
    """Cheap checks before anything heavy is loaded."""
    if not 0 < heldout < 1:
        raise UserError(f"--heldout must be a fraction between 0 and 1 (exclusive), got {heldout}")
    if batch_size < 2:
        raise UserError(f"--batch-size must be at least 2 (in-batch negatives need company), got {batch_size}")
    if max_steps is not None and max_steps <= 0:
        raise UserError(f"--max-steps must be positive, got {max_steps}")
    if epochs <= 0:
        raise UserError(f"--epochs must be positive, got {epochs}")
    if learning_rate <= 0:
        raise UserError(f"--learning-rate must be positive, got {learning_rate}")
