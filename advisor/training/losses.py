"""The distillation loss. Teacher embeddings are computed once before training and passed as labels
(shape: batch x columns x teacher_dim; column 0 is the query, the others documents).

- score: MSE between the student's and the teacher's cosine similarities of every query with every document in
  the batch (B x B(n-1) in-batch matrix: the positives and all in-batch negatives). Dimension-free, so the
  student may have any output size.
- embedding: mean squared L2 distance between student and teacher embeddings of each text (MSE x dim, so its scale
  does not shrink with the size), through a learned linear projection when the sizes differ. The projection
  lives in the loss: it trains with the student and is not part of the saved model.
- both: the sum; the trainer logs both parts.
- ``QueryDistillLoss`` (``--side query``): the same two parts on the query side only, against the teacher's
  fixed document vectors: the student becomes the query half of an asymmetric pair.

Imported only when training starts (it imports torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSS_KINDS = ("score", "embedding", "both")
PROJECTION_FILE = "distill_projection.safetensors"


class DistillLoss(nn.Module):
    def __init__(self, model: Any, kind: str, teacher_dim: int, *, score_weight: float = 1.0,
                 embedding_weight: float = 1.0) -> None:
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {kind!r}")
        self.model, self.kind = model, kind
        self.score_weight, self.embedding_weight = score_weight, embedding_weight
        student_dim = int(model.get_embedding_dimension())
        self.projection = (nn.Linear(student_dim, teacher_dim)
                           if kind != "score" and student_dim != teacher_dim else None)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> dict[str, Tensor]:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        student = embed_columns(self.model, list(sentence_features))
        teacher = labels.detach().to(student[0].dtype)
        out: dict[str, Tensor] = {}
        if self.kind in ("score", "both"):
            q = F.normalize(student[0], dim=-1)
            docs = F.normalize(torch.cat(student[1:]), dim=-1)
            tq = F.normalize(teacher[:, 0], dim=-1)
            tdocs = F.normalize(torch.cat([teacher[:, i] for i in range(1, teacher.shape[1])]), dim=-1)
            out["score"] = self.score_weight * F.mse_loss(q @ docs.T, tq @ tdocs.T)
        if self.kind in ("embedding", "both"):
            s = torch.cat(student)
            t = torch.cat([teacher[:, i] for i in range(teacher.shape[1])])
            if self.projection is not None:
                s = self.projection(s)
            out["embedding"] = self.embedding_weight * ((s - t) ** 2).sum(dim=-1).mean()
        return out

    def save_projection(self, folder: Path) -> None:
        if self.projection is not None:
            from safetensors.torch import save_model

            save_model(self.projection, str(Path(folder) / PROJECTION_FILE))

    def load_projection(self, folder: Path) -> None:
        path = Path(folder) / PROJECTION_FILE
        if self.projection is not None and path.exists():
            from safetensors.torch import load_model

            load_model(self.projection, str(path))

    def get_config_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "score_weight": self.score_weight, "embedding_weight": self.embedding_weight,
                "projection": self.projection is not None}


class QueryDistillLoss(nn.Module):
    """``--side query``: the student embeds queries only and must land in the teacher's space, so that its query
    vectors search the teacher's document index (an asymmetric pair). Labels as for DistillLoss (column 0 the
    teacher's query vector, column 1 its positive document vector); the one text column is the query.

    - embedding: squared L2 distance between the student's and the teacher's (normalized) query vectors;
    - score: MSE between the student query's and the teacher query's cosine similarities with the teacher's
      document vectors of the batch (what the index will actually compare against);
    - both: the sum. No projection: the student must output the teacher's size (checked by the caller).
    """

    def __init__(self, model: Any, kind: str, *, score_weight: float = 1.0, embedding_weight: float = 1.0) -> None:
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {kind!r}")
        self.model, self.kind = model, kind
        self.score_weight, self.embedding_weight = score_weight, embedding_weight
        self.projection = None  # the same interface as DistillLoss (nothing extra to save)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> dict[str, Tensor]:
        from sentence_transformers.base.losses.merged_forward import embed_columns

        (student,) = embed_columns(self.model, list(sentence_features))
        teacher = labels.detach().to(student.dtype)
        q = F.normalize(student, dim=-1)
        tq, tdocs = F.normalize(teacher[:, 0], dim=-1), F.normalize(teacher[:, 1], dim=-1)
        out: dict[str, Tensor] = {}
        if self.kind in ("score", "both"):
            out["score"] = self.score_weight * F.mse_loss(q @ tdocs.T, tq @ tdocs.T)
        if self.kind in ("embedding", "both"):
            out["embedding"] = self.embedding_weight * ((q - tq) ** 2).sum(dim=-1).mean()
        return out

    def save_projection(self, folder: Path) -> None:
        """Nothing to save (no projection)."""

    def load_projection(self, folder: Path) -> None:
        """Nothing to load (no projection)."""

    def get_config_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "side": "query", "score_weight": self.score_weight,
                "embedding_weight": self.embedding_weight}
