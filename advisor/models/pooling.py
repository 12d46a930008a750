"""Pooling, written once: how token vectors become a sentence vector, and how a model folder says which pooling.

``pool`` works on numpy arrays (the ONNX backend, which must not pay for importing torch) and on torch tensors
(the torch runtimes) with the same code, so every runtime pools alike. ``read_pooling`` reads a
sentence-transformers ``Pooling`` config in every spelling the library has written (one ``pooling_mode`` name in
sentence-transformers >= 6, ``pooling_mode_*`` flags before).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import UserError

POOLINGS = ("mean", "cls", "max", "lasttoken", "mean_sqrt_len")
_MODE_NAMES = {"mean": "mean", "mean_tokens": "mean", "cls": "cls", "cls_token": "cls", "max": "max",
               "max_tokens": "max", "lasttoken": "lasttoken", "mean_sqrt_len_tokens": "mean_sqrt_len",
               "mean_sqrt_len": "mean_sqrt_len", "weightedmean": "weightedmean"}
_FLAGS = (("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
          ("pooling_mode_lasttoken", "lasttoken"), ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
          ("pooling_mode_weightedmean_tokens", "weightedmean"), ("pooling_mode_mean_tokens", "mean"))


@dataclass(frozen=True)
class PoolingConfig:
    """What a ``Pooling`` module config says: the mode, the vector size, and whether prompt tokens are pooled."""

    mode: str = "mean"
    dim: int | None = None
    include_prompt: bool = True


def read_pooling(path: str | Path) -> PoolingConfig:
    """The pooling of a sentence-transformers ``Pooling`` config file (mean when the file is missing)."""
    path = Path(path)
    if not path.is_file():
        return PoolingConfig()
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read the pooling config ({exc})") from None
    mode = cfg.get("pooling_mode")
    mode = mode[0] if isinstance(mode, list) and mode else mode
    if isinstance(mode, str):
        mode = _MODE_NAMES.get(mode, mode)
    else:
        mode = next((name for key, name in _FLAGS if cfg.get(key)), "mean")
    dim = cfg.get("word_embedding_dimension", cfg.get("embedding_dimension"))
    return PoolingConfig(mode, int(dim) if dim else None, bool(cfg.get("include_prompt", True)))


def _torch_or_numpy(x: Any) -> Any:
    import numpy as np

    return np if isinstance(x, np.ndarray) else sys.modules["torch"]


def _as_float(mask: Any, like: Any) -> Any:
    import numpy as np

    return mask.astype(like.dtype) if isinstance(mask, np.ndarray) else mask.to(like.dtype)


def pool(hidden: Any, mask: Any, mode: str) -> Any:
    """Pool (batch, tokens, dim) ``hidden`` over the real tokens (``mask`` 1) of each row; numpy or torch."""
    xp = _torch_or_numpy(hidden)
    m = _as_float(mask[..., None], hidden)
    if mode in ("mean", "mean_sqrt_len"):
        count = (m.sum(1)).clip(1e-9, None)
        return (hidden * m).sum(1) / (count ** 0.5 if mode == "mean_sqrt_len" else count)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return _max_pool(xp, hidden, m, float(xp.finfo(hidden.dtype).min))
    if mode == "lasttoken":  # the last real token, whatever side the padding is on
        positions = xp.arange(mask.shape[1])[None, :] * mask
        last = positions.argmax(1)
        return hidden[xp.arange(hidden.shape[0]), last]
    raise UserError(f"unknown pooling '{mode}' (supported: {', '.join(POOLINGS)})")


def _max_pool(xp: Any, hidden: Any, m: Any, low: float) -> Any:
    import numpy as np

    if xp is np:
        return np.where(m > 0, hidden, low).max(1)
    return hidden.masked_fill(m == 0, low).amax(1)
