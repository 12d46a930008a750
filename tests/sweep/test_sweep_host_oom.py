"""A CPU out-of-memory (MemoryError from a backend) halves the batch and notes it, as a CUDA OOM does."""

from __future__ import annotations

import numpy as np

from advisor.models.backends import Encoder
from advisor.models.encode import encode_texts


class HostMemoryBound(Encoder):
    """A backend whose host memory holds at most ``limit`` texts per batch (numpy raises MemoryError beyond)."""

    embed_dim = 4

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batches: list[int] = []

    def encode(self, texts, *, kind="document", batch_size=32, progress=None):
        if batch_size > self.limit:
            raise MemoryError(f"Unable to allocate {batch_size * 512} MiB for an array")
        self.batches.append(batch_size)
        return np.ones((len(texts), self.embed_dim), dtype=np.float32)


def test_memory_error_halves_the_batch_and_notes_it():
    encoder, notes = HostMemoryBound(limit=8), []
    vectors, used = encode_texts(encoder, [f"text {i}" for i in range(20)], batch_size=32, notes=notes)
    assert vectors.shape == (20, 4) and used == 8 and encoder.batches == [8]
    assert notes == [f"out of memory at batch size {n} (MemoryError); retried with batch size {n // 2}"
                     for n in (32, 16)]
