"""The backend contract: a Backend loads a catalog entry into an Encoder that turns texts into vectors.

Backends are registered by plugins (``register_backends``). Each declares its capabilities, so the planner only
builds variants the backend can run and tells the user why any other was skipped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Sequence

from advisor.errors import UserError
from advisor.models.variants import Variant

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.catalog import ModelEntry
    from advisor.policy.spec import Policy

TextKind = Literal["query", "document"]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class BackendCapabilities:
    """What a backend can run. ``weight_precisions`` maps each device to the precisions it supports there."""

    devices: tuple[str, ...] = ("cpu",)
    weight_precisions: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"cpu": ("fp32",)})
    can_truncate: bool = True
    max_batch_size: int | None = None
    prompts: bool = True
    notes: str = ""

    def to_dict(self) -> dict:
        return {"devices": list(self.devices),
                "weight_precisions": {k: list(v) for k, v in self.weight_precisions.items()},
                "can_truncate": self.can_truncate, "max_batch_size": self.max_batch_size,
                "prompts": self.prompts, "notes": self.notes}


class Encoder(ABC):
    """A loaded model. ``encode`` returns float32 vectors of shape (len(texts), embed_dim); the harness normalizes,
    truncates and quantizes them, so an encoder never needs to."""

    embed_dim: int

    @abstractmethod
    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> "np.ndarray":
        """Embed ``texts`` (adding the query or document prompt of the entry); call ``progress(n)`` after each
        batch of n texts."""

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens per text as the model sees them (for tokens/s), or None when the backend cannot tell."""
        return None

    def close(self) -> None:
        """Free the model's memory (GPU memory above all)."""


class Backend(ABC):
    name: str
    description: str = ""
    capabilities: BackendCapabilities = BackendCapabilities()

    @abstractmethod
    def load(self, entry: "ModelEntry", *, device: str = "cpu", weight_precision: str = "fp32",
             allow_network: bool = False) -> Encoder:
        """Load the model; import heavy libraries here, never at module import time."""

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        """Why this backend cannot run ``variant`` of ``entry``, or None when it can."""
        caps = self.capabilities
        if variant.device not in caps.devices:
            return f"backend '{self.name}' runs on {', '.join(caps.devices)} only, not {variant.device}"
        precisions = caps.weight_precisions.get(variant.device, ())
        if variant.weight_precision not in precisions:
            return (f"backend '{self.name}' does not support {variant.weight_precision} weights on {variant.device} "
                    f"(supported: {', '.join(precisions) or 'none'})")
        if variant.dim is not None:
            if variant.dim > entry.embed_dim:
                return f"dim {variant.dim} is larger than the model's output size {entry.embed_dim}"
            if variant.dim < entry.embed_dim and not caps.can_truncate:
                return f"backend '{self.name}' cannot truncate its output to dim {variant.dim}"
        return None


def get_backend(name: str) -> Backend:
    from advisor.plugins import registered

    backends = registered("backends")
    if name not in backends:
        raise UserError(f"backend '{name}' is not registered (installed: {', '.join(sorted(backends)) or 'none'}); "
                        f"run 'advisor plugins' to see which plugins loaded or failed")
    return backends[name]


def load_encoder(entry: "ModelEntry", *, device: str = "cpu", weight_precision: str = "fp32",
                 policy: "Policy | None" = None, allow_network: bool = False) -> Encoder:
    """Load ``entry`` for one (device, weight precision), refusing an impossible variant with its reason.

    The policy's safety switches reach the backend only when they grant something: ``allow_remote_code`` when the
    entry needs trust_remote_code and the policy allows it, ``allow_pickle`` likewise for pickle weights. Built-in
    backends take those keywords; a backend without them simply never gets them (safe models load everywhere).
    """
    backend = get_backend(entry.backend)
    reason = backend.unsupported_reason(entry, Variant(device=device, weight_precision=weight_precision))
    if reason:
        raise UserError(f"cannot run {entry.name} on {device} at {weight_precision}: {reason}")
    grants: dict[str, bool] = {}
    if policy is not None and entry.trust_remote_code and policy.allow_remote_code:
        grants["allow_remote_code"] = True
    if policy is not None and entry.weights_format == "pickle" and policy.allow_pickle_weights:
        grants["allow_pickle"] = True
    return backend.load(entry, device=device, weight_precision=weight_precision, allow_network=allow_network,
                        **grants)
