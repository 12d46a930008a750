"""Which attention kernel a transformers model runs: SDPA where the architecture has one, eager where it has not.

transformers refuses ``attn_implementation="sdpa"`` for an architecture without an SDPA kernel (MPNet in
transformers 5.x: "MPNetModel does not support an attention implementation through
torch.nn.functional.scaled_dot_product_attention yet"), so every load that asks for SDPA goes through
``load_with_attention``: SDPA first, eager when the architecture refuses it. The implementation the loaded model
really runs is read back from its config (``attention_of``) and recorded with each cell
(``Encoder.info['attn_implementation']``), so two cells that differ only in their attention kernel say so.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

PREFERRED = "sdpa"
FALLBACK = "eager"
LEAN = "sdpa"  # advisor.models.bert calls torch's scaled_dot_product_attention itself

M = TypeVar("M")


def refuses_sdpa(exc: BaseException) -> bool:
    """True when ``exc`` is transformers saying that this architecture has no SDPA attention."""
    if not isinstance(exc, (ValueError, NotImplementedError)):
        return False
    text = str(exc).lower()
    return "scaled_dot_product_attention" in text or "sdpa" in text


def attention_of(model: Any) -> str | None:
    """The attention implementation a loaded transformers model (or a sentence-transformers / cross-encoder
    wrapper around one) runs, from its config; None when no submodule carries one."""
    candidates = [model]
    modules = getattr(model, "modules", None)
    if callable(modules):
        candidates.extend(modules())
    for candidate in candidates:
        impl = getattr(getattr(candidate, "config", None), "_attn_implementation", None)
        if isinstance(impl, str) and impl:
            return impl
    return None


def load_with_attention(load: Callable[[str], M]) -> tuple[M, str]:
    """``load(attn_implementation)`` with SDPA, again with eager when the architecture refuses SDPA. Returns the
    model and the implementation it runs (read back from the model where it says, else the one asked for)."""
    try:
        model, asked = load(PREFERRED), PREFERRED
    except (ValueError, NotImplementedError) as exc:
        if not refuses_sdpa(exc):
            raise
        model, asked = load(FALLBACK), FALLBACK
    return model, attention_of(model) or asked
