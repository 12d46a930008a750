"""The one encode function every caller uses (sweep, evaluate, measure, training, raters, the server).

It embeds each distinct text once (a task often repeats texts: the same query in several pairs) and halves the
batch after an out-of-memory error until it fits, noting each halving, so a figure means the same wherever it
was taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.backends import Encoder


def is_oom(exc: BaseException) -> bool:
    """A CUDA (or host) out-of-memory error, whatever library raised it."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return "out of memory" in str(exc).lower()


def _free_accelerator_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def encode_with_retry(encoder: "Encoder", texts: tuple[str, ...], *, kind: str, batch_size: int,
                      notes: list[str], progress: Callable[[int], None] | None = None) -> tuple["np.ndarray", int]:
    """Encode, halving the batch after an out-of-memory error until it fits (or batch size 1 still fails).
    Returns the embeddings and the batch size that worked; each halving is noted in ``notes``."""
    import numpy as np

    while True:
        try:
            vectors = encoder.encode(list(texts), kind=kind, batch_size=batch_size, progress=progress)
            return np.asarray(vectors, dtype=np.float32), batch_size
        except Exception as exc:  # noqa: BLE001 - only OOM is retried; anything else propagates
            if not is_oom(exc) or batch_size <= 1:
                raise
            notes.append(f"out of memory at batch size {batch_size} ({type(exc).__name__}); retried with "
                         f"batch size {batch_size // 2}")
            batch_size //= 2
            _free_accelerator_memory()


def encode_texts(encoder: "Encoder", texts: Sequence[str], *, kind: str = "document", batch_size: int = 32,
                 notes: list[str] | None = None, progress: Callable[[int], None] | None = None
                 ) -> tuple["np.ndarray", int]:
    """Float32 (len(texts), embed_dim) in input order: each distinct text encoded once, with the OOM back-off of
    ``encode_with_retry``. ``progress(n)`` counts distinct texts. Returns the vectors and the batch size that
    worked (a later call can start from it)."""
    import numpy as np

    if isinstance(texts, str):
        raise TypeError("encode_texts() takes a list of texts, not a single string")
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    if not unique:
        return np.zeros((0, encoder.embed_dim), dtype=np.float32), batch_size
    vectors, batch_size = encode_with_retry(encoder, tuple(unique), kind=kind, batch_size=batch_size,
                                            notes=notes if notes is not None else [], progress=progress)
    if len(unique) == len(texts):
        return vectors, batch_size
    row = {text: i for i, text in enumerate(unique)}
    return vectors[[row[t] for t in texts]], batch_size
