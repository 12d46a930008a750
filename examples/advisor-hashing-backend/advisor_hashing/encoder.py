"""The hashing encoder: stable across processes (blake2b, not Python's salted hash)."""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from advisor.models.backends import Encoder

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


class HashingEncoder(Encoder):
    def __init__(self, dim: int) -> None:
        self.embed_dim = dim

    def _tokens(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def encode(self, texts: Sequence[str], *, kind="document", batch_size=32, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.embed_dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in self._tokens(text):
                index, sign = _bucket(token, self.embed_dim)
                out[i, index] += sign
            if progress is not None and (i + 1) % batch_size == 0:
                progress(batch_size)
        if progress is not None and len(texts) % batch_size:
            progress(len(texts) % batch_size)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]
