"""The backend contract: a Backend loads a catalog entry into an Encoder that turns texts into vectors.

Backends are registered by plugins (``register_backends``). Each declares its capabilities, so the planner only
builds variants the backend can run and tells the user why any other was skipped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

from advisor.errors import UserError
from advisor.models.variants import Variant

if TYPE_CHECKING:
    import numpy as np

    from advisor.models.calibration import Calibration
    from advisor.models.catalog import ModelEntry

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
    runtimes: tuple[str, ...] = ()  # runtimes beside the backend's own (e.g. torch models on onnx)

    def to_dict(self) -> dict:
        return {"devices": list(self.devices), "runtimes": list(self.runtimes),
                "weight_precisions": {k: list(v) for k, v in self.weight_precisions.items()},
                "can_truncate": self.can_truncate, "max_batch_size": self.max_batch_size,
                "prompts": self.prompts, "notes": self.notes}


@dataclass(frozen=True)
class LoadOptions:
    """How to load one model: the variant's device and weights, and what the user allowed.

    ``weight_precision`` None means "as the model ships" (the entry's fixed precision, else fp32), so a model that
    ships int8 or int4 weights runs without flags. ``runtime`` None lets the backend pick its fastest faithful
    runtime (and record why in ``Encoder.info``). The grants are only ever True when both the catalog entry and
    the policy (or the user) allow them; ``load_encoder`` enforces the entry half. ``calibration``: the user's
    texts a static int8 quantization is calibrated on (``advisor.models.calibration``; a sweep takes them from the
    task); a dict (the options read back from JSON) is turned back into one.
    """

    device: str = "cpu"
    weight_precision: str | None = None
    runtime: str | None = None
    allow_network: bool = False
    allow_remote_code: bool = False
    allow_pickle: bool = False
    calibration: "Calibration | None" = None

    def __post_init__(self) -> None:
        if isinstance(self.calibration, dict):
            from advisor.models.calibration import Calibration

            data = self.calibration
            object.__setattr__(self, "calibration", Calibration(tuple(data.get("texts") or ()),
                                                                tuple(data.get("kinds") or ()),
                                                                data.get("source") or ""))

    def precision_for(self, entry: "ModelEntry") -> str:
        return self.weight_precision or entry.weight_precision or "fp32"


class Encoder(ABC):
    """A loaded model. ``encode`` returns float32 vectors of shape (len(texts), embed_dim); the harness normalizes,
    truncates and quantizes them, so an encoder never needs to.

    Only ``encode`` is required. ``encode_one`` (the batch-1 serving call whose latency is reported) and
    ``warmup`` have plain defaults; a backend with a leaner batch-1 path (CUDA graphs, no padding) overrides them.
    ``info`` says how the model runs (runtime, dtype, why another runtime was not used); it is stored with every
    cell measured on this encoder.
    """

    embed_dim: int
    info: Mapping[str, Any] = MappingProxyType({})  # read-only default; load_encoder gives each encoder its own

    @abstractmethod
    def encode(self, texts: Sequence[str], *, kind: TextKind = "document", batch_size: int = 32,
               progress: Progress | None = None) -> "np.ndarray":
        """Embed ``texts`` (adding the query or document prompt of the entry); call ``progress(n)`` after each
        batch of n texts."""

    def encode_one(self, text: str, *, kind: TextKind = "query") -> "np.ndarray":
        """One text at batch 1, as a server sees a query: float32 (embed_dim,)."""
        return self.encode([text], kind=kind, batch_size=1)[0]

    def warmup(self, texts: Sequence[str] = ("warm up",)) -> None:
        """Run once so that measured calls pay no first-call costs (kernel selection, graph capture)."""
        for text in texts:
            self.encode_one(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens per text as the model sees them (for tokens/s), or None when the backend cannot tell."""
        return None

    def close(self) -> None:
        """Free the model's memory (GPU memory above all)."""


class Backend(ABC):
    """Loads catalog entries of one kind. Declare ``capabilities`` so the planner only builds runnable variants;
    override ``unsupported_reason`` for rules the capabilities cannot say."""

    name: str
    description: str = ""
    capabilities: BackendCapabilities = BackendCapabilities()

    @abstractmethod
    def load(self, entry: "ModelEntry", options: LoadOptions) -> Encoder:
        """Load the model; import heavy libraries here, never at module import time."""

    def unsupported_reason(self, entry: "ModelEntry", variant: Variant) -> str | None:
        """Why this backend cannot run ``variant`` of ``entry``, or None when it can."""
        caps = self.capabilities
        if variant.runtime and variant.runtime not in caps.runtimes:
            return (f"backend '{self.name}' has no '{variant.runtime}' runtime"
                    f"{' (runtimes: ' + ', '.join(caps.runtimes) + ')' if caps.runtimes else ''}")
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


def load_failure(exc: BaseException, limit: int = 300) -> str:
    """One line for an exception a library raised while loading: its type and the first line of its message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def load_encoder(entry: "ModelEntry", options: LoadOptions | None = None, **fields: Any) -> Encoder:
    """The one way to load a model (sweep, evaluate, measure, training, raters, serve): ``options`` or its
    fields as keywords. Refuses an impossible variant with its reason, and grants remote code or pickle weights
    only when the entry declares them too. ``Encoder.info['load_time_s']`` records how long loading took. A model
    that cannot load is a one-line UserError naming it and the reason ("cannot load NAME (BACKEND backend):
    ..."), whatever the library raised; the original exception stays chained as ``__cause__``."""
    import time

    options = replace(options, **fields) if options is not None else LoadOptions(**fields)
    options = replace(options, weight_precision=options.precision_for(entry),
                      allow_remote_code=options.allow_remote_code and entry.trust_remote_code,
                      allow_pickle=options.allow_pickle and entry.weights_format == "pickle")
    backend = get_backend(entry.backend)
    reason = backend.unsupported_reason(entry, Variant(device=options.device,
                                                       weight_precision=options.weight_precision,
                                                       runtime=options.runtime))
    if reason:
        raise UserError(f"cannot run {entry.name} on {options.device} at {options.weight_precision}: {reason}")
    t0 = time.perf_counter()
    try:
        encoder = backend.load(entry, options)
    except UserError as exc:
        if entry.name in str(exc):
            raise
        named = UserError(f"cannot load {entry.name}: {exc}")
        named.exit_code = exc.exit_code
        raise named from exc
    except Exception as exc:  # noqa: BLE001 - a library's failure to load is the user's to fix, in one line
        raise UserError(f"cannot load {entry.name} ({backend.name} backend): {load_failure(exc)}") from exc
    info = dict(getattr(encoder, "info", None) or {})
    info.setdefault("backend", backend.name)
    info["load_time_s"] = round(time.perf_counter() - t0, 4)
    encoder.info = info
    return encoder
