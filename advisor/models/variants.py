"""The variant axes: device, runtime and weight precision (how the model runs), output dimension and vector
precision (what is derived from its embeddings without running it again), and for retrieval corpora the chunking
(documents cut into token windows, each encoded, a document scored by the max or mean of its chunks)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# int8: dynamic quantization (weights int8, each activation's scale computed at run time); int8-static: weights
# and activations int8 with activation scales calibrated once on the user's own texts (advisor.models.calibration);
# int4: only engines that ship 4-bit weights
WEIGHT_PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int8-static", "int4")
VECTOR_PRECISIONS = ("float32", "float16", "int8", "binary")
DEVICES = ("cpu", "cuda")
RUNTIMES = ("torch", "onnx", "openvino")  # runtimes a backend may offer beside its own (BackendCapabilities.runtimes)
RUNTIME_NAMES = {"torch": "PyTorch", "onnx": "ONNX Runtime", "openvino": "OpenVINO"}  # as people write them
AGGREGATES = ("max", "mean")  # how a document's score comes from its chunks' scores


@dataclass(frozen=True, order=True)
class Variant:
    """One way to ship a model. ``dim=None`` means the model's full output size."""

    device: str = "cpu"
    weight_precision: str = "fp32"
    dim: int | None = None
    vector_precision: str = "float32"
    runtime: str | None = None  # None: the backend's own runtime (torch for torch models)
    chunking: str = ""          # "" = no chunking (documents truncated at max tokens); else Chunking.spec()

    def label(self) -> str:
        dim = "full" if self.dim is None else str(self.dim)
        runtime = f"{self.runtime}:" if self.runtime else ""
        chunks = f"/chunks={self.chunking}" if self.chunking else ""
        return f"{self.device}/{runtime}{self.weight_precision}/dim={dim}/{self.vector_precision}{chunks}"

    def to_dict(self) -> dict:
        return asdict(self)


def bytes_per_vector(dim: int, vector_precision: str) -> int:
    """Storage of one vector: 4, 2 or 1 byte per component, or one bit per component packed into bytes."""
    if vector_precision == "binary":
        return (dim + 7) // 8
    return dim * {"float32": 4, "float16": 2, "int8": 1}[vector_precision]


@dataclass(frozen=True, order=True)
class Chunking:
    """Documents cut into windows of ``tokens`` of the model's own tokens, ``overlap`` tokens shared by neighbours;
    a document's score is the ``aggregate`` (max or mean) of its chunks' scores."""

    tokens: int
    overlap: int = 0
    aggregate: str = "max"

    def spec(self) -> str:
        """The canonical text stored in cell keys: ``128:32:max``."""
        return f"{self.tokens}:{self.overlap}:{self.aggregate}"

    def text(self) -> str:
        return f"chunks of {self.tokens} tokens, overlap {self.overlap}, {self.aggregate} of chunk scores"

    @classmethod
    def parse(cls, spec: str) -> "Chunking":
        tokens, overlap, aggregate = spec.split(":")
        return cls(int(tokens), int(overlap), aggregate)
