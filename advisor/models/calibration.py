"""Calibration texts for static int8: a few hundred of the user's own texts, chosen the same way every time.

Static quantization fixes each activation's int8 scale from the ranges it sees on calibration texts, so the texts
should be the ones the model will embed: the sweep takes them from the task (``calibration_from``: evenly spaced
over every text set the task encodes, documents and queries in proportion), the runtime prompts them as it
prompts what it encodes, and every cell records which texts they were (``Calibration.record``: how many, from
where, their hash and the file that holds them), so a figure can be traced to its calibration and a quantized
model is made again only for other texts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

CALIBRATION_TEXTS = 300  # as many as NNCF's default subset; sentence-transformers' own OpenVINO recipe uses 300


@dataclass(frozen=True)
class Calibration:
    """Texts (with the kind each is encoded as: ``query`` or ``document``) and where they came from."""

    texts: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.kinds and len(self.kinds) != len(self.texts):
            raise ValueError("one kind per calibration text")

    @property
    def digest(self) -> str:
        payload = json.dumps([list(self.texts), list(self.kinds or ("document",) * len(self.texts))])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]

    def prompted(self, prompts: Mapping[str, str]) -> "Calibration":
        """The texts as the model sees them: each with its kind's prompt in front (as the encoder adds it)."""
        kinds = self.kinds or ("document",) * len(self.texts)
        texts = tuple((prompts.get(k) or "") + t for t, k in zip(self.texts, kinds))
        return Calibration(texts, kinds, self.source)

    def record(self, file: Path | None = None) -> dict[str, Any]:
        """What a cell stores: the count, the source, the hash and the file holding the texts."""
        out: dict[str, Any] = {"texts": len(self.texts), "source": self.source, "sha256": self.digest}
        if file is not None:
            out["file"] = str(file)
        return out

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"source": self.source, "texts": list(self.texts), "kinds": list(self.kinds)},
                                   ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(tuple(data["texts"]), tuple(data.get("kinds") or ()), data.get("source", ""))


def calibration_from(name: str, text_sets: Mapping[str, tuple[str, Sequence[str]]],
                     n: int = CALIBRATION_TEXTS) -> Calibration:
    """``n`` distinct non-empty texts of a task, evenly spaced over its text sets in order (``text_sets``: set name
    -> (kind, texts)), so each set is represented in proportion to its size; deterministic."""
    pool: list[tuple[str, str]] = []
    seen: set[str] = set()
    for kind, texts in text_sets.values():
        for text in texts:
            if text and text.strip() and text not in seen:
                seen.add(text)
                pool.append((text, "query" if kind == "query" else "document"))
    if len(pool) > n:
        step = len(pool) / n
        pool = [pool[int(i * step)] for i in range(n)]
    sets = ", ".join(text_sets)
    return Calibration(tuple(t for t, _ in pool), tuple(k for _, k in pool),
                       f"task {name}: {len(pool)} of {len(seen)} distinct texts ({sets}), evenly spaced")
